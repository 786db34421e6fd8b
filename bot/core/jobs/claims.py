"""Which bot process works on which job, when several share one database (issue 14).

Every process holds the lease ``process:<holder>`` (`bot.core.jobs.leases`) and renews it
while it lives (`heartbeat`). A job's ``claimed_by`` (migration ``0014_job_claims.sql``) names
the process working on it:

* **Starting queued jobs** (`reserve`): in one write transaction, the jobs at Wiro across all
  processes (``submitting`` and ``running``, plus queued jobs a live process has reserved and
  is about to start) are counted against ``MAX_RUNNING_TASKS``, and as many of the candidates
  as there is room for are claimed, in queue order. The ledger serializes write transactions
  (SQLite's write lock; on PostgreSQL a transaction-level advisory lock,
  `bot.core.jobs.postgres_ledger`), so two processes never count at once and the limit holds
  exactly; on PostgreSQL the candidate rows are also read ``FOR UPDATE SKIP LOCKED``, so a row
  being changed elsewhere is passed over, not waited for.
* On SQLite the data folder's lock (`bot.storage.exclusive_use`) already makes this the only
  process, so claims of any other holder are dead at once: a restart after a crash picks its
  jobs up immediately, not after the lease's time.
* **Orphans** (`adopt_orphans`): an unfinished job claimed by nobody, or by a process whose
  lease has expired (it crashed, was killed or lost its database), is claimed by a compare-
  and-set on ``claimed_by`` (one process wins) and picked up where the ledger has it: its task
  followed, its result delivered, exactly once (the job's own state transitions are
  compare-and-sets too). At start-up this is how a process resumes its own earlier jobs.

Errors: `LedgerError` from the database.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from bot.core.jobs import inbox_sql
from bot.core.jobs.job_rows import time_text
from bot.core.jobs.leases import Leases
from bot.core.jobs.ledger import ACTIVE_STATES, Clock, InboxUpdate, JobState, utc_now
from bot.core.jobs.sql import SqlConnection
from bot.core.jobs.sql_ledger import SqlLedger

__all__ = ["PROCESS_LEASE_TTL", "JobClaims", "process_lease"]

log = logging.getLogger(__name__)

# How long a process that stopped renewing keeps its claims (renewed every third of it).
PROCESS_LEASE_TTL = timedelta(seconds=30)
_AT_WIRO = (JobState.SUBMITTING.value, JobState.RUNNING.value)
_PICKED_UP = tuple(sorted(state.value for state in ACTIVE_STATES - {JobState.QUEUED}))
# Claimed by a process whose lease is alive (the leases' holder is the process's name).
_LIVE = "SELECT holder FROM leases WHERE name = 'process:' || holder AND expires_at > ?"
# SQLite: one process has the data folder (its file lock), so every other holder is gone.
_ONLY_ME = "SELECT holder FROM leases WHERE name = 'process:' || holder AND holder = ?"


# PostgreSQL's NOTIFY channel of the queue (`slot_freed`, `watch`).
QUEUE_CHANNEL = "portrait_queue"


def process_lease(holder: str) -> str:
    """The lease that says the process ``holder`` is alive."""
    return f"process:{holder}"


class JobClaims:
    """The claims of this process (``leases.holder``) on ``ledger``'s jobs."""

    def __init__(
        self,
        ledger: SqlLedger,
        leases: Leases,
        *,
        ttl: timedelta = PROCESS_LEASE_TTL,
        clock: Clock = utc_now,
    ) -> None:
        self._ledger = ledger
        self._leases = leases
        self.ttl = ttl
        self._clock = clock
        self.more_room = False  # the last `reserve` left free slots to the other processes

    def _live(self, db: SqlConnection) -> tuple[str, str]:
        """The subquery of live holders on ``db``, and its one argument."""
        if db.dialect.name == "postgresql":
            return _LIVE, time_text("time", self._clock())
        return _ONLY_ME, self.holder

    @property
    def holder(self) -> str:
        return self._leases.holder

    async def heartbeat(self) -> bool:
        """Renew this process's lease; False if it had expired and another process may have
        picked up its jobs (it is taken again all the same). Raises `LedgerError`."""
        return await self._leases.acquire(process_lease(self.holder), self.ttl)

    async def reserve(self, candidates: Sequence[int], max_running: int) -> list[int]:
        """Claim, in the order given, the queued jobs of ``candidates`` this process may start
        now without more than ``max_running`` jobs at Wiro across every process. A job another
        live process reserved, or that is no longer queued, is skipped. Returns the claimed
        ids (their state is still ``queued``: the caller starts them), this process's earlier
        reservations among them.

        With several live processes, one look takes only its share of the free slots (the free
        slots divided by the live processes, rounded up), so the work spreads over them; the
        others are told of freed slots (`slot_freed`). `more_room` says whether slots were
        left for the others (look again soon if they do not take them)."""
        self.more_room = False
        if not candidates or max_running <= 0:
            return []
        async with self._ledger.transaction() as db:
            live, now = self._live(db)
            busy = await db.fetch_value(
                "SELECT COUNT(*) FROM jobs WHERE state IN (?, ?) OR (state = ? AND "
                f"claimed_by <> ? AND claimed_by IN ({live}))",
                (*_AT_WIRO, JobState.QUEUED.value, self.holder, now),
            )
            rows = await db.execute_fetchall(
                "SELECT id FROM jobs WHERE state = ? AND claimed_by = ?",
                (JobState.QUEUED.value, self.holder),
            )
            mine = {int(row[0]) for row in rows}
            room = max_running - int(busy) - len(mine)
            share = room
            postgres = db.dialect.name == "postgresql"
            if postgres and room > 1:
                processes = await db.fetch_value(
                    "SELECT COUNT(*) FROM leases WHERE name = 'process:' || holder "
                    "AND expires_at > ?",
                    (now,),
                )
                share = -(-room // max(1, int(processes)))  # rounded up
            lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
            taken: set[int] = set()
            for job_id in candidates:
                if len(taken) >= share:
                    break
                if job_id in mine:
                    continue
                found = await db.fetch_value(
                    "SELECT id FROM jobs WHERE id = ? AND state = ? AND (claimed_by IS NULL "
                    f"OR claimed_by NOT IN ({live})){lock}",
                    (job_id, JobState.QUEUED.value, now),
                )
                if found is None:
                    continue  # another live process has it, or it is no longer queued
                await db.execute(
                    "UPDATE jobs SET claimed_by = ? WHERE id = ?", (self.holder, job_id)
                )
                taken.add(job_id)
        self.more_room = room > len(taken) and len(taken) >= share
        return [job_id for job_id in candidates if job_id in mine or job_id in taken]

    async def adopt_orphans(self) -> list[int]:
        """Claim the unfinished, started jobs (``submitting``, ``running``, ``delivering``)
        that no live process has claimed; returns their ids for the caller to pick up."""
        marks = ", ".join("?" * len(_PICKED_UP))
        async with self._ledger.reading() as db:
            live, now = self._live(db)
            rows = await db.execute_fetchall(
                f"SELECT id, claimed_by FROM jobs WHERE state IN ({marks}) AND "
                f"(claimed_by IS NULL OR claimed_by NOT IN ({live}))",
                (*_PICKED_UP, now),
            )
            orphans = [(int(row[0]), row[1]) for row in rows]
        adopted: list[int] = []
        for job_id, was in orphans:
            async with self._ledger.transaction() as db:
                # Compare-and-set: of several processes adopting at once, one wins.
                won = await db.execute_fetchall(
                    "UPDATE jobs SET claimed_by = ? WHERE id = ? AND "
                    "COALESCE(claimed_by, '') = ? RETURNING id",
                    (self.holder, job_id, was or ""),
                )
            if list(won):
                adopted.append(job_id)
        if adopted:
            log.info("Picking up %d job(s) no live process works on", len(adopted))
        return adopted

    async def release_queued(self) -> None:
        """Give back the queued jobs this process reserved but did not start (stopping)."""
        async with self._ledger.transaction() as db:
            await db.execute(
                "UPDATE jobs SET claimed_by = NULL WHERE state = ? AND claimed_by = ?",
                (JobState.QUEUED.value, self.holder),
            )

    async def adopt_updates(self, source: str) -> list[InboxUpdate]:
        """Claim the recorded, not yet handled updates of ``source`` whose process is gone
        (or that name none), for this process to handle; in update order."""
        async with self._ledger.transaction() as db:
            live, now = self._live(db)
            rows = await db.execute_fetchall(
                "UPDATE inbox SET handled_by = ? WHERE source = ? AND done_at IS NULL AND "
                f"(handled_by IS NULL OR (handled_by <> ? AND handled_by NOT IN ({live}))) "
                "RETURNING update_id, payload",
                (self.holder, source, self.holder, now),
            )
        return inbox_sql.updates_of(rows)

    async def slot_freed(self) -> None:
        """A job of this process left Wiro (or its queue): wake the other processes, so a
        freed slot is not always taken by the process that freed it."""
        await self._ledger.notify(QUEUE_CHANNEL)

    async def watch(self, wake: Callable[[], None]) -> Callable[[], Awaitable[None]]:
        """Call ``wake()`` when another process frees a slot; returns the closer."""
        return await self._ledger.listen(QUEUE_CHANNEL, wake)

    async def release(self) -> None:
        """Stopping: give up this process's lease, so the other processes pick up its
        unfinished jobs at once instead of after the lease's time (a deploy)."""
        await self._leases.release(process_lease(self.holder))
