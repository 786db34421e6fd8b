"""The uncompressed PNGs behind Telegram results, for the "Original file" button.

``sendPhoto`` shows a recompressed JPEG and Telegram keeps no copy of the PNG, and the core
deletes its own copy (and Wiro's files) once a result is delivered. So the Telegram front end
keeps each delivered result's images in ``BOT_DATA_DIR/telegram-originals/<job id>/``
(owner-only, like every stored face) for ``SELFIE_KEEP_HOURS``, the same window the selfie is
kept for new versions; Delete removes them at once, and ``SELFIE_KEEP_HOURS=0`` keeps none.
Older copies are pruned whenever a new one is saved.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from bot.core.jobs.ledger import Clock, Job, utc_now
from bot.core.jobs.runner import PortraitImage
from bot.core.result.store import ResultStore

log = logging.getLogger(__name__)


class Originals:
    def __init__(self, store: ResultStore, *, keep: timedelta, clock: Clock = utc_now) -> None:
        self.store = store
        self.keep = keep
        self._clock = clock

    async def save(self, job_id: int, images: tuple[PortraitImage, ...]) -> None:
        """Keep the images of a result about to be posted (best effort: a full disk only
        costs the Original file button)."""
        if self.keep <= timedelta(0):
            return
        try:
            await asyncio.to_thread(self.store.save, job_id, images)
            await asyncio.to_thread(self.store.prune, self._clock() - self.keep)
        except OSError as error:
            log.warning("Could not keep the original files of job %s: %s", job_id, error)

    async def load(self, job: Job) -> tuple[PortraitImage, ...] | None:
        """The job's original images while their window lasts, else None."""
        if job.finished_at is not None and job.finished_at + self.keep <= self._clock():
            return None
        return await asyncio.to_thread(self.store.load, job.id)

    async def delete(self, job_id: int) -> None:
        await asyncio.to_thread(self.store.delete, job_id)
