"""Leases between bot processes: one holder at a time, renewed while it lives, taken over when
it stops renewing, and `hold_while` hands the work over without overlap."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.jobs.leases import Leases, process_holder
from bot.core.jobs.sql_ledger import SqlLedger
from tests.support.insight import Clock, until
from tests.support.ledgers import OpenLedger

START = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
TTL = timedelta(seconds=30)


@pytest.fixture
async def ledger(open_ledger: OpenLedger) -> SqlLedger:
    """The ledger on each database in turn (tests/support/ledgers.py)."""
    return await open_ledger()


async def test_one_holder_at_a_time_until_it_expires(ledger) -> None:
    clock = Clock(START)
    first, second = Leases(ledger, "a", clock=clock), Leases(ledger, "b", clock=clock)
    assert await first.acquire("telegram-polling:1", TTL)
    assert not await second.acquire("telegram-polling:1", TTL)
    assert await second.acquire("telegram-polling:2", TTL)  # another name is another lease
    clock.advance(seconds=29)
    assert await first.acquire("telegram-polling:1", TTL)  # renewed: 30 s from now
    clock.advance(seconds=29)
    assert not await second.acquire("telegram-polling:1", TTL)
    assert await second.holder_of("telegram-polling:1") == "a"
    clock.advance(seconds=2)  # "a" stopped renewing: expired
    assert await second.holder_of("telegram-polling:1") is None
    assert await second.acquire("telegram-polling:1", TTL)
    assert not await first.acquire("telegram-polling:1", TTL)
    await first.release("telegram-polling:1")  # not its own: nothing happens
    assert await first.holder_of("telegram-polling:1") == "b"
    await second.release("telegram-polling:1")
    assert await first.acquire("telegram-polling:1", TTL)


async def test_two_connections_race_for_one_lease(open_ledger: OpenLedger) -> None:
    # Two ledgers on one database (file), as two processes: exactly one wins each round.
    async with await open_ledger() as one, await open_ledger() as two:
        for round_ in range(5):
            name = f"lease-{round_}"
            won = await asyncio.gather(
                Leases(one, "a").acquire(name, TTL), Leases(two, "b").acquire(name, TTL)
            )
            assert sorted(won) == [False, True]


async def test_hold_while_hands_the_work_over_when_the_holder_dies(ledger) -> None:
    ttl = timedelta(seconds=0.6)
    running: list[str] = []
    overlaps: list[tuple[str, ...]] = []

    def worker(name: str):
        async def work(lost: asyncio.Event) -> None:
            running.append(name)
            overlaps.append(tuple(running))
            try:
                await lost.wait()
            finally:
                running.remove(name)

        return work

    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    a = asyncio.create_task(
        Leases(ledger, "a").hold_while("poll", worker("a"), stop_a, ttl=ttl, retry=0.05)
    )
    await until(lambda: running == ["a"], "a holds the lease")
    b = asyncio.create_task(
        Leases(ledger, "b").hold_while("poll", worker("b"), stop_b, ttl=ttl, retry=0.05)
    )
    await asyncio.sleep(1.0)
    assert running == ["a"]  # a renews; b waits
    a.cancel()  # a dies without releasing (SIGKILL): its lease expires, b takes over
    await asyncio.gather(a, return_exceptions=True)
    running.clear()
    await until(lambda: running == ["b"], "b took the lease", timeout=3)
    stop_b.set()  # stopping: the work is told (lost) and the lease released
    await asyncio.wait_for(b, 3)
    assert running == [] and await Leases(ledger, "c").holder_of("poll") is None
    assert all(len(names) == 1 for names in overlaps)


def test_holders_are_unique_per_process_start() -> None:
    assert process_holder() != process_holder()
