"""The ledger's update inbox (migration 0008): updates recorded once per source, handled ones
marked done, pending ones listed for start-up, pruning, and jobs found by their origin."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.jobs.ledger import InboxUpdate, LedgerError
from bot.core.jobs.sqlite_ledger import SqliteLedger, load_migrations
from tests.support.ledgers import OpenLedger
from tests.test_ledger import Clock, new_job

SOURCE = "telegram:7000000001"
SCHEMA_OBJECTS = "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"


@pytest.fixture
async def ledger(open_ledger: OpenLedger):
    """The ledger on each database in turn (tests/support/ledgers.py)."""
    clock = Clock()
    opened = await open_ledger(clock=clock)
    opened.test_clock = clock  # type: ignore[attr-defined]
    return opened


async def test_an_update_is_recorded_once_and_redeliveries_are_not_new(ledger) -> None:
    assert await ledger.inbox_add(SOURCE, [(5, {"update_id": 5}), (6, {"x": "é"})]) == [5, 6]
    assert await ledger.inbox_add(SOURCE, [(6, {"update_id": 6}), (7, {})]) == [7]
    # Ids are per bot: another bot's update 5 is another update.
    assert await ledger.inbox_add("telegram:42", [(5, {})]) == [5]
    await ledger.inbox_done(SOURCE, 5)
    await ledger.inbox_done(SOURCE, 99)  # unknown: ignored
    assert await ledger.inbox_pending(SOURCE) == [
        InboxUpdate(6, {"x": "é"}),  # the first payload recorded is kept
        InboxUpdate(7, {}),
    ]


async def test_only_handled_updates_are_pruned(ledger) -> None:
    clock = ledger.test_clock
    await ledger.inbox_add(SOURCE, [(1, {}), (2, {})])
    await ledger.inbox_done(SOURCE, 1)
    clock.advance(hours=49)
    assert await ledger.inbox_prune(clock.now - timedelta(hours=48)) == 1
    assert [u.update_id for u in await ledger.inbox_pending(SOURCE)] == [2]
    assert await ledger.inbox_add(SOURCE, [(1, {})]) == [1]  # forgotten: new again


async def test_bad_values_are_refused(ledger) -> None:
    with pytest.raises(LedgerError):
        await ledger.inbox_add("", [(1, {})])
    with pytest.raises(LedgerError):
        await ledger.inbox_add(SOURCE, [("1", {})])  # type: ignore[list-item]
    with pytest.raises(LedgerError):
        await ledger.inbox_add(SOURCE, [(1, {"x": object()})])
    assert await ledger.inbox_pending(SOURCE) == []


async def test_a_job_is_found_by_the_update_that_asked_for_it(ledger) -> None:
    first = await new_job(ledger, params={"options": {}, "origin": f"{SOURCE}:500001"})
    await new_job(ledger, params={"options": {}, "origin": f"{SOURCE}:500002"})
    await new_job(ledger, params={"options": {}})
    found = await ledger.job_by_origin(f"{SOURCE}:500001")
    assert found is not None and found.id == first.id
    assert await ledger.job_by_origin(f"{SOURCE}:9") is None


async def test_migration_8_keeps_every_existing_job(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    migrations = load_migrations()
    inbox = next(m for m in migrations if m.name.startswith("0008_"))
    async with await SqliteLedger.open(path) as ledger:
        made = [await new_job(ledger) for _ in range(3)]
    # Back to schema 7: drop what migration 8 and every later one added.
    with sqlite3.connect(":memory:") as old:
        for migration in migrations[: inbox.number - 1]:
            old.executescript(migration.sql)
        schema_7 = set(old.execute(SCHEMA_OBJECTS).fetchall())
        jobs_7 = {row[1] for row in old.execute("PRAGMA table_info(jobs)")}
    with sqlite3.connect(path, isolation_level=None) as raw:
        added = [item for item in raw.execute(SCHEMA_OBJECTS).fetchall() if item not in schema_7]
        assert ("index", "jobs_origin") in added and ("table", "inbox") in added
        for kind, name in sorted(added):  # indexes before tables
            raw.execute(f"DROP {kind.upper()} IF EXISTS {name}")
        for column in [row[1] for row in raw.execute("PRAGMA table_info(jobs)")]:
            if column not in jobs_7:  # a later migration's column (0014's claimed_by)
                raw.execute(f"ALTER TABLE jobs DROP COLUMN {column}")
        raw.execute(f"PRAGMA user_version = {inbox.number - 1:d}")
    async with await SqliteLedger.open(path) as ledger:
        assert [await ledger.get(job.id) for job in made] == made
        assert await ledger.inbox_pending(SOURCE) == []
        assert await ledger.job_by_origin("x") is None


async def test_a_handled_update_keeps_only_its_id(ledger) -> None:
    message = {"message": {"from": {"first_name": "Alice"}, "caption": "/portrait a secret"}}
    await ledger.inbox_add(SOURCE, [(8, message)])
    await ledger.inbox_done(SOURCE, 8)
    rows = await ledger._fetch("SELECT payload FROM inbox WHERE update_id = 8")
    assert [row[0] for row in rows] == ["{}"]  # no name, no prompt
    assert await ledger.inbox_add(SOURCE, [(8, message)]) == []  # still known: not new
