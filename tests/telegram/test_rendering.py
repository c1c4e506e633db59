"""Rasa replies -> Telegram messages: joining, splitting, callback data."""

from __future__ import annotations

from bot.telegram.rendering import (
    MAX_CALLBACK_BYTES,
    MAX_TEXT,
    CallbackRegistry,
    keyboard,
    render,
    split_text,
    utf16_len,
)


def test_short_text_is_one_piece() -> None:
    assert split_text("  Hello there.  ") == ["Hello there."]


def test_long_text_splits_at_sentence_ends_under_the_limit() -> None:
    sentence = "Crying often peaks around six to eight weeks and then settles. "
    text = sentence * 200
    pieces = split_text(text)
    assert len(pieces) > 1
    assert all(len(p) <= MAX_TEXT for p in pieces)
    assert all(p.endswith("settles.") for p in pieces)
    assert " ".join(pieces) == text.strip()


def test_split_prefers_paragraphs() -> None:
    first = "a" * 50 + "."
    second = "b" * 50 + "."
    assert split_text(f"{first}\n\n{second}", limit=80) == [first, second]


def test_a_word_longer_than_the_limit_is_cut() -> None:
    pieces = split_text("x" * 250, limit=100)
    assert [len(p) for p in pieces] == [100, 100, 50]


def test_emoji_count_as_telegram_counts_them() -> None:
    assert utf16_len("hi") == 2 and utf16_len("😢") == 2 and utf16_len("é") == 1
    text = "so tired 😢😢 " * 400  # 5,200 characters, 6,000 UTF-16 code units
    pieces = split_text(text)
    assert all(utf16_len(p) <= MAX_TEXT for p in pieces)
    assert " ".join(pieces) == text.strip()
    assert [len(p) for p in split_text("😢" * 5, limit=4)] == [2, 2, 1]


def test_a_tiny_limit_still_makes_progress() -> None:
    assert split_text("😢😢", limit=1) == ["😢", "😢"]


def test_short_consecutive_replies_are_joined() -> None:
    messages = render([{"text": "One."}, {"text": "Two."}])
    assert [m.text for m in messages] == ["One.\n\nTwo."]


def test_long_replies_are_not_joined() -> None:
    long = "word " * 300
    messages = render([{"text": long}, {"text": "Two."}])
    assert len(messages) == 2


def test_buttons_end_a_group_and_stay_with_their_text() -> None:
    replies = [
        {"text": "Intro."},
        {"text": "Pick one.", "buttons": [{"title": "Colic", "payload": "/ask_colic"}]},
        {"text": "After."},
    ]
    messages = render(replies)
    assert [m.text for m in messages] == ["Intro.\n\nPick one.", "After."]
    assert messages[0].buttons == [("Colic", "/ask_colic")]
    assert messages[1].buttons == []


def test_buttons_without_text_get_a_prompt_and_empty_replies_vanish() -> None:
    messages = render([{"custom": {"x": 1}}, {"buttons": [{"title": "A", "payload": "/a"}]}])
    assert len(messages) == 1
    assert messages[0].text
    assert messages[0].buttons == [("A", "/a")]


def test_long_text_with_buttons_puts_buttons_on_the_last_piece() -> None:
    text = "This is a sentence. " * 400
    messages = render([{"text": text, "buttons": [{"title": "More", "payload": "/more"}]}])
    assert len(messages) >= 2
    assert all(not m.buttons for m in messages[:-1])
    assert messages[-1].buttons == [("More", "/more")]


def test_callback_data_never_exceeds_64_bytes() -> None:
    registry = CallbackRegistry()
    long_payload = '/ask_feeding{"baby_stage": "newborn", "note": "' + "é" * 60 + '"}'
    for payload in ("/ask_colic", long_payload, "sh:forget:yes", "ä" * 40):
        data = registry.encode(payload)
        assert len(data.encode("utf-8")) <= MAX_CALLBACK_BYTES
        assert registry.decode(data) == payload


def test_short_payloads_are_used_as_they_are() -> None:
    assert CallbackRegistry().encode("/ask_crying_normal") == "/ask_crying_normal"


def test_own_buttons_and_forgotten_keys_decode_to_none() -> None:
    registry = CallbackRegistry(size=1)
    first = registry.encode("/x" + "y" * 80)
    registry.encode("/z" + "y" * 80)  # pushes the first out
    assert registry.decode(first) is None
    assert registry.decode("sh:forget:yes") is None


def test_keyboard_one_button_per_row() -> None:
    markup = keyboard([("A", "/a"), ("B", "/b")], CallbackRegistry())
    assert markup is not None
    rows = markup.inline_keyboard
    assert [[b.text for b in row] for row in rows] == [["A"], ["B"]]
    assert rows[1][0].callback_data == "/b"
    assert keyboard([], CallbackRegistry()) is None
