"""The job ledger on both databases for the tests: an SQLite file in the test's folder, or a
PostgreSQL database of the test session's own.

Fixtures (registered by tests/conftest.py):

* ``backend``: ``"sqlite"`` or ``"postgresql"``; a test that takes it (or ``open_ledger``)
  runs once on each.
* ``open_ledger``: ``await open_ledger(clock=...)`` opens the ledger of the test's backend
  (closed after the test). On PostgreSQL every table of the session's database is emptied
  (identities restarted) before the test's first ledger opens, so each test starts clean.
* ``postgres_database``: that database with no tables before and after the test (a bot
  started by its launcher makes them), its URL.
* ``postgres_url``: the URL of the session's database ``portrait_test_<random hex>``, made on
  the server at ``PORTRAIT_TEST_POSTGRES`` (an administrator's URL; by default the local
  server, user ``postgres`` then ``root``, trust authentication) and dropped at the end.

Without a reachable PostgreSQL server the PostgreSQL tests are skipped, saying why; under
``CI`` (set by the CI run, whose machine has the server) they fail instead, so CI never
passes without them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest

from bot.core.jobs.database_url import describe_url
from bot.core.jobs.ledger import Clock, utc_now
from bot.core.jobs.postgres_ledger import SCHEMA_TABLE, PostgresLedger
from bot.core.jobs.sql_ledger import SqlLedger
from bot.core.jobs.sqlite_ledger import LEDGER_FILENAME, SqliteLedger

BACKENDS = ["sqlite", "postgresql"]
ADMIN_URLS = (
    "postgresql://postgres@127.0.0.1:5432/postgres",
    "postgresql://root@127.0.0.1:5432/test",
)
T = TypeVar("T")

OpenLedger = Callable[..., Awaitable[SqlLedger]]


def run_apart(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end on an event loop of its own (in a thread): for the session's
    set-up and tear-down, whatever loop the test runs on."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _first_reachable(urls: tuple[str, ...]) -> tuple[str | None, str]:
    problems = []
    for url in urls:
        try:
            conn = await asyncpg.connect(url, timeout=5)
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            problems.append(f"{describe_url(url)}: {type(error).__name__}: {error}")
            continue
        await conn.close()
        return url, ""
    return None, "; ".join(problems)


def _with_database(url: str, database: str) -> str:
    head, _, tail = url.partition("?")
    base = head.rsplit("/", 1)[0] if head.count("/") > 2 else head
    return f"{base}/{database}" + (f"?{tail}" if tail else "")


async def _admin(admin_url: str, sql: str) -> None:
    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def empty_database(url: str) -> None:
    """Empty every table of the database at ``url`` but the schema versions (identities
    restart at 1)."""
    conn = await asyncpg.connect(url, timeout=10)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename <> $1",
            SCHEMA_TABLE,
        )
        if tables:
            names = ", ".join(f'"{row[0]}"' for row in tables)
            await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


async def reset_schema(url: str) -> None:
    """Drop every table of the database at ``url`` (a fresh, unmigrated database)."""
    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


@pytest.fixture
async def postgres_database(postgres_url: str) -> AsyncIterator[str]:
    """The session's PostgreSQL database, emptied of every table before and after the test
    (a fresh, unmigrated database for a bot started by its launcher); its URL."""
    await reset_schema(postgres_url)
    yield postgres_url
    await reset_schema(postgres_url)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    wanted = os.environ.get("PORTRAIT_TEST_POSTGRES", "").strip()
    admin_url, problems = run_apart(_first_reachable((wanted,) if wanted else ADMIN_URLS))
    if admin_url is None:
        reason = f"no PostgreSQL server reachable for the PostgreSQL ledger tests ({problems})"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI's machine runs one, so this is a failure", pytrace=False)
        pytest.skip(reason)
    database = f"portrait_test_{secrets.token_hex(6)}"
    run_apart(_admin(admin_url, f'CREATE DATABASE "{database}"'))
    try:
        yield _with_database(admin_url, database)
    finally:
        run_apart(_admin(admin_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database the test runs on; a PostgreSQL test starts on an emptied database."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        run_apart(empty_database(url))
    return str(request.param)


@pytest.fixture
async def open_ledger(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[OpenLedger]:
    """``await open_ledger(clock=...)``: a ledger on the test's backend (the same database each
    time within the test: reopening finds what was written); closed after the test."""
    opened: list[SqlLedger] = []

    async def open_one(*, clock: Clock = utc_now) -> SqlLedger:
        ledger: SqlLedger
        if backend == "sqlite":
            ledger = await SqliteLedger.open(tmp_path / "data" / LEDGER_FILENAME, clock=clock)
        else:
            url = request.getfixturevalue("postgres_url")
            ledger = await PostgresLedger.open(url, clock=clock, max_size=4)
        opened.append(ledger)
        return ledger

    yield open_one
    for ledger in opened:
        await ledger.close()


@pytest.fixture
def disposable_schema(backend: str, request: pytest.FixtureRequest) -> Iterator[None]:
    """For a test that breaks the schema on purpose (drops a table): on PostgreSQL the
    session's database is emptied of every table afterwards, so the next test migrates anew."""
    yield
    if backend == "postgresql":
        run_apart(reset_schema(request.getfixturevalue("postgres_url")))
