"""The job ledger in an embedded SQLite file (one aiosqlite connection per bot process): the
default, when ``DATABASE_URL`` is empty. The SQL itself is :mod:`bot.core.jobs.sql_ledger`'s.

Storage choices:

* WAL journal, ``synchronous=NORMAL`` (configurable), foreign keys on, a busy timeout. Every
  write is its own ``BEGIN IMMEDIATE`` ... ``COMMIT``, so a crash of the process loses nothing
  that a method returned. (With ``NORMAL`` a power cut may roll back the last few commits; pass
  ``synchronous="FULL"`` where that matters more than write speed.)
* One connection is shared by every coroutine of the process; an :class:`asyncio.Lock` keeps
  each operation's statements together. Transitions are still a compare-and-set in SQL
  (``UPDATE ... WHERE id = ? AND state = ?`` inside a write-locked transaction), so two
  processes on the same file cannot both win either.
* Timestamps are ISO-8601 UTC text with microseconds and a ``Z``
  (``2025-01-02T03:04:05.000006Z``): fixed width, so comparing text compares times, and the
  file stays readable with the ``sqlite3`` shell. ``params`` and ``outputs`` are JSON text.
* Schema migrations are the numbered files in :mod:`bot.core.jobs.migrations`
  (``0001_jobs.sql``, ``0002_...``; see :mod:`bot.core.jobs.schema`), applied in order at
  start-up. ``PRAGMA user_version`` holds the number of the last one applied; each file runs in
  one transaction together with its version bump. A database newer than this code is refused.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from os import PathLike
from pathlib import Path

import aiosqlite

from bot.core.jobs.ledger import (
    Clock,
    ConstraintViolated,
    LedgerError,
    LedgerUnavailable,
    utc_now,
)
from bot.core.jobs.schema import Migration, load_migrations, too_new
from bot.core.jobs.sql import SqlConnection, SqliteConnection
from bot.core.jobs.sql_ledger import SqlLedger
from bot.storage import owner_only

__all__ = ["LEDGER_FILENAME", "Migration", "SqliteLedger", "load_migrations", "migrate"]

log = logging.getLogger(__name__)

LEDGER_FILENAME = "jobs.sqlite3"
"""The ledger's file name inside ``BOT_DATA_DIR``."""
# Seconds to wait for another connection's lock while opening (then: busy_timeout).
OPEN_BUSY_TIMEOUT = 2.0


# ====================================================================== migrations


async def migrate(db: aiosqlite.Connection, migrations: list[Migration]) -> int:
    """Bring ``db`` (opened with ``isolation_level=None``) up to the last migration.

    Each migration runs in one ``BEGIN IMMEDIATE`` transaction with its
    ``PRAGMA user_version`` bump, so a failed file leaves the database as it was, and two
    processes starting together apply each file once. Returns the resulting version.
    """
    known = len(migrations)
    # A new database is made by the same steps: only an upgrade is worth INFO lines.
    level = logging.INFO if await _user_version(db) > 0 else logging.DEBUG
    for migration in migrations:
        if await _user_version(db) >= migration.number:
            continue  # checked again under the write lock below before anything is applied
        try:
            await db.execute("BEGIN IMMEDIATE")
            version = await _user_version(db)
            if version > known:
                raise LedgerError(too_new(version, known))
            if version >= migration.number:
                await db.rollback()
                continue
            log.log(level, "Applying job ledger migration %s", migration.name)
            for statement in migration.statements():
                await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {migration.number:d}")
            await db.commit()
        except BaseException as error:
            await _rollback_quietly(db)
            if isinstance(error, sqlite3.Error):
                raise LedgerError(f"migration {migration.name} failed: {error}") from error
            raise
    version = await _user_version(db)
    if version > known:
        raise LedgerError(too_new(version, known))
    return version


async def _user_version(db: aiosqlite.Connection) -> int:
    rows = await db.execute_fetchall("PRAGMA user_version")
    return int(next(iter(rows))[0])


async def _rollback_quietly(db: aiosqlite.Connection) -> None:
    try:
        await db.rollback()  # a no-op outside a transaction
    except (sqlite3.Error, ValueError) as error:  # ValueError: the connection is closed
        log.warning("Rolling back a job ledger transaction failed: %s", error)


def _database_error(error: sqlite3.Error) -> LedgerError:
    """OperationalError (full disk, I/O error, read-only, locked) may pass; others will not."""
    if isinstance(error, sqlite3.IntegrityError):
        return ConstraintViolated(f"job database error: {error}")
    kind = LedgerUnavailable if isinstance(error, sqlite3.OperationalError) else LedgerError
    return kind(f"job database error: {error}")


