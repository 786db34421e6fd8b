"""One portrait made outside any chat (the `generate` command), through the same pipeline as
every chat job: a throwaway ledger in a private temporary folder, `Admission`, the
`Dispatcher` (upload when started, run, follow, download, delete Wiro's files), and a front
end that only collects what happens. So `generate` checks exactly what members will get."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bot.core.catalog import Catalog
from bot.core.jobs.admission import Admission, Requester
from bot.core.jobs.dispatcher import Dispatcher, DispatchRules
from bot.core.jobs.events import Capabilities, FrontEnds
from bot.core.jobs.failures import FailureReason, PortraitFailed
from bot.core.jobs.ledger import Job
from bot.core.jobs.limits import FairUse
from bot.core.jobs.runner import Phase, PortraitImage, PortraitResult, Progress, ProgressCallback
from bot.core.jobs.sqlite_ledger import SqliteLedger
from bot.core.request.options import PortraitOptions
from bot.core.request.selfie import PreparedSelfie
from bot.core.request.selfie_store import SelfieStore
from bot.core.result.store import ResultStore
from bot.core.wiro import TaskProgress, WiroClient, WiroSocket

PLATFORM = "oneshot"
# No fair-use limits for the owner's own command (its ledger is new each time anyway).
NO_LIMITS = FairUse(
    member_max_active=1_000, member_cooldown=0, member_daily_quota=0, guild_daily_quota=0
)


class _Collector:
    """The `FrontEnd` of a one-shot job: reports phases and keeps the outcome."""

    platform = PLATFORM
    capabilities = Capabilities(
        upload_limit=1 << 40, edit_interval=0.0, reads_history=False, buttons_per_message=0
    )

    def __init__(self, on_progress: ProgressCallback | None) -> None:
        self._on_progress = on_progress
        self._started = time.monotonic()
        self._last: Phase | None = None
        self.ended = asyncio.Event()
        self.images: tuple[PortraitImage, ...] = ()
        self.failure: PortraitFailed | None = None

    async def _report(self, phase: Phase) -> None:
        if self._on_progress is not None and phase != self._last:
            self._last = phase
            await self._on_progress(Progress(phase, time.monotonic() - self._started))

    async def post_status(self, job: Job, position: int | None) -> str | None:
        await self._report(Phase.UPLOADING)  # the queue starts it at once: next is the upload
        return None

    async def waiting(self, job: Job, position: int) -> None: ...

    async def progress(self, job: Job, phase: Phase) -> None:
        await self._report(phase)

    async def generating(self, job: Job, progress: TaskProgress) -> None:
        await self._report(Phase.GENERATING)

    async def deliver(self, job: Job, images: tuple[PortraitImage, ...], *, last_try: bool) -> str:
        self.images = images
        self.ended.set()
        return "kept in memory"

    async def find_delivered(self, job: Job) -> str | None:
        return None

    async def failed(self, job: Job, failure: PortraitFailed) -> None:
        self.failure = failure
        self.ended.set()

    async def cancelled(self, job: Job) -> None:
        self.failure = PortraitFailed(FailureReason.CANCELLED, "The portrait was cancelled.")
        self.ended.set()

    async def delayed(self, job: Job, message: str) -> None: ...


async def make_portrait(
    wiro: WiroClient,
    catalog: Catalog,
    options: PortraitOptions,
    selfie: PreparedSelfie,
    *,
    rules: DispatchRules | None = None,
    socket: WiroSocket | None = None,
    on_progress: ProgressCallback | None = None,
) -> PortraitResult:
    """Make one portrait and return it in memory. Raises `PortraitFailed` (the same reasons a
    member reads). Wiro's files are deleted at the end when `rules.delete_wiro_files`. A
    cancel (Ctrl-C) stops the task at Wiro: nobody would collect it, and it would be billed."""
    collector = _Collector(on_progress)
    frontends = FrontEnds()
    frontends.add(collector)
    with tempfile.TemporaryDirectory(prefix="portrait-job-") as folder:  # 0700: a face inside
        root = Path(folder)
        ledger = await SqliteLedger.open(SqliteLedger.default_path(root))
        async with ledger:
            selfies = SelfieStore(root / "selfies")
            dispatcher = Dispatcher(
                ledger,
                wiro,
                lambda: catalog,
                frontends,
                rules or DispatchRules(),
                selfies=selfies,
                results=ResultStore(root / "results"),
                socket=socket,
            )
            admission = Admission(
                ledger, NO_LIMITS, selfies, selfie_keep=timedelta(0), wake=dispatcher.wake
            )
            who = Requester(PLATFORM, f"{PLATFORM}:owner", PLATFORM, None, {})
            started = time.monotonic()
            job = await admission.admit(
                who,
                {"options": options.to_params()},
                selfie.data,
                post_status=collector.post_status,
            )
            await dispatcher.start()
            try:
                await collector.ended.wait()
                await dispatcher.drain()  # its last steps: DELIVERED, Wiro's files deleted
                job = await ledger.get(job.id) or job
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await dispatcher.cancel(job.id)
                raise
            finally:
                await dispatcher.stop()
    if collector.failure is not None:
        raise collector.failure
    return PortraitResult(
        options=options,
        images=collector.images,
        task_id=job.wiro_task_id or "?",
        elapsed=time.monotonic() - started,
        cost=job.cost,
    )
