"""Job claims (issue 14): `MAX_RUNNING_TASKS` counted over the whole ledger, queued jobs
reserved in order, and unfinished jobs of a process that is gone picked up by another. On
SQLite the data folder's lock makes one process the only one, so every other holder's claims
are dead at once (a restart after a crash resumes at once); on PostgreSQL a holder's claims
live as long as its lease."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.core.jobs.claims import PROCESS_LEASE_TTL, JobClaims
from bot.core.jobs.leases import Leases
from bot.core.jobs.ledger import Clock, JobState, utc_now
from bot.core.jobs.sql_ledger import SqlLedger
from tests.support.insight import Clock as HandClock
from tests.support.ledgers import OpenLedger
from tests.test_ledger import new_job, run_to


@pytest.fixture
async def ledger(open_ledger: OpenLedger) -> SqlLedger:
    return await open_ledger()


def claims_of(ledger: SqlLedger, holder: str, clock: Clock = utc_now) -> JobClaims:
    return JobClaims(ledger, Leases(ledger, holder, clock=clock), clock=clock)


async def claimed_by(ledger: SqlLedger, job_id: int) -> str | None:
    async with ledger.reading() as db:
        rows = list(
            await db.execute_fetchall("SELECT claimed_by FROM jobs WHERE id = ?", (job_id,))
        )
    return rows[0][0]


async def test_reserve_counts_every_job_at_wiro_and_keeps_queue_order(ledger) -> None:
    claims = claims_of(ledger, "me")
    await claims.heartbeat()
    jobs = [await new_job(ledger) for _ in range(5)]
    await run_to(ledger, jobs[0], JobState.RUNNING)  # one task at Wiro already
    queued = [job.id for job in jobs[1:]]
    assert await claims.reserve(queued, max_running=3) == queued[:2]
    # Asked again before starting them: the same two (ours), no third.
    assert await claims.reserve(queued, max_running=3) == queued[:2]
    assert [await claimed_by(ledger, job_id) for job_id in queued] == ["me", "me", None, None]
    await claims.release_queued()
    assert [await claimed_by(ledger, job_id) for job_id in queued] == [None] * 4
    assert await claims.reserve(queued, max_running=1) == []  # the running one fills it
    assert await claims.reserve([], max_running=3) == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # PostgreSQL: the lease (below)
async def test_a_restart_adopts_the_started_jobs_of_the_process_before(ledger) -> None:
    before = claims_of(ledger, "before")
    await before.heartbeat()
    queued = await new_job(ledger)
    running = await run_to(ledger, await new_job(ledger), JobState.RUNNING)
    delivering = await run_to(ledger, await new_job(ledger), JobState.DELIVERING)
    done = await run_to(ledger, await new_job(ledger), JobState.DELIVERED)
    legacy = await run_to(ledger, await new_job(ledger), JobState.RUNNING)  # claimed by nobody
    assert await before.reserve([queued.id], max_running=5) == [queued.id]
    for job in (running, delivering, done):
        async with ledger.transaction() as db:
            await db.execute("UPDATE jobs SET claimed_by = 'before' WHERE id = ?", (job.id,))

    after = claims_of(ledger, "after")  # the next process on this data folder
    await after.heartbeat()
    assert sorted(await after.adopt_orphans()) == sorted([running.id, delivering.id, legacy.id])
    assert await claimed_by(ledger, running.id) == "after"
    assert await after.adopt_orphans() == []  # its own now
    # The queued job "before" had reserved is free to start again.
    assert await after.reserve([queued.id], max_running=5) == [queued.id]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_processes_share_the_limit_and_adopt_a_dead_ones_jobs(open_ledger) -> None:
    clock = HandClock(datetime(2026, 11, 30, 6, 0, tzinfo=UTC))
    shared = await open_ledger()
    jobs = [await new_job(shared) for _ in range(6)]
    queued = [job.id for job in jobs]
    async with await open_ledger() as a_db, await open_ledger() as b_db:
        a, b = claims_of(a_db, "a", clock), claims_of(b_db, "b", clock)
        await asyncio.gather(a.heartbeat(), b.heartbeat())
        # Both ask for the whole queue at once: 3 slots in all, never more, none twice.
        got_a, got_b = await asyncio.gather(a.reserve(queued, 3), b.reserve(queued, 3))
        assert len(got_a) + len(got_b) == 3 and not set(got_a) & set(got_b)
        assert await a.reserve(queued, 3) == got_a and await b.reserve(queued, 3) == got_b

        # "a" starts its jobs, then dies (no more heartbeats); "b" keeps beating.
        started = [await run_to(a_db, await a_db.get(i), JobState.RUNNING) for i in got_a]
        assert await b.adopt_orphans() == []  # a's lease still runs
        clock.advance(seconds=PROCESS_LEASE_TTL.total_seconds() - 1)
        await b.heartbeat()
        assert await b.adopt_orphans() == []
        clock.advance(seconds=2)  # a's lease ran out; b renewed its own in time
        assert sorted(await b.adopt_orphans()) == sorted(job.id for job in started)
        assert await b.adopt_orphans() == []  # adopted once
        # a's slots are b's now: still 3 in all.
        assert len(await b.reserve(queued, 3)) == len(got_b)


async def test_updates_of_a_gone_process_are_handled_by_another_once(open_ledger, backend) -> None:
    clock = HandClock(datetime(2026, 11, 30, 6, 0, tzinfo=UTC))
    ledger = await open_ledger()
    a, b = claims_of(ledger, "a", clock), claims_of(ledger, "b", clock)
    await asyncio.gather(a.heartbeat(), b.heartbeat())
    source = "telegram:42"
    await ledger.inbox_add(source, [(1, {"n": 1}), (2, {"n": 2})], holder="a")
    await ledger.inbox_add(source, [(3, {"n": 3})], holder="b")
    await ledger.inbox_add(source, [(0, {"n": 0})])  # recorded before claims: nobody's
    await ledger.inbox_done(source, 2)
    if backend == "postgresql":
        # "a" lives: only the update that names nobody is free.
        assert [u.update_id for u in await b.adopt_updates(source)] == [0]
        clock.advance(seconds=PROCESS_LEASE_TTL.total_seconds() + 1)
        await b.heartbeat()  # "a" stopped renewing; "b" did
    adopted = await b.adopt_updates(source)
    # SQLite: one process per data folder, so "a" is gone at once.
    expected = [1] if backend == "postgresql" else [0, 1]
    assert [(u.update_id, u.payload) for u in adopted] == [(n, {"n": n}) for n in expected]
    assert await b.adopt_updates(source) == []  # its own (3 too) are not handed back
    if backend == "postgresql":  # "a" back after its lease ran out: "b" has them all
        assert await a.adopt_updates(source) == []
