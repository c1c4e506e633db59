"""A terminal chat with the running bot over the REST channel (what `make run` opens).

Replies print as plain text; buttons print as numbered choices: type the number to press one.
Ctrl-C, Ctrl-D, /stop or /quit end the chat. Used instead of `rasa shell`, which prints a
traceback when Ctrl-C is pressed at a button prompt.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts._common import HttpClient, rest_message  # noqa: E402

QUIT = {"/stop", "/quit", "/exit"}


def show(replies: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Print the bot's replies; return the buttons offered last (numbered from 1)."""
    buttons: list[dict[str, str]] = []
    for reply in replies:
        if reply.get("text"):
            print(f"\nSmall Hours: {reply['text']}")
        if reply.get("buttons"):
            buttons = list(reply["buttons"])
    for number, button in enumerate(buttons, 1):
        print(f"  [{number}] {button.get('title', '')}")
    return buttons


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="the Rasa server, e.g. http://127.0.0.1:5005")
    args = parser.parse_args()
    client = HttpClient(args.url, timeout=30)
    sender = f"terminal-{uuid.uuid4().hex[:8]}"
    print("Small Hours is ready. Type a message (numbers press buttons; /stop to end).")
    buttons: list[dict[str, str]] = []
    try:
        while True:
            try:
                text = input("\nYou: ").strip()
            except EOFError:
                break
            if text.lower() in QUIT:
                break
            if text.isdigit() and 1 <= int(text) <= len(buttons):
                text = buttons[int(text) - 1]["payload"]
            try:
                buttons = show(rest_message(client, sender, text))
            except Exception as exc:  # a stopped or restarting server: say so, keep going
                print(f"\n(The bot did not answer: {type(exc).__name__}. Is it still running?)")
    except KeyboardInterrupt:
        pass
    finally:
        client.close()
    print("\nBye. Take care.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
