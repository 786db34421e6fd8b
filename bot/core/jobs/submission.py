"""One job at Wiro: its selfie uploaded, the run call made, the task followed to its images.

Part of `Dispatcher` (see `bot.core.jobs.dispatch_base`). Wiro's concurrency error (code 96) puts
the job back in the queue, in its place. The selfie is uploaded only once the job is SUBMITTING,
right before the run call, and its URL is in the ledger before the run call is made (a restart
finds the task by it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace

from bot.core.faces.keys import FaceUnreadable
from bot.core.faces.store import FACE_PARAM
from bot.core.jobs.dispatch_base import DispatcherBase
from bot.core.jobs.failures import FailureReason, PortraitFailed, explain
from bot.core.jobs.ledger import Job, JobState, StaleTransition
from bot.core.jobs.runner import (
    Phase,
    abort_quietly,
    download_images,
    follow_task,
    requested_outputs,
)
from bot.core.request.options import OptionError, PortraitOptions, run_fields
from bot.core.wiro import TaskOutput, TaskProgress, TaskRef, WiroConcurrencyLimit, WiroError
from bot.core.wiro.waiting import EndTiming

log = logging.getLogger(__name__)

SELFIE_MISSING = PortraitFailed(
    FailureReason.FAILED,
    "I no longer have your selfie for this portrait, so it was not started. "
    "Please use /portrait again.",
)


FACE_MISSING = PortraitFailed(
    FailureReason.FAILED,
    "The saved face this portrait was to use has been deleted, so it was not started. "
    "Please use /portrait again.",
)
FACE_UNREADABLE = PortraitFailed(
    FailureReason.FAILED,
    "I can't open your saved faces right now, so this portrait was not started. Please "
    "attach a photo to /portrait instead, and tell the bot's owner if this lasts.",
    "a saved face could not be decrypted (FACES_KEY or BOT_DATA_DIR/faces.key lost or changed)",
)


class JobSubmission(DispatcherBase):
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
        if job.id in self._cancel_requested:
            # Cancelled during the upload: no run call. (Wiro deletes files only with a task,
            # so the uploaded selfie stays there; the README's privacy section says so.)
            job = await self.ledger.transition(
                job.id, JobState.QUEUED, expected=JobState.SUBMITTING, note="cancelled at upload"
            )
            await self._cancel_unstarted(job)
            return
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
                await self._cancel_unstarted(job)
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
        if self.wiro_watch is not None:
            self.wiro_watch.run_accepted()
        if job.id in self._cancel_requested:
            await abort_quietly(self._wiro, ref)
        await self._follow(job, ran_at=ran_at)

    async def _upload_selfie(self, job: Job) -> Job | None:
        """Upload the job's saved selfie to Wiro and record its URL (before the run call: a
        restart matches the task by it). None when the job ended here, unstarted."""
        data = None
        if FACE_PARAM in job.params:
            data, failure = await self._saved_face(job)
            if data is None:
                await self._fail_unstarted(job, failure, "saved face unavailable")
                return None
        elif self._selfies is not None:
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

    async def _saved_face(self, job: Job) -> tuple[bytes | None, PortraitFailed]:
        """The saved face the job names, decrypted now (it never waits decrypted), or None
        and the failure to tell the member (deleted meanwhile, or the key cannot open it)."""
        face = None
        if self._faces is not None:
            face = await self._faces.by_id(job.requester, int(job.params[FACE_PARAM]))
        if face is None:
            return None, FACE_MISSING
        try:
            return await self._faces.read(face), FACE_MISSING
        except FaceUnreadable as error:
            log.error("Job %s: %s", job.id, error.reason)
            return None, FACE_UNREADABLE

    async def _cancel_unstarted(self, job: Job) -> None:
        """End a job sent back to the queue before its run call: the member cancelled it."""
        self._cancel_requested.discard(job.id)
        job = await self.ledger.transition(
            job.id, JobState.CANCELLED, expected=JobState.QUEUED, note="member cancelled"
        )
        await self._events.cancelled(job)

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
                task_ref(job),
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
        if self.metrics is not None:
            self.metrics.task_ended(task_seconds, task.total_cost)
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
        if self.claims is not None:  # its slot is free in the ledger now: others may take it
            await self.claims.slot_freed()
        await self._deliver(job, images)


def task_ref(job: Job) -> TaskRef:
    """The Wiro task a RUNNING job is (empty ids before the run call answered)."""
    return TaskRef(task_id=job.wiro_task_id or "", socket_token=job.wiro_socket_token or "")


def _output_record(output: TaskOutput) -> dict[str, object]:
    return {
        "url": output.url,
        "name": output.name,
        "content_type": output.content_type,
        "size": output.size,
    }
