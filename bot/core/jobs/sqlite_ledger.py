"""The job ledger in an embedded SQLite file (one aiosqlite connection per bot process).

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
  (``0001_jobs.sql``, ``0002_...``), applied in order at start-up. ``PRAGMA user_version``
  holds the number of the last one applied; each file runs in one transaction together with
  its version bump. A database newer than this code is refused.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiosqlite

from bot.core.jobs import sqlite_inbox
from bot.core.jobs.ledger import (
    ACTIVE_STATES,
    FINAL_STATES,
    UPDATABLE_FIELDS,
    Clock,
    InboxUpdate,
    InvalidTransition,
    Job,
    JobEvent,
    JobLedger,
    JobNotFound,
    JobState,
    LedgerError,
    LedgerUnavailable,
    QueueEntry,
    StaleTransition,
    can_transition,
    utc_now,
)
from bot.storage import owner_only

__all__ = ["LEDGER_FILENAME", "Migration", "SqliteLedger", "load_migrations", "migrate"]

log = logging.getLogger(__name__)

LEDGER_FILENAME = "jobs.sqlite3"
# Seconds to wait for another connection's lock while opening (then: busy_timeout).
OPEN_BUSY_TIMEOUT = 2.0
"""The ledger's file name inside ``BOT_DATA_DIR``."""

MIGRATIONS_PACKAGE = "bot.core.jobs.migrations"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


# ====================================================================== migrations


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        """The file split into single statements (``sqlite3.complete_statement`` decides)."""
        statements: list[str] = []
        pending = ""
        *pieces, rest = self.sql.split(";")
        for piece in pieces:
            pending += piece + ";"
            if sqlite3.complete_statement(pending):
                if _has_code(pending):
                    statements.append(pending.strip())
                pending = ""
        pending += rest
        if _has_code(pending):
            raise LedgerError(f"migration {self.name} ends with an incomplete statement")
        return statements


def _has_code(sql: str) -> bool:
    lines = (line.split("--", 1)[0].strip() for line in sql.splitlines())
    return any(line and line != ";" for line in lines)


