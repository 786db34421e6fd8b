"""The dispatcher's shared state and rules.

`Dispatcher` (`bot.core.jobs.dispatcher`) is assembled from parts that each handle one concern:
the queue itself (`dispatcher`), one job's submission and wait at Wiro (`submission`), how a
job ends (`endings`: delivery, kept, failed, cancelled) and picking up jobs no worker has
(`pickup`: start-up resume and storage trouble). They share the state declared here and call
one another through `self`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from bot.core.catalog import Catalog
from bot.core.faces.store import SavedFaces
from bot.core.jobs.backoff import WriteBackoff
from bot.core.jobs.events import JobEvents
from bot.core.jobs.failures import PortraitFailed
from bot.core.jobs.ledger import Clock, Job, JobLedger, utc_now
from bot.core.jobs.lengths import TaskLengthModel
from bot.core.jobs.runner import JobLimits
from bot.core.request.selfie_store import SelfieStore
from bot.core.result.store import ResultStore
from bot.core.wiro import WiroClient, WiroSocket


class JobClaims(Protocol):
    """What the queue asks of `bot.core.jobs.claims.JobClaims`."""

    ttl: timedelta
    more_room: bool

    async def heartbeat(self) -> bool: ...

    async def reserve(self, candidates: Sequence[int], max_running: int) -> list[int]: ...

    async def adopt_orphans(self) -> list[int]: ...

    async def release_queued(self) -> None: ...

    async def release(self) -> None: ...

    async def slot_freed(self) -> None: ...

    async def watch(self, wake: Callable[[], None]) -> Callable[[], Awaitable[None]]: ...


class JobMetrics(Protocol):
    """What the queue reports for the metrics: `bot.core.metrics.Metrics`."""

    def task_ended(self, seconds: float | None, cost: float | None) -> None: ...

    def delivered(self, seconds: float) -> None: ...


class WiroWatch(Protocol):
    """Told what the queue learns of the bot's Wiro account (`bot.core.insight.health`)."""

    async def job_failed(self, failure: PortraitFailed) -> None:
        """A job failed (Wiro's code 97 is `FailureReason.BALANCE`). Must not raise."""
        ...

    def run_accepted(self) -> None:
        """Wiro accepted a run call (so there was credit). Called for every job: cheap."""
        ...


@dataclass(frozen=True)
class DispatchRules:
    """How the queue behaves (from the settings; times in seconds unless typed)."""

    max_running: int = 1
    busy_retry: float = 20.0  # seconds to wait after Wiro's concurrency error
    delete_wiro_files: bool = True
    retention: timedelta = timedelta(days=30)
    delivery_retry: timedelta = timedelta(minutes=60)  # how long "later" answers are retried
    delivery_first_pause: float = 2.0  # seconds before the first retry of a result post
    job_limits: JobLimits = field(default_factory=JobLimits)
    # Seconds the queue waits after a database write failed: doubling from the first to the cap.
    storage_backoff: tuple[float, float] = (1.0, 60.0)


class DispatcherBase:
    """State shared by the dispatcher's parts; see the module docstring."""

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
        serves: Callable[[str], bool] = lambda platform: True,
        faces: SavedFaces | None = None,
    ) -> None:
        self.ledger = ledger
        self._wiro = wiro
        self._catalog = catalog
        self._events = events
        self.rules = rules
        self._selfies = selfies
        self._faces = faces  # saved faces: decrypted when a job naming one is started
        self._results = results
        self._socket = socket
        self._clock = clock
        self._serves = serves  # whether a platform's front end runs here (else its jobs wait)
        # Task lengths learned from finished jobs: polls gather around a task's expected end.
        self.lengths = lengths or TaskLengthModel()
        self._wakeup = asyncio.Event()
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._at_wiro: set[int] = set()  # jobs holding one of the `max_running` slots
        self._cancel_requested: set[int] = set()
        self._positions: dict[int, int] = {}  # the place in line each member was last told
        # The rows of the jobs in line, read once when each joined it (only fields that do not
        # change while a job waits are used: who asked, where, when).
        self._in_line: dict[int, Job] = {}
        self._busy_until = 0.0
        self._next_due: datetime | None = None  # the earliest not_before still ahead
        self._storage = WriteBackoff(*rules.storage_backoff)
        # Jobs whose worker stopped on a failed database write, with the failure that could
        # not be written (if that was it); members already told their job is on hold.
        self._stalled: dict[int, PortraitFailed | None] = {}
        self._told_stalled: set[int] = set()
        self._next_prune = self._clock()
        # Other stores' clean-ups, run with the pruning (every few hours): `add_housekeeping`.
        self._housekeeping: list[Callable[[], Awaitable[object]]] = []
        self._loop: asyncio.Task[None] | None = None
        self.accepting = False
        # Set by `build_services`: Wiro's health (`WiroHealth`), and what else is pruned with
        # the jobs' retention (the audit log): each gets the cutoff, returns rows deleted.
        self.wiro_watch: WiroWatch | None = None
        self.metrics: JobMetrics | None = None  # `bot.core.metrics.Metrics`
        # Several processes on one database: which jobs are this process's (None: this
        # process has the ledger to itself, as the dispatcher's own tests do).
        self.claims: JobClaims | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._stop_watching: Callable[[], Awaitable[None]] | None = None
        self._look_again_at: float | None = None  # time.monotonic() of a look sooner
        self._next_adoption = 0.0  # time.monotonic() of the next look for orphaned jobs
        self.also_prune: list[Callable[[datetime], Awaitable[int]]] = []

    def add_housekeeping(self, chore: Callable[[], Awaitable[object]]) -> None:
        """Run ``chore()`` whenever old jobs are pruned (at start and every few hours), such
        as `Forgetting.prune_marks`. Errors are logged; the queue goes on."""
        self._housekeeping.append(chore)

    def wake(self) -> None:
        """A job was queued or a slot freed: look at the queue now."""
        self._wakeup.set()
