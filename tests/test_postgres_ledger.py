"""What only the PostgreSQL ledger has: its migrations (the same numbers and schema as SQLite's,
versions in a table, a newer database refused, a failed file leaving nothing), the write lock
across pools, the URL's password kept out of messages, a server that cannot be reached, and
the `?` placeholders numbered. The ledger's behaviour itself is tested on both databases by
tests/test_ledger.py and the stores' tests."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from bot.core.jobs.database import describe_database, open_ledger
from bot.core.jobs.ledger import JobState, LedgerError, LedgerUnavailable, StaleTransition
from bot.core.jobs.postgres_ledger import SCHEMA_TABLE, PostgresLedger, migrate
from bot.core.jobs.schema import POSTGRES_MIGRATIONS_PACKAGE, Migration, load_migrations
from bot.core.jobs.sql import numbered_placeholders
from bot.core.jobs.sqlite_ledger import SqliteLedger
from bot.core.privacy import erase_sql
from tests.support.ledgers import reset_schema, run_apart
from tests.test_ledger import Clock, new_job, run_to

PG_MIGRATIONS = load_migrations(POSTGRES_MIGRATIONS_PACKAGE)


@pytest.fixture
async def url(postgres_url: str) -> AsyncIterator[str]:
    """The session's database, without any table before and after the test."""
    await reset_schema(postgres_url)
    yield postgres_url
    await reset_schema(postgres_url)