def load_migrations(package: str = MIGRATIONS_PACKAGE) -> list[Migration]:
    """The package's ``NNNN_name.sql`` files in number order; numbers must run 1, 2, 3..."""
    found: list[Migration] = []
    for entry in resources.files(package).iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match and entry.is_file():
            found.append(Migration(int(match[1]), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.number)
    for expected, migration in enumerate(found, start=1):
        if migration.number != expected:
            raise LedgerError(
                f"migrations must be numbered 1, 2, 3... without gaps or repeats; "
                f"found {migration.name} where number {expected} belongs"
            )
    return found


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
                raise LedgerError(_too_new(version, known))
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
        raise LedgerError(_too_new(version, known))
    return version


def _too_new(version: int, known: int) -> str:
    return (
        f"the job database is at schema version {version}, but this bot knows only "
        f"{known}: it was written by a newer version of the bot; upgrade the bot"
    )


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


class SqliteLedger(JobLedger):
    """:class:`JobLedger` in one SQLite file. Make it with :meth:`open`; close it when done
    (``async with await SqliteLedger.open(path) as ledger: ...``)."""

    def __init__(self, db: aiosqlite.Connection, path: Path, clock: Clock) -> None:
        """Use :meth:`open`: it configures the connection and applies the migrations."""
        self._db: aiosqlite.Connection | None = db
        self.path = path
        self._clock = clock
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

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ the update inbox

    async def inbox_add(
        self, source: str, updates: Sequence[tuple[int, Mapping[str, Any]]]
    ) -> list[int]:
        now = self._now()
        async with self._transaction() as db:
            return await sqlite_inbox.add(db, source, updates, now)

    async def inbox_done(self, source: str, update_id: int) -> None:
        now = self._now()
        async with self._transaction() as db:
            await sqlite_inbox.done(db, source, update_id, now)

    async def inbox_pending(self, source: str) -> list[InboxUpdate]:
        async with self._reading() as db:
            return await sqlite_inbox.pending(db, source)

    async def inbox_prune(self, older_than: datetime) -> int:
        cutoff = _time("older_than", older_than)
        async with self._transaction() as db:
            return await sqlite_inbox.prune(db, cutoff)

    async def job_by_origin(self, origin: str) -> Job | None:
        async with self._reading() as db:
            job_id = await sqlite_inbox.job_id_by_origin(db, origin)
        return await self.get(job_id) if job_id is not None else None

    async def close(self) -> None:
        async with self._lock:
            db, self._db = self._db, None
            if db is not None:
                await db.close()

    @property
    def closed(self) -> bool:
        return self._db is None

    # ------------------------------------------------------------------ writes

    async def create(
        self,
        *,
        platform: str,
        requester: str,
        scope: str,
        reply_address: Mapping[str, Any],
        reply_secret: str,
        params: Mapping[str, Any],
        **fields: Any,
    ) -> Job:
        now = self._now()
        values: dict[str, Any] = {
            "platform": _key("platform", platform),
            "requester": _key("requester", requester),
            "scope": _key("scope", scope),
            "reply_address": _json_object("reply_address", reply_address),
            "reply_secret": _text("reply_secret", reply_secret),
            "params": _json_object("params", params),
            "state": JobState.QUEUED.value,
            "created_at": now,
            "updated_at": now,
            **_encode_fields(fields),
        }
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        async with self._transaction() as db:
            cursor = await db.execute(
                f"INSERT INTO jobs ({columns}) VALUES ({marks})", tuple(values.values())
            )
            job_id = cursor.lastrowid
            await _add_event(db, job_id, None, JobState.QUEUED, now, "")
            row = await _job_row(db, job_id)
        assert row is not None
        return _job_from_row(row)

    async def transition(
        self,
        job_id: int,
        to: JobState,
        *,
        expected: JobState | Collection[JobState] | None = None,
        note: str = "",
        **fields: Any,
    ) -> Job:
        to = JobState(to)
        wanted = _expected_states(expected)
        if wanted is not None:
            for state in sorted(wanted):
                if not can_transition(state, to):
                    raise InvalidTransition(job_id, state, to)
        values = _encode_fields(fields)
        note = _text("note", note)
        now = self._now()
        async with self._transaction() as db:
            row = await _job_row(db, job_id)
            if row is None:
                raise JobNotFound(job_id)
            current = JobState(row["state"])
            if wanted is not None and current not in wanted:
                raise StaleTransition(job_id, expected=wanted, actual=current, to_state=to)
            if not can_transition(current, to):
                raise InvalidTransition(job_id, current, to)
            _check_entry(job_id, current, to, {**dict(zip(row.keys(), row, strict=True)), **values})

            values["state"] = to.value
            values["updated_at"] = now
            if to is JobState.SUBMITTING:
                values["submitted_at"] = now
            if to is JobState.QUEUED:  # Wiro refused the run call: nothing was started
                values["submitted_at"] = None
            if to in FINAL_STATES:
                values["finished_at"] = now
            assignments = ", ".join(f"{column} = ?" for column in values)
            requeued = 1 if to is JobState.QUEUED else 0
            cursor = await db.execute(
                f"UPDATE jobs SET {assignments}, attempts = attempts + ? "
                "WHERE id = ? AND state = ?",
                (*values.values(), requeued, job_id, current.value),
            )
            if cursor.rowcount != 1:  # cannot happen under BEGIN IMMEDIATE; never assume
                raise StaleTransition(
                    job_id, expected=wanted or {current}, actual=current, to_state=to
                )
            await _add_event(db, job_id, current, to, now, note)
            row = await _job_row(db, job_id)
        assert row is not None
        log.debug("Job %d: %s → %s%s", job_id, current, to, f" ({note})" if note else "")
        return _job_from_row(row)

    async def update(self, job_id: int, **fields: Any) -> Job:
        values = _encode_fields(fields)
        values["updated_at"] = self._now()
        assignments = ", ".join(f"{column} = ?" for column in values)
        async with self._transaction() as db:
            cursor = await db.execute(
                f"UPDATE jobs SET {assignments} WHERE id = ?", (*values.values(), job_id)
            )
            if cursor.rowcount != 1:
                raise JobNotFound(job_id)
            row = await _job_row(db, job_id)
        assert row is not None
        return _job_from_row(row)

    async def prune(self, older_than: datetime) -> int:
        cutoff = _time("older_than", older_than)
        finals = _states_sql(FINAL_STATES)
        doomed = (
            f"SELECT id FROM jobs WHERE state IN ({finals}) AND updated_at < ? "
            "AND selfie_path IS NULL"
        )
        async with self._transaction() as db:
            # The foreign key cascades too; deleting explicitly does not depend on the pragma.
            await db.execute(f"DELETE FROM job_events WHERE job_id IN ({doomed})", (cutoff,))
            cursor = await db.execute(f"DELETE FROM jobs WHERE id IN ({doomed})", (cutoff,))
            deleted = cursor.rowcount
        if deleted:
            log.info("Pruned %d finished jobs last updated before %s", deleted, cutoff)
        return deleted

    # ------------------------------------------------------------------ reads

    async def get(self, job_id: int) -> Job | None:
        rows = await self._fetch("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return _job_from_row(rows[0]) if rows else None

    async def events(self, job_id: int) -> list[JobEvent]:
        rows = await self._fetch("SELECT * FROM job_events WHERE job_id = ? ORDER BY id", (job_id,))
        return [
            JobEvent(
                id=row["id"],
                job_id=row["job_id"],
                from_state=JobState(row["from_state"]) if row["from_state"] is not None else None,
                to_state=JobState(row["to_state"]),
                at=_from_time(row["at"]),
                note=row["note"],
            )
            for row in rows
        ]

    async def unfinished(self) -> list[Job]:
        return await self._jobs(
            f"SELECT * FROM jobs WHERE state IN ({_states_sql(ACTIVE_STATES)}) "
            "ORDER BY created_at, id"
        )

    async def queued(self) -> list[Job]:
        return await self._jobs(
            f"SELECT * FROM jobs WHERE state = ? ORDER BY {_DUE}, id",
            (JobState.QUEUED.value,),
        )

    async def queue_order(self) -> list[QueueEntry]:
        rows = await self._fetch(
            f"SELECT id, not_before FROM jobs WHERE state = ? ORDER BY {_DUE}, id",
            (JobState.QUEUED.value,),
        )
        return [QueueEntry(row[0], _from_optional_time(row[1])) for row in rows]

    async def jobs(self, job_ids: Collection[int]) -> list[Job]:
        wanted = sorted(set(job_ids))
        found: list[Job] = []
        # SQLite caps the number of parameters of one statement; stay well under it.
        for start in range(0, len(wanted), _IDS_PER_QUERY):
            chunk = wanted[start : start + _IDS_PER_QUERY]
            marks = ", ".join("?" * len(chunk))
            found += await self._jobs(
                f"SELECT * FROM jobs WHERE id IN ({marks}) ORDER BY id", chunk
            )
        return found

    async def queue_position(self, job_id: int) -> int | None:
        this_due, ahead_due = _due("this."), _due("ahead.")
        rows = await self._fetch(
            "SELECT COUNT(*) FROM jobs AS this, jobs AS ahead "
            "WHERE this.id = ? AND this.state = ? AND ahead.state = this.state "
            f"AND ({ahead_due} < {this_due} "
            f"OR ({ahead_due} = {this_due} AND ahead.id <= this.id))",
            (job_id, JobState.QUEUED.value),
        )
        position = int(rows[0][0])
        return position or None

    async def recent_for(
        self, requester: str, limit: int = 10, *, scope: str | None = None
    ) -> list[Job]:
        if limit <= 0:
            return []
        if scope is None:
            return await self._jobs(
                "SELECT * FROM jobs WHERE requester = ? ORDER BY created_at DESC, id DESC LIMIT ?",
                (_key("requester", requester), limit),
            )
        return await self._jobs(
            "SELECT * FROM jobs WHERE requester = ? AND scope = ? "
            "ORDER BY created_at DESC, id DESC LIMIT ?",
            (_key("requester", requester), _key("scope", scope), limit),
        )

    async def recent_task_lengths(self, limit: int = 200) -> list[tuple[dict[str, Any], float]]:
        if limit <= 0:
            return []
        rows = await self._fetch(
            "SELECT params, task_seconds FROM jobs WHERE task_seconds IS NOT NULL "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [(json.loads(row["params"]), float(row["task_seconds"])) for row in rows]

    async def count_active(self, requester: str) -> int:
        rows = await self._fetch(
            f"SELECT COUNT(*) FROM jobs WHERE requester = ? "
            f"AND state IN ({_states_sql(ACTIVE_STATES)})",
            (_key("requester", requester),),
        )
        return int(rows[0][0])

    async def count_since(
        self, *, since: datetime, requester: str | None = None, scope: str | None = None
    ) -> int:
        where, args = _quota_filter(since, requester, scope)
        rows = await self._fetch(f"SELECT COUNT(*) FROM jobs WHERE {where}", args)
        return int(rows[0][0])

    async def oldest_since(
        self, *, since: datetime, requester: str | None = None, scope: str | None = None
    ) -> datetime | None:
        where, args = _quota_filter(since, requester, scope)
        rows = await self._fetch(f"SELECT MIN(created_at) FROM jobs WHERE {where}", args)
        value = rows[0][0]
        return _from_time(value) if value is not None else None

    async def last_due_at(self, requester: str) -> datetime | None:
        rows = await self._fetch(
            f"SELECT MAX({_DUE}) FROM jobs WHERE requester = ?", (_key("requester", requester),)
        )
        value = rows[0][0]
        return _from_time(value) if value is not None else None

    async def expired_selfies(self, now: datetime) -> list[Job]:
        return await self._jobs(
            "SELECT * FROM jobs WHERE selfie_path IS NOT NULL AND selfie_expires_at <= ? "
            f"AND state IN ({_states_sql(FINAL_STATES)}) ORDER BY selfie_expires_at, id",
            (_time("now", now),),
        )

    # ------------------------------------------------------------------ other stores' hook

    def transaction(self) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        """The ledger's connection inside one write transaction (``BEGIN IMMEDIATE``),
        committed when the block ends and rolled back on any error; database errors come out
        as `LedgerError` (`LedgerUnavailable` for a full disk, I/O error or lock).

        For the stores that keep their tables in this file (the policy store, the audit log),
        so their SQL lives in their own modules and shares the ledger's lock; never await
        another ledger method inside the block (the lock is not re-entrant)."""
        return self._transaction()

    def reading(self) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        """The ledger's connection for reads under its lock, errors as in `transaction`."""
        return self._reading()

    # ------------------------------------------------------------------ plumbing

    def _now(self) -> str:
        return _time("the clock's time", self._clock())

    def _connection(self) -> aiosqlite.Connection:
        if self._db is None:
            raise LedgerError("the job ledger is closed")
        return self._db

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction; committed when the block ends, rolled back on any error.

        The worker thread of aiosqlite runs calls in the order they were queued, so even a
        cancelled caller's BEGIN is followed by this ROLLBACK before the next operation.
        """
        async with self._lock:
            db = self._connection()
            try:
                await db.execute("BEGIN IMMEDIATE")
                yield db
                await db.commit()
            except BaseException as error:
                await _rollback_quietly(db)
                if isinstance(error, sqlite3.Error):
                    raise _database_error(error) from error
                raise

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection for reads, under the lock; database errors as `LedgerError`s."""
        async with self._lock:
            db = self._connection()
            try:
                yield db
            except sqlite3.Error as error:
                raise _database_error(error) from error

    async def _fetch(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        async with self._lock:
            db = self._connection()
            try:
                return list(await db.execute_fetchall(sql, tuple(args)))
            except sqlite3.Error as error:
                raise _database_error(error) from error

    async def _jobs(self, sql: str, args: Iterable[Any] = ()) -> list[Job]:
        return [_job_from_row(row) for row in await self._fetch(sql, args)]


# ====================================================================== rows and values


async def _job_row(db: aiosqlite.Connection, job_id: int) -> sqlite3.Row | None:
    rows = list(await db.execute_fetchall("SELECT * FROM jobs WHERE id = ?", (job_id,)))
    return rows[0] if rows else None


async def _add_event(
    db: aiosqlite.Connection,
    job_id: int | None,
    from_state: JobState | None,
    to_state: JobState,
    at: str,
    note: str,
) -> None:
    await db.execute(
        "INSERT INTO job_events (job_id, from_state, to_state, at, note) VALUES (?, ?, ?, ?, ?)",
        (job_id, from_state.value if from_state else None, to_state.value, at, note),
    )


def _job_from_row(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        platform=row["platform"],
        requester=row["requester"],
        scope=row["scope"],
        reply_address=json.loads(row["reply_address"]),
        reply_secret=row["reply_secret"],
        params=json.loads(row["params"]),
        state=JobState(row["state"]),
        created_at=_from_time(row["created_at"]),
        updated_at=_from_time(row["updated_at"]),
        submitted_at=_from_optional_time(row["submitted_at"]),
        finished_at=_from_optional_time(row["finished_at"]),
        attempts=row["attempts"],
        wiro_task_id=row["wiro_task_id"],
        wiro_socket_token=row["wiro_socket_token"],
        input_url=row["input_url"],
        outputs=json.loads(row["outputs"]),
        status_message_ref=row["status_message_ref"],
        result_message_ref=row["result_message_ref"],
        failure_reason=row["failure_reason"],
        failure_message=row["failure_message"],
        cost=row["cost"],
        selfie_path=row["selfie_path"],
        selfie_expires_at=_from_optional_time(row["selfie_expires_at"]),
        not_before=_from_optional_time(row["not_before"]),
        failure_detail=row["failure_detail"],
        delivery_nonce=row["delivery_nonce"],
        task_seconds=row["task_seconds"],
    )


def _due(table: str = "") -> str:
    """SQL for when a job became (or becomes) due to start: the queue's order, the same
    expression as the jobs_by_due index. Fixed-width UTC text compares as time."""
    return f"COALESCE({table}not_before, {table}created_at)"


_DUE = _due()
_IDS_PER_QUERY = 500


# Fields a state needs before a job may enter it (checked against the row plus the new values).
_REQUIRED_ON_ENTRY: Mapping[JobState, str] = {
    JobState.RUNNING: "wiro_task_id",
    JobState.DELIVERED: "result_message_ref",
}


def _check_entry(job_id: int, current: JobState, to: JobState, merged: Mapping[str, Any]) -> None:
    required = _REQUIRED_ON_ENTRY.get(to)
    if required is not None and merged.get(required) in (None, ""):
        raise InvalidTransition(job_id, current, to, f"a job enters {to} only with {required}")


def _expected_states(
    expected: JobState | Collection[JobState] | None,
) -> frozenset[JobState] | None:
    if expected is None:
        return None
    if isinstance(expected, str):  # JobState is a str: one state, not a collection of letters
        return frozenset({JobState(expected)})
    states = frozenset(JobState(state) for state in expected)
    if not states:
        raise ValueError("expected must name at least one state")
    return states


def _states_sql(states: Collection[JobState]) -> str:
    # Enum values only (never user input), so inlining them is safe.
    return ", ".join(f"'{state.value}'" for state in sorted(states))


def _quota_filter(
    since: datetime, requester: str | None, scope: str | None
) -> tuple[str, tuple[Any, ...]]:
    # A job counts unless it is final without a run call ever begun for it (submitted_at is
    # set on SUBMITTING and cleared only when Wiro refused the run and the job was requeued).
    clauses = [
        "created_at > ?",  # the rolling window (since, now]: see JobLedger.count_since
        f"(submitted_at IS NOT NULL OR state IN ({_states_sql(ACTIVE_STATES)}))",
    ]
    args: list[Any] = [_time("since", since)]
    if requester is not None:
        clauses.append("requester = ?")
        args.append(_key("requester", requester))
    if scope is not None:
        clauses.append("scope = ?")
        args.append(_key("scope", scope))
    return " AND ".join(clauses), tuple(args)


def _time(what: str, value: datetime) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    plain = value.astimezone(UTC).replace(tzinfo=None)
    return plain.isoformat(timespec="microseconds") + "Z"


def _from_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _from_optional_time(text: str | None) -> datetime | None:
    return _from_time(text) if text is not None else None


def _key(what: str, value: str) -> str:
    """Non-empty text: a platform name, a requester or a scope key."""
    text = _text(what, value)
    if not text:
        raise ValueError(f"{what} must not be empty")
    return text


def _text(what: str, value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    return str(value)  # a StrEnum member becomes its plain value


def _float(what: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number, not {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{what} must be a finite number")
    return number


def _path(what: str, value: str | PathLike[str]) -> str:
    if not isinstance(value, (str, PathLike)):
        raise TypeError(f"{what} must be a path, not {type(value).__name__}")
    return str(Path(value))


def _optional(convert: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    def optional(what: str, value: Any) -> Any:
        return None if value is None else convert(what, value)

    return optional


def _empty_if_none(what: str, value: str | None) -> str:
    return "" if value is None else _text(what, value)


def _dumps(what: str, value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} must be JSON-able: {error}") from error


def _json_object(what: str, value: Mapping[str, Any]) -> str:
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a mapping, not {type(value).__name__}")
    return _dumps(what, dict(value))


def _json_outputs(what: str, value: Iterable[Mapping[str, Any]] | None) -> str:
    if value is None:
        return "[]"
    if isinstance(value, (str, bytes, Mapping)):
        raise TypeError(f"{what} must be a list of mappings")
    items = list(value)
    if not all(isinstance(item, Mapping) for item in items):
        raise TypeError(f"{what} must be a list of mappings")
    return _dumps(what, [dict(item) for item in items])


_ENCODERS: Mapping[str, Callable[[str, Any], Any]] = {
    "wiro_task_id": _optional(_text),
    "wiro_socket_token": _optional(_text),
    "input_url": _optional(_text),
    "outputs": _json_outputs,
    "status_message_ref": _optional(_text),
    "result_message_ref": _optional(_text),
    "failure_reason": _empty_if_none,
    "failure_message": _empty_if_none,
    "failure_detail": _empty_if_none,
    "cost": _optional(_float),
    "selfie_path": _optional(_path),
    "selfie_expires_at": _optional(_time),
    "not_before": _optional(_time),
    "delivery_nonce": _optional(_text),
    "task_seconds": _optional(_float),
}
if set(_ENCODERS) != UPDATABLE_FIELDS:  # pragma: no cover - a programming error
    raise RuntimeError("every updatable job field needs exactly one encoder")


def _encode_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(fields) - UPDATABLE_FIELDS)
    if unknown:
        raise TypeError(f"these job fields cannot be set here: {', '.join(unknown)}")
    return {name: _ENCODERS[name](name, value) for name, value in fields.items()}
