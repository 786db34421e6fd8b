"""The dispatcher on a real SQLite ledger and a real WiroClient against the strict fake Wiro,
with a recording `JobEvents` in place of Discord: queue order, the global slot limit, Wiro's
concurrency error, cancelling at every stage, file clean-up, pruning and restart resume."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.core.catalog import Catalog
from bot.core.jobs import FailureReason, Phase, PortraitFailed, PortraitImage
from bot.core.jobs.delivery import DeliveryDeferred
from bot.core.jobs.dispatcher import CancelOutcome, Dispatcher, DispatchRules
from bot.core.jobs.ledger import Job, JobState, QueueEntry
from bot.core.jobs.lengths import TaskLengthModel
from bot.core.jobs.sql_ledger import SqlLedger
from bot.core.jobs.sqlite_ledger import LEDGER_FILENAME, SqliteLedger
from bot.core.request.options import PortraitOptions, resolve_options, run_fields
from bot.core.request.selfie_store import SelfieStore
from bot.core.result.store import ResultStore
from bot.core.wiro import PollSchedule, WiroClient
from tests.fakewiro import FakeTask, FakeWiro
from tests.support.images import selfie_jpeg
from tests.support.ledgers import OpenLedger

RUN = "/Run/wiro/instant-id-lora"
IO_DELETE = "/Task/InputOutputDelete"
CATALOG = Catalog.bundled()
WAIT = 10.0  # the bound on every wait; a healthy run takes a fraction of it

T = TypeVar("T")


# ====================================================================== helpers


class Recorder:
    """A `JobEvents` that remembers every call."""

    def __init__(self) -> None:
        self.waits: list[tuple[int, int]] = []
        self.phases: list[tuple[int, Phase]] = []
        self.percentages: list[tuple[int, Any]] = []
        self.delivered: list[tuple[int, tuple[PortraitImage, ...]]] = []
        self.failures: list[tuple[int, PortraitFailed]] = []
        self.cancels: list[int] = []
        self.delays: list[tuple[int, str]] = []
        self.posted: dict[int, str] = {}  # job id -> message ref, what find_delivered finds
        # What Discord answers the next result posts (then they succeed); "later" is not
        # raised on the last try, as the real one never does.
        self.answers: list[Exception] = []
        self.tries: list[tuple[int, bool]] = []  # (job id, last_try) of every post
        self._next_message = 5000

    async def waiting(self, job: Job, position: int) -> None:
        self.waits.append((job.id, position))

    async def progress(self, job: Job, phase: Phase) -> None:
        self.phases.append((job.id, phase))

    async def generating(self, job: Job, progress: Any) -> None:
        """Generation progress (percentage, time left), where the dispatcher reports it."""
        self.percentages.append((job.id, progress))

    async def deliver(
        self, job: Job, images: tuple[PortraitImage, ...], *, last_try: bool = True
    ) -> str:
        self.tries.append((job.id, last_try))
        if self.answers:
            answer = self.answers.pop(0)
            if not (last_try and isinstance(answer, DeliveryDeferred)):
                raise answer
        self._next_message += 1
        self.delivered.append((job.id, images))
        self.posted[job.id] = str(self._next_message)
        return self.posted[job.id]

    async def find_delivered(self, job: Job) -> str | None:
        return self.posted.get(job.id)

    async def failed(self, job: Job, failure: PortraitFailed) -> None:
        self.failures.append((job.id, failure))

    async def cancelled(self, job: Job) -> None:
        self.cancels.append(job.id)

    async def delayed(self, job: Job, message: str) -> None:
        self.delays.append((job.id, message))

    def positions(self, job: Job) -> list[int]:
        return [position for job_id, position in self.waits if job_id == job.id]


async def eventually(
    predicate: Callable[[], Awaitable[T] | T], timeout: float = WAIT, what: str = ""
) -> T:
    """Re-check `predicate` (sync or async) until it is truthy; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if loop.time() >= deadline:
            raise AssertionError(f"not reached within {timeout}s: {what or predicate}")
        await asyncio.sleep(0.01)


class CountingLedger:
    """The real ledger, counting the dispatcher's looks at the queue (one per scheduling pass),
    its reads of whole queued rows, and the rows it reads by id."""

    def __init__(self, inner: SqlLedger) -> None:
        self._inner = inner
        self.passes = 0
        self.whole_queue_reads = 0
        self.rows_read: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def queued(self) -> list[Job]:
        self.whole_queue_reads += 1
        return await self._inner.queued()

    async def jobs(self, job_ids: Collection[int]) -> list[Job]:
        self.rows_read += job_ids
        return await self._inner.jobs(job_ids)

    async def queue_order(self) -> list[QueueEntry]:
        order = await self._inner.queue_order()
        self.passes += 1
        return order


