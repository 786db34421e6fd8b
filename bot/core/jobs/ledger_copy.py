"""Copying the job ledger from the SQLite file into an empty PostgreSQL database
(``python -m bot migrate-db``; the command itself is :mod:`bot.migrate_db`).

Both databases have the same tables and columns (the same numbered migrations,
:mod:`bot.core.jobs.schema`) and the same values: times are the same ISO-8601 UTC text, JSON
columns the same JSON text. So a copy is row by row, column by column, ids kept:

* Every table of `COPIED_TABLES`, in that order (``jobs`` before ``job_events``, whose rows
  point at them), in one PostgreSQL write transaction (`SqlLedger.transaction`: the ledger's
  advisory write lock is held, so a bot starting on the target meanwhile waits for the end and
  then sees every row, and a second copy finds the rows and is refused). Any error rolls the
  whole copy back: the target is then as empty as before.
* ``leases`` (`SKIPPED_TABLES`) is not copied: it is process state, and each running bot takes
  its own.
* The audit trigger of ``0010_audit_log.sql`` (``audit_job_end``) runs ``AFTER UPDATE OF
  state ON jobs`` only: the copy only inserts, so it never fires and ``audit_log`` rows arrive
  as they were (they are inserted after the jobs all the same, and counted afterwards).
* Identity sequences are set past the highest id the SQLite file ever gave (its
  ``sqlite_sequence``, which also remembers ids of rows already pruned, so an id that travelled
  in a button is never given again), or past the highest copied id.
* Afterwards the rows of each table are counted on both sides; a difference rolls back.

Refusals (`CopyRefused`, one line, no row written): a target a bot is using (an unexpired row
in its ``leases``: a process's heartbeat or the Telegram polling lease), a target that already
holds rows (no silent merge), an SQLite table this module does not know (`check_source`), tables
the two databases do not share, a value that does not fit its column. `check_source` and
`check_target` ask before anything is written (before the target is migrated); the copy asks
again inside its transaction. A value that does not fit is found only while copying: the
target then keeps its migrated, empty tables.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from bot.core.jobs.database_url import describe_url, redacted
from bot.core.jobs.job_rows import time_text
from bot.core.jobs.ledger import Clock, LedgerError, utc_now
from bot.core.jobs.postgres_ledger import SCHEMA_TABLE, PostgresLedger
from bot.core.jobs.schema import POSTGRES_MIGRATIONS_PACKAGE, load_migrations, too_new
from bot.core.jobs.sql import PostgresConnection, SqlConnection
from bot.core.jobs.sqlite_ledger import SqliteLedger

__all__ = [
    "COPIED_TABLES",
    "SKIPPED_TABLES",
    "CopyRefused",
    "CopyResult",
    "check_source",
    "check_target",
    "copy_ledger",
    "target_refusal",
]

# Every table of the ledger, in the order they are copied (a row before the rows naming it).
COPIED_TABLES = (
    "jobs",
    "job_events",
    "inbox",
    "scope_policy",
    "audit_log",
    "owner_alerts",
    "saved_faces",
    "held_requests",
)
# Tables left behind, and why (for the command's summary).
SKIPPED_TABLES = {"leases": "process state: each running bot takes its own"}
BATCH_ROWS = 500  # rows read from SQLite and sent to PostgreSQL at a time
CONNECT_TIMEOUT = 10.0  # seconds
_INTEGERS = {"bigint", "integer", "smallint"}
_FLOATS = {"double precision", "real", "numeric"}


class CopyRefused(LedgerError):
    """The copy cannot be made; the message is one line saying why. Nothing was written."""


@dataclass(frozen=True)
class CopyResult:
    """What was copied: ``counts`` rows per table (`COPIED_TABLES` order), at schema
    ``version``."""

    counts: dict[str, int]
    version: int


# ====================================================================== the target's checks


async def target_refusal(db: SqlConnection, now: datetime) -> str | None:
    """Why the PostgreSQL database on ``db`` cannot take the copy, or None: a bot is using it
    (an unexpired lease at ``now``), or it already holds rows. Works before its tables exist
    (a new database)."""
    if await _exists(db, "leases"):
        rows = await db.execute_fetchall(
            "SELECT name, expires_at FROM leases WHERE expires_at > ? ORDER BY name LIMIT 1",
            (time_text("now", now),),
        )
        if rows:
            name, until = rows[0][0], rows[0][1]
            return (
                f"a bot is using the target database (it holds the lease {name!r} until "
                f"{until}): stop every bot on it first"
            )
    for table in COPIED_TABLES:
        if await _exists(db, table) and await db.fetch_value(
            f"SELECT EXISTS (SELECT 1 FROM {table})"
        ):
            return (
                f"the target database is not empty (its table {table} has rows): migrate-db "
                "copies into an empty database only; give it a new one"
            )
    return None


async def check_target(url: str, *, clock: Clock = utc_now) -> None:
    """Ask the database at ``url`` whether it can take the copy, writing nothing (not even
    its migrations): raises `CopyRefused` when it cannot be reached, is newer than this code,
    is in use or holds rows. Messages never hold the URL's password."""
    where = describe_url(url)
    try:
        conn = await asyncpg.connect(url.strip(), timeout=CONNECT_TIMEOUT)
    except Exception as error:  # unreachable, login refused, a malformed URL
        reason = redacted(f"{type(error).__name__}: {error}", url)
        raise CopyRefused(f"cannot reach the target database {where}: {reason}") from None
    try:
        db = PostgresConnection(conn)
        known = len(load_migrations(POSTGRES_MIGRATIONS_PACKAGE))
        if await _exists(db, SCHEMA_TABLE):
            version = int(await db.fetch_value(f"SELECT MAX(number) FROM {SCHEMA_TABLE}") or 0)
            if version > known:
                raise CopyRefused(too_new(version, known))
        problem = await target_refusal(db, clock())
    except asyncpg.PostgresError as error:
        reason = redacted(f"{type(error).__name__}: {error}", url)
        raise CopyRefused(f"cannot read the target database {where}: {reason}") from None
    finally:
        await conn.close()
    if problem:
        raise CopyRefused(problem)


