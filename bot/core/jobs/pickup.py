"""Jobs no worker has: picked up at start-up (resumed, or reconciled with Wiro when a crash cut
the run call short) and after the storage recovers from a failed database write.

Part of `Dispatcher` (see `bot.core.jobs.dispatch_base`). A job whose database write fails (full
disk, I/O error) is left where the ledger has it and the whole queue backs off, one log line per
step (`bot.core.jobs.backoff`), before anything is tried again; the member is told once.
"""

from __future__ import annotations

import contextlib
import logging

from bot.core.jobs.dispatch_base import DispatcherBase
from bot.core.jobs.failures import FailureReason, PortraitFailed
from bot.core.jobs.ledger import Job, JobState, LedgerError, LedgerUnavailable
from bot.core.wiro import WiroError

log = logging.getLogger(__name__)

# Task/List is searched this deep for a task whose run call was cut off by a crash.
RECONCILE_DEPTH = 50

STORAGE_TROUBLE = (
    "⏳ I can't save my work right now (the bot's storage is full or failing), so your "
    "portrait is on hold. It goes on by itself once that is fixed; nothing was lost."
)
UNCONFIRMED = PortraitFailed(
    FailureReason.UNAVAILABLE,
    "The bot restarted while it was sending your portrait to Wiro, and Wiro could not confirm "
    "that it arrived. Nothing was started twice; please ask again.",
)


class JobPickUp(DispatcherBase):
    # -- start-up --------------------------------------------------------------------------

    async def _resume(self) -> None:
        for job in await self.ledger.unfinished():
            await self._pick_up(job)

    async def _pick_up(self, job: Job) -> None:
        """Go on with a job no worker has (after a restart, or a failed database write)."""
        if job.state is JobState.SUBMITTING and not job.input_url:
            # Stopped before its selfie was uploaded: nothing reached Wiro, nothing was paid.
            await self.ledger.transition(
                job.id, JobState.QUEUED, expected=JobState.SUBMITTING, note="not started"
            )
            return
        if job.state is JobState.SUBMITTING:
            job = await self._reconcile(job)
        if job.state is JobState.RUNNING:
            log.info("Resuming job %s (Wiro task %s)", job.id, job.wiro_task_id)
            self._at_wiro.add(job.id)
            self._spawn(job.id, self._follow(job))
        elif job.state is JobState.DELIVERING:
            log.info("Resuming the delivery of job %s", job.id)
            self._spawn(job.id, self._deliver(job))

    # -- storage trouble -------------------------------------------------------------------

    async def _pick_up_stalled(self) -> None:
        """After a back-off: go on with the jobs whose worker stopped on a failed write."""
        for job_id, failure in sorted(self._stalled.items()):
            job = await self.ledger.get(job_id)
            if job is not None and job.is_active and job_id not in self._workers:
                if failure is not None:  # its failure could not be written: write it now
                    self._spawn(job_id, self._fail(job, failure))
                else:
                    await self._pick_up(job)
            del self._stalled[job_id]  # (kept when picking it up failed: tried again later)

    async def _storage_failed(self, job_id: int | None, error: LedgerUnavailable) -> None:
        """A database write failed: the queue waits (doubling each time, to a cap) before
        anything is tried again, and the member of the job is told once."""
        if job_id is not None:
            self._stalled.setdefault(job_id, None)
        wait = self._storage.failed()
        if wait is not None:
            cause = error.__cause__ or error
            log.warning("The job database cannot be written (%s); jobs wait %g s", cause, wait)
        if job_id is None or job_id in self._told_stalled:
            return
        self._told_stalled.add(job_id)
        with contextlib.suppress(LedgerError):  # reading may fail too: then nobody is told
            job = await self.ledger.get(job_id)
            if job is not None:
                await self._events.delayed(job, STORAGE_TROUBLE)

    def _storage_works(self) -> None:
        if self._storage.recovered():
            log.info("The job database can be written again")

    async def _reconcile(self, job: Job) -> Job:
        """A crash cut the run call short: find its task at Wiro instead of running again."""
        try:
            tasks = await self._wiro.list_tasks(limit=RECONCILE_DEPTH)
        except WiroError as error:
            log.warning("Cannot confirm job %s with Wiro's task list: %s", job.id, error)
            tasks = []
        match = next(
            (t for t in tasks if t.raw.get("parameters", {}).get("inputImageUrl") == job.input_url),
            None,
        )
        if match is None:
            job = await self.ledger.transition(
                job.id, JobState.UNCONFIRMED, expected=JobState.SUBMITTING
            )
            log.warning("Job %s could not be confirmed at Wiro; the member is told", job.id)
            await self._events.failed(job, UNCONFIRMED)
            return job
        log.info("Job %s found at Wiro as task %s after a restart", job.id, match.id)
        return await self.ledger.transition(
            job.id,
            JobState.RUNNING,
            expected=JobState.SUBMITTING,
            wiro_task_id=match.id,
            wiro_socket_token=match.socket_token,
        )
