"""Live status messages of Telegram jobs: each job's message is edited by its own task, at most
once per `STATUS_EDIT_INTERVAL` seconds, through the `Pacer` (which keeps a chat within
Telegram's per-chat and per-group limits and honours ``retry_after``).

The text changes only when something happens (a new stage, a new place in line, Wiro's
progress), never with a ticking clock, so a quiet job costs no edits. "Message is not
modified" is a normal outcome; "message to edit not found" means the member deleted the
status: it is no longer edited (their choice, not an error).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramRetryAfter

from bot.core.jobs.runner import Phase
from bot.core.wiro import TaskProgress

from .keyboards import status_keyboard
from .messages import status_text
from .throttle import EditOutcome, Pacer

log = logging.getLogger(__name__)

MAX_PAUSE = 120.0  # the longest wait after a refused edit, unless Telegram asks longer


@dataclass
class _Live:
    job_id: int
    chat_id: int
    message_id: int
    group: bool
    member_name: str | None
    phase: Phase = Phase.WAITING
    position: int | None = None
    progress: TaskProgress | None = None
    starts_at: float | None = None  # monotonic time the member's cooldown ends
    shown: str = ""
    edited_at: float = 0.0  # monotonic
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class StatusBoard:
    """Follows every live status message of this process."""

    def __init__(
        self,
        bot: Bot,
        pacer: Pacer,
        *,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bot = bot
        self._pacer = pacer
        self._interval = interval
        self._clock = clock
        self._live: dict[int, _Live] = {}
        self._gone: set[int] = set()  # jobs whose status message the member deleted

    def posted(
        self,
        job_id: int,
        chat_id: int,
        message_id: int,
        *,
        group: bool,
        member_name: str | None,
        shown: str,
        position: int | None,
        starts_in: float | None,
    ) -> None:
        """A status message was just posted with the text ``shown``."""
        live = _Live(job_id, chat_id, message_id, group, member_name, position=position)
        live.shown, live.edited_at = shown, self._clock()
        if starts_in:
            live.starts_at = self._clock() + starts_in
        self._live[job_id] = live

    def show(
        self,
        job_id: int,
        chat_id: int,
        message_id: int,
        *,
        group: bool,
        member_name: str | None,
        phase: Phase,
        position: int | None = None,
        progress: TaskProgress | None = None,
    ) -> None:
        """Show a new state of the job (following its message again after a restart)."""
        if job_id in self._gone:
            return
        live = self._live.get(job_id)
        if live is None or live.message_id != message_id:
            live = self._live[job_id] = _Live(job_id, chat_id, message_id, group, member_name)
        if phase is not live.phase:
            live.progress = None
        live.phase = phase
        if position is not None:
            live.position = position
        if progress is not None:
            live.progress = progress
        live.changed.set()
        if live.task is None or live.task.done():
            live.task = asyncio.create_task(self._follow(live), name=f"tg-status-{job_id}")

    def following(self, job_id: int) -> bool:
        return job_id in self._live

    def forget(self, job_id: int) -> None:
        """No more edits of this job's status (it is over, or its message is gone)."""
        self._gone.discard(job_id)
        live = self._live.pop(job_id, None)
        if live is not None and live.task is not None and live.task is not asyncio.current_task():
            live.task.cancel()

    async def close(self) -> None:
        tasks = [live.task for live in self._live.values() if live.task is not None]
        self._live.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def text_of(self, live: _Live) -> str:
        now = self._clock()
        starts_in = live.starts_at - now if live.starts_at is not None else None
        return status_text(
            live.phase,
            position=live.position,
            progress=live.progress,
            starts_in=starts_in if starts_in and starts_in > 0 else None,
            member_name=live.member_name,
        )

    async def _follow(self, live: _Live) -> None:
        pause = 0.0
        while self._live.get(live.job_id) is live:
            await live.changed.wait()
            wait = max(pause, live.edited_at + self._interval - self._clock())
            if wait > 0:
                await asyncio.sleep(wait)  # changes meanwhile are shown together
            live.changed.clear()
            text = self.text_of(live)
            if text == live.shown:
                continue
            pause = await self._edit(live, text)

    async def _edit(self, live: _Live, text: str) -> float:
        """Edit the message to ``text``; returns the extra pause before the next edit."""

        def call() -> Awaitable[object]:
            return self._bot.edit_message_text(
                text=text,
                chat_id=live.chat_id,
                message_id=live.message_id,
                parse_mode="HTML",
                reply_markup=status_keyboard(live.job_id),
            )

        try:
            outcome = await self._pacer.edit(live.chat_id, live.message_id, call, group=live.group)
        except TelegramRetryAfter as error:  # refused again and again: wait as asked
            live.changed.set()
            log.info("Status edit of job %s refused; waiting %s s", live.job_id, error.retry_after)
            return min(float(error.retry_after), MAX_PAUSE * 10)
        except TelegramAPIError as error:
            live.changed.set()
            log.info("Status edit of job %s failed (%s); trying again later", live.job_id, error)
            return min(MAX_PAUSE, max(self._interval * 2, 1.0))
        if outcome is EditOutcome.GONE:
            log.info("Status message of job %s was deleted; no more progress edits", live.job_id)
            self._gone.add(live.job_id)
            with contextlib.suppress(KeyError):
                if self._live[live.job_id] is live:
                    del self._live[live.job_id]
            return 0.0
        live.shown, live.edited_at = text, self._clock()
        return 0.0
