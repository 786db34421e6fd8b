"""Public status messages of running jobs: stage, queue position and elapsed time.

One board keeps every live status message in step with its job, editing each at most once per
interval (Discord rate-limits edits, and nobody reads faster), each on its own. A message the
member deleted is simply dropped: that is their choice, not an error.

A change of substance (a new phase, Wiro's progress percentage) is shown at the board's own
pace. A change that only moves the clock ("· 14 s") or a waiting member's place in line waits
`SLOW_EDIT_FACTOR` edit intervals (15 s with the default `STATUS_EDIT_INTERVAL` of 3 s): with
a thousand members in line, a job finishing must not mean a thousand edits. The place in line
is shown exactly near the front and as a bound further back ("More than 200 ahead of you.").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import discord

from bot.core.jobs import Phase
from bot.core.jobs.ledger import Clock, utc_now
from bot.core.jobs.runner import step_of
from bot.core.wiro import TaskProgress
from bot.frontends.discord_bot.refusals import OLD_MESSAGE_EDITS, retry_after_of
from bot.frontends.discord_bot.reply import Reply
from bot.frontends.discord_bot.wording import relative_time

log = logging.getLogger(__name__)

# Messages older than this (seconds) are edited at most once per OLD_MESSAGE_INTERVAL.
OLD_MESSAGE_AGE = 3600.0
OLD_MESSAGE_INTERVAL = 60.0
MAX_PAUSE = 120.0  # the longest wait after refused edits, unless Discord asks for longer
# Edits that only move the clock or a waiting member's place are this many edit intervals apart.
SLOW_EDIT_FACTOR = 5
# Places in line up to this many jobs ahead are shown exactly; further back, roughly.
EXACT_AHEAD = 10


def render_status(
    mention: str,
    phase: Phase,
    elapsed: float,
    position: int | None = None,
    progress: TaskProgress | None = None,
    starts_at: datetime | None = None,
) -> str:
    """The status line; `starts_at`: the job waits for its member's cooldown until then."""
    done, steps, label = step_of(phase)
    bar = "▰" * done + "▱" * (steps - done)
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
    ahead = position - 1
    if ahead == 0:
        return "You're next."
    if ahead <= EXACT_AHEAD:
        return f"{ahead} ahead of you."
    return f"More than {at_least(ahead)} ahead of you."


def at_least(count: int) -> int:
    """The largest of 10, 20, 50, 100, 200, 500, 1000… below ``count`` (912 -> 500, 37 -> 20):
    a far place in line is shown as a bound that stays true and changes rarely."""
    bound, scale = 10, 10
    while True:
        for step in (2 * scale, 5 * scale, 10 * scale):
            if step >= count:
                return bound
            bound = step
        scale *= 10


Substance = tuple[Phase, int | None]
"""What a status says beyond the clock and the place in line: its phase and Wiro's progress
percentage (whole percent)."""


def substance(phase: Phase, progress: TaskProgress | None = None) -> Substance:
    percentage = progress.percentage if progress is not None else None
    whole = round(percentage) if phase is Phase.GENERATING and percentage is not None else None
    return (phase, whole)


def edit_due(
    shown: Substance | None,
    current: Substance,
    edited_at: float,
    now: float,
    slow_interval: float,
) -> bool:
    """Whether a changed status text may replace the one shown now (times in POSIX seconds).
    ``shown``: the substance of the shown text (None: nothing shown yet). A change of substance
    goes out at once; one that only moves the clock or the place in line waits until
    ``slow_interval`` seconds after the last edit."""
    if shown == current:
        return now - edited_at >= slow_interval
    return True


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
    renew: Renew | None = None
    phase: Phase = Phase.WAITING
    position: int | None = None
    progress: TaskProgress | None = None
    starts_at: datetime | None = None  # waiting for the member's cooldown until then
    shown: str = ""
    shown_substance: Substance | None = None  # of the text shown (None: nothing shown yet)
    edited_at: float = 0.0  # POSIX time the shown text was posted or last edited
    pause: float = 0.0  # extra wait after a refused edit (grows while refusals go on)
    task: asyncio.Task[None] | None = None


Renew = Callable[[], Awaitable[int | None]]
"""Posts a fresh status message for the job; returns its id (None: it could not)."""


