"""The dispatcher: a durable, fair queue in front of Wiro.

Jobs wait in the ledger (QUEUED) and are started in queue order while fewer than
`max_running` tasks are at Wiro. Each step is written to the ledger before the next one begins,
so a restart resumes every job where it stood and never pays twice:

    QUEUED -> SUBMITTING -> (run call) -> RUNNING -> (task ends, outputs fetched) -> DELIVERING
    -> (result posted) -> DELIVERED, or KEPT when the chat would take it nowhere

This module is the queue itself (which job starts when, cancelling, housekeeping, the workers);
one job's submission and wait is `bot.core.jobs.submission`, how it ends
`bot.core.jobs.endings`, and jobs no worker has (start-up, storage trouble)
`bot.core.jobs.pickup`. A compare-and-set that another worker won is not a failure. The chat
side is reached only through `JobEvents`, so the queue knows no chat platform.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.core.jobs.dispatch_base import DispatchRules
from bot.core.jobs.endings import JobEndings
from bot.core.jobs.events import JobEvents
from bot.core.jobs.failures import FailureReason, PortraitFailed
from bot.core.jobs.ledger import (
    Job,
    JobState,
    LedgerError,
    LedgerUnavailable,
    QueueEntry,
    StaleTransition,
)
from bot.core.jobs.pickup import STORAGE_TROUBLE, UNCONFIRMED, JobPickUp
from bot.core.jobs.runner import abort_quietly
from bot.core.jobs.submission import SELFIE_MISSING, JobSubmission, task_ref

__all__ = [
    "SELFIE_MISSING",
    "STORAGE_TROUBLE",
    "UNCONFIRMED",
    "CancelOutcome",
    "DispatchRules",
    "Dispatcher",
    "JobEvents",
]

log = logging.getLogger(__name__)

# How often the queue is looked at even when nothing wakes it, and how often old jobs are pruned.
IDLE_CHECK_SECONDS = 5.0
# Wake-ups within this window share one look at the queue (a burst of requests, not one each).
COALESCE_SECONDS = 0.2
PRUNE_EVERY = timedelta(hours=6)
# Seconds before the queue looks again when it left free slots to the other processes.
LOOK_AGAIN_SECONDS = 1.0


class CancelOutcome(StrEnum):
    CANCELLED = "cancelled"  # removed from the queue
    STOPPING = "stopping"  # Wiro was asked to stop it; the job ends as cancelled shortly
    FINISHED = "finished"  # too late: it already ended or is being posted
    UNKNOWN = "unknown"


class Dispatcher(JobSubmission, JobEndings, JobPickUp):
    """The job queue; built with `DispatcherBase`'s arguments (ledger, Wiro client, catalog,
    `JobEvents`, `DispatchRules`, stores, socket, clock)."""

    # -- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Pick up every unfinished job, then keep the queue moving."""
        finished = await self.ledger.recent_task_lengths(self.lengths.recent_limit)
        self.lengths.load(finished)
        if self.claims is None:
            await self._resume()
        else:
            await self.claims.heartbeat()
            await self._adopt_orphans()  # this process's own jobs of before a restart too
            self._stop_watching = await self.claims.watch(self.wake)  # others' freed slots
            self._heartbeat = asyncio.create_task(self._beat_forever(), name="heartbeat")
        self.accepting = True
        self._loop = asyncio.create_task(self._schedule_forever(), name="dispatcher")

    async def stop(self) -> None:
        """Stop starting work. Running waits are left as they are in the ledger, to be resumed
        at the next start; nothing is lost and nothing is cancelled at Wiro."""
        self.accepting = False
        tasks = [t for t in (self._loop, *self._workers.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()
        heartbeat, self._heartbeat = self._heartbeat, None
        if heartbeat is not None and self.claims is not None:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
            if self._stop_watching is not None:
                await self._stop_watching()
            with contextlib.suppress(LedgerError):  # else the lease simply runs out
                await self.claims.release_queued()
                await self.claims.release()

    async def drain(self) -> None:
        """Wait until no job is being worked on (the one-shot pipeline of `generate`)."""
        while self._workers:
            await asyncio.gather(*list(self._workers.values()), return_exceptions=True)

    # -- what members do -------------------------------------------------------------------

    async def cancel(self, job_id: int) -> CancelOutcome:
        job = await self.ledger.get(job_id)
        if job is None:
            return CancelOutcome.UNKNOWN
        if job.state is JobState.QUEUED:
            try:
                job = await self.ledger.transition(
                    job_id, JobState.CANCELLED, expected=JobState.QUEUED, note="member cancelled"
                )
            except StaleTransition:
                return await self.cancel(job_id)  # it just moved on: act on its new state
            self._positions.pop(job_id, None)
            await self._events.cancelled(job)
            self.wake()
            return CancelOutcome.CANCELLED
        if job.state is JobState.SUBMITTING:
            # The run call is in flight: stop the task as soon as its id is known.
            self._cancel_requested.add(job_id)
            return CancelOutcome.STOPPING
        if job.state is JobState.RUNNING:
            await abort_quietly(self._wiro, task_ref(job))
            return CancelOutcome.STOPPING
        return CancelOutcome.FINISHED

    # -- the queue -------------------------------------------------------------------------

    async def _schedule_forever(self) -> None:
        while True:
            self._wakeup.clear()
            try:
                if not self._storage.seconds_left:
                    await self._pick_up_stalled()
                    if self.claims is not None and time.monotonic() >= self._next_adoption:
                        await self._adopt_orphans()
                    await self._schedule()
                    await self._prune_if_due()
            except LedgerUnavailable as error:
                await self._storage_failed(None, error)
            except Exception:
                log.exception("The job queue hit an unexpected error; it keeps going")
            delay = IDLE_CHECK_SECONDS
            busy_for = self._busy_until - time.monotonic()
            if busy_for > 0:
                delay = min(delay, busy_for)
            if self._look_again_at is not None:
                delay = min(delay, max(0.0, self._look_again_at - time.monotonic()))
                self._look_again_at = None
            if self._next_due is not None:  # a cooldown ends: start that job on time
                delay = min(delay, max(0.0, (self._next_due - self._clock()).total_seconds()))
            if self._storage.seconds_left:
                delay = min(delay, self._storage.seconds_left)
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that
            # arrives as the event is set (stop() cancels this loop while the workers it
            # cancels call wake()), and stop() would then wait for this loop forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wakeup.wait()
            await asyncio.sleep(COALESCE_SECONDS)

    async def _schedule(self) -> None:
        # One light query for the whole line (ids and cooldowns, no row decoding): a look at
        # the queue costs the loop little even with a thousand jobs waiting. Full rows are read
        # once per job, when it joins the line, in one query for all newcomers.
        order = await self.ledger.queue_order()
        order = [entry for entry in order if entry.id not in self._workers]
        in_line = {entry.id for entry in order}
        for job_id in [job_id for job_id in self._in_line if job_id not in in_line]:
            del self._in_line[job_id]
            self._positions.pop(job_id, None)
        # Jobs waiting for their member's cooldown neither start nor hold up the line.
        due, self._next_due = _due_now(order, self._clock())
        newcomers = [entry.id for entry in due if entry.id not in self._in_line]
        if newcomers:
            self._in_line.update((job.id, job) for job in await self.ledger.jobs(newcomers))
        queued = [self._in_line[entry.id] for entry in due if entry.id in self._in_line]
        # A job of a platform not running in this process (its token was removed) waits.
        queued = [job for job in queued if self._serves(job.platform)]
        if time.monotonic() >= self._busy_until:
            starting = await self._may_start(queued)
            queued = [job for job in queued if job not in starting]
            for job in starting:
                del self._in_line[job.id]  # its submission reads the row afresh
                self._positions.pop(job.id, None)
                self._at_wiro.add(job.id)
                self._spawn(job.id, self._submit(job))
        for position, job in enumerate(queued, start=1):
            if self._positions.get(job.id) != position:
                self._positions[job.id] = position
                await self._events.waiting(job, position)

    async def _may_start(self, queued: list[Job]) -> list[Job]:
        """The jobs of ``queued`` (in order) to start now: as many as `max_running` leaves
        room for, across every process sharing the ledger when there are claims."""
        if self.claims is None:
            return queued[: max(0, self.rules.max_running - len(self._at_wiro))]
        mine = set(await self.claims.reserve([job.id for job in queued], self.rules.max_running))
        if self.claims.more_room:  # left for the other processes: tell them, and look again
            self._look_again_at = time.monotonic() + LOOK_AGAIN_SECONDS  # if they don't
            await self.claims.slot_freed()
        return [job for job in queued if job.id in mine]

    async def _adopt_orphans(self) -> None:
        """Pick up the started jobs no live process works on (another process died)."""
        assert self.claims is not None
        self._next_adoption = time.monotonic() + self.claims.ttl.total_seconds() / 3
        adopted = [
            job_id for job_id in await self.claims.adopt_orphans() if job_id not in self._workers
        ]
        for job in await self.ledger.jobs(adopted):
            if job.is_active:
                await self._pick_up(job)

    async def _beat_forever(self) -> None:
        assert self.claims is not None
        every = self.claims.ttl.total_seconds() / 3
        while True:
            await asyncio.sleep(every)
            try:
                if not await self.claims.heartbeat():
                    log.warning("This process's lease had run out: others may have its jobs")
            except LedgerError as error:
                log.warning("Could not renew this process's lease: %s", error)

    async def _prune_if_due(self) -> None:
        now = self._clock()
        # Kept selfies go when their window ends (checked at every look at the queue, a cheap
        # indexed query); old job rows go every few hours.
        await self._forget_expired_selfies(now)
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY
        pruned = await self.ledger.prune(now - self.rules.retention)
        if pruned:
            log.info("Pruned %d finished job(s) older than %s", pruned, self.rules.retention)
        for prune in self.also_prune:
            await prune(now - self.rules.retention)
        if self._results is not None:
            await asyncio.to_thread(self._results.prune, now - self.rules.retention)
        for chore in self._housekeeping:
            try:
                await chore()
            except LedgerUnavailable:
                raise
            except Exception:
                log.exception("A housekeeping chore failed; the queue goes on")

    async def _forget_expired_selfies(self, now: datetime) -> None:
        if self._selfies is None:
            return
        for job in await self.ledger.expired_selfies(now):
            self._selfies.delete(job.selfie_path)
            await self.ledger.update(job.id, selfie_path=None, selfie_expires_at=None)

    def _spawn(self, job_id: int, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(self._guarded(job_id, work), name=f"job-{job_id}")
        self._workers[job_id] = task

    async def _guarded(self, job_id: int, work: Coroutine[Any, Any, None]) -> None:
        try:
            try:
                await work
            except (asyncio.CancelledError, StaleTransition, LedgerUnavailable):
                raise  # shutdown: the ledger keeps the job where it stood; the rest: below
            except Exception:
                log.exception("Job %s hit an unexpected error", job_id)
                job = await self.ledger.get(job_id)
                if job is not None and job.is_active:
                    await self._fail(job, _unexpected())
            self._storage_works()
        except StaleTransition as stale:
            # Another worker or a cancel got there first: theirs is the job's story now.
            log.info("Job %s: %s; this worker stops", job_id, stale)
        except LedgerUnavailable as error:
            await self._storage_failed(job_id, error)
        finally:
            self._at_wiro.discard(job_id)
            self._workers.pop(job_id, None)
            self.wake()
            if self.claims is not None:
                await self.claims.slot_freed()


def _due_now(order: list[QueueEntry], now: datetime) -> tuple[list[QueueEntry], datetime | None]:
    """The jobs that may start now, in queue order, and the earliest start still to come."""
    later = [entry.not_before for entry in order if entry.not_before and entry.not_before > now]
    due = [entry for entry in order if not (entry.not_before and entry.not_before > now)]
    return due, min(later, default=None)


def _unexpected() -> PortraitFailed:
    return PortraitFailed(
        FailureReason.FAILED,
        "Something went wrong on my side while making your portrait. Please try again.",
    )
