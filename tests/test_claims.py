"""Job claims (issue 14): `MAX_RUNNING_TASKS` counted over the whole ledger, queued jobs
reserved in order, and unfinished jobs of a process that is gone picked up by another. Here on
SQLite, where the data folder's lock makes one process the only one: every other holder's
claims are dead at once (a restart after a crash resumes at once)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core.jobs.claims import JobClaims
from bot.core.jobs.leases import Leases
from bot.core.jobs.ledger import JobState
from bot.core.jobs.sqlite_ledger import SqliteLedger
from tests.test_ledger import new_job, run_to


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[SqliteLedger]:
    async with await SqliteLedger.open(tmp_path / "jobs.sqlite3") as ledger:
        yield ledger


def claims_of(ledger: SqliteLedger, holder: str) -> JobClaims:
    return JobClaims(ledger, Leases(ledger, holder))


async def claimed_by(ledger: SqliteLedger, job_id: int) -> str | None:
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
