"""The job ledger in a PostgreSQL database (``DATABASE_URL=postgresql://...``), through asyncpg
and its connection pool. The SQL itself is :mod:`bot.core.jobs.sql_ledger`'s, as on SQLite.

Storage choices:

* The same tables, columns and meanings as the SQLite file (migrations of the same numbers in
  ``bot/core/jobs/migrations/postgresql/``; :mod:`bot.core.jobs.schema`). Times are the same
  fixed-width ISO-8601 UTC text (``2025-01-02T03:04:05.000006Z``) in ``TEXT COLLATE "C"``
  columns, so text order is time order whatever the database's locale, the stores' SQL and
  time conversions stay one for both databases, and a SQLite file's rows copy over as they are.
  ``params`` and the other JSON columns are JSON text, read with ``::json ->> 'key'``. Ids are
  ``BIGINT`` identities (never reused, like SQLite's AUTOINCREMENT); SQLite's ``REAL`` is
  ``DOUBLE PRECISION``.
* Every write is one transaction (``transaction()``) that first takes the ledger's write lock,
  a transaction-level advisory lock (``pg_advisory_xact_lock``): writers are serialized as
  SQLite's ``BEGIN IMMEDIATE`` serializes them, across processes too, so every read-check-write
  block (a transition, a face saved under the member's limit) behaves as on SQLite. Writers of
  this process wait for one another on an :class:`asyncio.Lock` first, without holding a pooled
  connection. Readers (``reading()``) take no lock and no transaction: each statement sees the
  latest commit, and ``VACUUM`` can run there. A method claiming jobs for several processes
  (``FOR UPDATE SKIP LOCKED``) can later take row locks instead of the write lock.
* Schema versions are rows of the table ``ledger_schema`` (number, file name, when applied);
  each migration runs in one transaction with its row, under a session advisory lock, so two
  processes starting together apply each file once. A database newer than this code is refused.
* The URL may hold a password: it is never logged nor put in a message
  (:func:`~bot.core.jobs.database_url.describe_url` gives the user, host, port and database).

Errors: `LedgerUnavailable` when the server cannot be reached, is shutting down, has no room or
the connection broke; `ConstraintViolated` for a unique or foreign key refused; `LedgerError`
for the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from bot.core.jobs.database_url import describe_url, is_postgres_url, redacted
from bot.core.jobs.ledger import (
    Clock,
    ConstraintViolated,
    LedgerError,
    LedgerUnavailable,
    utc_now,
)
from bot.core.jobs.schema import POSTGRES_MIGRATIONS_PACKAGE, Migration, load_migrations, too_new
from bot.core.jobs.sql import PostgresConnection, SqlConnection
from bot.core.jobs.sql_ledger import SqlLedger

__all__ = ["SCHEMA_TABLE", "PostgresLedger", "migrate"]

log = logging.getLogger(__name__)

SCHEMA_TABLE = "ledger_schema"
# Advisory lock keys (per database): the ledger's writers, and applying migrations.
WRITE_LOCK = 0x504F_5254_5241_4954  # "PORTRAIT"
MIGRATION_LOCK = WRITE_LOCK + 1
CLOSE_WAIT = 10.0  # seconds close() waits for borrowed connections before cutting them
# Errors after which the same call may succeed later (the server, the network, room, a
# conflict with another transaction).
_PASSING = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InsufficientResourcesError,
    asyncpg.OperatorInterventionError,
    asyncpg.TransactionRollbackError,
    asyncpg.ReadOnlySQLTransactionError,
    asyncpg.LockNotAvailableError,
)


# What the driver raises during a call on a borrowed connection: the server's errors, a broken
# connection, a command past its timeout. (Not any OSError: a block's own code may raise one,
# such as a PermissionError, and it must come out as it is.)
_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError, TimeoutError)


def _database_error(error: BaseException) -> LedgerError:
    if isinstance(error, asyncpg.IntegrityConstraintViolationError):
        return ConstraintViolated(f"job database error: {error}")
    kind = LedgerUnavailable if isinstance(error, _PASSING) else LedgerError
    return kind(f"job database error: {type(error).__name__}: {error}")


def _redacted(error: BaseException, url: str) -> str:
    return redacted(f"{type(error).__name__}: {error}", url)


# ====================================================================== migrations


async def migrate(conn: asyncpg.Connection, migrations: list[Migration]) -> int:
    """Bring the database of ``conn`` up to the last migration; returns the resulting version.

    Holds a session advisory lock meanwhile, so two processes starting together apply each
    file once; each file runs whole (PostgreSQL's own statement splitting, PL/pgSQL bodies
    included) in one transaction with its ``ledger_schema`` row."""
    known = len(migrations)
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} (number INTEGER PRIMARY KEY, "
            "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        version = await _version(conn)
        if version > known:
            raise LedgerError(too_new(version, known))
        # A new database is made by the same steps: only an upgrade is worth INFO lines.
        level = logging.INFO if version > 0 else logging.DEBUG
        for migration in migrations[version:]:
            log.log(level, "Applying job ledger migration %s (PostgreSQL)", migration.name)
            try:
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        f"INSERT INTO {SCHEMA_TABLE} (number, name) VALUES ($1, $2)",
                        migration.number,
                        migration.name,
                    )
            except asyncpg.PostgresError as error:
                raise LedgerError(f"migration {migration.name} failed: {error}") from error
        return await _version(conn)
    finally:
        if not conn.is_closed():
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


async def _version(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval(f"SELECT COALESCE(MAX(number), 0) FROM {SCHEMA_TABLE}"))


# ====================================================================== the ledger


class PostgresLedger(SqlLedger):
    """:class:`JobLedger` in a PostgreSQL database. Make it with :meth:`open`; close it when
    done (``async with await PostgresLedger.open(url) as ledger: ...``)."""

    def __init__(self, pool: asyncpg.Pool, where: str, clock: Clock) -> None:
        """Use :meth:`open`: it makes the pool and applies the migrations."""
        super().__init__(clock)
        self._pool: asyncpg.Pool | None = pool
        self._where = where
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        clock: Clock = utc_now,
        min_size: int = 1,
        max_size: int = 10,
        connect_timeout: float = 10.0,
        command_timeout: float = 60.0,
    ) -> PostgresLedger:
        """Connect to the database at ``url`` (``postgresql://user:password@host:port/db``,
        libpq's options in the query) with a pool of ``min_size``..``max_size`` connections,
        and migrate it. Raises `LedgerUnavailable` when the server cannot be reached (or
        refuses the login), `LedgerError` for the rest; neither names the password."""
        if not is_postgres_url(url):
            raise LedgerError("DATABASE_URL must start with postgresql:// or postgres://")
        where = describe_url(url)
        migrations = load_migrations(POSTGRES_MIGRATIONS_PACKAGE)
        try:
            pool = await asyncpg.create_pool(
                url.strip(),
                min_size=min_size,
                max_size=max_size,
                timeout=connect_timeout,
                command_timeout=command_timeout,
                server_settings={"application_name": "portrait-bot"},
            )
        except (asyncpg.PostgresError, *_PASSING) as error:
            raise LedgerUnavailable(
                f"cannot reach the job database {where}: {_redacted(error, url)}"
            ) from None
        except Exception as error:  # a malformed URL (asyncpg's ClientConfigurationError...)
            raise LedgerError(
                f"cannot use DATABASE_URL ({where}): {_redacted(error, url)}"
            ) from None
        try:
            async with pool.acquire() as conn:
                version = await migrate(conn, migrations)
        except BaseException as error:
            await pool.close()
            if isinstance(error, (asyncpg.PostgresError, *_PASSING)):
                raise _database_error(error) from None
            raise
        log.info("Job database %s (PostgreSQL) open at schema version %d", where, version)
        return cls(pool, where, clock)

    @property
    def where(self) -> str:
        return self._where

    async def close(self) -> None:
        """Close the pool, waiting up to `CLOSE_WAIT` seconds for borrowed connections."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            async with asyncio.timeout(CLOSE_WAIT):
                await pool.close()
        except TimeoutError:
            log.warning("The job database's connections did not close in time; cut")
            pool.terminate()

    @property
    def closed(self) -> bool:
        return self._pool is None

    # ------------------------------------------------------------------ between processes

    async def notify(self, channel: str) -> None:
        try:
            async with self._connection() as conn:
                await conn.execute("SELECT pg_notify($1, '')", channel)
        except (LedgerError, *_DRIVER_ERRORS) as error:
            log.warning("Could not notify the other processes (%s)", type(error).__name__)

    async def listen(
        self, channel: str, heard: Callable[[], None]
    ) -> Callable[[], Awaitable[None]]:
        """A connection of the pool is kept for the listening until the closer is awaited."""
        pool = self._pool
        if pool is None:
            raise LedgerError("the job ledger is closed")
        conn = await pool.acquire()

        def callback(*_: object) -> None:
            heard()

        await conn.add_listener(channel, callback)

        async def close() -> None:
            with contextlib.suppress(*_DRIVER_ERRORS):
                await conn.remove_listener(channel, callback)
            with contextlib.suppress(*_DRIVER_ERRORS):
                await pool.release(conn)

        return close

    # ------------------------------------------------------------------ plumbing

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        pool = self._pool
        if pool is None:
            raise LedgerError("the job ledger is closed")
        try:
            conn = await pool.acquire()
        except (asyncpg.PostgresError, *_PASSING) as error:
            raise _database_error(error) from error
        try:
            yield conn
        finally:
            await pool.release(conn)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[SqlConnection]:
        """One write transaction under the write lock; committed when the block ends, rolled
        back on any error (asyncpg rolls back, or drops a connection cut mid-call)."""
        async with self._write_lock, self._connection() as conn:
            try:
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)
                    yield PostgresConnection(conn)
            except _DRIVER_ERRORS as error:
                raise _database_error(error) from error

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[SqlConnection]:
        """A pooled connection for reads, outside any transaction."""
        async with self._connection() as conn:
            try:
                yield PostgresConnection(conn)
            except _DRIVER_ERRORS as error:
                raise _database_error(error) from error
