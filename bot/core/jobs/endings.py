"""How a job ends: its result delivered (or kept when no way took it), failed or cancelled,
and its files deleted at Wiro.

Part of `Dispatcher` (see `bot.core.jobs.dispatch_base`). Wiro has been paid once a job is
DELIVERING, so the post is retried as `bot.core.jobs.delivery` describes; a job resumed in
DELIVERING first looks for a result already posted (exactly once, across restarts).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from bot.core.jobs.delivery import DeliveryUncertain, deliver_with_retries
from bot.core.jobs.dispatch_base import DispatcherBase
from bot.core.jobs.failures import FailureReason, PortraitFailed
from bot.core.jobs.ledger import ACTIVE_STATES, Job, JobState, LedgerUnavailable
from bot.core.jobs.runner import PortraitImage, download_images, requested_outputs
from bot.core.request.options import PortraitOptions
from bot.core.wiro import TaskOutput, WiroError

log = logging.getLogger(__name__)


class JobEndings(DispatcherBase):
    async def _deliver(self, job: Job, images: tuple[PortraitImage, ...] | None = None) -> None:
        if images is None:
            # Resumed after a restart: the result may have been posted just before it.
            uncertain: DeliveryUncertain | None = None
            try:
                posted = await self._events.find_delivered(job)
            except DeliveryUncertain as error:
                posted, uncertain = None, error
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
            if uncertain is not None:  # it may be in the chat already: keep it, never post twice
                failure = PortraitFailed(
                    FailureReason.UNDELIVERED,
                    uncertain.message,
                    f"job {job.id}: a restart interrupted posting the result",
                )
                await self._keep(job, images, failure)
                return
        if job.delivery_nonce is None:
            # Recorded before the first post: a resend after a crash carries the same nonce.
            job = await self.ledger.update(job.id, delivery_nonce=f"portrait-{job.id}")
        entered = await self._entered_delivering(job)
        ready = images

        async def attempt(last_try: bool) -> str:
            return await self._events.deliver(job, ready, last_try=last_try)

        async def keep_a_copy() -> None:
            await self._save_result(job, ready)

        try:
            message_ref = await deliver_with_retries(
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
        if self.metrics is not None:
            self.metrics.delivered((self._clock() - entered).total_seconds())
        await self._delivered(job, message_ref)

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
        """No way to the member took the result: keep it for the member's history
        (where a "Send again" button posts it)."""
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

    async def _delivered(self, job: Job, message_ref: str) -> None:
        job = await self.ledger.transition(
            job.id, JobState.DELIVERED, expected=JobState.DELIVERING, result_message_ref=message_ref
        )
        log.info("Job %s delivered as message %s", job.id, message_ref)
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
        if self.wiro_watch is not None:
            await self.wiro_watch.job_failed(failure)
        await self._delete_wiro_files(job)

    async def _delete_wiro_files(self, job: Job) -> None:
        """Selfies must not linger on a public URL once a task is over."""
        if not (self.rules.delete_wiro_files and job.wiro_socket_token):
            return
        try:
            await self._wiro.delete_inputs_outputs(job.wiro_socket_token)
        except WiroError as error:
            log.warning("Could not delete the files of Wiro task %s: %s", job.wiro_task_id, error)


def _task_output(record: dict[str, Any]) -> TaskOutput:
    return TaskOutput(
        name=str(record.get("name", "")),
        url=str(record.get("url", "")),
        content_type=str(record.get("content_type", "")),
        size=int(record.get("size", 0) or 0),
    )
