"""The job ledger's SQL, one for both databases: :class:`SqlLedger` implements every
:class:`JobLedger` method on a :class:`~bot.core.jobs.sql.SqlConnection`; its subclasses
(:class:`~bot.core.jobs.sqlite_ledger.SqliteLedger`,
:class:`~bot.core.jobs.postgres_ledger.PostgresLedger`) open the database, apply its migrations
and say what a transaction and a read are there.

A subclass provides ``_transaction()`` (one write transaction: committed when the block ends,
rolled back on any error; writers of the ledger's database are serialized, so a block that
reads, checks and writes sees no other writer in between), ``_reading()`` (a connection for
reads, not in a transaction: VACUUM may run there), ``close()`` and ``closed``. Both turn the
driver's errors into `LedgerError`, `LedgerUnavailable` (the database cannot be reached or
written now) or `ConstraintViolated`. Transitions are a compare-and-set in SQL too
(``UPDATE ... WHERE id = ? AND state = ?``).
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from bot.core.jobs import inbox_sql
from bot.core.jobs.job_rows import (
    DUE,
    IDS_PER_QUERY,
    check_entry,
    due,
    encode_fields,
    expected_states,
    from_optional_time,
    from_time,
    job_from_row,
    json_object,
    key_text,
    plain_text,
    quota_filter,
    states_sql,
    time_text,
)
from bot.core.jobs.ledger import (
    ACTIVE_STATES,
    FINAL_STATES,
    Clock,
    InboxUpdate,
    InvalidTransition,
    Job,
    JobEvent,
    JobLedger,
    JobNotFound,
    JobState,
    QueueEntry,
    StaleTransition,
    can_transition,
)
from bot.core.jobs.sql import Row, SqlConnection

__all__ = ["SqlLedger"]

log = logging.getLogger(__name__)


class SqlLedger(JobLedger, ABC):
    """:class:`JobLedger` in a SQL database; see the module docstring. Make one with its
    subclass's ``open``; close it when done (``async with await X.open(...) as ledger:``)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    # ------------------------------------------------------------------ the subclass's part

    @abstractmethod
    def _transaction(self) -> AbstractAsyncContextManager[SqlConnection]:
        """One write transaction; see the module docstring."""

    @abstractmethod
    def _reading(self) -> AbstractAsyncContextManager[SqlConnection]:
        """A connection for reads; see the module docstring."""

    @abstractmethod
    async def close(self) -> None: ...

    @property
    @abstractmethod
    def closed(self) -> bool: ...

    @property
    @abstractmethod
    def where(self) -> str:
        """Where the database is, for logs and messages (never a password)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ other stores' hook

    def transaction(self) -> AbstractAsyncContextManager[SqlConnection]:
        """The ledger's database inside one write transaction, committed when the block ends
        and rolled back on any error; database errors come out as `LedgerError`
        (`LedgerUnavailable` for a full disk, a lost server or a lock; `ConstraintViolated`
        for a unique or foreign key refused).

        For the stores that keep their tables in this database (the policy store, the audit
        log, saved faces...), so their SQL lives in their own modules; never await another
        ledger method inside the block (writers are serialized: it would wait for itself)."""
        return self._transaction()

    def reading(self) -> AbstractAsyncContextManager[SqlConnection]:
        """The ledger's database for reads, errors as in `transaction`."""
        return self._reading()

    # ------------------------------------------------------------------ between processes

    async def notify(self, channel: str) -> None:
        """Tell the other processes on this database that ``channel`` changed (PostgreSQL's
        ``NOTIFY``). One process per SQLite file: nothing to tell. Errors are logged."""

    async def listen(
        self, channel: str, heard: Callable[[], None]
    ) -> Callable[[], Awaitable[None]]:
        """Call ``heard()`` whenever another process `notify`s ``channel``, until the returned
        closer is awaited. A lost connection loses the calls: callers still look by themselves
        now and then. SQLite: never called."""

        async def nothing() -> None:
            return None

        return nothing

    # ------------------------------------------------------------------ the update inbox

    async def inbox_add(
        self,
        source: str,
        updates: Sequence[tuple[int, Mapping[str, Any]]],
        *,
        holder: str | None = None,
    ) -> list[int]:
        now = self._now()
        async with self._transaction() as db:
            return await inbox_sql.add(db, source, updates, now, holder)

    async def inbox_done(self, source: str, update_id: int) -> None:
        now = self._now()
        async with self._transaction() as db:
            await inbox_sql.done(db, source, update_id, now)

    async def inbox_pending(self, source: str) -> list[InboxUpdate]:
        async with self._reading() as db:
            return await inbox_sql.pending(db, source)

    async def inbox_prune(self, older_than: datetime) -> int:
        cutoff = time_text("older_than", older_than)
        async with self._transaction() as db:
            return await inbox_sql.prune(db, cutoff)

    async def job_by_origin(self, origin: str) -> Job | None:
        async with self._reading() as db:
            job_id = await inbox_sql.job_id_by_origin(db, origin)
        return await self.get(job_id) if job_id is not None else None

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
            "platform": key_text("platform", platform),
            "requester": key_text("requester", requester),
            "scope": key_text("scope", scope),
            "reply_address": json_object("reply_address", reply_address),
            "reply_secret": plain_text("reply_secret", reply_secret),
            "params": json_object("params", params),
            "state": JobState.QUEUED.value,
            "created_at": now,
            "updated_at": now,
            **encode_fields(fields),
        }
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        async with self._transaction() as db:
            job_id = await db.fetch_value(
                f"INSERT INTO jobs ({columns}) VALUES ({marks}) RETURNING id",
                tuple(values.values()),
            )
            await _add_event(db, job_id, None, JobState.QUEUED, now, "")
            row = await _job_row(db, job_id)
        assert row is not None
        return job_from_row(row)

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
        wanted = expected_states(expected)
        if wanted is not None:
            for state in sorted(wanted):
                if not can_transition(state, to):
                    raise InvalidTransition(job_id, state, to)
        values = encode_fields(fields)
        note = plain_text("note", note)
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
            check_entry(job_id, current, to, {**dict(zip(row.keys(), row, strict=True)), **values})

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
            changed = await db.execute(
                f"UPDATE jobs SET {assignments}, attempts = attempts + ? "
                "WHERE id = ? AND state = ?",
                (*values.values(), requeued, job_id, current.value),
            )
            if changed != 1:  # cannot happen while writers are serialized; never assume
                raise StaleTransition(
                    job_id, expected=wanted or {current}, actual=current, to_state=to
                )
            await _add_event(db, job_id, current, to, now, note)
            row = await _job_row(db, job_id)
        assert row is not None
        log.debug("Job %d: %s → %s%s", job_id, current, to, f" ({note})" if note else "")
        return job_from_row(row)

    async def update(self, job_id: int, **fields: Any) -> Job:
        values = encode_fields(fields)
        values["updated_at"] = self._now()
        assignments = ", ".join(f"{column} = ?" for column in values)
        async with self._transaction() as db:
            changed = await db.execute(
                f"UPDATE jobs SET {assignments} WHERE id = ?", (*values.values(), job_id)
            )
            if changed != 1:
                raise JobNotFound(job_id)
            row = await _job_row(db, job_id)
        assert row is not None
        return job_from_row(row)

    async def prune(self, older_than: datetime) -> int:
        cutoff = time_text("older_than", older_than)
        finals = states_sql(FINAL_STATES)
        doomed = (
            f"SELECT id FROM jobs WHERE state IN ({finals}) AND updated_at < ? "
            "AND selfie_path IS NULL"
        )
        async with self._transaction() as db:
            # The foreign key cascades too; deleting explicitly does not depend on it.
            await db.execute(f"DELETE FROM job_events WHERE job_id IN ({doomed})", (cutoff,))
            deleted = await db.execute(f"DELETE FROM jobs WHERE id IN ({doomed})", (cutoff,))
        if deleted:
            log.info("Pruned %d finished jobs last updated before %s", deleted, cutoff)
        return deleted

    # ------------------------------------------------------------------ reads

    async def get(self, job_id: int) -> Job | None:
        rows = await self._fetch("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return job_from_row(rows[0]) if rows else None

    async def events(self, job_id: int) -> list[JobEvent]:
        rows = await self._fetch("SELECT * FROM job_events WHERE job_id = ? ORDER BY id", (job_id,))
        return [
            JobEvent(
                id=row["id"],
                job_id=row["job_id"],
                from_state=JobState(row["from_state"]) if row["from_state"] is not None else None,
                to_state=JobState(row["to_state"]),
                at=from_time(row["at"]),
                note=row["note"],
            )
            for row in rows
        ]

    async def unfinished(self) -> list[Job]:
        return await self._jobs(
            f"SELECT * FROM jobs WHERE state IN ({states_sql(ACTIVE_STATES)}) "
            "ORDER BY created_at, id"
        )

    async def queued(self) -> list[Job]:
        return await self._jobs(
            f"SELECT * FROM jobs WHERE state = ? ORDER BY {DUE}, id",
            (JobState.QUEUED.value,),
        )

    async def queue_order(self) -> list[QueueEntry]:
        rows = await self._fetch(
            f"SELECT id, not_before FROM jobs WHERE state = ? ORDER BY {DUE}, id",
            (JobState.QUEUED.value,),
        )
        return [QueueEntry(row[0], from_optional_time(row[1])) for row in rows]

    async def jobs(self, job_ids: Collection[int]) -> list[Job]:
        wanted = sorted(set(job_ids))
        found: list[Job] = []
        # Both databases cap the number of parameters of one statement; stay well under it.
        for start in range(0, len(wanted), IDS_PER_QUERY):
            chunk = wanted[start : start + IDS_PER_QUERY]
            marks = ", ".join("?" * len(chunk))
            found += await self._jobs(
                f"SELECT * FROM jobs WHERE id IN ({marks}) ORDER BY id", chunk
            )
        return found

    async def queue_position(self, job_id: int) -> int | None:
        this_due, ahead_due = due("this."), due("ahead.")
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
                (key_text("requester", requester), limit),
            )
        return await self._jobs(
            "SELECT * FROM jobs WHERE requester = ? AND scope = ? "
            "ORDER BY created_at DESC, id DESC LIMIT ?",
            (key_text("requester", requester), key_text("scope", scope), limit),
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
            f"AND state IN ({states_sql(ACTIVE_STATES)})",
            (key_text("requester", requester),),
        )
        return int(rows[0][0])

    async def count_since(
        self, *, since: datetime, requester: str | None = None, scope: str | None = None
    ) -> int:
        where, args = quota_filter(since, requester, scope)
        rows = await self._fetch(f"SELECT COUNT(*) FROM jobs WHERE {where}", args)
        return int(rows[0][0])

    async def oldest_since(
        self, *, since: datetime, requester: str | None = None, scope: str | None = None
    ) -> datetime | None:
        where, args = quota_filter(since, requester, scope)
        rows = await self._fetch(f"SELECT MIN(created_at) FROM jobs WHERE {where}", args)
        value = rows[0][0]
        return from_time(value) if value is not None else None

    async def last_due_at(self, requester: str) -> datetime | None:
        rows = await self._fetch(
            f"SELECT MAX({DUE}) FROM jobs WHERE requester = ?", (key_text("requester", requester),)
        )
        value = rows[0][0]
        return from_time(value) if value is not None else None

    async def expired_selfies(self, now: datetime) -> list[Job]:
        return await self._jobs(
            "SELECT * FROM jobs WHERE selfie_path IS NOT NULL AND selfie_expires_at <= ? "
            f"AND state IN ({states_sql(FINAL_STATES)}) ORDER BY selfie_expires_at, id",
            (time_text("now", now),),
        )

    # ------------------------------------------------------------------ plumbing

    def _now(self) -> str:
        return time_text("the clock's time", self._clock())

    async def _fetch(self, sql: str, args: Iterable[Any] = ()) -> Sequence[Row]:
        async with self._reading() as db:
            return await db.execute_fetchall(sql, tuple(args))

    async def _jobs(self, sql: str, args: Iterable[Any] = ()) -> list[Job]:
        return [job_from_row(row) for row in await self._fetch(sql, args)]


async def _job_row(db: SqlConnection, job_id: int) -> Row | None:
    rows = await db.execute_fetchall("SELECT * FROM jobs WHERE id = ?", (job_id,))
    return rows[0] if rows else None


async def _add_event(
    db: SqlConnection,
    job_id: int,
    from_state: JobState | None,
    to_state: JobState,
    at: str,
    note: str,
) -> None:
    await db.execute(
        "INSERT INTO job_events (job_id, from_state, to_state, at, note) VALUES (?, ?, ?, ?, ?)",
        (job_id, from_state.value if from_state else None, to_state.value, at, note),
    )
