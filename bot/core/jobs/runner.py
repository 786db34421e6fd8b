"""One portrait job: upload the prepared selfie, run the Wiro task, follow it, fetch the images.

Platform-free: the dispatcher and the `generate` command both drive it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.core.jobs.failures import FailureReason, PortraitFailed, explain
from bot.core.jobs.images import DecodedImage, NotAnImage, decode_output
from bot.core.request.options import PortraitOptions
from bot.core.wiro import (
    OnProgress,
    Stage,
    Task,
    TaskForecast,
    TaskOutput,
    TaskRef,
    WiroClient,
    WiroError,
    WiroSocket,
    WiroTaskCancelled,
    WiroTaskFailed,
)
from bot.core.wiro.outputs import OutputRefused, url_for_log
from bot.core.wiro.waiting import DEFAULT_FAILURE_BUDGET, EndTiming

log = logging.getLogger(__name__)

# The most images one result carries: the `samples` option allows 4, and a Discord message
# carries at most 10 attachments.
MAX_IMAGES = 4


class Phase(StrEnum):
    """What a member is waiting for, coarser than Wiro's statuses."""

    WAITING = "waiting"  # in line at the bot, behind other members' portraits
    UPLOADING = "uploading"
    QUEUED = "queued"
    GENERATING = "generating"
    FINISHING = "finishing"
    DOWNLOADING = "downloading"


# The steps a member's status message shows, in order, in every front end's words. UPLOADING is
# not among them: the queue uploads within "Queued at Wiro" (only `generate` reports it).
STEPS: tuple[tuple[Phase, str], ...] = (
    (Phase.WAITING, "Waiting in line"),
    (Phase.QUEUED, "Queued at Wiro"),
    (Phase.GENERATING, "Generating"),
    (Phase.FINISHING, "Finishing"),
    (Phase.DOWNLOADING, "Fetching the images"),
)


def step_of(phase: Phase) -> tuple[int, int, str]:
    """Where `phase` is among the `STEPS`: (its number from 1, how many there are, its name)."""
    order = [step for step, _ in STEPS]
    number = order.index(phase) + 1 if phase in order else 1
    return number, len(STEPS), dict(STEPS).get(phase, "Starting")


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
    """Seconds: the whole wait, a `task_error` spell, and failed polls in a row."""

    timeout: float = 600.0
    error_grace: float = 150.0
    poll_failure_budget: float = DEFAULT_FAILURE_BUDGET


async def follow_task(
    wiro: WiroClient,
    ref: TaskRef,
    limits: JobLimits,
    on_phase: Callable[[Phase], Awaitable[None]],
    *,
    socket: WiroSocket | None = None,
    on_progress: OnProgress | None = None,
    forecast: TaskForecast | None = None,
    started_ago: float = 0.0,
    timing: EndTiming | None = None,
) -> Task:
    """Wait for a task to succeed; `PortraitFailed` otherwise. A task the bot gives up on (the
    timeout, polls failing for `limits.poll_failure_budget` seconds, a `task_error` that
    outlived its grace) is stopped at Wiro: nobody would collect it, and it would still be
    billed. Only a task that ended by itself (cancelled, or failed) is left alone. With `socket`,
    Wiro's WebSocket gives progress and an early word of the end (always confirmed by
    Task/Detail). `forecast`: the task's expected length (polls gather around its end);
    `started_ago`: seconds the task has already run (resumed after a restart); `timing` is
    filled in with when the end was seen."""

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
            failure_budget=limits.poll_failure_budget,
            forecast=forecast,
            started_ago=started_ago,
            timing=timing,
        )
    except WiroError as error:
        ended_by_itself = isinstance(error, WiroTaskCancelled) or (
            isinstance(error, WiroTaskFailed) and error.task.is_terminal
        )
        if not ended_by_itself:
            await abort_quietly(wiro, ref)
        raise explain(error) from error


async def abort_quietly(wiro: WiroClient, ref: TaskRef) -> None:
    try:
        await asyncio.shield(wiro.abort(ref))
    except WiroError as error:
        log.warning("Could not stop Wiro task %s: %s", ref.task_id, error)


async def delete_files_quietly(wiro: WiroClient, ref: TaskRef) -> None:
    """Delete a finished task's input and outputs at Wiro; a refusal is only logged."""
    try:
        await asyncio.shield(wiro.delete_inputs_outputs(ref.socket_token))
    except WiroError as error:
        log.warning("Could not delete the files of Wiro task %s: %s", ref.task_id, error)


def requested_outputs(outputs: Sequence[TaskOutput], samples: int) -> tuple[TaskOutput, ...]:
    """Wiro's first `samples` outputs, in its order: it may send more than were asked."""
    kept = tuple(outputs[: max(1, min(samples, MAX_IMAGES))])
    if len(outputs) > len(kept):
        log.warning(
            "Wiro sent %d outputs for %d asked; keeping %d", len(outputs), samples, len(kept)
        )
    return kept


async def download_images(
    wiro: WiroClient, outputs: Sequence[TaskOutput], seed: int
) -> tuple[PortraitImage, ...]:
    """Fetch every output at once (Wiro's CDN links do not last) and keep the real images.

    An output outside Wiro's hosts, that is not an image, or whose download failed (after the
    client's retries) is dropped with one warning, and the others are posted: the result is
    paid for. None left raises `PortraitFailed`: UNAVAILABLE when a download failed (trying
    again may work), else NO_IMAGE."""
    kept = outputs[:MAX_IMAGES]
    results = await asyncio.gather(
        *(_fetch_image(wiro, output) for output in kept), return_exceptions=True
    )
    images: list[PortraitImage] = []
    failed: list[str] = []
    for output, result in zip(kept, results, strict=True):
        if isinstance(result, WiroError):
            log.warning("Dropped Wiro output %r: %s", output.name, result)
            failed.append(str(result))
        elif isinstance(result, Exception):
            # A fault of the bot's own: the other outputs are still posted, the trace logged.
            log.error(
                "Dropped Wiro output %r: %s", output.name, type(result).__name__, exc_info=result
            )
            failed.append(type(result).__name__)
        elif isinstance(result, BaseException):
            raise result
        elif result is not None:
            name = f"portrait-{seed}-{len(images) + 1}.{result.extension}"
            images.append(PortraitImage(name, result.data))
    if not images and failed:
        raise PortraitFailed(
            FailureReason.UNAVAILABLE,
            "The portrait was made, but I couldn't download it from Wiro. Please try again.",
            f"downloading outputs: {'; '.join(failed)}",
        )
    if not images:
        raise PortraitFailed(
            FailureReason.NO_IMAGE,
            "Wiro finished, but it sent back no picture I could post, so nothing was posted. "
            "Please try again.",
            f"none of the {len(results)} output(s) was an image from a Wiro host",
        )
    return tuple(images)


async def _fetch_image(wiro: WiroClient, output: TaskOutput) -> DecodedImage | None:
    """The decoded output, or None (logged) when it must not be posted. Raises the
    `WiroError` of a download that failed."""
    try:
        data = await wiro.download(output.url)
    except OutputRefused as refused:
        log.warning("Dropped Wiro output %r: %s", output.name, refused)
        return None
    try:
        return await asyncio.to_thread(decode_output, data)
    except NotAnImage as problem:
        log.warning(
            "Dropped Wiro output %r from %s: %s", output.name, url_for_log(output.url), problem
        )
        return None
