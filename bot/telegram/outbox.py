"""Everything the bot posts in the operators' chat, one message at a time, most urgent first.

Telegram lets a bot post about 20 messages a minute in one group (python-telegram-bot's
AIORateLimiter holds us to it), while dads in private chats get about one a second each. With
several live chats at once the operators' chat is the bottleneck, so it gets one queue of its
own, served by one task:

- **Nobody waits for it.** A dad's handler puts his message in the queue and returns, so his next
  message (an emergency, say) is read and answered at once even when the operators' chat is
  backed up. Operators' commands are answered through it too.
- **Safety alerts go first**, then new chat cards, then everything else in the order it came.
- **A dad's waiting messages are merged** into one post (in his card's thread), so a burst of
  short messages costs one slot, and a busy queue serves every chat in turn instead of one chat
  after another. An alert pulls his earlier waiting messages along, so his order is kept.

Nothing here is stored: a restart drops what is still waiting (logged as a count, never text).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from bot.telegram.rendering import MAX_TEXT, utf16_len

logger = logging.getLogger(__name__)

# (text, reply_to, reply_markup) -> the posted Message
Send = Callable[[str, "int | None", Any], Awaitable[Any]]
OnSent = Callable[[Any], Awaitable[None]]
OnFailed = Callable[[BaseException], Awaitable[None]]

FLUSH_SECONDS = 5.0  # at shutdown, how long waiting posts are given to go out


class Priority(IntEnum):
    ALERT = 0  # a dad's message the safety layer flagged: the next free slot
    CARD = 1  # a new live chat request
    NORMAL = 2  # dads' messages, notes, answers to operators' commands, in order


@dataclass
class Post:
    """One thing waiting to be posted. ``ref`` ties it to a live chat (SH-XXXXXX)."""

    text: str
    priority: Priority
    seq: int
    ref: str | None = None
    reply_to: int | None = None
    header: str | None = None  # a dad's message: the safety alert above it, if any
    markup: Any = None  # buttons under it (never on a dad's messages, which may be merged)
    from_dad: bool = False  # a dad's message: may be merged with his other waiting ones
    card: bool = False  # the post opening a chat's thread: its message id is remembered
    ends_thread: bool = False  # the chat's last post: its thread is then forgotten
    on_sent: OnSent | None = None
    on_failed: OnFailed | None = None


@dataclass
class Batch:
    """What goes out in one Telegram message: one post, or one dad's merged messages."""

    posts: list[Post]
    text: str
    reply_to: int | None
    markup: Any = None


