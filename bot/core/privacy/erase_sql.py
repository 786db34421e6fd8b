"""The SQL of forgetting a member (`bot.core.privacy.forget`), kept out of the ledger's module.

Each function runs on the ledger's connection inside the transaction or read the caller opened
(`SqliteLedger.transaction` / `SqliteLedger.reading`). Times are the ledger's ISO-8601 UTC
text; requesters and scopes its keys. Tables added by later migrations (``audit_log`` of 0010,
``scope_policy`` of 0009) are touched only when they exist.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from bot.core.privacy.marks import MARK_PREFIX

_CHUNK = 500  # ids per statement, well under SQLite's parameter limit


@dataclass(frozen=True)
class MemberJob:
    """What forgetting needs of one of the member's jobs."""

    id: int
    state: str
    scope: str
    selfie_path: str | None
    wiro_task_id: str | None
    wiro_socket_token: str | None
    created_at: str
    submitted_at: str | None


async def member_jobs(db: aiosqlite.Connection, requester: str) -> list[MemberJob]:
    rows = await db.execute_fetchall(
        "SELECT id, state, scope, selfie_path, wiro_task_id, wiro_socket_token, created_at, "
        "submitted_at FROM jobs WHERE requester = ? ORDER BY id",
        (requester,),
    )
    return [MemberJob(*row) for row in rows]


async def states(db: aiosqlite.Connection, job_ids: Sequence[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for chunk in _chunks(job_ids):
        marks = ", ".join("?" * len(chunk))
        rows = await db.execute_fetchall(
            f"SELECT id, state FROM jobs WHERE id IN ({marks})", tuple(chunk)
        )
        found.update((int(row[0]), str(row[1])) for row in rows)
    return found


async def delete_jobs(db: aiosqlite.Connection, job_ids: Sequence[int]) -> int:
    deleted = 0
    for chunk in _chunks(job_ids):
        marks = ", ".join("?" * len(chunk))
        await db.execute(f"DELETE FROM job_events WHERE job_id IN ({marks})", tuple(chunk))
        cursor = await db.execute(f"DELETE FROM jobs WHERE id IN ({marks})", tuple(chunk))
        deleted += cursor.rowcount
    return deleted


async def mark_jobs(db: aiosqlite.Connection, marks: Sequence[tuple[int, str, str]]) -> int:
    """Turn jobs into quota marks: ``(job id, mark, scope to keep)``; everything that could
    name the member is cleared, and the job's events go."""
    for job_id, mark, scope in marks:
        await db.execute("DELETE FROM job_events WHERE job_id = ?", (job_id,))
        await db.execute(
            "UPDATE jobs SET requester = ?, scope = ?, reply_address = '{}', reply_secret = '', "
            "params = '{}', wiro_task_id = NULL, wiro_socket_token = NULL, input_url = NULL, "
            "outputs = '[]', status_message_ref = NULL, result_message_ref = NULL, "
            "failure_message = '', failure_detail = '', selfie_path = NULL, "
            "selfie_expires_at = NULL, delivery_nonce = NULL, task_seconds = NULL "
            "WHERE id = ?",
            (mark, scope, job_id),
        )
    return len(marks)


async def prune_marks(db: aiosqlite.Connection, cutoff: str) -> int:
    """Delete quota marks made for jobs created at or before ``cutoff``."""
    await db.execute(
        "DELETE FROM job_events WHERE job_id IN "
        "(SELECT id FROM jobs WHERE requester LIKE ? AND created_at <= ?)",
        (MARK_PREFIX + "%", cutoff),
    )
    cursor = await db.execute(
        "DELETE FROM jobs WHERE requester LIKE ? AND created_at <= ?",
        (MARK_PREFIX + "%", cutoff),
    )
    return int(cursor.rowcount)


async def delete_audit(db: aiosqlite.Connection, requester: str) -> int:
    """The member's audit entries (their requests, and the changes they made as an admin)."""
    if not await _has_table(db, "audit_log"):
        return 0
    cursor = await db.execute("DELETE FROM audit_log WHERE requester = ?", (requester,))
    return int(cursor.rowcount)


async def forget_policy_editor(db: aiosqlite.Connection, requester: str) -> int:
    """Policies the member changed last keep their settings but no longer name them."""
    if not await _has_table(db, "scope_policy"):
        return 0
    cursor = await db.execute(
        "UPDATE scope_policy SET updated_by = NULL WHERE updated_by = ?", (requester,)
    )
    return int(cursor.rowcount)


async def drop_inbox_updates(db: aiosqlite.Connection, user_id: str, now: str) -> int:
    """Updates recorded but not handled yet that come from the member (``"id":<user_id>`` in
    the payload: the sender, or their private chat) are marked handled and emptied, so
    they are neither kept nor processed after a restart."""
    if not re.fullmatch(r"-?\d+", user_id):
        return 0
    cursor = await db.execute(
        "UPDATE inbox SET done_at = ?, payload = '{}' WHERE done_at IS NULL "
        "AND (instr(payload, ?) > 0 OR instr(payload, ?) > 0)",
        (now, f'"id":{user_id},', f'"id":{user_id}}}'),
    )
    return int(cursor.rowcount)


async def scrub(db: aiosqlite.Connection) -> None:
    """Leave no deleted text in the file: the write-ahead log is copied back and emptied, the
    database rewritten without free pages (VACUUM), and the log emptied again. Run outside a
    transaction, on the connection that has ``secure_delete`` on."""
    await _checkpoint(db)
    await db.execute("VACUUM")
    await _checkpoint(db)


async def _checkpoint(db: aiosqlite.Connection) -> None:
    # Read to the end: an unfinished statement would keep VACUUM from running.
    rows = list(await db.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)"))
    if rows and rows[0][0]:  # another connection is reading: the log could not be emptied
        raise sqlite3.OperationalError("the write-ahead log is in use; try again")


async def secure_delete(db: aiosqlite.Connection) -> None:
    """Deleted rows are overwritten with zeros from now on, on this connection."""
    await db.execute_fetchall("PRAGMA secure_delete = ON")


async def _has_table(db: aiosqlite.Connection, name: str) -> bool:
    try:
        rows = await db.execute_fetchall(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        )
    except sqlite3.Error:
        return False
    return bool(list(rows))


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    items = [int(job_id) for job_id in ids]
    return [items[start : start + _CHUNK] for start in range(0, len(items), _CHUNK)]
