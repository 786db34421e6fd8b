"""Misbehaviour on request, and an optional strict rate limiter.

A fault matches a Bot API method name (case-insensitive; ``"*"`` for all) and optionally a
chat (``chat_id`` compared as a string), fires ``times`` times (None: until cleared) and/or
for ``duration`` seconds, and can be narrowed with ``when=lambda record: ...``.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import BLOCKED, ApiError, retry_after_error
from .records import RequestRecord

SEND_METHODS = frozenset(
    m.lower()
    for m in (
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendMediaGroup",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
    )
)


@dataclass
class Fault:
    kind: str  # "error", "delay", "drop"
    method: str
    chat_id: str | None = None
    times: int | None = None  # None: no count limit
    until: float | None = None  # monotonic deadline, None: no time limit
    when: Callable[[RequestRecord], bool] | None = None
    error: ApiError | None = None
    delay: float = 0.0
    hits: list[float] = field(default_factory=list)  # monotonic time of each firing

    @property
    def exhausted(self) -> bool:
        if self.times is not None and len(self.hits) >= self.times:
            return True
        return self.until is not None and time.monotonic() >= self.until

    def matches(self, record: RequestRecord) -> bool:
        if self.exhausted or self.method not in ("*", record.method.lower()):
            return False
        if self.chat_id is not None and record.chat_id != self.chat_id:
            return False
        return self.when is None or bool(self.when(record))

    def describe(self) -> str:
        detail = self.error.description if self.error else f"{self.delay}s"
        return f"{self.kind} {self.method}: {detail}"


ChatLike = int | str | object | None


class Faults:
    """``standin.faults``: each method returns the ``Fault`` (see ``fault.hits``)."""

    def __init__(self) -> None:
        self.active: list[Fault] = []

    def _add(
        self,
        kind: str,
        method: str,
        chat: ChatLike,
        times: int | None,
        duration: float | None,
        when: Callable[[RequestRecord], bool] | None,
        error: ApiError | None = None,
        delay: float = 0.0,
    ) -> Fault:
        chat_id = getattr(chat, "id", chat)
        fault = Fault(
            kind,
            "*" if method == "*" else method.lower(),
            None if chat_id is None else str(chat_id),
            times,
            None if duration is None else time.monotonic() + duration,
            when,
            error,
            delay,
        )
        self.active.append(fault)
        return fault

    def error(
        self,
        method: str,
        code: int,
        description: str,
        *,
        chat: ChatLike = None,
        times: int | None = 1,
        duration: float | None = None,
        parameters: dict[str, int] | None = None,
        when: Callable[[RequestRecord], bool] | None = None,
    ) -> Fault:
        """Any ``ok: false`` answer, e.g. ``error("editMessageText", 400, NOT_MODIFIED)``."""
        err = ApiError(code, description, parameters)
        return self._add("error", method, chat, times, duration, when, err)

    def retry_after(
        self,
        method: str,
        seconds: int = 1,
        *,
        chat: ChatLike = None,
        times: int | None = 1,
        duration: float | None = None,
        when: Callable[[RequestRecord], bool] | None = None,
    ) -> Fault:
        """429 "Too Many Requests: retry after N" with ``parameters.retry_after`` = N (≥ 1)."""
        return self._add("error", method, chat, times, duration, when, retry_after_error(seconds))

    def bad_request(
        self, method: str, detail: str, *, chat: ChatLike = None, times: int | None = 1
    ) -> Fault:
        """400 ``Bad Request: <detail>`` ("message is not modified: ...", "message to edit
        not found", ...)."""
        return self.error(method, 400, f"Bad Request: {detail}", chat=chat, times=times)

    def blocked(
        self,
        method: str = "*",
        *,
        chat: ChatLike = None,
        times: int | None = None,
        duration: float | None = None,
    ) -> Fault:
        """403 "Forbidden: bot was blocked by the user" (see also ``standin.block_bot``)."""
        return self.error(method, 403, BLOCKED, chat=chat, times=times, duration=duration)

    def server_error(
        self,
        method: str,
        *,
        status: int = 500,
        description: str = "Internal Server Error",
        chat: ChatLike = None,
        times: int | None = 1,
    ) -> Fault:
        """5xx (502 "Bad Gateway" is what api.telegram.org's proxy answers when overloaded)."""
        return self.error(method, status, description, chat=chat, times=times)

    def delay(
        self,
        method: str,
        seconds: float,
        *,
        chat: ChatLike = None,
        times: int | None = None,
        duration: float | None = None,
    ) -> Fault:
        """Answer normally after ``seconds`` (cut short when the stand-in stops)."""
        return self._add("delay", method, chat, times, duration, None, delay=seconds)

    def drop(self, method: str, *, chat: ChatLike = None, times: int | None = 1) -> Fault:
        """Close the connection without an answer (the client sees a disconnect). The call
        is not executed."""
        return self._add("drop", method, chat, times, None, None)

    def clear(self) -> None:
        self.active.clear()

    def select(self, record: RequestRecord) -> tuple[float, Fault | None]:
        """Total delay to apply, and the first error/drop fault to answer with (if any)."""
        delay, answer, now = 0.0, None, time.monotonic()
        for fault in self.active:
            if not fault.matches(record):
                continue
            if fault.kind == "delay":
                fault.hits.append(now)
                delay += fault.delay
            elif answer is None:
                fault.hits.append(now)
                answer = fault
        return delay, answer


class RateLimits:
    """Telegram's published guidance, enforced with 429 when ``enabled`` (off by default):
    about 1 message per second per chat, 20 per minute per group, 30 per second overall
    (core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this). Sends and
    edits count; an album counts one per item. Rejected calls do not count."""

    def __init__(self) -> None:
        self.enabled = False
        self.per_chat_per_second = 1
        self.per_group_per_minute = 20
        self.global_per_second = 30
        self._chat: dict[int, deque[float]] = {}
        self._global: deque[float] = deque(maxlen=1000)
        self.refused: list[tuple[float, str, int, int]] = []  # (at, method, chat, retry_after)

    def enable(
        self,
        *,
        per_chat_per_second: int = 1,
        per_group_per_minute: int = 20,
        global_per_second: int = 30,
    ) -> None:
        self.enabled = True
        self.per_chat_per_second = per_chat_per_second
        self.per_group_per_minute = per_group_per_minute
        self.global_per_second = global_per_second

    @staticmethod
    def _wait(stamps: deque[float], window: float, limit: int, count: int, now: float) -> float:
        recent = [t for t in stamps if now - t < window]
        if len(recent) + count <= limit:
            return 0.0
        index = max(0, len(recent) + count - limit - 1)
        return window - (now - recent[index]) if index < len(recent) else window

    def check(self, method: str, chat_id: int, is_group: bool, count: int = 1) -> None:
        """Raise 429 if this call would exceed a limit, else count it."""
        if not self.enabled or method.lower() not in SEND_METHODS:
            return
        now = time.monotonic()
        stamps = self._chat.setdefault(chat_id, deque(maxlen=1000))
        wait = max(
            self._wait(stamps, 1.0, self.per_chat_per_second, count, now),
            self._wait(stamps, 60.0, self.per_group_per_minute, count, now) if is_group else 0,
            self._wait(self._global, 1.0, self.global_per_second, count, now),
        )
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            self.refused.append((now, method, chat_id, seconds))
            raise retry_after_error(seconds)
        for _ in range(count):
            stamps.append(now)
            self._global.append(now)
