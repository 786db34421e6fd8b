"""Public status messages of running jobs: stage, queue position and elapsed time.

One board keeps every live status message in step with its job, editing each at most once per
interval (Discord rate-limits edits, and nobody reads faster). A message the member deleted is
simply dropped: that is their choice, not an error.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

import discord

from bot.channel.reply import Reply
from bot.jobs import Phase
from bot.jobs.ledger import Clock, utc_now
from bot.jobs.limits import relative_time
from bot.wiro import TaskProgress

log = logging.getLogger(__name__)

_STEPS = (
    (Phase.WAITING, "Waiting in line"),
    (Phase.QUEUED, "Queued at Wiro"),
    (Phase.GENERATING, "Generating"),
    (Phase.FINISHING, "Finishing"),
    (Phase.DOWNLOADING, "Fetching the images"),
)
_LABELS = dict(_STEPS)
_ORDER = [phase for phase, _ in _STEPS]


def render_status(
    mention: str,
    phase: Phase,
    elapsed: float,
    position: int | None = None,
    progress: TaskProgress | None = None,
    starts_at: datetime | None = None,
) -> str:
    """The status line; `starts_at`: the job waits for its member's cooldown until then."""
    done = _ORDER.index(phase) + 1 if phase in _ORDER else 1
    bar = "▰" * done + "▱" * (len(_ORDER) - done)
    label = _LABELS.get(phase, "Starting")
    headline = f"🎨 Making a portrait for {mention}\n`{bar}` **{label}…**"
    if phase is Phase.WAITING and starts_at is not None:
        return f"{headline} Starts {relative_time(starts_at)} (the pause between two portraits)."
    if phase is Phase.WAITING:
        # No clock while in line: the text changes only when the queue moves, so a long
        # queue does not mean an edit per waiting member every few seconds.
        return f"{headline} {_ordinal(position)}" if position is not None else headline
    text = f"{headline} · {_elapsed(elapsed)}"
    if phase is Phase.GENERATING and progress is not None and progress.percentage is not None:
        text += "\n" + _progress_bar(progress)
    return text


def _progress_bar(progress: TaskProgress, width: int = 20) -> str:
    percentage = progress.percentage or 0.0
    filled = round(width * percentage / 100)
    line = f"`{'█' * filled}{'░' * (width - filled)}` {percentage:.0f}%"
    if progress.remaining_seconds is not None and percentage < 100:
        line += f" · about {_elapsed(progress.remaining_seconds)} left"
    return line


def _ordinal(position: int) -> str:
    return "You're next." if position == 1 else f"{position - 1} ahead of you."


def _elapsed(seconds: float) -> str:
    # Coarser after the first minute so a long wait does not mean an edit every few seconds.
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole} s"
    whole -= whole % 10
    return f"{whole // 60} min {whole % 60:02d} s"


@dataclass
class _Live:
    reply: Reply
    message_id: int
    started: float  # POSIX time the job was asked for
    phase: Phase = Phase.WAITING
    position: int | None = None
    progress: TaskProgress | None = None
    starts_at: datetime | None = None  # waiting for the member's cooldown until then
    shown: str = ""


class StatusBoard:
    def __init__(self, *, interval: float, clock: Clock = utc_now) -> None:
        self._interval = interval
        self._clock = clock
        self._live: dict[int, _Live] = {}
        self._ticker: asyncio.Task[None] | None = None

    def show(
        self,
        job_id: int,
        reply: Reply,
        message_id: int,
        *,
        started: float,
        phase: Phase,
        position: int | None = None,
        progress: TaskProgress | None = None,
        starts_at: datetime | None = None,
    ) -> None:
        """Follow a job's status message (again, after a restart) and show its phase."""
        live = self._live.get(job_id)
        if live is None:
            live = self._live[job_id] = _Live(reply, message_id, started)
        live.starts_at = starts_at
        if phase is not live.phase:
            live.progress = None
        live.phase, live.position = phase, position
        if progress is not None:
            live.progress = progress
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.create_task(self._tick_forever(), name="status-board")

    def forget(self, job_id: int) -> None:
        self._live.pop(job_id, None)

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)

    async def _tick_forever(self) -> None:
        while self._live:
            now = self._clock().timestamp()
            edits = [
                self._edit(job_id, live, text)
                for job_id, live in list(self._live.items())
                if (text := self.text_of(live, now)) != live.shown
            ]
            await asyncio.gather(*edits)
            await asyncio.sleep(self._interval)

    @staticmethod
    def text_of(live: _Live, now: float) -> str:
        waiting_until = (
            live.starts_at if live.starts_at and live.starts_at.timestamp() > now else None
        )
        return render_status(
            live.reply.mention,
            live.phase,
            now - live.started,
            live.position,
            live.progress,
            starts_at=waiting_until,
        )

    async def _edit(self, job_id: int, live: _Live, text: str) -> None:
        try:
            await live.reply.edit(live.message_id, content=text)
            live.shown = text
        except discord.NotFound:
            log.info("Status message of job %s was deleted; no more progress edits", job_id)
            self.forget(job_id)
        except discord.HTTPException as error:
            log.info("Status edit of job %s failed (%s); next tick tries again", job_id, error)
