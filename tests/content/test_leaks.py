"""No held-out message has a near-copy in the training data (scripts/leaks.py)."""

from __future__ import annotations

from scripts.leaks import Example, find_leaks, held_out_files, load, tokens, training_files


def test_no_held_out_message_is_nearly_in_the_training_data() -> None:
    training = [e for p in training_files() for e in load(p)]
    held_out = [e for p in held_out_files() for e in load(p)]
    assert len(held_out) > 2000 and len(training) > 5000
    leaks = find_leaks(training, held_out)
    shown = "\n".join(
        f"{x.held_out.where}: {x.held_out.text!r} ~ {x.training.text!r}" for x in leaks[:10]
    )
    assert not leaks, f"{len(leaks)} held-out messages leak into training data:\n{shown}"


def test_near_copies_are_caught_not_only_exact_ones() -> None:
    training = [Example("hes not breathing properly and his lips look blue", "t")]
    near = Example("he is not breathing properly and his lips look blue!!", "h")
    reworded = Example("lips have gone a bit dusky and breaths are shallow", "h")
    leaks = find_leaks(training, [near, reworded])
    assert [x.held_out for x in leaks] == [near]


def test_contractions_and_case_fold_the_same_way() -> None:
    assert (
        tokens("He's NOT breathing") == tokens("hes not breathing") == tokens("he is not breathing")
    )


def test_one_and_two_word_messages_are_not_leaks() -> None:
    assert find_leaks([Example("thanks mate", "t")], [Example("thanks mate", "h")]) == []