class StatusBoard:
    """Each job's status message is edited by its own task, so a slow, rate-limited or
    refused edit delays only that message."""

    def __init__(
        self,
        *,
        interval: float,
        clock: Clock = utc_now,
        slow_interval: float | None = None,
    ) -> None:
        """``interval``: least seconds between two edits of one message; ``slow_interval``:
        between two edits that only move the clock or a place in line (default:
        `SLOW_EDIT_FACTOR` intervals)."""
        self._interval = interval
        slow = SLOW_EDIT_FACTOR * interval if slow_interval is None else slow_interval
        self._slow_interval = slow
        self._clock = clock
        self._live: dict[int, _Live] = {}

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
        renew: Renew | None = None,
        starts_at: datetime | None = None,
        shown: str = "",
    ) -> None:
        """Follow a job's status message (again, after a restart) and show its phase.
        ``shown``: the text the message was just posted with (not edited in again)."""
        live = self._live.get(job_id)
        if live is None:
            live = self._live[job_id] = _Live(reply, message_id, started, renew)
            if shown:
                live.shown, live.shown_substance = shown, substance(phase, progress)
                live.edited_at = self._clock().timestamp()
        live.starts_at = starts_at
        if phase is not live.phase:
            live.progress = None
        live.phase, live.position = phase, position
        if progress is not None:
            live.progress = progress
        if live.task is None or live.task.done():
            live.task = asyncio.create_task(self._follow(job_id, live), name=f"status-{job_id}")

    def move(self, job_id: int, position: int) -> bool:
        """A followed waiting job's new place in line (shown at the waiting pace); False when
        the board does not follow it waiting (then `show` it)."""
        live = self._live.get(job_id)
        if live is None or live.phase is not Phase.WAITING:
            return False
        live.position = position
        return True

    def forget(self, job_id: int) -> None:
        live = self._live.pop(job_id, None)
        if live is not None and live.task is not None and live.task is not asyncio.current_task():
            live.task.cancel()

    async def close(self) -> None:
        tasks = [live.task for live in self._live.values() if live.task is not None]
        self._live.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _following(self, job_id: int, live: _Live) -> bool:
        return self._live.get(job_id) is live

    async def _follow(self, job_id: int, live: _Live) -> None:
        while self._following(job_id, live):
            now = self._clock().timestamp()
            text = self.text_of(live, now)
            current = substance(live.phase, live.progress)
            if text != live.shown and edit_due(
                live.shown_substance, current, live.edited_at, now, self._slow_interval
            ):
                await self._edit(job_id, live, text, current, now)
            await asyncio.sleep(self._pause(live, now))

    def _pause(self, live: _Live, now: float) -> float:
        # Discord limits edits to messages older than an hour (code 30046): go easy on them.
        posted = discord.utils.snowflake_time(live.message_id).timestamp()
        base = self._interval if now - posted < OLD_MESSAGE_AGE else OLD_MESSAGE_INTERVAL
        return max(base, live.pause)

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

    async def _edit(
        self, job_id: int, live: _Live, text: str, shown: Substance, now: float
    ) -> None:
        try:
            await live.reply.edit(live.message_id, content=text)
        except discord.NotFound:
            log.info("Status message of job %s was deleted; no more progress edits", job_id)
            self.forget(job_id)
            return
        except (discord.HTTPException, discord.RateLimited) as error:
            await self._refused(job_id, live, error)
            return
        live.shown, live.shown_substance, live.edited_at = text, shown, now
        live.pause = 0.0

    async def _refused(
        self, job_id: int, live: _Live, error: discord.HTTPException | discord.RateLimited
    ) -> None:
        if isinstance(error, discord.HTTPException) and error.code == OLD_MESSAGE_EDITS:
            log.info("Discord allows no more edits of job %s's old status message", job_id)
            await self._renew(job_id, live)
            return
        wait = getattr(error, "retry_after", None)
        if isinstance(error, discord.HTTPException):
            wait = retry_after_of(error)
        live.pause = max(wait or 0.0, min(MAX_PAUSE, max(self._interval, live.pause * 2)))
        log.info(
            "Status edit of job %s refused (%s); next try in %.0f s", job_id, error, live.pause
        )

    async def _renew(self, job_id: int, live: _Live) -> None:
        """Stop editing this message; post a fresh one to follow instead, when possible."""
        message_id = await live.renew() if live.renew is not None else None
        if message_id is None or not self._following(job_id, live):
            self._live.pop(job_id, None)
            return
        live.message_id, live.shown, live.shown_substance = message_id, "", None
        live.pause = 0.0
