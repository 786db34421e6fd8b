"""The update inbox's SQL for :class:`bot.core.jobs.sql_ledger.SqlLedger` (the table of
migration ``0008_update_inbox.sql``), kept apart from the jobs' SQL; the same on SQLite and
PostgreSQL.

Each function runs on the ledger's connection inside the transaction or read the ledger opened
for it; times are the ledger's ISO-8601 UTC text. Payloads are JSON objects (the update as the
platform sent it); ``source`` is a non-empty key such as ``"telegram:<bot id>"``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.core.jobs.ledger import InboxUpdate, LedgerError
from bot.core.jobs.sql import SqlConnection


def _source(source: str) -> str:
    if not isinstance(source, str) or not source.strip():
        raise LedgerError("inbox source must be non-empty text")
    return source


def _update_id(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise LedgerError(f"update_id must be an int, not {type(value).__name__}")
    return value


async def add(
    db: SqlConnection,
    source: str,
    updates: Sequence[tuple[int, Mapping[str, Any]]],
    now: str,
    holder: str | None = None,
) -> list[int]:
    """Insert the updates not recorded yet, handled by the process ``holder``; returns their
    ids in the order given."""
    source = _source(source)
    new: list[int] = []
    for update_id, payload in updates:
        update_id = _update_id(update_id)
        try:
            text = json.dumps(dict(payload), ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError) as error:
            raise LedgerError(f"update {update_id} is not JSON-able: {error}") from None
        added = await db.execute(
            "INSERT INTO inbox (source, update_id, payload, received_at, handled_by) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (source, update_id) DO NOTHING",
            (source, update_id, text, now, holder),
        )
        if added:
            new.append(update_id)
    return new


async def done(db: SqlConnection, source: str, update_id: int, now: str) -> None:
    # A handled update keeps only its id (to skip a redelivery): the member's text and names
    # in the payload go at once, not with the row.
    await db.execute(
        "UPDATE inbox SET done_at = ?, payload = '{}' "
        "WHERE source = ? AND update_id = ? AND done_at IS NULL",
        (now, _source(source), _update_id(update_id)),
    )


async def pending(db: SqlConnection, source: str) -> list[InboxUpdate]:
    rows = await db.execute_fetchall(
        "SELECT update_id, payload FROM inbox WHERE source = ? AND done_at IS NULL "
        "ORDER BY update_id",
        (_source(source),),
    )
    return updates_of(rows)


def updates_of(rows: Sequence[Any]) -> list[InboxUpdate]:
    """`InboxUpdate`s of ``(update_id, payload)`` rows, by update id."""
    found: list[InboxUpdate] = []
    for row in sorted(rows, key=lambda row: int(row[0])):
        try:
            payload = json.loads(row[1])
        except json.JSONDecodeError as error:  # written by `add`: never, unless edited by hand
            raise LedgerError(f"inbox update {row[0]} is not JSON: {error}") from None
        found.append(InboxUpdate(int(row[0]), payload))
    return found


async def prune(db: SqlConnection, cutoff: str) -> int:
    return await db.execute(
        "DELETE FROM inbox WHERE done_at IS NOT NULL AND done_at < ?", (cutoff,)
    )


async def job_id_by_origin(db: SqlConnection, origin: str) -> int | None:
    if not isinstance(origin, str) or not origin:
        raise LedgerError("origin must be non-empty text")
    origin_sql = db.dialect.json_text("params", "origin")  # as in the jobs_origin index
    rows = await db.execute_fetchall(
        f"SELECT id FROM jobs WHERE {origin_sql} = ? ORDER BY id LIMIT 1", (origin,)
    )
    return int(rows[0][0]) if rows else None
