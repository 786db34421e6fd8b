"""`python -m bot migrate-db --to postgresql://...`: an SQLite ledger with every kind of row
(jobs in several states with their events, parameters and outputs, policies, the audit log,
alerts, saved faces, held requests, inbox updates, leases) copied into a fresh PostgreSQL
database and read back through `PostgresLedger` and the stores, field by field; and each
refusal (wrong scheme, a bot on the data folder, a bot on the target, a target with rows, no
SQLite file, a newer one), after which nothing was written. Every run's output is checked for
the URL's password."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiosqlite
import asyncpg
import pytest

from bot.__main__ import main
from bot.core.faces import FaceCipher, SavedFaces
from bot.core.insight.audit import AuditLog
from bot.core.jobs.leases import Leases
from bot.core.jobs.ledger import JobState
from bot.core.jobs.ledger_copy import COPIED_TABLES, SKIPPED_TABLES
from bot.core.jobs.postgres_ledger import PostgresLedger
from bot.core.jobs.sql_ledger import SqlLedger
from bot.core.jobs.sqlite_ledger import SqliteLedger, load_migrations
from bot.core.jobs.sqlite_ledger import migrate as sqlite_migrate
from bot.core.policy.model import ScopePolicy
from bot.core.policy.store import SqlPolicyStore
from bot.core.request.selfie import prepare_selfie
from bot.logs import OWN_LOGGERS, THIRD_PARTY_LOGGERS
from bot.migrate_db import migrate_db
from bot.settings import load_settings
from bot.storage import exclusive_use
from tests.support.full_ledger import ANN, ANN_POLICY, BOB, CID, CID_POLICY, OUTPUT, bare_job, fill
from tests.support.images import selfie_jpeg
from tests.support.insight import Clock
from tests.support.ledgers import reset_schema

PASSWORD = "pw-do-not-show"
# The order each table's rows are compared in.
ORDER = {
    "inbox": "source, update_id",
    "scope_policy": "scope",
    "owner_alerts": "state",
    "leases": "name",
}


@pytest.fixture
async def target(postgres_url: str) -> AsyncIterator[str]:
    """The session's database without any table (as a new database is), its URL holding a
    password (trust authentication takes any); emptied of every table again afterwards."""
    await reset_schema(postgres_url)
    parts = urlsplit(postgres_url)
    netloc = f"{parts.username}:{PASSWORD}@{parts.hostname}:{parts.port or 5432}"
    yield urlunsplit(parts._replace(netloc=netloc))
    await reset_schema(postgres_url)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir(mode=0o700)
    return folder


@pytest.fixture
def prepared() -> bytes:
    return prepare_selfie(selfie_jpeg()).data


async def sqlite_ledger(data_dir: Path, clock: Clock | None = None) -> SqliteLedger:
    return await SqliteLedger.open(SqliteLedger.default_path(data_dir), clock=clock or Clock())


async def run(data_dir: Path, url: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`migrate_db` as `python -m bot migrate-db --to url` calls it; the exit code and what it
    printed (both streams), which never holds the password."""
    settings = load_settings({"BOT_DATA_DIR": str(data_dir)}, need_wiro=False)
    code = await migrate_db(settings, argparse.Namespace(to=url))
    out, err = capsys.readouterr()
    assert PASSWORD not in out + err
    return code, out + err


async def rows(ledger: SqlLedger, table: str) -> list[dict[str, Any]]:
    async with ledger.reading() as db:
        found = await db.execute_fetchall(
            f"SELECT * FROM {table} ORDER BY {ORDER.get(table, 'id')}"
        )
    return [dict(zip(row.keys(), row, strict=True)) for row in found]


async def fetch_value(url: str, sql: str) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ====================================================================== the copy