async def check_source(source: SqliteLedger) -> None:
    """Raise `CopyRefused` when the SQLite file has a table this copy does not know (one made
    by hand, or by a newer migration this module was not taught): it would be left behind."""
    async with source.reading() as src:
        rows = await src.execute_fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    unknown = sorted({str(row[0]) for row in rows} - set(COPIED_TABLES) - set(SKIPPED_TABLES))
    if unknown:
        raise CopyRefused(f"the SQLite file has tables migrate-db does not know: {unknown}")


async def _exists(db: SqlConnection, table: str) -> bool:
    return bool(await db.fetch_value("SELECT to_regclass(?) IS NOT NULL", (table,)))


# ====================================================================== the copy


async def copy_ledger(
    source: SqliteLedger, target: PostgresLedger, *, clock: Clock = utc_now
) -> CopyResult:
    """Copy every row of ``source`` (migrated to the current schema) into ``target`` (migrated,
    empty), as the module docstring says. Raises `CopyRefused` (the target is in use or not
    empty, the schemas differ, a value does not fit) or `LedgerError` (the database); the
    target is then unchanged. ``source`` is only read."""
    await check_source(source)
    async with source.reading() as src:
        version = int(await src.fetch_value("PRAGMA user_version"))
        columns = {table: await _sqlite_columns(src, table) for table in COPIED_TABLES}
        used_ids = {
            str(row[0]): int(row[1])
            for row in await src.execute_fetchall("SELECT name, seq FROM sqlite_sequence")
        }
        expected = {
            table: int(await src.fetch_value(f"SELECT count(*) FROM {table}"))
            for table in COPIED_TABLES
        }
    async with target.transaction() as db:
        problem = await target_refusal(db, clock())
        if problem:
            raise CopyRefused(problem)
        target_version = int(await db.fetch_value(f"SELECT MAX(number) FROM {SCHEMA_TABLE}"))
        if target_version != version:
            raise CopyRefused(
                f"the SQLite file is at schema version {version} and the target at "
                f"{target_version}: they must be the same"
            )
        counts: dict[str, int] = {}
        for table in COPIED_TABLES:
            kinds = await _postgres_columns(db, table)
            if set(kinds) != set(columns[table]):
                raise CopyRefused(
                    f"the table {table} has other columns in the two databases: SQLite "
                    f"{sorted(columns[table])}, PostgreSQL {sorted(kinds)}"
                )
            counts[table] = await _copy_table(source, db, table, columns[table], kinds)
            if "id" in kinds:
                await _advance_identity(db, table, used_ids.get(table, 0))
        for table in COPIED_TABLES:
            found = int(await db.fetch_value(f"SELECT count(*) FROM {table}"))
            if not found == counts[table] == expected[table]:
                raise LedgerError(
                    f"the copy of {table} does not add up: {expected[table]} rows in SQLite, "
                    f"{counts[table]} copied, {found} in PostgreSQL; nothing was kept"
                )
    return CopyResult(counts, version)