class Clock:
    """Real time by default; `shift` moves it forward (for pruning)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def shift(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


class Harness:
    def __init__(self, wiro: FakeWiro, client: WiroClient, ledger: CountingLedger, clock: Clock):
        self.wiro = wiro
        self.client = client
        self.ledger = ledger
        self.clock = clock
        self.dispatchers: list[Dispatcher] = []
        self._seeds = iter(range(101, 10_000))

    def dispatcher(
        self,
        events: Recorder,
        *,
        selfies: SelfieStore | None = None,
        results: ResultStore | None = None,
        **rules: Any,
    ) -> Dispatcher:
        base = DispatchRules(max_running=1, busy_retry=0.3, retention=timedelta(days=30))
        dispatcher = Dispatcher(
            self.ledger,  # type: ignore[arg-type]
            self.client,
            lambda: CATALOG,
            events,
            replace(base, **rules),
            selfies=selfies,
            results=results,
            clock=self.clock,
        )
        self.dispatchers.append(dispatcher)
        return dispatcher

    async def job(self, user_id: int = 1001, **fields: Any) -> Job:
        """A job as `/portrait` leaves it: selfie uploaded to Wiro, QUEUED in the ledger."""
        uploaded = await self.client.upload_file(
            selfie_jpeg(), filename="selfie.jpg", content_type="image/jpeg"
        )
        options = resolve_options(CATALOG, prompt="a portrait", seed=next(self._seeds))
        return await self.ledger.create(
            platform="discord",
            requester=f"discord:{user_id}",
            scope="discord:guild:2002",
            reply_address={"channel_id": 3003, "interaction_id": 4004},
            reply_secret="interaction-token",
            params={"options": options.to_params(), "member_name": "Ana"},
            input_url=uploaded.url,
            **fields,
        )

    async def get(self, job: Job) -> Job:
        found = await self.ledger.get(job.id)
        assert found is not None
        return found

    async def state_of(self, job: Job) -> JobState:
        return (await self.get(job)).state

    async def reaches(self, job: Job, *states: JobState) -> Job:
        async def check() -> Job | None:
            current = await self.get(job)
            return current if current.state in states else None

        return await eventually(check, what=f"job {job.id} in {states}")

    def run_of(self, job: Job) -> dict[str, object] | None:
        """The run Wiro accepted for this job (matched by its uploaded selfie)."""
        return next((r for r in self.wiro.runs if r["inputImageUrl"] == job.input_url), None)

    def task_of(self, job: Job) -> FakeTask | None:
        return next(
            (t for t in self.wiro.tasks.values() if t.fields["inputImageUrl"] == job.input_url),
            None,
        )

    async def task_started(self, job: Job) -> FakeTask:
        return await eventually(lambda: self.task_of(job), what=f"a Wiro task for job {job.id}")

    async def scheduling_passes(self, dispatcher: Dispatcher, count: int = 2) -> None:
        """Wake the dispatcher and wait until it has looked at the queue `count` more times."""
        for _ in range(count):
            before = self.ledger.passes
            dispatcher.wake()
            await eventually(lambda b=before: self.ledger.passes > b, what="a scheduling pass")


@pytest.fixture
async def wiro() -> AsyncIterator[FakeWiro]:
    async with FakeWiro(api_key="dispatch-key", api_secret="dispatch-secret") as fake:
        yield fake


@contextlib.asynccontextmanager
async def open_harness(
    wiro: FakeWiro, ledger_path: Path, *, open_ledger: OpenLedger | None = None
) -> AsyncIterator[Harness]:
    """A client of ``wiro`` (fast polls and retries) and a counting ledger at ``ledger_path``
    (or the one ``open_ledger`` opens: tests/support/ledgers.py); every dispatcher the harness
    made is stopped at the end."""
    clock = Clock()
    opening = (
        open_ledger(clock=clock)
        if open_ledger is not None
        else SqliteLedger.open(ledger_path, clock=clock)
    )
    async with (
        WiroClient(
            api_key=wiro.api_key,
            api_secret=wiro.api_secret,
            base_url=wiro.base_url,
            poll_schedule=PollSchedule.constant(0.02),
            retry_base_delay=0.01,
        ) as client,
        await opening as ledger,
    ):
        h = Harness(wiro, client, CountingLedger(ledger), clock)
        try:
            yield h
        finally:
            for dispatcher in h.dispatchers:
                await dispatcher.stop()


@pytest.fixture
async def harness(wiro, tmp_path) -> AsyncIterator[Harness]:
    async with open_harness(wiro, tmp_path / LEDGER_FILENAME) as h:
        yield h


# ====================================================================== the queue


async def test_jobs_run_in_queue_order_one_slot_at_a_time(harness, wiro):
    wiro.scenario.duration = None  # tasks wait for the test to move them on
    events = Recorder()
    first, second, third = [await harness.job() for _ in range(3)]
    dispatcher = harness.dispatcher(events, max_running=1)
    await dispatcher.start()

    await harness.task_started(first)
    await eventually(lambda: events.positions(third) == [2])
    assert events.positions(second) == [1]
    assert events.positions(first) == []  # it went straight to Wiro
    assert await harness.ledger.queue_position(second.id) == 1
    assert await harness.ledger.queue_position(third.id) == 2
    assert await harness.ledger.queue_position(first.id) is None

    # While the first task is at Wiro, nothing else is sent, however often the queue is looked at.
    await harness.scheduling_passes(dispatcher)
    assert wiro.calls[RUN] == 1
    assert await harness.state_of(second) is JobState.QUEUED

    wiro.step(harness.task_of(first).id, 100)
    await harness.task_started(second)
    await eventually(lambda: events.positions(third) == [2, 1])
    assert events.positions(second) == [1]  # it left the queue from the front
    await harness.scheduling_passes(dispatcher)
    assert wiro.calls[RUN] == 2

    wiro.step(harness.task_of(second).id, 100)
    wiro.scenario.duration = 0.2
    await harness.task_started(third)
    for job in (first, second, third):
        await harness.reaches(job, JobState.DELIVERED)
    assert [job_id for job_id, _ in events.delivered] == [first.id, second.id, third.id]
    assert [r["inputImageUrl"] for r in wiro.runs] == [j.input_url for j in (first, second, third)]
    assert events.positions(third) == [2, 1]
    assert not events.failures and not events.cancels


async def test_looking_at_the_queue_reads_the_line_in_one_query_and_each_row_once(harness, wiro):
    wiro.scenario.duration = None
    events = Recorder()
    jobs = [await harness.job() for _ in range(6)]
    dispatcher = harness.dispatcher(events, max_running=1)
    await dispatcher.start()

    await harness.task_started(jobs[0])
    await eventually(lambda: events.positions(jobs[5]) == [5])
    await harness.scheduling_passes(dispatcher, 3)
    # Each look reads only the line's order; a job's row is read once, when it joins the line.
    assert harness.ledger.whole_queue_reads == 0
    assert sorted(harness.ledger.rows_read) == [job.id for job in jobs]

    wiro.step(harness.task_of(jobs[0]).id, 100)  # the queue moves
    await harness.task_started(jobs[1])
    await eventually(lambda: events.positions(jobs[5]) == [5, 4])
    await harness.scheduling_passes(dispatcher)
    assert sorted(harness.ledger.rows_read) == [job.id for job in jobs]
    assert [events.positions(job) for job in jobs[2:]] == [[2, 1], [3, 2], [4, 3], [5, 4]]


async def test_a_job_waiting_for_its_cooldown_lets_others_pass_and_starts_on_time(
    harness, wiro, monkeypatch
):
    # Nothing but the cooldown's end may wake the queue in time: the idle look is far away.
    monkeypatch.setattr("bot.core.jobs.dispatcher.IDLE_CHECK_SECONDS", 60.0)
    events = Recorder()
    due = harness.clock() + timedelta(seconds=0.6)
    waiting = await harness.job(user_id=1, not_before=due)
    other = await harness.job(user_id=2)
    dispatcher = harness.dispatcher(events, max_running=1)
    await dispatcher.start()

    await harness.reaches(other, JobState.DELIVERED)  # not held up by the job asked before it
    done = await harness.reaches(waiting, JobState.DELIVERED)
    submitted = next(
        e.at for e in await harness.ledger.events(done.id) if e.to_state == "submitting"
    )
    assert submitted >= due  # it started when its cooldown ended, not before
    assert events.positions(waiting) == []  # never "in line" while it waited
    assert [r["inputImageUrl"] for r in wiro.runs] == [other.input_url, waiting.input_url]


async def test_max_running_lets_that_many_jobs_run_together(harness, wiro):
    wiro.scenario.duration = None
    events = Recorder()
    jobs = [await harness.job() for _ in range(3)]
    dispatcher = harness.dispatcher(events, max_running=2)
    await dispatcher.start()

    await harness.task_started(jobs[0])
    await harness.task_started(jobs[1])
    await eventually(lambda: events.positions(jobs[2]) == [1])
    await harness.scheduling_passes(dispatcher)
    assert wiro.calls[RUN] == 2
    wiro.step(harness.task_of(jobs[1]).id, 100)  # the second ends first: its slot frees up
    await harness.task_started(jobs[2])
    await harness.reaches(jobs[1], JobState.DELIVERED)
    assert await harness.state_of(jobs[0]) is JobState.RUNNING


async def test_wiro_busy_96_puts_the_job_back_in_its_place_and_runs_it_later(harness, wiro):
    events = Recorder()
    first, second = await harness.job(), await harness.job()
    wiro.scenario.run_error = "concurrency"
    dispatcher = harness.dispatcher(events, max_running=1, busy_retry=1.0)
    await dispatcher.start()

    await eventually(lambda: wiro.calls[RUN] >= 1)
    requeued = await harness.reaches(first, JobState.QUEUED)
    wiro.scenario.run_error = None
    # Back at the front of the line, one attempt counted, the run call forgotten.
    await eventually(lambda: events.positions(second) == [1, 2])
    assert requeued.attempts == 1
    assert requeued.submitted_at is None

    done = await harness.reaches(first, JobState.DELIVERED)
    await harness.reaches(second, JobState.DELIVERED)
    assert done.attempts == 1
    assert wiro.calls[RUN] == 3 and len(wiro.runs) == 2  # one refusal, then each job once
    assert [r["inputImageUrl"] for r in wiro.runs] == [first.input_url, second.input_url]
    assert [job_id for job_id, _ in events.delivered] == [first.id, second.id]
    assert events.positions(second) == [1, 2, 1]
    assert not events.failures
    states = [(e.from_state, e.to_state) for e in await harness.ledger.events(first.id)]
    assert states[:4] == [
        (None, JobState.QUEUED),
        (JobState.QUEUED, JobState.SUBMITTING),
        (JobState.SUBMITTING, JobState.QUEUED),
        (JobState.QUEUED, JobState.SUBMITTING),
    ]


# ====================================================================== cancelling


async def test_cancel_while_queued_removes_the_job_and_never_runs_it(harness, wiro):
    wiro.scenario.duration = None
    events = Recorder()
    running, doomed, behind = [await harness.job() for _ in range(3)]
    dispatcher = harness.dispatcher(events, max_running=1)
    await dispatcher.start()
    await harness.task_started(running)
    await eventually(lambda: events.positions(behind) == [2])

    assert await dispatcher.cancel(doomed.id) is CancelOutcome.CANCELLED
    cancelled = await harness.get(doomed)
    assert cancelled.state is JobState.CANCELLED
    assert events.cancels == [doomed.id]
    await eventually(lambda: events.positions(behind) == [2, 1])  # the line moved up

    wiro.step(harness.task_of(running).id, 100)
    wiro.scenario.duration = 0.2
    await harness.reaches(behind, JobState.DELIVERED)
    assert harness.run_of(doomed) is None
    assert len(wiro.runs) == 2
    assert await harness.state_of(doomed) is JobState.CANCELLED
    assert await dispatcher.cancel(doomed.id) is CancelOutcome.FINISHED  # a second click


async def test_cancel_while_queued_at_wiro_uses_task_cancel(harness, wiro):
    wiro.scenario.duration = None  # the task stays in task_queue
    events = Recorder()
    job = await harness.job()
    dispatcher = harness.dispatcher(events)
    await dispatcher.start()
    task = await harness.task_started(job)
    await harness.reaches(job, JobState.RUNNING)
    assert task.status == "task_queue"

    assert await dispatcher.cancel(job.id) is CancelOutcome.STOPPING
    ended = await harness.reaches(job, JobState.CANCELLED)
    assert wiro.calls["/Task/Cancel"] == 1
    assert wiro.calls["/Task/Kill"] == 0
    assert task.status == "task_cancel"
    await eventually(lambda: events.cancels == [job.id])
    assert ended.failure_reason == ""
    assert not events.delivered and not events.failures
    # The selfie does not linger at Wiro once the task is over.
    await eventually(lambda: wiro.calls[IO_DELETE] == 1)
    assert wiro.bodies[IO_DELETE] == [{"tasktoken": task.token}]


async def test_cancel_while_generating_kills_the_task(harness, wiro):
    wiro.scenario.duration = None
    events = Recorder()
    job = await harness.job()
    dispatcher = harness.dispatcher(events)
    await dispatcher.start()
    task = await harness.task_started(job)
    await harness.reaches(job, JobState.RUNNING)
    assert wiro.step(task.id, 5) == "task_start"
    await eventually(lambda: (job.id, Phase.GENERATING) in events.phases)

    assert await dispatcher.cancel(job.id) is CancelOutcome.STOPPING
    await harness.reaches(job, JobState.CANCELLED)
    assert wiro.calls["/Task/Kill"] == 1
    assert wiro.bodies["/Task/Kill"] == [{"socketaccesstoken": task.token}]
    assert task.status == "task_cancel"
    await eventually(lambda: events.cancels == [job.id])
    assert not events.delivered
    await eventually(lambda: wiro.calls[IO_DELETE] == 1)


async def test_cancel_during_the_run_call_stops_the_task_once_it_exists(harness, wiro):
    events = Recorder()
    job = await harness.job()
    wiro.scenario.duration = None
    wiro.fail(RUN, delay=0.5)  # the run call is slow to answer: the job sits in SUBMITTING
    dispatcher = harness.dispatcher(events)
    await dispatcher.start()
    await harness.reaches(job, JobState.SUBMITTING)

    assert await dispatcher.cancel(job.id) is CancelOutcome.STOPPING
    await harness.reaches(job, JobState.CANCELLED)
    task = harness.task_of(job)
    assert task is not None and task.status == "task_cancel"
    assert wiro.calls[RUN] == 1
    assert not events.delivered


async def test_cancel_during_the_selfie_upload_never_starts_the_task(harness, wiro, tmp_path):
    events = Recorder()
    store = SelfieStore(tmp_path / "selfies")
    job = await harness.job()  # as `/portrait` leaves it now: the selfie waits on disk
    job = await harness.ledger.update(job.id, input_url=None, selfie_path=store.save(selfie_jpeg()))
    uploads = wiro.calls["/File/Upload"]
    wiro.fail("/File/Upload", delay=0.5)  # the upload is slow: the job sits in SUBMITTING
    dispatcher = harness.dispatcher(events, selfies=store)
    await dispatcher.start()
    await harness.reaches(job, JobState.SUBMITTING)

    assert await dispatcher.cancel(job.id) is CancelOutcome.STOPPING
    await harness.reaches(job, JobState.CANCELLED)
    assert wiro.calls["/File/Upload"] == uploads + 1
    assert wiro.calls[RUN] == 0 and wiro.runs == []  # nothing started, nothing paid
    assert events.cancels == [job.id]  # the member's status says cancelled
    assert not events.failures and not events.delivered


async def test_a_job_cancelled_during_a_refused_run_call_is_not_run_again(harness, wiro):
    events = Recorder()
    job = await harness.job()
    wiro.scenario.duration = None
    wiro.scenario.run_error = "concurrency"
    wiro.fail(RUN, delay=0.5)
    dispatcher = harness.dispatcher(events, busy_retry=0.2)
    await dispatcher.start()
    await harness.reaches(job, JobState.SUBMITTING)

    assert await dispatcher.cancel(job.id) is CancelOutcome.STOPPING
    await eventually(lambda: wiro.calls[RUN] == 1)
    await harness.reaches(job, JobState.QUEUED, JobState.CANCELLED)
    wiro.scenario.run_error = None  # Wiro would accept a second run call now
    await harness.reaches(job, JobState.CANCELLED)
    assert wiro.runs == []  # no task was ever started for a job the member cancelled


async def test_cancel_after_delivery_is_too_late(harness, wiro):
    events = Recorder()
    job = await harness.job()
    dispatcher = harness.dispatcher(events)
    await dispatcher.start()
    delivered = await harness.reaches(job, JobState.DELIVERED)

    assert await dispatcher.cancel(job.id) is CancelOutcome.FINISHED
    assert await harness.get(job) == delivered
    assert events.cancels == []
    assert wiro.calls["/Task/Cancel"] == 0 and wiro.calls["/Task/Kill"] == 0
    assert await dispatcher.cancel(987_654) is CancelOutcome.UNKNOWN


# ====================================================================== how jobs end


async def test_a_delivered_job_records_its_result_and_deletes_its_files_at_wiro(harness, wiro):
    events = Recorder()
    job = await harness.job()
    dispatcher = harness.dispatcher(events)
    await dispatcher.start()
    done = await harness.reaches(job, JobState.DELIVERED)

    ((job_id, images),) = events.delivered
    assert job_id == job.id
    seed = done.params["options"]["seed"]
    assert [image.filename for image in images] == [f"portrait-{seed}-1.png"]
    assert done.result_message_ref == events.posted[job.id]
    task = harness.task_of(job)
    assert done.wiro_task_id == task.id and done.wiro_socket_token == task.token
    assert done.outputs and done.outputs[0]["name"] == "0.png"
    assert done.cost == pytest.approx(0.004)
    phases = [phase for job_id, phase in events.phases if job_id == job.id]
    assert phases[0] is Phase.QUEUED and phases[-1] is Phase.DOWNLOADING
    await eventually(lambda: wiro.calls[IO_DELETE] == 1)
    assert wiro.bodies[IO_DELETE] == [{"tasktoken": task.token}]
    assert task.files_deleted
    assert not wiro.files  # the uploaded selfie is gone from Wiro's storage too


async def test_a_failed_task_is_reported_and_its_files_deleted(harness, wiro):
    wiro.scenario.outcome = "fail"  # InstantID finds no face
    events = Recorder()
    job = await harness.job()
    dispatcher = harness.dispatcher(events)
    await dispatcher.start()
    failed = await harness.reaches(job, JobState.FAILED)

    assert failed.failure_reason == FailureReason.NO_FACE.value
    assert "usable face" in failed.failure_message and "selfie" in failed.failure_message
    assert "Cannot find any face" in failed.failure_detail  # Wiro's own text, for the owner
    assert "Traceback" not in failed.failure_message
    await eventually(lambda: [job_id for job_id, _ in events.failures] == [job.id])
    assert events.failures[0][1].reason is FailureReason.NO_FACE
    task = harness.task_of(job)
    await eventually(lambda: wiro.calls[IO_DELETE] == 1)
    assert wiro.bodies[IO_DELETE] == [{"tasktoken": task.token}]
    assert not events.delivered


async def test_files_are_left_alone_when_deleting_is_turned_off(harness, wiro):
    events = Recorder()
    first, second = await harness.job(), await harness.job()
    dispatcher = harness.dispatcher(events, delete_wiro_files=False)
    await dispatcher.start()
    await harness.reaches(first, JobState.DELIVERED)
    await harness.reaches(second, JobState.DELIVERED)
    assert wiro.calls[IO_DELETE] == 0


async def test_an_empty_balance_97_fails_the_job_with_the_reason(harness, wiro):
    wiro.scenario.run_error = "balance"
    events = Recorder()
    job = await harness.job()
    dispatcher = harness.dispatcher(events)
    await dispatcher.start()
    failed = await harness.reaches(job, JobState.FAILED)

    assert failed.failure_reason == FailureReason.BALANCE.value
    assert "balance" in failed.failure_message
    assert failed.submitted_at is not None  # a run call was made: it counts against quotas
    assert failed.attempts == 0
    await eventually(lambda: len(events.failures) == 1)
    ((job_id, failure),) = events.failures
    assert job_id == job.id and failure.reason is FailureReason.BALANCE
    assert failure.owner_should_act
    assert wiro.calls[RUN] == 1 and not wiro.tasks  # never retried, nothing started
    assert wiro.calls[IO_DELETE] == 0  # no task, no socket token

    # The slot is free again: the next job is tried (and meets the same empty balance).
    second = await harness.job()
    dispatcher.wake()
    await harness.reaches(second, JobState.FAILED)
    assert wiro.calls[RUN] == 2


# ====================================================================== housekeeping


async def test_old_final_jobs_are_pruned_on_schedule(harness, wiro):
    clock = harness.clock
    ledger = harness.ledger
    old = await harness.job()
    await ledger.transition(old.id, JobState.CANCELLED)
    clock.shift(days=20)
    recent = await harness.job()
    await ledger.transition(recent.id, JobState.CANCELLED)
    kept = await harness.job()  # final, but still holding a selfie file to delete later
    await ledger.transition(kept.id, JobState.CANCELLED)
    await ledger.update(kept.id, selfie_path="/tmp/selfie-kept.jpg")
    clock.shift(days=11)  # `old` is 31 days old, `recent` 11

    dispatcher = harness.dispatcher(Recorder(), retention=timedelta(days=30))
    await dispatcher.start()
    await eventually(lambda: _gone(ledger, old))
    assert await ledger.get(recent.id) is not None
    assert await ledger.events(old.id) == []

    clock.shift(days=25)  # `recent` is now 36 days old; a prune is due again (6 h passed)
    await harness.scheduling_passes(dispatcher, 1)
    await eventually(lambda: _gone(ledger, recent))
    assert await ledger.get(kept.id) is not None
    assert wiro.calls[RUN] == 0  # nothing was queued


async def kept_selfie(harness: Harness, store: SelfieStore, keep: timedelta) -> tuple[Job, Path]:
    """A finished job whose prepared selfie is kept on disk for `keep` (for result buttons),
    and the selfie's file (the ledger keeps its name in the store's folder)."""
    job = await harness.job()
    await harness.ledger.transition(job.id, JobState.CANCELLED)
    name = store.save(selfie_jpeg())
    job = await harness.ledger.update(
        job.id, selfie_path=name, selfie_expires_at=harness.clock() + keep
    )
    return job, store.folder / name


async def test_an_expired_selfie_is_deleted_by_the_housekeeping(harness, tmp_path):
    store = SelfieStore(tmp_path / "selfies")
    expired, expired_path = await kept_selfie(harness, store, timedelta(hours=1))
    fresh, fresh_path = await kept_selfie(harness, store, timedelta(hours=5))
    harness.clock.shift(hours=2)
    dispatcher = harness.dispatcher(Recorder(), selfies=store)
    await dispatcher.start()

    await eventually(lambda: not expired_path.exists(), what="the expired selfie deleted")
    await eventually(lambda: _selfie_forgotten(harness, expired))
    assert fresh_path.exists()
    assert (await harness.get(fresh)).selfie_path == fresh_path.name


async def test_a_selfie_is_deleted_when_its_window_ends_not_hours_later(harness, tmp_path):
    store = SelfieStore(tmp_path / "selfies")
    _, path = await kept_selfie(harness, store, timedelta(hours=1))
    dispatcher = harness.dispatcher(Recorder(), selfies=store)
    await dispatcher.start()
    await harness.scheduling_passes(dispatcher, 2)  # the first housekeeping pass is over
    assert path.exists()  # still inside its window

    harness.clock.shift(hours=1, minutes=1)  # the window ended a minute ago
    await harness.scheduling_passes(dispatcher, 2)
    assert not path.exists()


async def _selfie_forgotten(harness: Harness, job: Job) -> bool:
    current = await harness.get(job)
    return current.selfie_path is None and current.selfie_expires_at is None


async def _gone(ledger: CountingLedger, job: Job) -> bool:
    return await ledger.get(job.id) is None


# ====================================================================== restarts


async def test_a_restart_follows_the_running_job_to_one_delivery(harness, wiro):
    wiro.scenario.duration = None
    before = Recorder()
    running, waiting = await harness.job(), await harness.job()
    dispatcher = harness.dispatcher(before)
    await dispatcher.start()
    task = await harness.task_started(running)
    await harness.reaches(running, JobState.RUNNING)
    await eventually(lambda: before.positions(waiting) == [1])

    await dispatcher.stop()
    assert not dispatcher.accepting
    assert task.status != "task_cancel"  # paid work is not thrown away
    assert await harness.state_of(running) is JobState.RUNNING
    assert await harness.state_of(waiting) is JobState.QUEUED
    wiro.step(task.id, 100)

    after = Recorder()
    wiro.scenario.duration = 0.2
    restarted = harness.dispatcher(after)
    await restarted.start()
    assert restarted.accepting
    await harness.reaches(running, JobState.DELIVERED)
    await harness.reaches(waiting, JobState.DELIVERED)
    assert [job_id for job_id, _ in after.delivered] == [running.id, waiting.id]
    assert before.delivered == []
    assert wiro.calls[RUN] == 2 and harness.run_of(running) is not None
    assert len([r for r in wiro.runs if r["inputImageUrl"] == running.input_url]) == 1


async def delivering_job(harness: Harness) -> Job:
    """A job whose task has ended at Wiro and whose outputs are saved: what a crash while
    posting the result leaves behind (DELIVERING)."""
    job = await harness.job()
    await harness.ledger.transition(job.id, JobState.SUBMITTING)
    options = PortraitOptions.from_params(job.params["options"])
    ref = await harness.client.run(run_fields(options, CATALOG, job.input_url))
    await harness.ledger.transition(
        job.id, JobState.RUNNING, wiro_task_id=ref.task_id, wiro_socket_token=ref.socket_token
    )
    task = await harness.client.wait(ref, timeout=WAIT)
    outputs = [
        {"url": o.url, "name": o.name, "content_type": o.content_type, "size": o.size}
        for o in task.outputs
    ]
    return await harness.ledger.transition(job.id, JobState.DELIVERING, outputs=outputs)


async def test_a_restart_after_the_result_was_posted_does_not_post_it_again(harness, wiro):
    job = await delivering_job(harness)
    events = Recorder()
    events.posted[job.id] = "4242"  # posted just before the crash; the ledger never heard
    dispatcher = harness.dispatcher(events)
    await dispatcher.start()
    done = await harness.reaches(job, JobState.DELIVERED)
    assert done.result_message_ref == "4242"
    assert events.delivered == []
    assert wiro.calls[RUN] == 1


async def test_a_restart_before_the_result_was_posted_posts_it_once(harness, wiro):
    job = await delivering_job(harness)
    events = Recorder()
    dispatcher = harness.dispatcher(events)
    await dispatcher.start()
    done = await harness.reaches(job, JobState.DELIVERED)
    ((job_id, images),) = events.delivered
    assert job_id == job.id and len(images) == 1
    assert done.result_message_ref == events.posted[job.id]
    assert wiro.calls[RUN] == 1
    await eventually(lambda: wiro.calls[IO_DELETE] == 1)


async def test_a_run_call_cut_off_by_a_crash_is_found_at_wiro_not_run_again(harness, wiro):
    events = Recorder()
    found, lost = await harness.job(), await harness.job()
    # `found`: the run call reached Wiro, then the process died before the task id was saved.
    await harness.ledger.transition(found.id, JobState.SUBMITTING)
    options = PortraitOptions.from_params(found.params["options"])
    await harness.client.run(run_fields(options, CATALOG, found.input_url))
    # `lost`: the process died before the run call left.
    await harness.ledger.transition(lost.id, JobState.SUBMITTING)

    dispatcher = harness.dispatcher(events)
    await dispatcher.start()
    done = await harness.reaches(found, JobState.DELIVERED)
    assert done.wiro_task_id == harness.task_of(found).id
    unconfirmed = await harness.reaches(lost, JobState.UNCONFIRMED)
    assert unconfirmed.wiro_task_id is None
    await eventually(lambda: [job_id for job_id, _ in events.failures] == [lost.id])
    assert wiro.calls[RUN] == 1  # neither job was run a second time


# ====================================================================== task lengths


async def test_a_finished_job_teaches_its_task_length_and_a_restart_remembers_it(harness, wiro):
    wiro.scenario.duration = 0.2
    job = await harness.job()
    options = PortraitOptions.from_params(job.params["options"])
    first = harness.dispatcher(Recorder())
    assert first.lengths.forecast(options).basis == "prior"
    await first.start()
    done = await harness.reaches(job, JobState.DELIVERED)

    assert done.task_seconds is not None and done.task_seconds > 0.1  # a 0.2 s task
    assert first.lengths.forecast(options).basis == "scaled"  # one job: not yet "learned"
    await first.stop()
    restarted = harness.dispatcher(Recorder())
    restarted.lengths = TaskLengthModel(min_exact=1)
    await restarted.start()
    forecast = restarted.lengths.forecast(options)
    assert (forecast.basis, forecast.expected) == ("learned", done.task_seconds)


async def test_a_resumed_task_teaches_no_length(harness, wiro):
    wiro.scenario.duration = None
    job = await harness.job()
    first = harness.dispatcher(Recorder())
    await first.start()
    task = await harness.task_started(job)
    await harness.reaches(job, JobState.RUNNING)
    await first.stop()
    wiro.step(task.id, 100)
    restarted = harness.dispatcher(Recorder())
    await restarted.start()
    done = await harness.reaches(job, JobState.DELIVERED)
    # Its start was before the restart: the length seen now would be wrong.
    assert done.task_seconds is None


async def test_stop_ends_the_queue_loop_even_when_a_wake_up_meets_the_cancel(harness):
    # stop() cancels the queue loop while the workers it cancels call wake(): on Python 3.11
    # asyncio.wait_for swallowed such a cancel and stop() then waited forever.
    for _ in range(3):
        dispatcher = harness.dispatcher(Recorder())
        await dispatcher.start()
        await asyncio.sleep(0.4)  # the loop has looked at the queue and waits to be woken
        dispatcher.wake()
        await asyncio.wait_for(dispatcher.stop(), 5)
