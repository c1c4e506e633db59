"""The safety replies keep working when parts of the system are down.

- action server up: the escalation is recorded (tier and pseudonymous id only);
- action server stopped (Rasa still running): every tier still gets its fixed reply, also from
  inside the baby's-age form, which is closed so the conversation carries on normally;
- database for our own tables unreachable: the reply is unchanged, recording fails quietly,
  and Rasa's tracker store (its own working URL) keeps the conversation;
- a model without the safety layer: the supervisor refuses to start anything.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from bot.safety.model_check import SAFETY_COMPONENT, model_has_safety_layer
from bot.store.pseudonym import KEY_ENV, pseudonymise
from scripts import supervise
from tests.e2e.conftest import (
    EMERGENCY_FIRST_LINE,
    Bot,
    assert_kind_reply,
    is_response,
    joined_text,
    new_sender,
    require_model,
    safety_response_in,
)

pytestmark = pytest.mark.server

ESCALATION_TABLE = "sh_escalation_events"
ESCALATION_COLUMNS = {"id", "conversation_id", "tier", "created_at"}
OUR_TABLES = ("sh_escalation_events", "sh_profiles", "sh_referrals")
AGE_QUESTION = "can u tailor it to my babys age"
ORDINARY_QUESTION = "how do i wind my baby"

TIER_MESSAGES = [
    pytest.param("hes not breathing", "utter_safety_emergency", "emergency", id="not-breathing"),
    pytest.param("i shook her", "utter_safety_emergency", "emergency", id="shook-her"),
    pytest.param("i want to end it", "utter_safety_self_harm", "self_harm", id="end-it"),
]


def _assert_tier_reply(replies: list[dict], response: str, what: str) -> None:
    text = joined_text(replies)
    assert is_response(replies, response), f"{what}: expected {response}, got {text[:200]!r}"
    if response == "utter_safety_emergency":
        assert replies[0]["text"] == EMERGENCY_FIRST_LINE, f"{what}: 999 must come first"
    if response == "utter_safety_self_harm":
        assert "Samaritans" in text and "116 123" in text
        assert "999" in text


def _assert_ordinary_answer(replies: list[dict], what: str) -> None:
    assert_kind_reply(replies, what)
    assert not is_response(replies, "utter_ask_baby_age_weeks"), f"{what}: the form is still open"
    assert "Source:" in joined_text(replies), f"{what}: not a guidance answer"


def _escalations(bot: Bot) -> list[dict]:
    return bot.rows(ESCALATION_TABLE)


# ------------------------------------------------------------------------ action server up
@pytest.mark.parametrize(("text", "response", "tier"), TIER_MESSAGES)
def test_escalation_is_recorded_with_tier_and_pseudonym_only(
    bot: Bot, monkeypatch: pytest.MonkeyPatch, text: str, response: str, tier: str
) -> None:
    bot.actions("up")
    sender = new_sender("record")
    before = {r["id"] for r in _escalations(bot)}

    replies = bot.send(sender, text)
    _assert_tier_reply(replies, response, text)

    new_rows = [r for r in _escalations(bot) if r["id"] not in before]
    monkeypatch.setenv(KEY_ENV, bot.id_key)
    stored_id = pseudonymise(sender)
    mine = [r for r in new_rows if r["conversation_id"] == stored_id]
    assert len(mine) == 1, f"expected one escalation row for this conversation, got {new_rows}"
    assert mine[0]["tier"] == tier
    assert set(mine[0]) == ESCALATION_COLUMNS, f"unexpected columns {sorted(mine[0])}"
    assert stored_id != sender


def test_our_tables_hold_no_message_text_and_no_raw_ids(bot: Bot) -> None:
    bot.actions("up")
    sender = new_sender("privacy")
    secret = "zebracrossing"
    messages = [
        f"my mate {secret} says hes not breathing",
        f"i shook her {secret}",
        "can u tailor it to my babys age",
        f"6 weeks {secret}",
    ]
    for text in messages:
        bot.send(sender, text)
    rows = [(t, r) for t in OUR_TABLES for r in bot.rows(t)]
    assert any(t == ESCALATION_TABLE for t, _ in rows), "nothing was recorded at all"
    for table, row in rows:
        for column, value in row.items():
            value = str(value)
            assert secret not in value, f"{table}.{column} holds message text"
            assert sender not in value and "privacy-" not in value, f"{table}.{column} raw id"
            assert "breathing" not in value and "shook" not in value, f"{table}.{column} text"


# ------------------------------------------------------------------- action server stopped
@pytest.mark.parametrize(("text", "response", "tier"), TIER_MESSAGES)
def test_tier_replies_with_the_action_server_stopped(
    bot: Bot, text: str, response: str, tier: str
) -> None:
    bot.actions("down")
    assert not supervise.port_in_use(bot.actions_port), "the action server is still listening"
    before = len(_escalations(bot))

    replies = bot.send(new_sender("down"), text)

    _assert_tier_reply(replies, response, text)
    assert len(_escalations(bot)) == before, "recorded although the action server is down?"
    assert bot.rasa_alive()


def test_emergency_inside_the_age_form_with_the_action_server_stopped(bot: Bot) -> None:
    sender = new_sender("form")
    bot.actions("up")
    replies = bot.send(sender, AGE_QUESTION)
    assert is_response(replies, "utter_ask_baby_age_weeks"), joined_text(replies)
    assert bot.active_form(sender) == "baby_age_form"

    bot.actions("down")
    replies = bot.send(sender, "hes not breathing")
    assert replies and replies[0]["text"] == EMERGENCY_FIRST_LINE, joined_text(replies)[:200]
    assert is_response(replies, "utter_safety_emergency")
    assert bot.active_form(sender) is None, "the form is still open after the emergency"

    replies = bot.send(sender, ORDINARY_QUESTION)
    _assert_ordinary_answer(replies, ORDINARY_QUESTION)
    assert bot.active_form(sender) is None


def test_asking_for_the_age_form_with_the_action_server_stopped_gets_a_reply(bot: Bot) -> None:
    bot.actions("down")
    replies = bot.send(new_sender("form-down"), AGE_QUESTION)
    assert replies, "no reply at all"
    assert "999" in joined_text(replies) and "111" in joined_text(replies)


def test_emergency_typed_at_once_after_the_age_form_fails_to_open(bot: Bot) -> None:
    bot.actions("down")
    sender = new_sender("form-down")
    bot.send(sender, AGE_QUESTION)
    replies = bot.send(sender, "hes not breathing")
    assert replies and replies[0]["text"] == EMERGENCY_FIRST_LINE, joined_text(replies)[:200]
    replies = bot.send(sender, ORDINARY_QUESTION)
    _assert_ordinary_answer(replies, ORDINARY_QUESTION)


# -------------------------------------------------------- our database unreachable
def test_emergency_with_our_database_unreachable(bot: Bot) -> None:
    bot.actions("bad_db")
    sender = new_sender("nodb")
    before = len(_escalations(bot))

    replies = bot.send(sender, "hes not breathing")
    assert replies and replies[0]["text"] == EMERGENCY_FIRST_LINE, joined_text(replies)[:200]
    assert is_response(replies, "utter_safety_emergency")

    # The recording really failed (so this test is not passing by accident) ...
    log = bot.actions_log.read_text(encoding="utf-8", errors="replace")
    assert "Could not record escalation" in log, "the escalation was not even attempted"
    assert len(_escalations(bot)) == before
    assert "hes not breathing" not in log and sender not in log, "the log holds message text"

    # ... while Rasa's tracker store still keeps the conversation, and it carries on.
    replies = bot.send(sender, "i want to end it")
    _assert_tier_reply(replies, "utter_safety_self_harm", "self-harm, database down")
    user_texts = [e["text"] for e in bot.tracker(sender)["events"] if e.get("event") == "user"]
    assert user_texts == ["hes not breathing", "i want to end it"]


def test_ordinary_answer_and_age_form_with_our_database_unreachable(bot: Bot) -> None:
    bot.actions("bad_db")
    sender = new_sender("nodb-form")
    replies = bot.send(sender, AGE_QUESTION)
    assert is_response(replies, "utter_ask_baby_age_weeks"), joined_text(replies)
    replies = bot.send(sender, "6 weeks")
    assert_kind_reply(replies, "6 weeks with the database down")
    assert bot.active_form(sender) is None
    assert safety_response_in(replies) is None


# ----------------------------------------------------------- model without the safety layer
def _model_like_ours(path: Path, *, keep_safety: bool) -> Path:
    """A small archive with our model's real metadata.json, the safety node kept or removed."""
    with tarfile.open(require_model(), "r:gz") as archive:
        member = archive.getmember("metadata.json")
        handle = archive.extractfile(member)
        assert handle is not None
        metadata = json.loads(handle.read())
    nodes = metadata["predict_schema"]["nodes"]
    safety = [n for n, node in nodes.items() if node.get("uses") == SAFETY_COMPONENT]
    assert safety, "the trained model itself has no safety layer"
    if not keep_safety:
        for name in safety:
            del nodes[name]
    data = json.dumps(metadata).encode("utf-8")
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("metadata.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return path


def test_supervisor_refuses_a_model_without_the_safety_layer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_layer = _model_like_ours(tmp_path / "with.tar.gz", keep_safety=True)
    without = _model_like_ours(tmp_path / "without.tar.gz", keep_safety=False)
    assert model_has_safety_layer(with_layer)  # the hand-made archive is a valid check target
    assert not model_has_safety_layer(without)

    spawned: list[str] = []
    monkeypatch.setattr(supervise, "_spawn", lambda stack, name, *a, **k: spawned.append(name))
    with pytest.raises(SystemExit) as refused:
        supervise.start_stack(
            "serve", model=without, rasa_port=5199, actions_port=5198, log_dir=tmp_path
        )
    message = str(refused.value)
    assert "Refusing to start" in message and SAFETY_COMPONENT in message, message
    assert spawned == [], f"processes were started: {spawned}"

    # Same call with the layer present gets past the check and would start the action server.
    class Started(Exception):
        pass

    def fake_spawn(stack: object, name: str, *args: object, **kwargs: object) -> None:
        spawned.append(name)
        raise Started

    monkeypatch.setattr(supervise, "_spawn", fake_spawn)
    monkeypatch.setattr(supervise, "port_in_use", lambda port: False)
    with pytest.raises(Started):
        supervise.start_stack(
            "serve", model=with_layer, rasa_port=5199, actions_port=5198, log_dir=tmp_path
        )
    assert spawned == ["actions"]