async def _sqlite_columns(src: SqlConnection, table: str) -> list[str]:
    return [str(row[1]) for row in await src.execute_fetchall(f"PRAGMA table_info({table})")]


async def _postgres_columns(db: SqlConnection, table: str) -> dict[str, str]:
    """The table's columns and their types (``information_schema``'s ``data_type``)."""
    rows = await db.execute_fetchall(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ?",
        (table,),
    )
    return {str(row[0]): str(row[1]) for row in rows}


async def _copy_table(
    source: SqliteLedger,
    db: SqlConnection,
    table: str,
    names: Sequence[str],
    kinds: dict[str, str],
) -> int:
    """Copy ``table``'s rows in batches of `BATCH_ROWS` (in rowid order); how many."""
    if not isinstance(db, PostgresConnection):
        raise TypeError("the copy's target must be a PostgreSQL connection")
    listed = ", ".join(names)
    select = f"SELECT rowid, {listed} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?"
    marks = ", ".join(f"${number}" for number in range(1, len(names) + 1))
    insert = f"INSERT INTO {table} ({listed}) VALUES ({marks})"
    copied, last = 0, -(2**63)  # SQLite's smallest rowid
    while True:
        async with source.reading() as src:
            rows = await src.execute_fetchall(select, (last, BATCH_ROWS))
        if not rows:
            return copied
        batch = [_converted(table, row, names, kinds) for row in rows]
        await db.raw.executemany(insert, batch)
        copied += len(batch)
        last = rows[-1][0]
        await asyncio.sleep(0)  # let the pool's keep-alives and a Ctrl-C through


def _converted(
    table: str, row: Any, names: Sequence[str], kinds: dict[str, str]
) -> tuple[Any, ...]:
    """The row's values (after its rowid) as the PostgreSQL columns take them. SQLite keeps
    any value in any column; one that does not fit is refused, naming where it is."""
    values = []
    for name, value in zip(names, list(row)[1:], strict=True):
        kind = kinds[name]
        try:
            values.append(_value(kind, value))
        except (TypeError, ValueError):
            raise CopyRefused(
                f"row {row[0]} of {table} holds in {name} a {type(value).__name__} that is not "
                f"a {kind}: fix it in the SQLite file first"
            ) from None
    return tuple(values)


def _value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bytes):
        raise TypeError("bytes")
    if kind in _INTEGERS:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError("a fraction")
        return int(value)
    if kind in _FLOATS:
        return float(value)
    if kind == "text":
        return value if isinstance(value, str) else str(value)
    raise TypeError(kind)


async def _advance_identity(db: SqlConnection, table: str, used: int) -> None:
    """Make ``table``'s next id one past the highest it holds or SQLite ever gave (``used``)."""
    highest = max(int(await db.fetch_value(f"SELECT COALESCE(MAX(id), 0) FROM {table}")), used)
    if highest > 0:
        await db.fetch_value(
            "SELECT setval(pg_get_serial_sequence(?, 'id'), ?, true)", (table, highest)
        )
    else:
        await db.fetch_value("SELECT setval(pg_get_serial_sequence(?, 'id'), 1, false)", (table,))
