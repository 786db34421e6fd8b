"""The job ledger on real SQLite files: states, queue, quotas, pruning, migrations, durability."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import fields
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from bot.core.jobs.ledger import (
    ACTIVE_STATES,
    FINAL_STATES,
    TRANSITIONS,
    UPDATABLE_FIELDS,
    ConstraintViolated,
    InvalidTransition,
    Job,
    JobLedger,
    JobNotFound,
    JobState,
    LedgerError,
    StaleTransition,
    can_transition,
    sources_of,
)
from bot.core.jobs.sql_ledger import SqlLedger
from bot.core.jobs.sqlite_ledger import (
    LEDGER_FILENAME,
    Migration,
    SqliteLedger,
    load_migrations,
    migrate,
)
from tests.support.ledgers import OpenLedger

START = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
TOKEN = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDpzZWNyZXQtdG9rZW4tZG8tbm90LWxvZw"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / LEDGER_FILENAME


@pytest.fixture
async def ledger(open_ledger: OpenLedger, clock: Clock) -> SqlLedger:
    """The ledger on each database in turn (tests/support/ledgers.py)."""
    return await open_ledger(clock=clock)


async def new_job(ledger: JobLedger, **overrides: Any) -> Job:
    values: dict[str, Any] = {
        "platform": "discord",
        "requester": "discord:1001",
        "scope": "discord:guild:2002",
        "reply_address": {"channel_id": 3003, "interaction_id": 4004},
        "reply_secret": TOKEN,
        "params": {"prompt": "a portrait", "steps": 30},
    }
    values.update(overrides)
    return await ledger.create(**values)


async def run_to(ledger: JobLedger, job: Job, state: JobState) -> Job:
    """Walk a QUEUED job along the happy path (or to a final state) until it is in ``state``."""
    path = {
        JobState.QUEUED: [],
        JobState.SUBMITTING: [JobState.SUBMITTING],
        JobState.RUNNING: [JobState.SUBMITTING, JobState.RUNNING],
        JobState.DELIVERING: [JobState.SUBMITTING, JobState.RUNNING, JobState.DELIVERING],
        JobState.DELIVERED: [
            JobState.SUBMITTING,
            JobState.RUNNING,
            JobState.DELIVERING,
            JobState.DELIVERED,
        ],
        JobState.FAILED: [JobState.SUBMITTING, JobState.RUNNING, JobState.FAILED],
        JobState.CANCELLED: [JobState.CANCELLED],
        JobState.UNCONFIRMED: [JobState.SUBMITTING, JobState.UNCONFIRMED],
        JobState.KEPT: [JobState.SUBMITTING, JobState.RUNNING, JobState.DELIVERING, JobState.KEPT],
    }[state]
    for step in path:
        extra: dict[str, Any] = {}
        if step is JobState.RUNNING:
            extra["wiro_task_id"] = f"task-{job.id}"
        if step is JobState.DELIVERED:
            extra["result_message_ref"] = str(9_000 + job.id)
        job = await ledger.transition(job.id, step, **extra)
    return job


# ====================================================================== create / get


async def test_create_and_get_round_trip_every_field(ledger: SqliteLedger, clock: Clock) -> None:
    eastern = timezone(timedelta(hours=-5))
    due = datetime(2025, 3, 1, 7, 15, 0, 1, tzinfo=eastern)  # 12:15:00.000001 UTC
    selfie_expires = START + timedelta(hours=1)
    address = {"channel_id": 2**60 + 7, "guild_id": None, "expires": "2025-03-01T12:15:00Z"}
    params = {
        "prompt": "ünïcode ✓ \"quotes\" and 'apostrophes'",
        "steps": 30,
        "guidance": 5.5,
        "lora_id": None,
        "nested": {"list": [1, 2.5, "x"], "flag": True},
    }
    outputs = [
        {
            "url": "https://cdn.example/1.png",
            "name": "1.png",
            "content_type": "image/png",
            "size": 1,
        }
    ]
    created = await ledger.create(
        platform="telegram",
        requester="telegram:5678",
        scope="telegram:chat:-1001234567890",
        reply_address=address,
        reply_secret=TOKEN,
        params=params,
        input_url="https://cdn.example/selfie.jpg",
        outputs=outputs,
        status_message_ref="-1001234567890:555",
        not_before=due,
        cost=0.0125,
        selfie_path=Path("/data/selfies/1.jpg"),
        selfie_expires_at=selfie_expires,
    )
    assert created.id >= 1
    assert created.state is JobState.QUEUED
    assert created.platform == "telegram" and created.requester == "telegram:5678"
    assert created.scope == "telegram:chat:-1001234567890"
    assert created.reply_address == address  # 2**60 + 7: 64-bit ids survive JSON
    assert created.reply_secret == TOKEN
    assert created.not_before == due
    assert created.not_before.tzinfo is UTC
    assert created.params == params
    assert created.created_at == created.updated_at == START
    assert created.submitted_at is None and created.finished_at is None
    assert created.attempts == 0
    assert created.wiro_task_id is None and created.wiro_socket_token is None
    assert created.input_url == "https://cdn.example/selfie.jpg"
    assert created.outputs == outputs
    assert created.status_message_ref == "-1001234567890:555"
    assert created.result_message_ref is None
    assert created.failure_reason == "" and created.failure_message == ""
    assert created.cost == 0.0125
    assert created.selfie_path == str(Path("/data/selfies/1.jpg"))
    assert created.selfie_expires_at == selfie_expires
    assert created.is_active and not created.is_final

    fetched = await ledger.get(created.id)
    assert fetched == created
    every_time = [getattr(fetched, f.name) for f in fields(Job)]
    assert all(value.tzinfo is UTC for value in every_time if isinstance(value, datetime))
    assert await ledger.get(created.id + 1000) is None

    # Every updatable field, set and then cleared again.
    clock.advance(seconds=5)
    updated = await ledger.update(
        created.id,
        wiro_task_id="t-1",
        wiro_socket_token="sock",
        failure_reason="no_face",
        failure_message="No face found.",
        result_message_ref="777",
    )
    assert updated.updated_at == START + timedelta(seconds=5)
    assert (updated.wiro_task_id, updated.wiro_socket_token) == ("t-1", "sock")
    assert (updated.failure_reason, updated.failure_message) == ("no_face", "No face found.")
    cleared = await ledger.update(
        created.id, **dict.fromkeys(UPDATABLE_FIELDS - {"failure_reason", "failure_message"})
    )
    assert cleared.outputs == [] and cleared.cost is None and cleared.selfie_path is None
    assert cleared.input_url is None and cleared.status_message_ref is None
    assert await ledger.get(created.id) == cleared


async def test_values_are_checked(ledger: SqliteLedger) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await new_job(ledger, not_before=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="JSON"):
        await new_job(ledger, params={"selfie": b"\xff\xd8 never the bytes"})
    with pytest.raises(ValueError, match="JSON"):
        await new_job(ledger, params={"guidance": float("nan")})
    with pytest.raises(TypeError, match="requester"):
        await new_job(ledger, requester=1001)
    with pytest.raises(ValueError, match="scope must not be empty"):
        await new_job(ledger, scope="")
    with pytest.raises(TypeError, match="reply_address must be a mapping"):
        await new_job(ledger, reply_address="channel 3003")
    with pytest.raises(TypeError, match="state"):
        await new_job(ledger, state=JobState.RUNNING)
    job = await new_job(ledger)
    with pytest.raises(TypeError, match="cannot be set here: attempts, state"):
        await ledger.update(job.id, state="delivered", attempts=3)
    with pytest.raises(TypeError, match="list of mappings"):
        await ledger.update(job.id, outputs=["https://cdn.example/1.png"])
    with pytest.raises(JobNotFound):
        await ledger.update(job.id + 1, cost=1.0)
    assert await ledger.get(job.id) == job  # nothing half-written
    assert len(await ledger.unfinished()) == 1


async def test_reply_secret_never_in_repr(ledger: SqliteLedger) -> None:
    job = await new_job(ledger, input_url="https://cdn.example/face-of-member.jpg")
    job = await ledger.update(job.id, wiro_socket_token="socket-secret")
    assert job.reply_secret == TOKEN
    for text in (repr(job), str(job)):
        assert TOKEN not in text
        assert "socket-secret" not in text
        assert "face-of-member" not in text
        assert f"id={job.id}" in text


# ====================================================================== state table


def test_state_table_shape() -> None:
    assert set(TRANSITIONS) == set(JobState)
    assert set(JobState) == FINAL_STATES | ACTIVE_STATES
    assert not FINAL_STATES & ACTIVE_STATES
    assert {
        JobState.DELIVERED,
        JobState.FAILED,
        JobState.CANCELLED,
        JobState.UNCONFIRMED,
        JobState.KEPT,
    } == FINAL_STATES
    # Final for the queue; only a kept result leads on, when the member has it sent again.
    for state in FINAL_STATES - {JobState.KEPT}:
        assert TRANSITIONS[state] == frozenset()
    # "Send again" claims a kept result (a compare-and-set) before posting it.
    assert TRANSITIONS[JobState.KEPT] == {JobState.DELIVERING}
    for state in ACTIVE_STATES:
        assert TRANSITIONS[state], f"{state} must lead somewhere"
    # The money rules: the only way back to the queue is a refused run call, and a job whose
    # run call may have reached Wiro is never cancelled or requeued from the bot's side.
    assert sources_of(JobState.QUEUED) == {JobState.SUBMITTING}
    assert not can_transition(JobState.RUNNING, JobState.QUEUED)
    assert not can_transition(JobState.SUBMITTING, JobState.CANCELLED)
    assert sources_of(JobState.UNCONFIRMED) == {JobState.SUBMITTING}
    assert sources_of(JobState.RUNNING) == {JobState.SUBMITTING}
    assert sources_of(JobState.DELIVERED) == {JobState.DELIVERING}
    assert sources_of(JobState.DELIVERING) == {JobState.RUNNING, JobState.KEPT}
    assert sources_of(JobState.KEPT) == {JobState.DELIVERING}


@pytest.mark.parametrize("start", list(JobState))
@pytest.mark.parametrize("target", list(JobState))
async def test_every_pair_follows_the_table(
    ledger: SqliteLedger, start: JobState, target: JobState
) -> None:
    if start is JobState.QUEUED:
        job = await new_job(ledger)
    else:
        job = await run_to(ledger, await new_job(ledger), start)
    assert job.state is start
    extra = {"wiro_task_id": "task-x", "result_message_ref": "42"}
    if can_transition(start, target):
        moved = await ledger.transition(job.id, target, expected=start, **extra)
        assert moved.state is target
    else:
        with pytest.raises(InvalidTransition):
            await ledger.transition(job.id, target, expected=start, **extra)
        with pytest.raises(InvalidTransition):
            await ledger.transition(job.id, target, **extra)
        assert (await ledger.get(job.id)) == job


async def test_transition_records_events_in_order(ledger: SqliteLedger, clock: Clock) -> None:
    job = await new_job(ledger)
    t1 = clock.advance(seconds=1)
    job = await ledger.transition(job.id, JobState.SUBMITTING, expected=JobState.QUEUED)
    assert job.submitted_at == t1 and job.updated_at == t1
    t2 = clock.advance(seconds=2)
    job = await ledger.transition(
        job.id,
        JobState.RUNNING,
        expected=JobState.SUBMITTING,
        wiro_task_id="task-1",
        wiro_socket_token="sock-1",
        input_url="https://cdn.example/in.jpg",
        note="run accepted",
    )
    assert (job.wiro_task_id, job.wiro_socket_token) == ("task-1", "sock-1")
    t3 = clock.advance(seconds=30)
    outputs = [{"url": "u", "name": "n.png", "content_type": "image/png", "size": 10}]
    job = await ledger.transition(job.id, JobState.DELIVERING, outputs=outputs, cost=0.02)
    t4 = clock.advance(seconds=1)
    job = await ledger.transition(
        job.id, JobState.DELIVERED, expected=JobState.DELIVERING, result_message_ref="99"
    )
    assert job.state is JobState.DELIVERED and job.is_final
    assert job.finished_at == t4 and job.updated_at == t4
    assert job.outputs == outputs and job.cost == 0.02 and job.result_message_ref == "99"
    assert job.created_at == START and job.submitted_at == t1

    events = await ledger.events(job.id)
    assert [(e.from_state, e.to_state, e.at) for e in events] == [
        (None, JobState.QUEUED, START),
        (JobState.QUEUED, JobState.SUBMITTING, t1),
        (JobState.SUBMITTING, JobState.RUNNING, t2),
        (JobState.RUNNING, JobState.DELIVERING, t3),
        (JobState.DELIVERING, JobState.DELIVERED, t4),
    ]
    assert events[2].note == "run accepted"
    assert all(e.job_id == job.id for e in events)
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert await ledger.events(job.id + 1) == []


async def test_stale_transition_changes_nothing(ledger: SqliteLedger) -> None:
    job = await run_to(ledger, await new_job(ledger), JobState.RUNNING)
    # A cancel and the worker race: the worker delivered first.
    await ledger.transition(job.id, JobState.DELIVERING, expected=JobState.RUNNING)
    with pytest.raises(StaleTransition) as caught:
        await ledger.transition(
            job.id,
            JobState.CANCELLED,
            expected={JobState.QUEUED, JobState.RUNNING},
            failure_reason="cancelled",
        )
    assert caught.value.actual is JobState.DELIVERING
    assert caught.value.expected == {JobState.QUEUED, JobState.RUNNING}
    assert caught.value.to_state is JobState.CANCELLED
    after = await ledger.get(job.id)
    assert after is not None
    assert after.state is JobState.DELIVERING and after.failure_reason == ""
    assert [e.to_state for e in await ledger.events(job.id)][-1] is JobState.DELIVERING

    with pytest.raises(JobNotFound):
        await ledger.transition(job.id + 1, JobState.SUBMITTING, expected=JobState.QUEUED)
    with pytest.raises(ValueError):
        await ledger.transition(job.id, JobState.FAILED, expected=[])


async def test_entry_needs_task_id_and_result_message(ledger: SqliteLedger) -> None:
    job = await run_to(ledger, await new_job(ledger), JobState.SUBMITTING)
    with pytest.raises(InvalidTransition, match="wiro_task_id"):
        await ledger.transition(job.id, JobState.RUNNING)
    job = await ledger.transition(job.id, JobState.RUNNING, wiro_task_id="task-a")
    job = await ledger.transition(job.id, JobState.DELIVERING)
    with pytest.raises(InvalidTransition, match="result_message_ref"):
        await ledger.transition(job.id, JobState.DELIVERED)
    # Recorded first (the message is posted), then marked done: both orders work.
    await ledger.update(job.id, result_message_ref="321")
    done = await ledger.transition(job.id, JobState.DELIVERED, expected=JobState.DELIVERING)
    assert done.result_message_ref == "321"


async def test_one_task_belongs_to_one_job(ledger: SqliteLedger) -> None:
    first = await run_to(ledger, await new_job(ledger), JobState.SUBMITTING)
    second = await run_to(ledger, await new_job(ledger), JobState.SUBMITTING)
    await ledger.transition(first.id, JobState.RUNNING, wiro_task_id="same")
    with pytest.raises(ConstraintViolated):
        await ledger.transition(second.id, JobState.RUNNING, wiro_task_id="same")
    after = await ledger.get(second.id)
    assert after is not None and after.state is JobState.SUBMITTING
    # The failed transaction was rolled back: the ledger still works.
    assert (await ledger.transition(second.id, JobState.UNCONFIRMED)).is_final


async def test_concurrent_transitions_exactly_one_wins(ledger: SqliteLedger) -> None:
    job = await new_job(ledger)

    async def claim(worker: str) -> str:
        await ledger.transition(
            job.id, JobState.SUBMITTING, expected=JobState.QUEUED, note=f"claimed by {worker}"
        )
        return worker

    results = await asyncio.gather(claim("a"), claim("b"), return_exceptions=True)
    winners = [r for r in results if isinstance(r, str)]
    losers = [r for r in results if isinstance(r, StaleTransition)]
    assert len(winners) == 1 and len(losers) == 1
    events = await ledger.events(job.id)
    assert [e.note for e in events] == ["", f"claimed by {winners[0]}"]


async def test_two_processes_on_one_file_exactly_one_wins(db_path: Path, clock: Clock) -> None:
    async with (
        await SqliteLedger.open(db_path, clock=clock) as one,
        await SqliteLedger.open(db_path, clock=clock) as two,
    ):
        jobs = [await new_job(one) for _ in range(20)]

        async def grab(ledger: SqliteLedger, job_id: int) -> bool:
            try:
                await ledger.transition(job_id, JobState.SUBMITTING, expected=JobState.QUEUED)
            except StaleTransition:
                return False
            return True

        results = await asyncio.gather(
            *(grab(ledger, job.id) for job in jobs for ledger in (one, two))
        )
        assert sum(results) == len(jobs)
        for job in jobs:
            assert len(await two.events(job.id)) == 2
        assert await one.queued() == []


async def test_cancelled_callers_leave_the_ledger_usable(ledger: SqliteLedger) -> None:
    # Cancel a transition a little later each time, so that the cancel lands before, inside
    # and after its transaction (where exactly depends on the machine; the checks do not).
    for step in range(60):
        job = await new_job(ledger)
        task = asyncio.create_task(ledger.transition(job.id, JobState.CANCELLED, note="x"))
        await asyncio.sleep(step * 0.00002)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        # No transaction is left open, and the row and its events agree.
        current = await ledger.get(job.id)
        assert current is not None
        events = await ledger.events(job.id)
        assert events[-1].to_state is current.state
        assert len(events) == (1 if current.state is JobState.QUEUED else 2)
    later = await new_job(ledger)
    assert (await ledger.transition(later.id, JobState.CANCELLED)).is_final


# ====================================================================== queue


async def test_queue_order_and_positions_with_a_requeued_job(
    ledger: SqliteLedger, clock: Clock
) -> None:
    a = await new_job(ledger, requester="discord:1")
    clock.advance(seconds=1)
    b = await new_job(ledger, requester="discord:2")
    c = await new_job(ledger, requester="discord:3")  # same created_at as b: id breaks the tie
    clock.advance(seconds=1)
    d = await new_job(ledger, requester="discord:4")
    assert [j.id for j in await ledger.queued()] == [a.id, b.id, c.id, d.id]
    assert [await ledger.queue_position(j.id) for j in (a, b, c, d)] == [1, 2, 3, 4]

    clock.advance(seconds=1)
    await ledger.transition(a.id, JobState.SUBMITTING, expected=JobState.QUEUED)
    await ledger.transition(c.id, JobState.CANCELLED, expected=JobState.QUEUED)
    assert [j.id for j in await ledger.queued()] == [b.id, d.id]
    assert await ledger.queue_position(a.id) is None
    assert await ledger.queue_position(c.id) is None
    assert await ledger.queue_position(d.id) == 2
    assert await ledger.queue_position(9999) is None

    # Wiro refused the run (its concurrency limit): back to its original place.
    clock.advance(seconds=1)
    requeued = await ledger.transition(
        a.id, JobState.QUEUED, expected=JobState.SUBMITTING, note="wiro busy"
    )
    assert requeued.attempts == 1 and requeued.submitted_at is None
    assert requeued.created_at == a.created_at
    assert [j.id for j in await ledger.queued()] == [a.id, b.id, d.id]
    assert await ledger.queue_position(a.id) == 1
    assert await ledger.queue_position(d.id) == 3

    again = await ledger.transition(a.id, JobState.SUBMITTING)
    again = await ledger.transition(a.id, JobState.QUEUED)
    assert again.attempts == 2

    unfinished = await ledger.unfinished()
    assert [j.id for j in unfinished] == [a.id, b.id, d.id]


async def test_unfinished_lists_every_active_state_oldest_first(
    ledger: SqliteLedger, clock: Clock
) -> None:
    made = {}
    for state in JobState:
        made[state] = await run_to(ledger, await new_job(ledger), state)
        clock.advance(minutes=1)
    unfinished = await ledger.unfinished()
    assert [j.state for j in unfinished] == [s for s in JobState if s in ACTIVE_STATES]
    assert [j.id for j in unfinished] == sorted(j.id for j in unfinished)


# ====================================================================== limits and quotas


async def test_counts_for_limits_and_quotas(ledger: SqliteLedger, clock: Clock) -> None:
    member, other = "discord:10", "discord:11"
    guild, other_guild = "discord:guild:500", "discord:guild:501"
    day_start = START
    old = await new_job(ledger, requester=member, scope=guild)  # created before the window
    await run_to(ledger, old, JobState.DELIVERED)

    t_first = clock.advance(hours=1)
    delivered = await run_to(
        ledger, await new_job(ledger, requester=member, scope=guild), JobState.DELIVERED
    )
    clock.advance(minutes=1)
    # Cancelled while queued, failed before the run call: never reached Wiro, cost nothing.
    await run_to(ledger, await new_job(ledger, requester=member, scope=guild), JobState.CANCELLED)
    never_ran = await new_job(ledger, requester=member, scope=guild)
    await ledger.transition(never_ran.id, JobState.FAILED, failure_reason="rejected")
    # Refused by Wiro once (requeued), then cancelled: still never ran.
    refused = await new_job(ledger, requester=member, scope=guild)
    await ledger.transition(refused.id, JobState.SUBMITTING)
    await ledger.transition(refused.id, JobState.QUEUED)
    await ledger.transition(refused.id, JobState.CANCELLED)
    # Counted: cancelled while running at Wiro, failed at Wiro, unconfirmed, still active.
    await run_to(ledger, await new_job(ledger, requester=member, scope=guild), JobState.FAILED)
    running = await run_to(
        ledger, await new_job(ledger, requester=member, scope=guild), JobState.RUNNING
    )
    await ledger.transition(running.id, JobState.CANCELLED, expected=JobState.RUNNING)
    await run_to(ledger, await new_job(ledger, requester=member, scope=guild), JobState.UNCONFIRMED)
    await new_job(ledger, requester=member, scope=guild)  # QUEUED
    await run_to(
        ledger, await new_job(ledger, requester=member, scope="discord:dm:10"), JobState.SUBMITTING
    )
    await run_to(ledger, await new_job(ledger, requester=other, scope=guild), JobState.RUNNING)
    await new_job(ledger, requester=other, scope=other_guild)
    t_last = clock.advance(minutes=5)
    await new_job(ledger, requester=other, scope=guild)

    since = day_start + timedelta(minutes=30)
    assert await ledger.count_active(member) == 2  # the QUEUED one and the SUBMITTING DM job
    assert await ledger.count_active(other) == 3
    assert await ledger.count_active("discord:12345") == 0

    # delivered, failed, cancelled-while-running, unconfirmed, queued, submitting (DM)
    assert await ledger.count_since(since=since, requester=member) == 6
    assert await ledger.count_since(since=since, requester=member, scope=guild) == 5
    assert await ledger.count_since(since=since, scope=guild) == 7
    assert await ledger.count_since(since=since, scope=other_guild) == 1
    assert await ledger.count_since(since=since) == 9
    just_before = day_start - timedelta(microseconds=1)
    assert await ledger.count_since(since=just_before, requester=member) == 7  # + the old one
    # The window is (since, now]: a job made exactly at `since` has just stopped counting.
    assert await ledger.count_since(since=day_start, requester=member) == 6
    assert await ledger.count_since(since=t_last + timedelta(seconds=1)) == 0

    assert await ledger.oldest_since(since=since, requester=member) == t_first
    assert delivered.created_at == t_first
    assert await ledger.oldest_since(since=just_before, scope=guild) == START
    assert await ledger.oldest_since(since=since, scope=other_guild) == t_first + timedelta(
        minutes=1
    )
    assert await ledger.oldest_since(since=t_last + timedelta(seconds=1)) is None

    # Nothing waits for a cooldown here: a request was due when it was made.
    assert await ledger.last_due_at(member) == t_first + timedelta(minutes=1)
    assert await ledger.last_due_at(other) == t_last
    assert await ledger.last_due_at("discord:12345") is None

    with pytest.raises(ValueError, match="timezone-aware"):
        await ledger.count_since(since=datetime(2025, 1, 1))


async def test_history_is_newest_first_and_limited(ledger: SqliteLedger, clock: Clock) -> None:
    made = []
    for _ in range(12):
        made.append(await new_job(ledger, requester="discord:77"))
        clock.advance(seconds=1)
    await new_job(ledger, requester="discord:78")
    await run_to(ledger, made[-1], JobState.DELIVERED)
    history = await ledger.recent_for("discord:77")
    assert [j.id for j in history] == [j.id for j in reversed(made)][:10]
    assert history[0].state is JobState.DELIVERED
    assert [j.id for j in await ledger.recent_for("discord:77", limit=3)] == [
        made[11].id,
        made[10].id,
        made[9].id,
    ]
    assert await ledger.recent_for("discord:77", limit=0) == []
    assert await ledger.recent_for("discord:79") == []


# ====================================================================== selfies and pruning


async def test_expired_selfies(ledger: SqliteLedger) -> None:
    soon = await new_job(
        ledger, selfie_path="/s/1.jpg", selfie_expires_at=START + timedelta(hours=1)
    )
    later = await new_job(
        ledger, selfie_path="/s/2.jpg", selfie_expires_at=START + timedelta(hours=5)
    )
    await new_job(ledger)  # no selfie kept
    gone = await new_job(ledger, selfie_path="/s/3.jpg", selfie_expires_at=START)
    await ledger.update(gone.id, selfie_path=None)  # already deleted
    # Still waiting to be started: its selfie is uploaded only then, whatever the time.
    waiting = await new_job(ledger, selfie_path="/s/4.jpg", selfie_expires_at=START)
    for job in (soon, later, gone):
        await ledger.transition(job.id, JobState.CANCELLED)

    assert await ledger.expired_selfies(START) == []
    hour = START + timedelta(hours=1)
    assert [j.id for j in await ledger.expired_selfies(hour)] == [soon.id]
    assert [j.id for j in await ledger.expired_selfies(hour + timedelta(days=1))] == [
        soon.id,
        later.id,
    ]
    await ledger.transition(waiting.id, JobState.CANCELLED)
    assert waiting.id in [j.id for j in await ledger.expired_selfies(hour)]


async def test_prune_keeps_unfinished_recent_and_selfie_holding_jobs(
    ledger: SqliteLedger, clock: Clock
) -> None:
    old_done = await run_to(ledger, await new_job(ledger), JobState.DELIVERED)
    old_failed = await run_to(ledger, await new_job(ledger), JobState.FAILED)
    old_queued = await new_job(ledger)
    old_running = await run_to(ledger, await new_job(ledger), JobState.RUNNING)
    old_with_selfie = await run_to(
        ledger, await new_job(ledger, selfie_path="/s/kept.jpg"), JobState.CANCELLED
    )
    clock.advance(days=31)
    recent_done = await run_to(ledger, await new_job(ledger), JobState.DELIVERED)

    cutoff = clock.now - timedelta(days=30)
    assert await ledger.prune(cutoff) == 2
    assert await ledger.get(old_done.id) is None
    assert await ledger.get(old_failed.id) is None
    assert await ledger.events(old_done.id) == []
    assert await ledger.events(old_failed.id) == []
    for kept in (old_queued, old_running, old_with_selfie, recent_done):
        assert await ledger.get(kept.id) is not None
        assert await ledger.events(kept.id) != []
    assert await ledger.prune(cutoff) == 0

    # Once the selfie is deleted the row goes at the next prune (clock moved past its update).
    await ledger.update(old_with_selfie.id, selfie_path=None)
    clock.advance(days=31)
    assert await ledger.prune(clock.now - timedelta(days=30)) == 2  # + recent_done
    assert await ledger.get(old_with_selfie.id) is None

    # Ids are never reused after pruning (they travel in button custom_ids).
    fresh = await new_job(ledger)
    assert fresh.id > recent_done.id
    async with ledger.reading() as db:
        orphans = await db.fetch_value(
            "SELECT COUNT(*) FROM job_events WHERE job_id NOT IN (SELECT id FROM jobs)"
        )
    assert orphans == 0


# ====================================================================== migrations


def test_migration_files_are_numbered_in_order() -> None:
    migrations = load_migrations()
    assert [m.number for m in migrations] == list(range(1, len(migrations) + 1))
    assert len(migrations) >= 2
    assert migrations[0].name == "0001_jobs.sql"
    for migration in migrations:
        assert migration.statements(), migration.name


def test_statement_splitting_keeps_triggers_whole() -> None:
    migration = Migration(
        9,
        "0009_x.sql",
        "-- a comment; with a semicolon\nCREATE TABLE t (a TEXT DEFAULT ';');\n"
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = 'x;y'; END;\n"
        "-- trailing comment\n",
    )
    statements = migration.statements()
    assert len(statements) == 2
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")
    with pytest.raises(LedgerError, match="incomplete"):
        Migration(9, "0009_x.sql", "CREATE TABLE t (a TEXT").statements()


def test_gaps_in_migration_numbers_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "gappy_migrations"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "0001_a.sql").write_text("CREATE TABLE a (x);")
    (package / "0003_c.sql").write_text("CREATE TABLE c (x);")
    (package / "notes.txt").write_text("ignored")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(LedgerError, match=r"0003_c\.sql"):
        load_migrations("gappy_migrations")


async def test_fresh_file_gets_the_whole_schema(db_path: Path) -> None:
    assert not db_path.parent.exists()
    async with await SqliteLedger.open(db_path):
        pass
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == len(load_migrations())
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        columns = {row[1] for row in raw.execute("PRAGMA table_info(jobs)")}
    assert {f.name for f in fields(Job)} <= columns


async def test_upgrade_from_a_database_made_by_0001_only(db_path: Path, clock: Clock) -> None:
    # What an older bot left behind: only the first migration, and a job in flight.
    db_path.parent.mkdir(parents=True)
    first = load_migrations()[0]
    with sqlite3.connect(db_path) as raw:
        raw.executescript(first.sql)
        raw.execute("PRAGMA user_version = 1")
        raw.execute(
            "INSERT INTO jobs (user_id, guild_id, channel_id, interaction_id, interaction_token,"
            " token_expires_at, params, state, created_at, updated_at, submitted_at,"
            " wiro_task_id) VALUES (5, 6, 7, 8, 'old-token', '2025-02-01T10:15:00.000000Z',"
            " '{\"steps\": 20}', 'running', '2025-02-01T10:00:00.000000Z',"
            " '2025-02-01T10:00:01.000000Z', '2025-02-01T10:00:01.000000Z', 'task-old')"
        )
        raw.execute(
            "INSERT INTO job_events (job_id, from_state, to_state, at) "
            "VALUES (1, 'submitting', 'running', '2025-02-01T10:00:01.000000Z')"
        )
    raw.close()

    async with await SqliteLedger.open(db_path, clock=clock) as ledger:
        job = await ledger.get(1)
        assert job is not None
        assert job.state is JobState.RUNNING and job.wiro_task_id == "task-old"
        assert job.params == {"steps": 20} and job.reply_secret == "old-token"
        assert job.requester == "discord:5" and job.scope == "discord:guild:6"
        assert job.created_at == datetime(2025, 2, 1, 10, 0, tzinfo=UTC)
        assert job.status_message_ref is None and job.selfie_path is None
        assert job.selfie_expires_at is None
        assert [j.id for j in await ledger.unfinished()] == [1]

        # The columns 0002 added work.
        job = await ledger.update(
            1, status_message_ref="1234", selfie_path="/s/old.jpg", selfie_expires_at=START
        )
        assert job.status_message_ref == "1234"
        assert await ledger.expired_selfies(START) == []  # the job is not over yet
        job = await ledger.transition(1, JobState.DELIVERING, expected=JobState.RUNNING)
        assert len(await ledger.events(1)) == 2

    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == len(load_migrations())
        indexes = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
    raw.close()
    assert "jobs_by_selfie_expiry" in indexes


def _platform_neutral_migration() -> Migration:
    (found,) = [m for m in load_migrations() if m.name.endswith("_platform_neutral_jobs.sql")]
    return found


async def test_the_platform_neutral_migration_converts_every_job_of_the_discord_schema(
    db_path: Path, clock: Clock
) -> None:
    # A database made by the schema before the conversion, with a job in every state, in a
    # server and in DMs, with and without status and result messages, and their events.
    neutral = _platform_neutral_migration()
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path, isolation_level=None) as raw:
        raw.execute("PRAGMA foreign_keys = ON")
        for migration in load_migrations()[: neutral.number - 1]:
            raw.executescript(migration.sql)
        raw.execute(f"PRAGMA user_version = {neutral.number - 1:d}")
        for number, state in enumerate(JobState, start=1):
            guild = None if number % 2 else 7000 + number
            status = 5000 + number if number % 3 else None
            result = 6000 + number if state is JobState.DELIVERED else None
            raw.execute(
                "INSERT INTO jobs (user_id, guild_id, channel_id, interaction_id,"
                " interaction_token, token_expires_at, params, state, created_at, updated_at,"
                " status_message_id, result_message_id, not_before, delivery_nonce)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    2**62 + number,  # Discord snowflakes need 64-bit integers
                    guild,
                    3000 + number,
                    4000 + number,
                    f"token-{number}",
                    f"2025-02-01T10:{number:02d}:00.000000Z",
                    '{"steps": 20}',
                    state.value,
                    f"2025-02-01T10:00:{number:02d}.000000Z",
                    f"2025-02-01T10:00:{number:02d}.000000Z",
                    status,
                    result,
                    None,
                    f"portrait-{number}",
                ),
            )
            raw.execute(
                "INSERT INTO job_events (job_id, from_state, to_state, at) VALUES (?, NULL, ?, ?)",
                (number, state.value, "2025-02-01T10:00:00.000000Z"),
            )
    raw.close()

    async with await SqliteLedger.open(db_path, clock=clock) as ledger:
        for number, state in enumerate(JobState, start=1):
            job = await ledger.get(number)
            assert job is not None, state
            user = 2**62 + number
            guild = None if number % 2 else 7000 + number
            assert job.state is state and job.platform == "discord"
            assert job.requester == f"discord:{user}"
            assert job.scope == (f"discord:guild:{guild}" if guild else f"discord:dm:{user}")
            assert job.reply_address == {
                "user_id": user,
                "guild_id": guild,
                "channel_id": 3000 + number,
                "interaction_id": 4000 + number,
                "token_expires_at": f"2025-02-01T10:{number:02d}:00.000000Z",
            }
            assert job.reply_secret == f"token-{number}"
            assert job.status_message_ref == (str(5000 + number) if number % 3 else None)
            expected_result = str(6000 + number) if state is JobState.DELIVERED else None
            assert job.result_message_ref == expected_result
            assert job.params == {"steps": 20} and job.delivery_nonce == f"portrait-{number}"
            assert [event.to_state for event in await ledger.events(number)] == [state]
        assert len(await ledger.unfinished()) == len(ACTIVE_STATES)
        # The limits count by the converted keys.
        assert await ledger.count_active(f"discord:{2**62 + 1}") == 1  # job 1 is QUEUED
        assert await ledger.recent_for(f"discord:{2**62 + 2}") == [await ledger.get(2)]
        since = datetime(2025, 2, 1, tzinfo=UTC)
        assert await ledger.count_since(since=since, scope="discord:guild:7002") == 1

    with sqlite3.connect(db_path) as raw:
        columns = {row[1] for row in raw.execute("PRAGMA table_info(jobs)")}
        indexes = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
    raw.close()
    assert not columns & {"user_id", "guild_id", "channel_id", "interaction_token"}
    assert {"jobs_by_requester", "jobs_by_scope", "jobs_by_due", "jobs_by_wiro_task"} <= indexes


async def test_a_newer_database_is_refused(db_path: Path) -> None:
    async with await SqliteLedger.open(db_path) as ledger:
        await new_job(ledger)
    newer = len(load_migrations()) + 1
    with sqlite3.connect(db_path) as raw:
        raw.execute(f"PRAGMA user_version = {newer}")
    raw.close()
    with pytest.raises(LedgerError, match=f"schema version {newer}.*newer version of the bot"):
        await SqliteLedger.open(db_path)
    with sqlite3.connect(db_path) as raw:  # left untouched
        assert raw.execute("PRAGMA user_version").fetchone()[0] == newer
        assert raw.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 1
    raw.close()


async def test_a_failing_migration_changes_nothing(tmp_path: Path) -> None:
    migrations = [
        Migration(1, "0001_a.sql", "CREATE TABLE a (x INTEGER);"),
        Migration(2, "0002_b.sql", "CREATE TABLE b (x INTEGER);\nINSERT INTO nowhere VALUES (1);"),
    ]
    async with aiosqlite.connect(tmp_path / "m.sqlite3", isolation_level=None) as db:
        with pytest.raises(LedgerError, match=r"0002_b\.sql"):
            await migrate(db, migrations)
        assert (await db.execute_fetchall("PRAGMA user_version"))[0][0] == 1
        tables = {row[0] for row in await db.execute_fetchall("SELECT name FROM sqlite_master")}
        assert tables == {"a"}
        assert await migrate(db, migrations[:1]) == 1  # nothing left to do


# ====================================================================== durability


async def test_reopening_keeps_every_job(db_path: Path, clock: Clock) -> None:
    async with await SqliteLedger.open(db_path, clock=clock) as ledger:
        queued = await new_job(ledger)
        running = await run_to(ledger, await new_job(ledger), JobState.RUNNING)
        done = await run_to(
            ledger, await new_job(ledger, scope="discord:dm:1001"), JobState.DELIVERED
        )
        before = {job.id: job for job in (queued, running, done)}
        events_before = {job_id: await ledger.events(job_id) for job_id in before}
    assert ledger.closed
    with pytest.raises(LedgerError, match="closed"):
        await ledger.get(queued.id)
    await ledger.close()  # closing twice is fine

    async with await SqliteLedger.open(db_path, clock=clock) as reopened:
        for job_id, job in before.items():
            assert await reopened.get(job_id) == job
            assert await reopened.events(job_id) == events_before[job_id]
        assert [j.id for j in await reopened.unfinished()] == [queued.id, running.id]


async def test_the_whole_line_and_rows_by_id_each_come_from_one_query(
    ledger: SqliteLedger, clock: Clock
) -> None:
    late = await new_job(ledger, requester="discord:1", not_before=START + timedelta(seconds=30))
    clock.advance(seconds=1)
    jobs = [await new_job(ledger, requester=f"discord:{user}") for user in (2, 3, 4)]
    await ledger.transition(jobs[1].id, JobState.CANCELLED, expected=JobState.QUEUED)

    order = await ledger.queue_order()
    assert [entry.id for entry in order] == [job.id for job in await ledger.queued()]
    assert [entry.id for entry in order] == [jobs[0].id, jobs[2].id, late.id]
    assert [entry.not_before for entry in order] == [None, None, late.not_before]
    for place, entry in enumerate(order, start=1):
        assert await ledger.queue_position(entry.id) == place

    found = await ledger.jobs([jobs[2].id, 9999, late.id, late.id])
    assert found == [await ledger.get(late.id), await ledger.get(jobs[2].id)]
    assert await ledger.jobs([]) == []


async def test_default_path_is_inside_the_data_dir(tmp_path: Path) -> None:
    assert SqliteLedger.default_path(tmp_path) == tmp_path / LEDGER_FILENAME


async def test_a_job_waiting_for_a_cooldown_takes_its_place_when_it_becomes_due(
    ledger: SqliteLedger, clock: Clock
) -> None:
    # Alice asked inside her cooldown: her job is due 30 s from now. Bob and Carol ask after her
    # but are due at once; Dan asks once her wait is over.
    alice = await new_job(ledger, requester="discord:1", not_before=START + timedelta(seconds=30))
    clock.advance(seconds=1)
    bob = await new_job(ledger, requester="discord:2")
    carol = await new_job(ledger, requester="discord:3")
    clock.advance(seconds=40)
    dan = await new_job(ledger, requester="discord:4")

    assert alice.not_before == START + timedelta(seconds=30) and bob.not_before is None
    assert [job.id for job in await ledger.queued()] == [bob.id, carol.id, alice.id, dan.id]
    positions = [await ledger.queue_position(job.id) for job in (bob, carol, alice, dan)]
    assert positions == [1, 2, 3, 4]
    # The cooldown counts from when her latest request is due to start, not when it was made.
    assert await ledger.last_due_at("discord:1") == START + timedelta(seconds=30)
    assert await ledger.last_due_at("discord:2") == bob.created_at
    assert (await ledger.get(alice.id)).not_before == alice.not_before  # type: ignore[union-attr]