def _create_owner_only(path: Path) -> None:
    """Create the database file 0600 before SQLite does (its -wal and -shm files take the
    database's mode); tighten an existing one. It holds reply secrets and file URLs."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    owner_only(path)


def _open_problem(path: Path, error: sqlite3.Error) -> str:
    """One line naming why the database at ``path`` cannot be used."""
    text = str(error).lower()
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return f"the job database {path} is corrupt or not an SQLite database ({error})"
    if "locked" in text or "busy" in text:
        return f"the job database {path} is locked by another program ({error})"
    if "readonly" in text or "read-only" in text:
        return f"the job database {path} cannot be written ({error})"
    return f"cannot open the job database {path}: {error}"


# ====================================================================== the ledger


class SqliteLedger(SqlLedger):
    """:class:`JobLedger` in one SQLite file. Make it with :meth:`open`; close it when done
    (``async with await SqliteLedger.open(path) as ledger: ...``)."""

    def __init__(self, db: aiosqlite.Connection, path: Path, clock: Clock) -> None:
        """Use :meth:`open`: it configures the connection and applies the migrations."""
        super().__init__(clock)
        self._db: aiosqlite.Connection | None = db
        self.path = path
        self._lock = asyncio.Lock()

    @classmethod
    async def open(
        cls,
        path: str | PathLike[str],
        *,
        clock: Clock = utc_now,
        busy_timeout: float = 10.0,
        synchronous: str = "NORMAL",
    ) -> SqliteLedger:
        """Open (creating folders and file as needed) and migrate the ledger at ``path``."""
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"unknown synchronous setting {synchronous!r}")
        path = Path(path)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        migrations = load_migrations()
        try:
            _create_owner_only(path)
            # isolation_level=None: no implicit transactions; every write says BEGIN IMMEDIATE.
            db = await aiosqlite.connect(path, isolation_level=None, timeout=busy_timeout)
        except (sqlite3.Error, OSError) as error:
            raise LedgerError(f"cannot open the job database {path}: {error}") from error
        try:
            db.row_factory = sqlite3.Row
            # A short wait while opening: a lock held this long is another program's.
            await db.execute(f"PRAGMA busy_timeout = {round(OPEN_BUSY_TIMEOUT * 1000):d}")
            rows = await db.execute_fetchall("PRAGMA journal_mode = WAL")
            mode = str(next(iter(rows))[0]).lower()
            if mode != "wal":
                log.warning("The job database %s uses journal mode %s, not WAL", path, mode)
            await db.execute("PRAGMA foreign_keys = ON")
            await db.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            version = await migrate(db, migrations)
            await db.execute("BEGIN IMMEDIATE")  # can it be written (not locked, not read-only)?
            await db.rollback()
            await db.execute(f"PRAGMA busy_timeout = {round(busy_timeout * 1000):d}")
            for suffix in ("-wal", "-shm"):  # SQLite gives them the database's mode; make sure
                owner_only(path.with_name(path.name + suffix))
        except BaseException as error:
            await db.close()
            cause = error.__cause__ if isinstance(error, LedgerError) else error
            if isinstance(cause, sqlite3.Error):
                raise LedgerError(_open_problem(path, cause)) from error
            raise
        log.debug("Job ledger %s open at schema version %d", path, version)
        return cls(db, path, clock)

    @classmethod
    def default_path(cls, data_dir: str | PathLike[str]) -> Path:
        return Path(data_dir) / LEDGER_FILENAME

    @property
    def where(self) -> str:
        return str(self.path)

    async def close(self) -> None:
        async with self._lock:
            db, self._db = self._db, None
            if db is not None:
                await db.close()

    @property
    def closed(self) -> bool:
        return self._db is None

    # ------------------------------------------------------------------ plumbing

    def _connection(self) -> aiosqlite.Connection:
        if self._db is None:
            raise LedgerError("the job ledger is closed")
        return self._db

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[SqlConnection]:
        """One write transaction; committed when the block ends, rolled back on any error.

        The worker thread of aiosqlite runs calls in the order they were queued, so even a
        cancelled caller's BEGIN is followed by this ROLLBACK before the next operation.
        """
        async with self._lock:
            db = self._connection()
            try:
                await db.execute("BEGIN IMMEDIATE")
                yield SqliteConnection(db)
                await db.commit()
            except BaseException as error:
                await _rollback_quietly(db)
                if isinstance(error, sqlite3.Error):
                    raise _database_error(error) from error
                raise

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[SqlConnection]:
        """The connection for reads, under the lock; database errors as `LedgerError`s."""
        async with self._lock:
            db = self._connection()
            try:
                yield SqliteConnection(db)
            except sqlite3.Error as error:
                raise _database_error(error) from error
