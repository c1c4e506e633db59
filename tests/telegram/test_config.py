"""Front-end settings: defaults, and one clear sentence for each mistake."""

from __future__ import annotations

import pytest

from bot.telegram import __main__ as entry
from bot.telegram.config import DEFAULT_API_BASE_URL, ConfigError, load_config

TOKEN = "123456:ABC-def_ghi"


def test_missing_token_names_botfather() -> None:
    with pytest.raises(ConfigError, match="@BotFather"):
        load_config({})


def test_missing_token_exits_with_code_2(monkeypatch, capsys) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert entry.main() == 2
    err = capsys.readouterr().err
    assert "@BotFather" in err
    assert err.count("\n") == 1  # one line


def test_malformed_token() -> None:
    with pytest.raises(ConfigError, match="does not look like"):
        load_config({"TELEGRAM_BOT_TOKEN": "not a token"})


def test_defaults() -> None:
    config = load_config({"TELEGRAM_BOT_TOKEN": TOKEN})
    assert config.api_base_url == DEFAULT_API_BASE_URL
    assert config.rasa_url == "http://127.0.0.1:5005"
    assert config.rasa_timeout == 8.0
    assert not config.webhook


def test_rasa_url_follows_rasa_port() -> None:
    config = load_config({"TELEGRAM_BOT_TOKEN": TOKEN, "RASA_PORT": "5999"})
    assert config.rasa_url == "http://127.0.0.1:5999"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RASA_PORT": "abc"}, "RASA_PORT"),
        ({"RASA_URL": "localhost:5005"}, "RASA_URL"),
        ({"TELEGRAM_API_BASE_URL": "ftp://x"}, "TELEGRAM_API_BASE_URL"),
        ({"RASA_TIMEOUT": "soon"}, "RASA_TIMEOUT"),
        ({"RASA_TIMEOUT": "600"}, "RASA_TIMEOUT"),
        ({"TELEGRAM_WEBHOOK_URL": "https://example.org/hook"}, "TELEGRAM_WEBHOOK_SECRET"),
        (
            {"TELEGRAM_WEBHOOK_URL": "http://example.org/hook", "TELEGRAM_WEBHOOK_SECRET": "s"},
            "https",
        ),
        ({"TELEGRAM_WEBHOOK_PORT": "70000"}, "TELEGRAM_WEBHOOK_PORT"),
        ({"TELEGRAM_WEBHOOK_SECRET": "bad secret!"}, "TELEGRAM_WEBHOOK_SECRET"),
    ],
)
def test_wrong_settings_say_which(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config({"TELEGRAM_BOT_TOKEN": TOKEN, **env})


def test_webhook_settings() -> None:
    config = load_config(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_WEBHOOK_URL": "https://example.org/small-hours/hook",
            "TELEGRAM_WEBHOOK_PORT": "8080",
            "TELEGRAM_WEBHOOK_SECRET": "s3cret_-X",
        }
    )
    assert config.webhook
    assert config.webhook_path == "small-hours/hook"
    assert config.webhook_port == 8080


def test_plain_http_webhook_only_on_loopback() -> None:
    config = load_config(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_WEBHOOK_URL": "http://127.0.0.1:8443/hook",
            "TELEGRAM_WEBHOOK_SECRET": "s",
        }
    )
    assert config.webhook and config.webhook_path == "hook"
    with pytest.raises(ConfigError, match="https"):
        load_config(
            {
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_WEBHOOK_URL": "http://127.0.0.2.example.org/hook",
                "TELEGRAM_WEBHOOK_SECRET": "s",
            }
        )


def test_supervise_telegram_refuses_to_start_without_a_token(monkeypatch) -> None:
    from scripts import supervise

    monkeypatch.setattr(supervise, "assert_model_has_safety_layer", lambda model: None)
    monkeypatch.setattr(supervise, "_spawn", lambda *a, **k: pytest.fail("started a process"))
    with pytest.raises(supervise.SettingsError, match="@BotFather"):
        supervise.start_stack("telegram", extra_env={"TELEGRAM_BOT_TOKEN": ""})
