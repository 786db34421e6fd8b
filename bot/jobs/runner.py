"""One portrait job: upload the prepared selfie, run the Wiro task, follow it, fetch the images.

Discord-free: the `/portrait` cog and the `generate` command both drive `make_portrait`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.catalog import Catalog
from bot.jobs.failures import FailureReason, PortraitFailed, explain
from bot.request.options import PortraitOptions, run_fields
from bot.request.selfie import PreparedSelfie
from bot.wiro import (
    OnProgress,
    Stage,
    Task,
    TaskOutput,
    TaskRef,
    WiroClient,
    WiroError,
    WiroSocket,
    WiroTimeout,
)

log = logging.getLogger(__name__)


class Phase(StrEnum):
    """What a member is waiting for, coarser than Wiro's statuses."""

    WAITING = "waiting"  # in line at the bot, behind other members' portraits
    UPLOADING = "uploading"
    QUEUED = "queued"
    GENERATING = "generating"
    FINISHING = "finishing"
    DOWNLOADING = "downloading"


_PHASE_OF_STAGE = {
    Stage.QUEUED: Phase.QUEUED,
    # A persisted task_error awaits recovery at Wiro: still waiting, from the member's view.
    Stage.ERROR: Phase.QUEUED,
    Stage.GENERATING: Phase.GENERATING,
    Stage.FINISHING: Phase.FINISHING,
}


@dataclass(frozen=True)
class Progress:
    phase: Phase
    elapsed: float


ProgressCallback = Callable[[Progress], Awaitable[None]]


@dataclass(frozen=True)
class PortraitImage:
    filename: str
    data: bytes


@dataclass(frozen=True)
class PortraitResult:
    options: PortraitOptions
    images: tuple[PortraitImage, ...]
    task_id: str
    elapsed: float
    cost: float | None


@dataclass(frozen=True)
class JobLimits:
    timeout: float = 600.0
    error_grace: float = 150.0


async def make_portrait(
    wiro: WiroClient,
    catalog: Catalog,
    options: PortraitOptions,
    selfie: PreparedSelfie,
    *,
    on_progress: ProgressCallback | None = None,
    limits: JobLimits = JobLimits(),
    on_started: Callable[[TaskRef], None] | None = None,
) -> PortraitResult:
    """Run one job to the end, in memory (the `generate` command). Raises `PortraitFailed`.

    `on_started` is handed the task as soon as Wiro accepted the run call, so the caller can
    delete the task's files at Wiro (`WiroClient.delete_inputs_outputs`) whatever comes next."""
    started = time.monotonic()
    last_phase: Phase | None = None

    async def report(phase: Phase) -> None:
        nonlocal last_phase
        if on_progress is not None and phase != last_phase:
            last_phase = phase
            await on_progress(Progress(phase, time.monotonic() - started))

    await report(Phase.UPLOADING)
    try:
        uploaded = await wiro.upload_file(
            selfie.data, filename=selfie.filename, content_type=selfie.content_type
        )
        ref = await wiro.run(run_fields(options, catalog, uploaded.url))
    except WiroError as error:
        raise explain(error) from error
    log.info("Wiro task %s started", ref.task_id)
    if on_started is not None:
        on_started(ref)
    await report(Phase.QUEUED)
    try:
        task = await follow_task(wiro, ref, limits, report)
    except asyncio.CancelledError:
        # Nobody will collect this result (Ctrl-C): do not leave it running at Wiro.
        await abort_quietly(wiro, ref)
        raise
    await report(Phase.DOWNLOADING)
    images = await download_images(wiro, task.outputs, options.seed)
    return PortraitResult(
        options=options,
        images=images,
        task_id=task.id,
        elapsed=time.monotonic() - started,
        cost=task.total_cost,
    )


async def follow_task(
    wiro: WiroClient,
    ref: TaskRef,
    limits: JobLimits,
    on_phase: Callable[[Phase], Awaitable[None]],
    *,
    socket: WiroSocket | None = None,
    on_progress: OnProgress | None = None,
) -> Task:
    """Wait for a task to succeed; `PortraitFailed` otherwise. A task that outlives the timeout
    is stopped at Wiro: nobody would collect it, and it would still be billed. With `socket`,
    Wiro's WebSocket gives progress and an early word of the end (always confirmed by
    Task/Detail)."""

    async def on_change(task: Task) -> None:
        phase = _PHASE_OF_STAGE.get(task.stage)
        if phase is not None:
            await on_phase(phase)

    try:
        return await wiro.wait(
            ref,
            timeout=limits.timeout,
            error_grace=limits.error_grace,
            on_change=on_change,
            socket=socket,
            on_progress=on_progress,
        )
    except WiroTimeout as error:
        await abort_quietly(wiro, ref)
        raise explain(error) from error
    except WiroError as error:
        raise explain(error) from error


async def abort_quietly(wiro: WiroClient, ref: TaskRef) -> None:
    try:
        await asyncio.shield(wiro.abort(ref))
    except WiroError as error:
        log.warning("Could not stop Wiro task %s: %s", ref.task_id, error)


async def download_images(
    wiro: WiroClient, outputs: Sequence[TaskOutput], seed: int
) -> tuple[PortraitImage, ...]:
    """Fetch every output at once (Wiro's CDN links do not last)."""
    try:
        blobs = await asyncio.gather(*(wiro.download(output.url) for output in outputs))
    except WiroError as error:
        raise PortraitFailed(
            FailureReason.UNAVAILABLE,
            "The portrait was made, but I couldn't download it from Wiro. Please try again.",
            f"downloading outputs: {error}",
        ) from error
    images = []
    for index, (output, data) in enumerate(zip(outputs, blobs, strict=True), start=1):
        extension = output.name.rsplit(".", 1)[-1].lower() if "." in output.name else "png"
        images.append(PortraitImage(f"portrait-{seed}-{index}.{extension}", data))
    return tuple(images)
