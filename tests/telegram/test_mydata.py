"""/mydata: what is kept, read back from the real tables, in plain words."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet

from bot.store import support
from bot.store.repository import export, record_escalation, record_referral, save_baby_stage
from bot.telegram.content import load_services, load_texts
from bot.telegram.handlers import describe_kept

FE = SimpleNamespace(texts=load_texts(), services=load_services())


@pytest.fixture()
def url(tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("SMALL_HOURS_DATA_KEY", Fernet.generate_key().decode())
    return f"sqlite:///{tmp_path / 'mydata.db'}"


def test_nothing_kept_but_the_conversation(url: str) -> None:
    assert describe_kept(FE, export("dad-1", url=url)) == FE.texts["mydata_empty"]


def test_every_kind_of_row_is_listed_without_the_number(url: str) -> None:
    save_baby_stage("dad-2", "newborn", url=url)
    record_escalation("dad-2", "edge", url=url)
    record_referral("dad-2", "northfield_hub", url=url)
    support.save_callback_draft("dad-2", "07700900456", url=url)
    request = support.submit_callback("dad-2", "morning", url=url)
    text = describe_kept(FE, export("dad-2", url=url))
    assert text.startswith(FE.texts["mydata_intro"]) and text.endswith(FE.texts["mydata_outro"])
    assert "newborn" in text and "(edge)" in text
    assert FE.services["northfield_hub"] in text
    assert request["ref"] in text and "ending 456" in text
    assert "900456" not in text and "dad-2" not in text
