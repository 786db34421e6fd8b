"""Pace the bot's sends and edits within Telegram's published limits, one queue per chat.

Bot API FAQ ("My bot is hitting limits, how do I avoid this?", see
/work/shared/specs/telegram-facts.md): about 1 message per second in one chat, 20 messages per
minute in one group, about 30 messages per second overall; edits count in practice; beyond
that Telegram answers 429 with ``parameters.retry_after`` (aiogram raises
``TelegramRetryAfter``), and the call was not carried out, so it is safe to make again.

Each chat has its own queue and worker, so a slow or refused chat never holds up another.
An edit waiting in a queue is replaced by a newer edit of the same message (only the latest
text is sent; every caller gets that edit's outcome). Edits answered "message is not modified"
count as done (`EditOutcome.UNCHANGED`), "message to edit not found" as `EditOutcome.GONE`
(the member deleted it: stop editing it); any other error reaches the caller.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any, TypeVar

from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter

log = logging.getLogger(__name__)

T = TypeVar("T")
Call = Callable[[], Awaitable[Any]]

NOT_MODIFIED = "message is not modified"
EDIT_TARGET_GONE = "message to edit not found"


@dataclass(frozen=True)
class PaceLimits:
    per_chat_per_second: float = 1.0
    per_group_per_minute: int = 20
    global_per_second: int = 30
    max_refusals: int = 5  # 429s in a row for one call before its caller gets the error


class Priority(IntEnum):
    """Which call goes first when the bot-wide limit makes calls wait (lower goes first):
    a member's first answer (the status message of a new request) before results, and
    results before edits of other members' status messages, which only show progress."""

    FIRST_REPLY = 0
    SEND = 1
    EDIT = 2


class EditOutcome(StrEnum):
    DONE = "done"
    UNCHANGED = "unchanged"  # Telegram already shows this text
    GONE = "gone"  # the message was deleted: stop editing it


