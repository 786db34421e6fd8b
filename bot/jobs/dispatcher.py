"""The dispatcher: a durable, fair queue in front of Wiro.

Jobs wait in the ledger (QUEUED) and are started in queue order while fewer than
`max_running` tasks are at Wiro. Each step is written to the ledger before the next one begins,
so a restart resumes every job where it stood and never pays twice:

    QUEUED -> SUBMITTING -> (run call) -> RUNNING -> (task ends, outputs fetched) -> DELIVERING
    -> (result posted) -> DELIVERED, or KEPT when Discord would take it nowhere

Wiro's concurrency error (code 96) puts a job back in the queue, in its place. The selfie is
uploaded to Wiro only once the job is SUBMITTING, right before the run call, and its URL is in
the ledger before the run call is made (a restart finds the task by it). A job whose database
write fails (full disk, I/O error) is left where the ledger has it and the whole queue backs
off, one log line per step, before anything is tried again; a compare-and-set that another
worker won is not a failure. The chat side is reached only through `JobEvents`, so this module
knows nothing of Discord.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from bot.catalog import Catalog
from bot.jobs.backoff import WriteBackoff
from bot.jobs.delivery import deliver_with_retries
from bot.jobs.failures import FailureReason, PortraitFailed, explain
from bot.jobs.ledger import (
    ACTIVE_STATES,
    Clock,
    Job,
    JobLedger,
    JobState,
    LedgerError,
    LedgerUnavailable,
    StaleTransition,
    utc_now,
)
from bot.jobs.lengths import TaskLengthModel
from bot.jobs.runner import (
    JobLimits,
    Phase,
    PortraitImage,
    abort_quietly,
    download_images,
    follow_task,
    requested_outputs,
)
from bot.request.options import OptionError, PortraitOptions, run_fields
from bot.request.selfie_store import SelfieStore
from bot.result.store import ResultStore
from bot.wiro import (
    TaskOutput,
    TaskProgress,
    TaskRef,
    WiroClient,
    WiroConcurrencyLimit,
    WiroError,
    WiroSocket,
)
from bot.wiro.waiting import EndTiming

log = logging.getLogger(__name__)

# How often the queue is looked at even when nothing wakes it, and how often old jobs are pruned.
IDLE_CHECK_SECONDS = 5.0
# Wake-ups within this window share one look at the queue (a burst of requests, not one each).
COALESCE_SECONDS = 0.2
PRUNE_EVERY = timedelta(hours=6)
# Task/List is searched this deep for a task whose run call was cut off by a crash.
RECONCILE_DEPTH = 50


class JobEvents(Protocol):
    """What the chat side shows of a job. Each method may be called again after a restart."""

    async def waiting(self, job: Job, position: int) -> None: ...
    async def progress(self, job: Job, phase: Phase) -> None: ...
    async def generating(self, job: Job, progress: TaskProgress) -> None:
        """How far generation is (percentage, time left), as Wiro reports it."""
        ...

    async def deliver(self, job: Job, images: tuple[PortraitImage, ...], *, last_try: bool) -> int:
        """Post the result; returns the id of the message it was posted as. Raises
        `DeliveryDeferred` when the post should be tried again later (never on the last try)
        and `PortraitFailed` when no way to the member took it."""
        ...

    async def find_delivered(self, job: Job) -> int | None:
        """The id of a result message already posted for this job, if one can be found."""
        ...

    async def failed(self, job: Job, failure: PortraitFailed) -> None: ...
    async def cancelled(self, job: Job) -> None: ...
    async def delayed(self, job: Job, message: str) -> None:
        """Tell the member (privately) why their job is on hold; it goes on by itself later."""
        ...


class CancelOutcome(StrEnum):
    CANCELLED = "cancelled"  # removed from the queue
    STOPPING = "stopping"  # Wiro was asked to stop it; the job ends as cancelled shortly
    FINISHED = "finished"  # too late: it already ended or is being posted
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class DispatchRules:
    max_running: int = 1
    busy_retry: float = 20.0  # seconds to wait after Wiro's concurrency error
    delete_wiro_files: bool = True
    retention: timedelta = timedelta(days=30)
    delivery_retry: timedelta = timedelta(minutes=60)  # how long "later" answers are retried
    delivery_first_pause: float = 2.0  # seconds before the first retry of a result post
    job_limits: JobLimits = field(default_factory=JobLimits)
    # Seconds the queue waits after a database write failed: doubling from the first to the cap.
    storage_backoff: tuple[float, float] = (1.0, 60.0)


SELFIE_MISSING = PortraitFailed(
    FailureReason.FAILED,
    "I no longer have your selfie for this portrait, so it was not started. "
    "Please use /portrait again.",
)
STORAGE_TROUBLE = (
    "⏳ I can't save my work right now (the bot's storage is full or failing), so your "
    "portrait is on hold. It goes on by itself once that is fixed; nothing was lost."
)
UNCONFIRMED = PortraitFailed(
    FailureReason.UNAVAILABLE,
    "The bot restarted while it was sending your portrait to Wiro, and Wiro could not confirm "
    "that it arrived. Nothing was started twice; please ask again.",
)


class Dispatcher:
    def __init__(
        self,
        ledger: JobLedger,
        wiro: WiroClient,
        catalog: Callable[[], Catalog],
        events: JobEvents,
        rules: DispatchRules = DispatchRules(),
        *,
        selfies: SelfieStore | None = None,
        results: ResultStore | None = None,
        socket: WiroSocket | None = None,
        clock: Clock = utc_now,
        lengths: TaskLengthModel | None = None,
    ) -> None:
        self.ledger = ledger
        self._wiro = wiro
        self._catalog = catalog
        self._events = events
        self.rules = rules
        self._selfies = selfies
        self._results = results
        self._socket = socket
        self._clock = clock
        # Task lengths learned from finished jobs: polls gather around a task's expected end.
        self.lengths = lengths or TaskLengthModel()
        self._wakeup = asyncio.Event()
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._at_wiro: set[int] = set()  # jobs holding one of the `max_running` slots
        self._cancel_requested: set[int] = set()
        self._positions: dict[int, int] = {}
        self._busy_until = 0.0
        self._next_due: datetime | None = None  # the earliest not_before still ahead
        self._storage = WriteBackoff(*rules.storage_backoff)
        # Jobs whose worker stopped on a failed database write, with the failure that could
        # not be written (if that was it); members already told their job is on hold.
        self._stalled: dict[int, PortraitFailed | None] = {}
        self._told_stalled: set[int] = set()
        self._next_prune = self._clock()
        self._loop: asyncio.Task[None] | None = None
        self.accepting = False

    # -- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Pick up every unfinished job, then keep the queue moving."""
        finished = await self.ledger.recent_task_lengths(self.lengths.recent_limit)
        self.lengths.load(finished)
        await self._resume()
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

    def wake(self) -> None:
        """A job was queued or a slot freed: look at the queue now."""
        self._wakeup.set()

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
            await abort_quietly(self._wiro, _ref(job))
            return CancelOutcome.STOPPING
        return CancelOutcome.FINISHED

    # -- the queue -------------------------------------------------------------------------

    async def _schedule_forever(self) -> None:
        while True:
            self._wakeup.clear()
            try:
                if not self._storage.seconds_left:
                    await self._pick_up_stalled()
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
            if self._next_due is not None:  # a cooldown ends: start that job on time
                delay = min(delay, max(0.0, (self._next_due - self._clock()).total_seconds()))
            if self._storage.seconds_left:
                delay = min(delay, self._storage.seconds_left)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), delay)
            await asyncio.sleep(COALESCE_SECONDS)

    async def _schedule(self) -> None:
        queued = [job for job in await self.ledger.queued() if job.id not in self._workers]
        # Jobs waiting for their member's cooldown neither start nor hold up the line.
        queued, self._next_due = _due_now(queued, self._clock())
        if time.monotonic() >= self._busy_until:
            free = max(0, self.rules.max_running - len(self._at_wiro))
            starting, queued = queued[:free], queued[free:]
            for job in starting:
                self._positions.pop(job.id, None)
                self._at_wiro.add(job.id)
                self._spawn(job.id, self._submit(job))
        for position, job in enumerate(queued, start=1):
            if self._positions.get(job.id) != position:
                self._positions[job.id] = position
                await self._events.waiting(job, position)

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
        if self._results is not None:
            await asyncio.to_thread(self._results.prune, now - self.rules.retention)

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

    # -- one job ---------------------------------------------------------------------------

    async def _submit(self, job: Job) -> None:
        try:
            job = await self.ledger.transition(
                job.id, JobState.SUBMITTING, expected=JobState.QUEUED
            )
        except StaleTransition:
            return  # cancelled meanwhile
        if not job.input_url:
            uploaded = await self._upload_selfie(job)
            if uploaded is None:
                return
            job = uploaded
        options = PortraitOptions.from_params(job.params["options"])
        try:
            fields = run_fields(options, self._catalog(), job.input_url or "")
            ref = await self._wiro.run(fields)
            ran_at = time.monotonic()
        except WiroConcurrencyLimit:
            job = await self.ledger.transition(
                job.id, JobState.QUEUED, expected=JobState.SUBMITTING, note="Wiro busy (96)"
            )
            if job.id in self._cancel_requested:
                # Cancelled while the refused run call was in flight: it must not run later.
                self._cancel_requested.discard(job.id)
                job = await self.ledger.transition(
                    job.id, JobState.CANCELLED, expected=JobState.QUEUED, note="member cancelled"
                )
                await self._events.cancelled(job)
                return
            self._busy_until = time.monotonic() + self.rules.busy_retry
            log.info("Wiro is at its concurrency limit; job %s waits in the queue", job.id)
            return
        except OptionError as error:
            await self._fail(job, PortraitFailed(FailureReason.REJECTED, error.message))
            return
        except WiroError as error:
            await self._fail(job, explain(error))
            return
        job = await self.ledger.transition(
            job.id,
            JobState.RUNNING,
            expected=JobState.SUBMITTING,
            wiro_task_id=ref.task_id,
            wiro_socket_token=ref.socket_token,
        )
        log.info("Job %s is Wiro task %s", job.id, ref.task_id)
        if job.id in self._cancel_requested:
            await abort_quietly(self._wiro, ref)
        await self._follow(job, ran_at=ran_at)

    async def _upload_selfie(self, job: Job) -> Job | None:
        """Upload the job's saved selfie to Wiro and record its URL (before the run call: a
        restart matches the task by it). None when the job ended here, unstarted."""
        data = None
        if self._selfies is not None:
            data = await asyncio.to_thread(self._selfies.load, job.selfie_path)
        if data is None:
            await self._fail_unstarted(job, SELFIE_MISSING, "selfie missing")
            return None
        try:
            uploaded = await self._wiro.upload_file(
                data, filename="selfie.jpg", content_type="image/jpeg"
            )
        except WiroError as error:
            await self._fail_unstarted(job, explain(error), "selfie upload failed")
            return None
        return await self.ledger.update(job.id, input_url=uploaded.url)

    async def _fail_unstarted(self, job: Job, failure: PortraitFailed, note: str) -> None:
        """Fail a SUBMITTING job whose run call was never made: back through the queue
        (clearing its submission, so it costs the member no quota), then FAILED."""
        job = await self.ledger.transition(
            job.id, JobState.QUEUED, expected=JobState.SUBMITTING, note=note
        )
        self._cancel_requested.discard(job.id)
        await self._fail(job, failure)

    async def _follow(self, job: Job, *, ran_at: float | None = None) -> None:
        """Wait for the job's task at Wiro, fetch the images, then deliver them. ``ran_at``:
        the ``time.monotonic()`` the run call answered; None for a job resumed after a
        restart (its task's length is then not learned from)."""
        self._cancel_requested.discard(job.id)
        await self._events.progress(job, Phase.QUEUED)
        limits = self.rules.job_limits
        started = job.submitted_at or job.created_at
        age = max(0.0, (self._clock() - started).total_seconds())
        remaining = limits.timeout - age
        # A job resumed after a long outage still gets a fair last look before it times out.
        last_look = min(30.0, limits.timeout)
        limits = replace(limits, timeout=max(remaining, last_look))

        async def on_phase(phase: Phase) -> None:
            await self._events.progress(job, phase)

        async def on_progress(progress: TaskProgress) -> None:
            await self._events.generating(job, progress)

        options = PortraitOptions.from_params(job.params["options"])
        timing = EndTiming()
        try:
            task = await follow_task(
                self._wiro,
                _ref(job),
                limits,
                on_phase,
                socket=self._socket,
                on_progress=on_progress,
                forecast=self.lengths.forecast(options),
                started_ago=0.0 if ran_at is not None else age,
                timing=timing,
            )
        except PortraitFailed as failure:
            if failure.reason is FailureReason.CANCELLED:
                await self._cancelled(job)
            else:
                await self._fail(job, failure)
            return
        finally:
            self._at_wiro.discard(job.id)
            self.wake()
        task_seconds = None
        if ran_at is not None:
            task_seconds = (timing.ended_at or time.monotonic()) - ran_at
            self.lengths.add(options, task_seconds)
        await self._events.progress(job, Phase.DOWNLOADING)
        outputs = requested_outputs(task.outputs, options.samples)
        try:
            images = await download_images(self._wiro, outputs, options.seed)
        except PortraitFailed as failure:
            await self._fail(job, failure)
            return
        job = await self.ledger.transition(
            job.id,
            JobState.DELIVERING,
            expected=JobState.RUNNING,
            outputs=[_output_record(output) for output in outputs],
            cost=task.total_cost,
            task_seconds=task_seconds,
        )
        await self._deliver(job, images)

    async def _deliver(self, job: Job, images: tuple[PortraitImage, ...] | None = None) -> None:
        if images is None:
            # Resumed after a restart: the result may have been posted just before it.
            posted = await self._events.find_delivered(job)
            if posted is not None:
                await self._delivered(job, posted)
                return
            images = self._results.load(job.id) if self._results is not None else None
            if images is None:
                options = PortraitOptions.from_params(job.params["options"])
                outputs = requested_outputs(
                    [_task_output(record) for record in job.outputs], options.samples
                )
                try:
                    images = await download_images(self._wiro, outputs, options.seed)
                except PortraitFailed as failure:
                    await self._fail(job, failure)
                    return
        if job.delivery_nonce is None:
            # Recorded before the first post: a resend after a crash carries the same nonce.
            job = await self.ledger.update(job.id, delivery_nonce=f"portrait-{job.id}")
        entered = await self._entered_delivering(job)
        ready = images

        async def attempt(last_try: bool) -> int:
            return await self._events.deliver(job, ready, last_try=last_try)

        async def keep_a_copy() -> None:
            await self._save_result(job, ready)

        try:
            message_id = await deliver_with_retries(
                job.id,
                attempt,
                deadline=entered + self.rules.delivery_retry,
                clock=self._clock,
                first_pause=self.rules.delivery_first_pause,
                on_deferred=keep_a_copy,
            )
        except PortraitFailed as failure:
            await self._keep(job, images, failure)
            return
        await self._delivered(job, message_id)

    async def _entered_delivering(self, job: Job) -> datetime:
        events = await self.ledger.events(job.id)
        times = [event.at for event in events if event.to_state is JobState.DELIVERING]
        return times[-1] if times else job.updated_at

    async def _save_result(self, job: Job, images: tuple[PortraitImage, ...]) -> bool:
        if self._results is None:
            return False
        if self._results.has(job.id):
            return True
        try:
            await asyncio.to_thread(self._results.save, job.id, images)
        except OSError as error:
            log.error("Could not keep the result of job %s on disk: %s", job.id, error)
            return False
        return True

    async def _keep(
        self, job: Job, images: tuple[PortraitImage, ...], failure: PortraitFailed
    ) -> None:
        """No way to the member took the result: keep it for `/portrait-history`."""
        if not await self._save_result(job, images):
            await self._fail(job, failure)
            return
        log.warning("Job %s could not be delivered and is kept: %s", job.id, failure.detail)
        job = await self.ledger.transition(
            job.id,
            JobState.KEPT,
            expected=JobState.DELIVERING,
            failure_reason=failure.reason.value,
            failure_message=failure.message,
        )
        await self._events.failed(job, failure)
        await self._delete_wiro_files(job)

    async def _delivered(self, job: Job, message_id: int) -> None:
        job = await self.ledger.transition(
            job.id, JobState.DELIVERED, expected=JobState.DELIVERING, result_message_id=message_id
        )
        log.info("Job %s delivered as message %s", job.id, message_id)
        if self._results is not None:
            self._results.delete(job.id)
        await self._delete_wiro_files(job)

    async def _cancelled(self, job: Job) -> None:
        job = await self.ledger.transition(job.id, JobState.CANCELLED, note="cancelled at Wiro")
        await self._events.cancelled(job)
        await self._delete_wiro_files(job)

    async def _fail(self, job: Job, failure: PortraitFailed) -> None:
        level = logging.ERROR if failure.owner_should_act else logging.INFO
        log.log(level, "Job %s failed: %s", job.id, failure.detail)
        try:
            job = await self.ledger.transition(
                job.id,
                JobState.FAILED,
                expected=ACTIVE_STATES,  # one that ended meanwhile is not failed again
                failure_reason=failure.reason.value,
                failure_message=failure.message,
                failure_detail=failure.detail,
            )
        except LedgerUnavailable:
            self._stalled[job.id] = failure  # written (and told) once the storage works
            raise
        await self._events.failed(job, failure)
        await self._delete_wiro_files(job)

    async def _delete_wiro_files(self, job: Job) -> None:
        """Selfies must not linger on a public URL once a task is over."""
        if not (self.rules.delete_wiro_files and job.wiro_socket_token):
            return
        try:
            await self._wiro.delete_inputs_outputs(job.wiro_socket_token)
        except WiroError as error:
            log.warning("Could not delete the files of Wiro task %s: %s", job.wiro_task_id, error)

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


def _due_now(queued: list[Job], now: datetime) -> tuple[list[Job], datetime | None]:
    """The jobs that may start now, in queue order, and the earliest start still to come."""
    later = [job.not_before for job in queued if job.not_before and job.not_before > now]
    due = [job for job in queued if not (job.not_before and job.not_before > now)]
    return due, min(later, default=None)


def _ref(job: Job) -> TaskRef:
    return TaskRef(task_id=job.wiro_task_id or "", socket_token=job.wiro_socket_token or "")


def _output_record(output: TaskOutput) -> dict[str, object]:
    return {
        "url": output.url,
        "name": output.name,
        "content_type": output.content_type,
        "size": output.size,
    }


def _task_output(record: dict[str, Any]) -> TaskOutput:
    return TaskOutput(
        name=str(record.get("name", "")),
        url=str(record.get("url", "")),
        content_type=str(record.get("content_type", "")),
        size=int(record.get("size", 0) or 0),
    )


def _unexpected() -> PortraitFailed:
    return PortraitFailed(
        FailureReason.FAILED,
        "Something went wrong on my side while making your portrait. Please try again.",
    )