@dataclass
class OperatorOutbox:
    """The queue in front of the operators' chat. ``send(text, reply_to, markup)`` posts one."""

    send: Send
    limit: int = MAX_TEXT
    _pending: list[Post] = field(default_factory=list)
    _threads: dict[str, int] = field(default_factory=dict)  # ref -> its card's message id
    _seq: Any = field(default_factory=itertools.count)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task | None = None
    _sending: list[Post] = field(default_factory=list)  # the batch on its way, if any

    # --- putting things in -------------------------------------------------------------------

    def post(
        self,
        text: str,
        *,
        priority: Priority = Priority.NORMAL,
        ref: str | None = None,
        reply_to: int | None = None,
        card: bool = False,
        ends_thread: bool = False,
        markup: Any = None,
        on_sent: OnSent | None = None,
        on_failed: OnFailed | None = None,
    ) -> None:
        """Queue a message for the operators' chat (a card, a note, an answer to a command)."""
        self._add(
            Post(
                text,
                priority,
                next(self._seq),
                ref=ref,
                reply_to=reply_to,
                card=card,
                ends_thread=ends_thread,
                markup=markup,
                on_sent=on_sent,
                on_failed=on_failed,
            )
        )

    def relay(
        self,
        ref: str,
        lines: list[str],
        *,
        header: str | None = None,
        reply_to: int | None = None,
        on_failed: OnFailed | None = None,
    ) -> None:
        """Queue a dad's message (already cut into lines that fit) for his chat's thread.

        With a ``header`` (a safety alert) it goes out in the next free slot.
        """
        priority = Priority.ALERT if header else Priority.NORMAL
        for index, line in enumerate(lines):
            self._add(
                Post(
                    line,
                    priority,
                    next(self._seq),
                    ref=ref,
                    reply_to=reply_to,
                    header=header if index == 0 else None,
                    from_dad=True,
                    on_failed=on_failed,
                )
            )

    def discard(self, ref: str) -> int:
        """Drop everything still waiting for chat ``ref`` (its card could not be posted)."""
        kept = [p for p in self._pending if p.ref != ref]
        dropped = len(self._pending) - len(kept)
        self._pending = kept
        self._threads.pop(ref, None)
        return dropped

    @property
    def waiting(self) -> int:
        """Posts not yet delivered, the one on its way included."""
        return len(self._pending) + len(self._sending)

    def _add(self, post: Post) -> None:
        self._pending.append(post)
        self._wake.set()

    # --- choosing what goes next -------------------------------------------------------------

    def next_batch(self) -> Batch | None:
        """Take the most urgent waiting post (oldest first); merge its dad's waiting messages."""
        if not self._pending:
            return None
        first = min(self._pending, key=lambda p: (p.priority, p.seq))
        posts = self._merge_from(first) if first.from_dad else [first]
        taken = {id(p) for p in posts}
        self._pending = [p for p in self._pending if id(p) not in taken]
        reply_to = first.reply_to
        if first.ref is not None and first.ref in self._threads:
            reply_to = self._threads[first.ref]
        return Batch(posts, self._text(posts), reply_to, first.markup)

    def _merge_from(self, first: Post) -> list[Post]:
        """``first`` with its dad's other waiting messages around it, in order, while they fit.

        Only his run of messages between this chat's other posts (its card, a note that he
        ended it) is merged, so those keep their place. When the run up to ``first`` does not
        fit in one message, ``first`` (an alert) goes alone and the others follow.
        """
        same = sorted((p for p in self._pending if p.ref == first.ref), key=lambda p: p.seq)
        at = next(k for k, p in enumerate(same) if p is first)
        start, end = at, at
        while start > 0 and same[start - 1].from_dad:
            start -= 1
        while end + 1 < len(same) and same[end + 1].from_dad:
            end += 1
        run: list[Post] = []
        for post in same[start : end + 1]:
            candidate = [*run, post]
            if run and utf16_len(self._text(candidate)) > self.limit:
                break
            run = candidate
        return run if any(p is first for p in run) else [first]

    @staticmethod
    def _text(posts: list[Post]) -> str:
        headers = list(dict.fromkeys(p.header for p in posts if p.header))
        body = "\n".join(p.text for p in posts)
        return "\n\n".join([*headers, body]) if headers else body

    # --- sending -----------------------------------------------------------------------------

    async def deliver_one(self) -> bool:
        """Post the next batch; False when nothing was waiting."""
        batch = self.next_batch()
        if batch is None:
            return False
        self._sending = batch.posts
        try:
            message = await self.send(batch.text, batch.reply_to, batch.markup)
        except asyncio.CancelledError:
            self._pending.extend(batch.posts)  # not sent: counted as dropped at shutdown
            raise
        except Exception as exc:  # Telegram refused or was unreachable after the retries
            logger.error("Could not post in the operators' chat: %s", type(exc).__name__)
            # One notice per batch: merged posts are all from the same dad.
            on_failed = next((p.on_failed for p in batch.posts if p.on_failed), None)
            if on_failed is not None:
                await self._safely(on_failed(exc))
            return True
        finally:
            self._sending = []
        for post in batch.posts:
            if post.card and post.ref is not None:
                self._threads[post.ref] = message.message_id
            if post.ends_thread and post.ref is not None:
                self._threads.pop(post.ref, None)
            if post.on_sent is not None:
                await self._safely(post.on_sent(message))
        return True

    async def run(self) -> None:
        """Forever: post what is waiting, one message at a time."""
        while True:
            if not await self.deliver_one():  # returns False without yielding: nothing is lost
                self._wake.clear()
                await self._wake.wait()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="operators-outbox")

    async def stop(self, flush_seconds: float = FLUSH_SECONDS) -> None:
        """Give waiting posts a few seconds to go out, then stop."""
        if self._task is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + flush_seconds
        while self.waiting and loop.time() < deadline and not self._task.done():
            await asyncio.sleep(0.05)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self._pending:
            dropped = self.waiting
            logger.warning("%d posts for the operators' chat were dropped at shutdown", dropped)

    @staticmethod
    async def _safely(step: Awaitable[None]) -> None:
        try:
            await step
        except Exception:
            logger.exception("A step after posting in the operators' chat failed")
