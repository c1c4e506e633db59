"""``python -m bot.telegram``: run the Telegram front end (settings in bot/telegram/config.py).

Exit codes: 0 stopped by a signal, 2 a setting is missing or wrong.
"""

from __future__ import annotations

import logging
import os
import sys

from bot.telegram.config import ConfigError, load_config


def _quiet_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # httpx logs every request URL at INFO, and Bot API URLs contain the token.
    for name in ("httpx", "httpcore", "telegram", "apscheduler"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main() -> int:
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _quiet_logging()
    from bot.telegram.app import run

    try:
        run(config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _exit(code: int) -> None:
    """Exit without joining worker threads: loading the safety layer may still be under way
    when a signal arrives, and the Application has already shut down cleanly by now."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit(main())