async def fetch(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


def test_placeholders_are_numbered_outside_quotes_and_comments() -> None:
    sql = (
        "SELECT '?', \"odd?\" FROM t -- a ? here\n"
        "WHERE a = ? AND b = 'it''s ?' /* ? */ AND c IN (?, ?)"
    )
    assert numbered_placeholders(sql) == (
        "SELECT '?', \"odd?\" FROM t -- a ? here\n"
        "WHERE a = $1 AND b = 'it''s ?' /* ? */ AND c IN ($2, $3)"
    )


def test_every_migration_has_its_postgresql_form() -> None:
    assert [m.name for m in PG_MIGRATIONS] == [m.name for m in load_migrations()]


async def test_a_fresh_database_gets_the_same_schema_as_a_sqlite_file(
    url: str, tmp_path: Path
) -> None:
    async with await PostgresLedger.open(url):
        pass
    versions = await fetch(url, f"SELECT number, name FROM {SCHEMA_TABLE} ORDER BY number")
    assert [(row[0], row[1]) for row in versions] == [(m.number, m.name) for m in PG_MIGRATIONS]
    columns = await fetch(
        url,
        "SELECT table_name, column_name, collation_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name <> $1",
        SCHEMA_TABLE,
    )
    postgres = {(row[0], row[1]) for row in columns}
    sqlite_ledger = await SqliteLedger.open(tmp_path / "jobs.sqlite3")
    async with sqlite_ledger, sqlite_ledger.reading() as db:
        tables = await db.execute_fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        sqlite = set()
        for (table,) in tables:
            for row in await db.execute_fetchall(f"PRAGMA table_info({table})"):
                sqlite.add((table, row[1]))
    assert postgres == sqlite
    # Times compare as text in code-point order whatever the database's locale.
    collations = {(row[0], row[1]): row[2] for row in columns}
    assert collations["jobs", "created_at"] == collations["audit_log", "at"] == "C"
    indexes = {row[0] for row in await fetch(url, "SELECT indexname FROM pg_indexes")}
    assert {"jobs_by_due", "jobs_origin", "jobs_by_wiro_task", "saved_faces_default"} <= indexes
    triggers = await fetch(url, "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
    assert [row[0] for row in triggers] == ["audit_job_end"]


async def test_reopening_applies_nothing_and_a_newer_database_is_refused(url: str) -> None:
    async with await PostgresLedger.open(url) as ledger:
        job = await new_job(ledger)
    async with await PostgresLedger.open(url) as ledger:
        assert await ledger.get(job.id) == job
    conn = await asyncpg.connect(url)
    await conn.execute(f"INSERT INTO {SCHEMA_TABLE} (number, name) VALUES (99, '0099_x.sql')")
    await conn.close()
    with pytest.raises(LedgerError, match="newer version of the bot"):
        await PostgresLedger.open(url)
    rows = await fetch(url, f"SELECT MAX(number) FROM {SCHEMA_TABLE}")
    assert rows[0][0] == 99  # left untouched


async def test_a_failing_migration_changes_nothing(url: str) -> None:
    broken = [
        *PG_MIGRATIONS[:1],
        Migration(2, "0002_broken.sql", "CREATE TABLE half (a TEXT); SELECT nothing FROM nowhere;"),
    ]
    conn = await asyncpg.connect(url)
    try:
        with pytest.raises(LedgerError, match=r"0002_broken\.sql"):
            await migrate(conn, broken)
        tables = {row[0] for row in await conn.fetch("SELECT tablename FROM pg_tables")}
        assert "jobs" in tables and "half" not in tables
        assert await conn.fetchval(f"SELECT MAX(number) FROM {SCHEMA_TABLE}") == 1
        # The migration lock was let go: a second run (another process) is not stuck.
        assert await asyncio.wait_for(migrate(conn, PG_MIGRATIONS), 30) == len(PG_MIGRATIONS)
    finally:
        await conn.close()


async def test_two_processes_on_one_database_exactly_one_wins(url: str) -> None:
    clock = Clock()
    async with (
        await PostgresLedger.open(url, clock=clock) as one,
        await PostgresLedger.open(url, clock=clock) as two,
    ):
        jobs = [await new_job(one) for _ in range(10)]

        async def grab(ledger: PostgresLedger, job_id: int) -> bool:
            try:
                await ledger.transition(job_id, JobState.SUBMITTING, expected=JobState.QUEUED)
            except StaleTransition:
                return False
            return True

        for job in jobs:
            wins = await asyncio.gather(grab(one, job.id), grab(two, job.id), grab(one, job.id))
            assert sum(wins) == 1
            assert [e.to_state for e in await two.events(job.id)] == [
                JobState.QUEUED,
                JobState.SUBMITTING,
            ]


async def test_the_platform_neutral_migration_converts_discord_jobs(url: str) -> None:
    neutral = next(m for m in PG_MIGRATIONS if m.name.endswith("_platform_neutral_jobs.sql"))
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn, PG_MIGRATIONS[: neutral.number - 1])
        await conn.execute(
            "INSERT INTO jobs (user_id, guild_id, channel_id, interaction_id, interaction_token,"
            " token_expires_at, params, state, created_at, updated_at, status_message_id)"
            " VALUES ($1, NULL, 3, 4, 'token-1', '2025-02-01T10:15:00.000000Z', '{\"steps\": 20}',"
            " 'queued', '2025-02-01T10:00:00.000000Z', '2025-02-01T10:00:00.000000Z', 5)",
            2**62 + 1,
        )
    finally:
        await conn.close()
    async with await PostgresLedger.open(url) as ledger:
        job = await ledger.get(1)
        assert job is not None and job.platform == "discord"
        assert (job.requester, job.scope) == (f"discord:{2**62 + 1}", f"discord:dm:{2**62 + 1}")
        assert job.reply_address == {
            "user_id": 2**62 + 1,
            "guild_id": None,
            "channel_id": 3,
            "interaction_id": 4,
            "token_expires_at": "2025-02-01T10:15:00.000000Z",
        }
        assert (job.reply_secret, job.status_message_ref) == ("token-1", "5")
        assert job.created_at == datetime(2025, 2, 1, 10, 0, tzinfo=UTC)
        assert await ledger.count_active(f"discord:{2**62 + 1}") == 1


async def test_the_audit_trigger_follows_a_job_to_its_end(url: str) -> None:
    async with await PostgresLedger.open(url) as ledger:
        job = await new_job(ledger)
        async with ledger.transaction() as db:
            await db.execute(
                "INSERT INTO audit_log (at, kind, platform, requester, scope, outcome, job_id) "
                "VALUES ('2025-03-01T12:00:00.000000Z', 'request', 'discord', ?, ?, 'queued', ?)",
                (job.requester, job.scope, job.id),
            )
        job = await run_to(ledger, job, JobState.RUNNING)
        await ledger.transition(job.id, JobState.FAILED, failure_reason="no_face", cost=0.25)
        async with ledger.reading() as db:
            rows = await db.execute_fetchall("SELECT outcome, reason, cost FROM audit_log")
        assert [tuple(row) for row in rows] == [("failed", "no_face", 0.25)]


async def test_forgetting_vacuums_the_tables_it_touched(url: str) -> None:
    async with await PostgresLedger.open(url) as ledger:
        await new_job(ledger)
        async with ledger.reading() as db:
            await erase_sql.secure_delete(db)  # nothing to do on PostgreSQL
            await erase_sql.scrub(db)  # VACUUM: outside any transaction
    # The statistics reach the view within a second or two of the VACUUM's end.
    for _ in range(50):
        rows = await fetch(
            url,
            "SELECT relname FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL",
        )
        if {row[0] for row in rows} >= set(erase_sql.TOUCHED_TABLES):
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail(f"not every touched table was vacuumed: {[row[0] for row in rows]}")


async def test_an_unreachable_server_is_named_without_the_password() -> None:
    secret_url = "postgresql://bot:pw-do-not-show@127.0.0.1:9/portraits"
    with pytest.raises(LedgerUnavailable) as refused:
        await open_ledger(secret_url, "/nonexistent")
    assert "postgresql://bot@127.0.0.1:9/portraits" in str(refused.value)
    assert "pw-do-not-show" not in str(refused.value)
    assert describe_database(secret_url, "/x") == "postgresql://bot@127.0.0.1:9/portraits"
    assert describe_database("", "/x") == "/x/jobs.sqlite3"


async def test_a_login_refused_is_named_without_the_password(postgres_url: str) -> None:
    # Trust authentication takes any password: a user that does not exist is refused instead.
    parts = urlsplit(postgres_url)
    host = f"{parts.hostname}:{parts.port or 5432}"
    wrong = f"postgresql://nobody-here:pw-do-not-show@{host}{parts.path}"
    with pytest.raises(LedgerUnavailable) as refused:
        await PostgresLedger.open(wrong)
    assert "nobody-here" in str(refused.value)
    assert "pw-do-not-show" not in str(refused.value)


def test_the_session_database_is_not_the_server_s_own(postgres_url: str) -> None:
    assert "/portrait_test_" in postgres_url
    assert run_apart(fetch(postgres_url, "SELECT current_database()"))[0][0].startswith(
        "portrait_test_"
    )


def test_sqlite_still_reads_its_own_file_with_the_shell(tmp_path: Path) -> None:
    async def make() -> None:
        async with await SqliteLedger.open(tmp_path / "jobs.sqlite3") as ledger:
            await new_job(ledger)

    asyncio.run(make())
    with sqlite3.connect(tmp_path / "jobs.sqlite3") as raw:
        assert raw.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 1
    raw.close()