async def test_every_row_is_copied_and_reads_back_the_same(data_dir, target, prepared, capsys):
    clock = Clock()
    async with await sqlite_ledger(data_dir, clock) as source:
        await fill(source, data_dir, prepared, clock)
        before = {table: await rows(source, table) for table in COPIED_TABLES}
        jobs = [await source.get(job_id) for job_id in range(1, 9)]
        events = [await source.events(job_id) for job_id in range(1, 9)]
    sqlite_file = SqliteLedger.default_path(data_dir)
    sqlite_digest = digest(sqlite_file)

    code, output = await run(data_dir, target, capsys)

    assert code == 0, output
    assert digest(sqlite_file) == sqlite_digest  # the backup is untouched
    assert not list(data_dir.glob(".migrate-db-*"))  # the snapshot is gone
    assert "jobs                   6" in output and "saved_faces            3" in output
    assert "leases" in output and "not copied" in output
    assert str(data_dir.resolve()) in output  # where the files stay
    assert "DATABASE_URL=postgresql://" in output and ":***@" in output
    async with await PostgresLedger.open(target, clock=clock) as copy:
        for table in COPIED_TABLES:
            assert await rows(copy, table) == before[table], table
        assert await rows(copy, "leases") == []
        assert [await copy.get(job_id) for job_id in range(1, 9)] == jobs
        assert [await copy.events(job_id) for job_id in range(1, 9)] == events
        assert jobs[0] is not None and jobs[0].outputs == [OUTPUT]
        assert {job.state for job in jobs if job} >= {JobState.DELIVERED, JobState.RUNNING}
        audit = await AuditLog(copy).recent(None, limit=20)
        late = [entry for entry in audit if entry.prompt == "late"]
        assert [entry.outcome for entry in late] == ["queued"]  # not the job's "delivered"
        policies = SqlPolicyStore(copy)
        assert await policies.load(ANN.scope) == ANN_POLICY
        assert await policies.load(CID.scope) == CID_POLICY
        faces = SavedFaces(copy, data_dir / "faces", FaceCipher(data_dir))
        mine = await faces.list(ANN.requester)
        assert [(face.name, face.is_default) for face in mine] == [("Me", True), ("Beach", False)]
        assert await faces.read(mine[1]) == prepared  # the same files, the same key
        assert [update.update_id for update in await copy.inbox_pending("telegram:42")] == [101]
        # New ids follow the highest SQLite ever gave: the pruned job's 7 is not given again,
        # nor its event's.
        new = await bare_job(copy, "discord:5")
        assert new.id == 8
        assert (await copy.events(new.id))[0].id == len(before["job_events"]) + 2
        face = await faces.save(BOB.requester, "New", prepared)
        assert face.id == 4


