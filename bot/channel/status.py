"""The public status message of a running job: its stage and elapsed time, edited at most once
every few seconds (Discord rate-limits edits, and nobody reads faster)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import discord

from bot.channel.reply import Reply
from bot.jobs import Phase, Progress

log = logging.getLogger(__name__)

_STEPS = (
    (Phase.UPLOADING, "Uploading your selfie"),
    (Phase.QUEUED, "Queued at Wiro"),
    (Phase.GENERATING, "Generating"),
    (Phase.FINISHING, "Finishing"),
    (Phase.DOWNLOADING, "Fetching the images"),
)
_LABELS = dict(_STEPS)
_ORDER = [phase for phase, _ in _STEPS]


def render_status(mention: str, phase: Phase, elapsed: float) -> str:
    done = _ORDER.index(phase) + 1
    bar = "▰" * done + "▱" * (len(_ORDER) - done)
    return (
        f"🎨 Making a portrait for {mention}\n`{bar}` **{_LABELS[phase]}…** · {_elapsed(elapsed)}"
    )


def _elapsed(seconds: float) -> str:
    # Coarser after the first minute so a long wait does not mean an edit every few seconds.
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    whole -= whole % 10
    return f"{whole // 60} min {whole % 60:02d} s"


class StatusMessage:
    """Keeps one posted message in step with a job's progress until `remove()`."""

    def __init__(
        self, reply: Reply, message: discord.Message, *, interval: float, started: float
    ) -> None:
        self._reply = reply
        self._message_id = message.id
        self._interval = interval
        self._started = started
        self._phase = Phase.UPLOADING
        self._shown = message.content
        self._gone = False
        self._closed = False
        self._ticker: asyncio.Task[None] | None = None

    @property
    def message_id(self) -> int:
        return self._message_id

    @classmethod
    async def post(cls, reply: Reply, *, interval: float) -> StatusMessage:
        started = time.monotonic()
        text = render_status(reply.mention, Phase.UPLOADING, 0)
        message = await reply.public(content=text)
        status = cls(reply, message, interval=interval, started=started)
        status._ticker = asyncio.create_task(status._tick(), name=f"status-{message.id}")
        return status

    async def update(self, progress: Progress) -> None:
        """Record the job's phase; the ticker shows it at its next edit."""
        self._phase = progress.phase

    async def remove(self) -> None:
        """Stop editing and delete the message. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if not self._gone:
            try:
                await self._reply.delete(self._message_id)
            except discord.HTTPException as error:
                log.info("Could not delete status message %s: %s", self._message_id, error)

    async def _tick(self) -> None:
        while not self._gone:
            elapsed = time.monotonic() - self._started
            text = render_status(self._reply.mention, self._phase, elapsed)
            if text != self._shown:
                await self._edit(text)
            await asyncio.sleep(self._interval)

    async def _edit(self, text: str) -> None:
        try:
            await self._reply.edit(self._message_id, content=text)
            self._shown = text
        except discord.NotFound:
            # The member (or a moderator) deleted it: that is their choice, not an error.
            log.info("Status message %s was deleted; no more progress edits", self._message_id)
            self._gone = True
        except discord.HTTPException as error:
            log.info("Status edit failed (%s); trying again at the next tick", error)
