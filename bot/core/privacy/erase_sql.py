"""The SQL of forgetting a member (`bot.core.privacy.forget`), kept out of the ledger's module.

Each function runs on the ledger's connection inside the transaction or read the caller opened
(`SqlLedger.transaction` / `SqlLedger.reading`), on SQLite or PostgreSQL alike but for the
scrub (:func:`secure_delete`, :func:`scrub`). Times are the ledger's ISO-8601 UTC text;
requesters and scopes its keys. Tables added by later migrations (``audit_log`` of 0010,
``scope_policy`` of 0009) are touched only when they exist.

The scrub differs. SQLite: deleted rows are overwritten with zeros (``secure_delete``), the
write-ahead log is emptied and the file rewritten (``VACUUM``), so no page of the file still
holds them. PostgreSQL: ``VACUUM`` of the tables forgetting touches, which removes the deleted
row versions from their pages and indexes once no open transaction can still see them. It
cannot promise more: PostgreSQL keeps no ``secure_delete``, a vacuumed page's free space is
not zeroed until reused, and its write-ahead log and backups keep what was written until they
are recycled. The honest equivalent; disk encryption and backup retention cover the rest.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.jobs.sql import SqlConnection, SqliteConnection
from bot.core.privacy.marks import MARK_PREFIX

_CHUNK = 500  # ids per statement, well under either database's parameter limit
# What forgetting changes (VACUUMed on PostgreSQL after it).
TOUCHED_TABLES = (
    "jobs",
    "job_events",
    "audit_log",
    "scope_policy",
    "inbox",
    "saved_faces",
    "held_requests",
)


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


async def member_jobs(db: SqlConnection, requester: str) -> list[MemberJob]:
    rows = await db.execute_fetchall(
        "SELECT id, state, scope, selfie_path, wiro_task_id, wiro_socket_token, created_at, "
        "submitted_at FROM jobs WHERE requester = ? ORDER BY id",
        (requester,),
    )
    return [MemberJob(*row) for row in rows]


async def states(db: SqlConnection, job_ids: Sequence[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for chunk in _chunks(job_ids):
        marks = ", ".join("?" * len(chunk))
        rows = await db.execute_fetchall(
            f"SELECT id, state FROM jobs WHERE id IN ({marks})", tuple(chunk)
        )
        found.update((int(row[0]), str(row[1])) for row in rows)
    return found


async def delete_jobs(db: SqlConnection, job_ids: Sequence[int]) -> int:
    deleted = 0
    for chunk in _chunks(job_ids):
        marks = ", ".join("?" * len(chunk))
        await db.execute(f"DELETE FROM job_events WHERE job_id IN ({marks})", tuple(chunk))
        deleted += await db.execute(f"DELETE FROM jobs WHERE id IN ({marks})", tuple(chunk))
    return deleted


async def mark_jobs(db: SqlConnection, marks: Sequence[tuple[int, str, str]]) -> int:
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


async def prune_marks(db: SqlConnection, cutoff: str) -> int:
    """Delete quota marks made for jobs created at or before ``cutoff``."""
    await db.execute(
        "DELETE FROM job_events WHERE job_id IN "
        "(SELECT id FROM jobs WHERE requester LIKE ? AND created_at <= ?)",
        (MARK_PREFIX + "%", cutoff),
    )
    return await db.execute(
        "DELETE FROM jobs WHERE requester LIKE ? AND created_at <= ?",
        (MARK_PREFIX + "%", cutoff),
    )


async def delete_audit(db: SqlConnection, requester: str) -> int:
    """The member's audit entries (their requests, and the changes they made as an admin)."""
    if not await _has_table(db, "audit_log"):
        return 0
    return await db.execute("DELETE FROM audit_log WHERE requester = ?", (requester,))


async def forget_policy_editor(db: SqlConnection, requester: str) -> int:
    """Policies the member changed last keep their settings but no longer name them."""
    if not await _has_table(db, "scope_policy"):
        return 0
    return await db.execute(
        "UPDATE scope_policy SET updated_by = NULL WHERE updated_by = ?", (requester,)
    )


async def drop_inbox_updates(db: SqlConnection, user_id: str, now: str) -> int:
    """Updates recorded but not handled yet that come from the member (``"id":<user_id>`` in
    the payload: the sender, or their private chat) are marked handled and emptied, so
    they are neither kept nor processed after a restart."""
    if not re.fullmatch(r"-?\d+", user_id):
        return 0
    holds = db.dialect.contains("payload")
    return await db.execute(
        f"UPDATE inbox SET done_at = ?, payload = '{{}}' WHERE done_at IS NULL "
        f"AND ({holds} OR {holds})",
        (now, f'"id":{user_id},', f'"id":{user_id}}}'),
    )


async def scrub(db: SqlConnection) -> None:
    """Leave no deleted text behind (see the module docstring for what each database allows).
    SQLite: the write-ahead log is copied back and emptied, the database rewritten without free
    pages (VACUUM), and the log emptied again, on the connection that has ``secure_delete`` on.
    PostgreSQL: VACUUM of `TOUCHED_TABLES`. Run outside a transaction (`SqlLedger.reading`)."""
    if not isinstance(db, SqliteConnection):
        await db.execute(f"VACUUM {', '.join(TOUCHED_TABLES)}")
        return
    await _checkpoint(db)
    await db.execute("VACUUM")
    await _checkpoint(db)


async def _checkpoint(db: SqlConnection) -> None:
    # Read to the end: an unfinished statement would keep VACUUM from running.
    rows = list(await db.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)"))
    if rows and rows[0][0]:  # another connection is reading: the log could not be emptied
        raise sqlite3.OperationalError("the write-ahead log is in use; try again")


async def secure_delete(db: SqlConnection) -> None:
    """SQLite: deleted rows are overwritten with zeros from now on, on this connection.
    PostgreSQL has no such setting (see the module docstring): nothing to do."""
    if isinstance(db, SqliteConnection):
        await db.execute_fetchall("PRAGMA secure_delete = ON")


async def _has_table(db: SqlConnection, name: str) -> bool:
    if isinstance(db, SqliteConnection):
        try:
            rows = await db.execute_fetchall(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
            )
        except sqlite3.Error:
            return False
        return bool(rows)
    found = await db.fetch_value("SELECT to_regclass(?::text) IS NOT NULL", (name,))
    return bool(found)


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    items = [int(job_id) for job_id in ids]
    return [items[start : start + _CHUNK] for start in range(0, len(items), _CHUNK)]