async def test_the_command_runs_through_main_and_refuses_a_second_copy(
    data_dir, target, monkeypatch, capsys, keep_logging
):
    async with await sqlite_ledger(data_dir) as source:
        await bare_job(source, "discord:5")
    monkeypatch.chdir(data_dir.parent)  # no .env of the project's
    monkeypatch.setenv("BOT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DATABASE_URL", "")
    for name in ("WIRO_API_KEY", "WIRO_API_SECRET", "DISCORD_TOKEN", "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    first = await call_main(["migrate-db", "--to", target], capsys)
    second = await call_main(["migrate-db", "--to", target], capsys)

    assert first[0] == 0 and "jobs                   1" in first[1]
    assert second[0] == 1
    assert "Refused: the target database is not empty (its table jobs has rows)" in second[1]
    assert await fetch_value(target, "SELECT count(*) FROM jobs") == 1


@pytest.fixture
def keep_logging() -> Iterator[None]:
    """`main` sets the root logger up for a process; put the test run's back."""
    loggers = [logging.getLogger(name) for name in ("", *OWN_LOGGERS, *THIRD_PARTY_LOGGERS)]
    levels = [logger.level for logger in loggers]
    handlers = list(loggers[0].handlers)
    yield
    loggers[0].handlers[:] = handlers
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


async def call_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = await asyncio.to_thread(main, argv)  # main runs its own event loop
    out, err = capsys.readouterr()
    assert PASSWORD not in out + err
    return code, out + err


def test_the_command_s_tables_are_every_table_of_the_schema(tmp_path) -> None:
    async def tables() -> set[str]:
        ledger = await SqliteLedger.open(tmp_path / "jobs.sqlite3")
        async with ledger, ledger.reading() as db:
            found = await db.execute_fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        return {str(row[0]) for row in found}

    assert asyncio.run(tables()) == set(COPIED_TABLES) | set(SKIPPED_TABLES)


# ====================================================================== refusals


async def nothing_written(url: str) -> bool:
    """The target is as the test left it: no table at all (not even migrated)."""
    return await fetch_value(url, "SELECT to_regclass('ledger_schema') IS NULL") is True


async def test_a_url_that_is_not_postgresql_is_refused(data_dir, monkeypatch, capsys, keep_logging):
    async with await sqlite_ledger(data_dir):
        pass
    monkeypatch.chdir(data_dir.parent)
    monkeypatch.setenv("BOT_DATA_DIR", str(data_dir))
    for url in (f"mysql://bot:{PASSWORD}@127.0.0.1/db", f"sqlite:///{data_dir}/x.sqlite3"):
        code, output = await call_main(["migrate-db", "--to", url], capsys)
        assert code == 2
        assert output.strip() == (
            "Refused: --to must name a PostgreSQL database: "
            "postgresql://user:password@host:5432/database"
        )


async def test_a_bot_on_the_data_folder_is_refused(data_dir, target, capsys):
    async with await sqlite_ledger(data_dir) as source:
        await bare_job(source, "discord:5")
    with exclusive_use(data_dir):  # what the running bot holds
        code, output = await run(data_dir, target, capsys)
    assert code == 1
    assert output.startswith("Refused: another Portrait Bot is already using BOT_DATA_DIR")
    assert output.count("\n") == 1
    assert await nothing_written(target)


async def test_a_bot_on_the_target_is_refused_and_an_expired_lease_is_not(data_dir, target, capsys):
    async with await sqlite_ledger(data_dir) as source:
        await bare_job(source, "discord:5")
    async with await PostgresLedger.open(target) as other:
        await Leases(other, "elsewhere:7:beef").acquire("process:elsewhere:7:beef")
        code, output = await run(data_dir, target, capsys)
        assert code == 1
        assert "Refused: a bot is using the target database" in output
        assert "'process:elsewhere:7:beef'" in output
        assert await fetch_value(target, "SELECT count(*) FROM jobs") == 0
        async with other.transaction() as db:  # the bot stopped a while ago
            await db.execute("UPDATE leases SET expires_at = '2020-01-01T00:00:00.000000Z'")

        code, output = await run(data_dir, target, capsys)

    assert code == 0, output
    assert await fetch_value(target, "SELECT count(*) FROM jobs") == 1


async def test_a_target_with_rows_is_refused_and_kept_as_it_was(data_dir, target, capsys):
    async with await sqlite_ledger(data_dir) as source:
        await bare_job(source, "discord:5")
    async with await PostgresLedger.open(target) as other:
        await SqlPolicyStore(other).save("telegram:chat:5", ScopePolicy(), updated_by="x")

    code, output = await run(data_dir, target, capsys)

    assert code == 1
    assert "Refused: the target database is not empty (its table scope_policy has rows)" in output
    assert await fetch_value(target, "SELECT count(*) FROM jobs") == 0
    assert await fetch_value(target, "SELECT count(*) FROM scope_policy") == 1


async def test_a_missing_or_newer_sqlite_file_is_refused(data_dir, target, capsys):
    code, output = await run(data_dir, target, capsys)
    assert code == 1
    assert f"Refused: no job database at {data_dir / 'jobs.sqlite3'}" in output

    async with await sqlite_ledger(data_dir):
        pass
    path = SqliteLedger.default_path(data_dir)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    db.close()
    kept = digest(path)
    code, output = await run(data_dir, target, capsys)
    assert code == 1
    assert "at schema version 99, but this bot knows only" in output
    assert digest(path) == kept
    assert await nothing_written(target)


async def test_an_unreachable_target_is_named_without_its_password(data_dir, capsys):
    async with await sqlite_ledger(data_dir):
        pass
    for url in (
        f"postgresql://bot:{PASSWORD}@127.0.0.1:9/db",
        f"postgres://bot@127.0.0.1:9/db?password={PASSWORD}&sslmode=disable",
    ):
        code, output = await run(data_dir, url, capsys)  # checks the password is not shown
        assert code == 1
        assert "Refused: cannot reach the target database postgresql://bot@127.0.0.1:9/db" in output


# ====================================================================== the SQLite side


async def test_an_older_sqlite_file_is_copied_and_stays_at_its_version(data_dir, target, capsys):
    path = SqliteLedger.default_path(data_dir)
    db = await aiosqlite.connect(path, isolation_level=None)
    try:  # a file of the bot before job claims (0014)
        await sqlite_migrate(db, load_migrations()[:13])
        await db.execute(
            "INSERT INTO jobs (platform, requester, scope, reply_address, reply_secret, params, "
            "state, created_at, updated_at) VALUES ('discord', 'discord:1', 's', '{}', '', '{}', "
            "'queued', '2026-03-10T12:00:00.000000Z', '2026-03-10T12:00:00.000000Z')"
        )
    finally:
        await db.close()
    kept = digest(path)

    code, output = await run(data_dir, target, capsys)

    assert code == 0, output
    assert f"(schema version {len(load_migrations())})" in output  # the target: current
    assert digest(path) == kept
    with sqlite3.connect(path) as old:
        assert old.execute("PRAGMA user_version").fetchone()[0] == 13
    old.close()
    assert await fetch_value(target, "SELECT claimed_by IS NULL FROM jobs WHERE id = 1") is True


async def test_commits_still_in_the_wal_of_a_crashed_bot_are_copied(data_dir, target, capsys):
    ledger = await sqlite_ledger(data_dir)
    try:  # left open: its last commits are in jobs.sqlite3-wal, not yet in the file
        for _ in range(3):
            await bare_job(ledger, "discord:1")
        assert (data_dir / "jobs.sqlite3-wal").stat().st_size > 0
        code, output = await run(data_dir, target, capsys)
    finally:
        await ledger.close()
    assert code == 0, output
    assert await fetch_value(target, "SELECT count(*) FROM jobs") == 3


async def test_a_value_that_does_not_fit_its_column_stops_the_whole_copy(data_dir, target, capsys):
    async with await sqlite_ledger(data_dir) as source:
        for _ in range(3):
            await bare_job(source, "discord:1")
        async with source.transaction() as db:  # SQLite keeps text in an INTEGER column
            await db.execute("UPDATE jobs SET attempts = 'many' WHERE id = 2")

    code, output = await run(data_dir, target, capsys)

    assert code == 1
    assert "Refused: row 2 of jobs holds in attempts a str that is not a bigint" in output
    assert await fetch_value(target, "SELECT count(*) FROM jobs") == 0  # job 1 rolled back


async def test_a_corrupt_file_or_a_table_of_someone_else_is_refused(data_dir, target, capsys):
    path = SqliteLedger.default_path(data_dir)
    path.write_bytes(b"not a database at all" * 100)
    code, output = await run(data_dir, target, capsys)
    assert code == 1
    assert f"Refused: cannot read the job database {path}" in output
    assert await nothing_written(target)

    path.unlink()
    async with await sqlite_ledger(data_dir) as source, source.transaction() as db:
        await db.execute("CREATE TABLE notes (text TEXT)")
    code, output = await run(data_dir, target, capsys)
    assert code == 1
    assert "Refused: the SQLite file has tables migrate-db does not know: ['notes']" in output
    assert await nothing_written(target)


@pytest.mark.parametrize(
    "url", ["postgresql://", "postgresql://host:5432", "postgresql://u:pw@[::1/x", "sqlite://x"]
)
def test_a_target_the_bot_could_not_use_is_refused_with_exit_code_2(url, capsys) -> None:
    from bot.__main__ import main

    assert main(["migrate-db", "--to", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Refused: --to ") and "pw" not in err