class SlidingWindow:
    """At most ``limit`` events in any ``window`` seconds (times from the caller's clock)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._stamps: deque[float] = deque()

    def delay(self, now: float) -> float:
        """Seconds to wait from ``now`` before one more event fits."""
        while self._stamps and now - self._stamps[0] >= self.window:
            self._stamps.popleft()
        if len(self._stamps) < self.limit:
            return 0.0
        return self._stamps[-self.limit] + self.window - now

    def record(self, now: float) -> None:
        self._stamps.append(now)

    def idle(self, now: float) -> bool:
        return not self._stamps or now - self._stamps[-1] >= self.window


class _Gate:
    """The bot-wide limit, granted to waiting chats by `Priority`, then first come first
    served (a chat that waits longer is never overtaken by one of the same priority)."""

    def __init__(self, window: SlidingWindow, clock: Callable[[], float]) -> None:
        self._window = window
        self._clock = clock
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._granter: asyncio.Task[None] | None = None

    async def acquire(self, priority: Priority) -> None:
        now = self._clock()
        if not self._waiting and self._window.delay(now) <= 0:
            self._window.record(now)  # nobody waits and there is room: no queueing at all
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (int(priority), next(self._order), turn))
        if self._granter is None or self._granter.done():
            self._granter = asyncio.create_task(self._grant(), name="telegram-pace-gate")
        await turn

    async def _grant(self) -> None:
        while self._waiting:
            now = self._clock()
            wait = self._window.delay(now)
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            _, _, turn = heapq.heappop(self._waiting)
            if not turn.done():  # its caller may have been cancelled meanwhile
                self._window.record(now)
                turn.set_result(None)

    async def close(self) -> None:
        if self._granter is not None:
            self._granter.cancel()
            await asyncio.gather(self._granter, return_exceptions=True)
        for _, _, turn in self._waiting:
            turn.cancel()
        self._waiting.clear()


@dataclass
class _Item:
    call: Call
    futures: list[asyncio.Future[Any]]
    key: Hashable | None = None  # (message id, kind) for edits that may be coalesced
    edit: bool = False
    refusals: int = 0
    priority: Priority = Priority.SEND


@dataclass
class _Chat:
    group: SlidingWindow | None
    queue: deque[_Item] = field(default_factory=deque)
    pending_edits: dict[Hashable, _Item] = field(default_factory=dict)
    next_at: float = 0.0  # earliest start of the next call in this chat
    worker: asyncio.Task[None] | None = None


class Pacer:
    """Runs each chat's Bot API calls one at a time, spaced within Telegram's limits."""

    def __init__(
        self,
        limits: PaceLimits = PaceLimits(),
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = limits
        self._clock = clock
        self._chats: dict[int, _Chat] = {}
        # Stamped when a call starts; a little wider than Telegram's second, as its clock
        # starts when the request arrives.
        self._gate = _Gate(SlidingWindow(limits.global_per_second, 1.05), clock)

    async def send(
        self,
        chat_id: int,
        call: Callable[[], Awaitable[T]],
        *,
        group: bool,
        priority: Priority = Priority.SEND,
    ) -> T:
        """Run ``call`` (a send: ``lambda: bot.send_message(...)``) in turn; returns its
        result or raises its error (after ``max_refusals`` 429s in a row, that 429).
        ``priority``: its place when the bot-wide limit makes calls wait."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._enqueue(chat_id, group, _Item(call, [future], priority=priority))
        return await future

    async def edit(
        self, chat_id: int, message_id: int, call: Call, *, group: bool, kind: str = "text"
    ) -> EditOutcome:
        """Run the edit ``call`` in turn, unless a newer edit of the same message and ``kind``
        ("text", "caption", "markup") replaces it first; then this returns that one's outcome."""
        future: asyncio.Future[EditOutcome] = asyncio.get_running_loop().create_future()
        chat = self._chat(chat_id, group)
        key = (message_id, kind)
        waiting = chat.pending_edits.get(key)
        if waiting is not None:
            waiting.call = call
            waiting.futures.append(future)
        else:
            item = _Item(call, [future], key=key, edit=True, priority=Priority.EDIT)
            chat.pending_edits[key] = item
            self._enqueue(chat_id, group, item)
        return await future

    async def close(self) -> None:
        """Stop every worker; calls still queued are cancelled."""
        workers = [c.worker for c in self._chats.values() if c.worker is not None]
        for chat in self._chats.values():
            for item in chat.queue:
                for future in item.futures:
                    future.cancel()
        self._chats.clear()
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await self._gate.close()

    # ------------------------------------------------------------------ internals

    def _chat(self, chat_id: int, group: bool) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            self._forget_idle()
            window = SlidingWindow(self._limits.per_group_per_minute, 60.0) if group else None
            chat = self._chats[chat_id] = _Chat(window)
        return chat

    def _forget_idle(self) -> None:
        now = self._clock()
        for chat_id, chat in list(self._chats.items()):
            quiet = chat.group is None or chat.group.idle(now)
            if chat.worker is None and not chat.queue and chat.next_at <= now and quiet:
                del self._chats[chat_id]

    def _enqueue(self, chat_id: int, group: bool, item: _Item) -> None:
        chat = self._chat(chat_id, group)
        chat.queue.append(item)
        if chat.worker is None or chat.worker.done():
            chat.worker = asyncio.create_task(self._work(chat), name=f"telegram-pace-{chat_id}")

    async def _work(self, chat: _Chat) -> None:
        try:
            while chat.queue:
                await self._wait_turn(chat)
                item = chat.queue.popleft()
                if item.key is not None:
                    chat.pending_edits.pop(item.key, None)
                await self._run(chat, item)
        finally:
            chat.worker = None

    async def _wait_turn(self, chat: _Chat) -> None:
        """The chat's own spacing first, then a turn of the bot-wide limit for its next call
        (the chat's spacing only grows by waiting, so it still holds after that)."""
        while True:
            now = self._clock()
            wait = max(chat.next_at - now, chat.group.delay(now) if chat.group is not None else 0.0)
            if wait <= 0:
                break
            await asyncio.sleep(wait)
        await self._gate.acquire(chat.queue[0].priority)

    async def _run(self, chat: _Chat, item: _Item) -> None:
        try:
            result = await item.call()
        except TelegramRetryAfter as error:
            item.refusals += 1
            chat.next_at = self._clock() + error.retry_after
            log.info("Telegram asked to wait %s s in one chat", error.retry_after)
            if item.refusals < self._limits.max_refusals:
                self._requeue(chat, item)
                return
            _settle(item, error=error)
            return
        except TelegramBadRequest as error:
            self._spaced(chat)
            outcome = _edit_outcome(error) if item.edit else None
            if outcome is None:
                _settle(item, error=error)
            else:
                _settle(item, result=outcome)
            return
        except asyncio.CancelledError:
            for future in item.futures:
                future.cancel()
            raise
        except Exception as error:
            self._spaced(chat)
            _settle(item, error=error)
            return
        self._spaced(chat)
        _settle(item, result=EditOutcome.DONE if item.edit else result)

    def _requeue(self, chat: _Chat, item: _Item) -> None:
        """Put a refused call back first in line; a newer edit of the message may have been
        queued meanwhile, and then the newest text is what gets sent."""
        newer = chat.pending_edits.get(item.key) if item.key is not None else None
        if newer is not None:
            newer.futures.extend(item.futures)
            return
        if item.key is not None:
            chat.pending_edits[item.key] = item
        chat.queue.appendleft(item)

    def _spaced(self, chat: _Chat) -> None:
        """Count a call Telegram carried out (or refused as bad, which costs the same turn)."""
        now = self._clock()
        chat.next_at = max(chat.next_at, now + 1.0 / self._limits.per_chat_per_second)
        if chat.group is not None:
            chat.group.record(now)


def _edit_outcome(error: TelegramBadRequest) -> EditOutcome | None:
    text = error.message.lower()
    if NOT_MODIFIED in text:
        return EditOutcome.UNCHANGED
    if EDIT_TARGET_GONE in text:
        return EditOutcome.GONE
    return None


def _settle(item: _Item, *, result: Any = None, error: BaseException | None = None) -> None:
    for future in item.futures:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
