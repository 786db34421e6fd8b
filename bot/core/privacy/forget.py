"""Forget me: delete everything the bot keeps about one member, on every front end's request.

`Forgetting.forget_member(requester)`, in this order:

1. the member's unfinished jobs are stopped (taken out of the queue, or cancelled at Wiro) and
   given up to ``settle`` seconds to end (a result being posted finishes first);
2. Wiro's copies of their selfies and portraits are deleted for every task still listed
   (``/Task/InputOutputDelete``; a task whose files are gone already answers so, and is
   counted as refused, not retried);
3. on the bot's disk: their kept selfies (``BOT_DATA_DIR/selfies``), kept results
   (``results/<job id>``) and saved faces (``faces/`` and their rows);
4. in the database, in one transaction: their jobs and the jobs' events, except the jobs that
   still count against a daily quota (made in the last 24 hours and started at Wiro), which
   become quota marks that do not name them (`bot.core.privacy.marks`); their audit entries;
   their name as the last editor of a scope's policy; unhandled updates they sent;
5. the database is scrubbed: on SQLite, deleted rows overwritten (``secure_delete``), the
   write-ahead log checkpointed and emptied, and the file rewritten (``VACUUM``), so no page
   of it still holds the member's id or words; on PostgreSQL, the touched tables are
   ``VACUUM``ed (what that does and does not promise: `bot.core.privacy.erase_sql`).

Returns a `ForgetReport` (counts, for the front end to tell the member). Errors: `LedgerError`
from the database (nothing of step 4 is half done: it is one transaction); a failing Wiro
call or file is logged and counted, never raised.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from bot.core.faces.store import SavedFaces
from bot.core.jobs.ledger import FINAL_STATES, Clock, utc_now
from bot.core.jobs.limits import DAY
from bot.core.jobs.sql_ledger import SqlLedger
from bot.core.privacy import erase_sql
from bot.core.privacy.erase_sql import MemberJob
from bot.core.privacy.marks import QuotaMarks
from bot.core.request.held import HeldRequests
from bot.core.request.selfie_store import SelfieStore
from bot.core.result.store import ResultStore
from bot.core.wiro import WiroClient, WiroError

__all__ = ["ForgetReport", "Forgetting", "JobStopper"]

log = logging.getLogger(__name__)

_FINAL = frozenset(state.value for state in FINAL_STATES)
WIRO_CALLS_AT_ONCE = 4


class JobStopper(Protocol):
    """What stops a job: `bot.core.jobs.dispatcher.Dispatcher.cancel`."""

    async def cancel(self, job_id: int) -> object: ...


@dataclass(frozen=True)
class ForgetReport:
    """What forgetting did. ``stopped``: unfinished jobs stopped; ``unsettled``: of those, the
    ones that had not ended within the wait (deleted all the same); ``jobs_deleted`` /
    ``quota_marks``: job rows deleted / kept without the member's name until their 24 hours
    end; ``wiro_files_deleted`` / ``wiro_files_refused``: Wiro tasks whose files were deleted
    / whose deletion Wiro refused or could not be reached for (already gone, usually);
    ``faces``, ``selfies``, ``results``: files deleted; ``audit_entries``, ``inbox_updates``,
    ``policies``: rows deleted or cleared; ``held_requests``: requests the face check held back,
    deleted with their selfies."""

    stopped: int = 0
    unsettled: int = 0
    jobs_deleted: int = 0
    quota_marks: int = 0
    wiro_files_deleted: int = 0
    wiro_files_refused: int = 0
    faces: int = 0
    selfies: int = 0
    results: int = 0
    audit_entries: int = 0
    inbox_updates: int = 0
    policies: int = 0
    held_requests: int = 0


class Forgetting:
    """Forgets members; see the module docstring. ``stopper`` is the dispatcher; ``faces``,
    ``selfies``, ``results``: the stores whose files are the member's (None: not in use)."""

    def __init__(
        self,
        ledger: SqlLedger,
        wiro: WiroClient,
        stopper: JobStopper,
        marks: QuotaMarks,
        *,
        faces: SavedFaces | None = None,
        selfies: SelfieStore | None = None,
        results: ResultStore | None = None,
        held: HeldRequests | None = None,
        settle: float = 20.0,
        clock: Clock = utc_now,
    ) -> None:
        self._ledger = ledger
        self._wiro = wiro
        self._stopper = stopper
        self._marks = marks
        self._faces = faces
        self._selfies = selfies
        self._results = results
        self._held = held
        self._settle = settle
        self._clock = clock
        self._job_cleanups: list[Callable[[int], Awaitable[object]]] = []
        self._running: dict[str, asyncio.Future[ForgetReport]] = {}  # by requester

    def add_job_cleanup(self, cleanup: Callable[[int], Awaitable[object]]) -> None:
        """Also run ``cleanup(job_id)`` for each of a forgotten member's jobs: a front end's own
        files per job (Telegram's ``telegram-originals/<job id>/``: `Originals.delete`).
        Errors are logged, never raised."""
        self._job_cleanups.append(cleanup)

    async def forget_member(self, requester: str) -> ForgetReport:
        """Forget the member ``requester`` (the ledger's key, ``"discord:<user id>"``). A call
        while the same member is being forgotten (a second confirmation pressed) waits for that
        one and gets its report: the work is done once."""
        running = self._running.get(requester)
        if running is None:
            running = asyncio.ensure_future(self._forget(requester))
            self._running[requester] = running
            running.add_done_callback(lambda _: self._running.pop(requester, None))
        return await asyncio.shield(running)

    async def _forget(self, requester: str) -> ForgetReport:
        async with self._ledger.reading() as db:
            jobs = await erase_sql.member_jobs(db, requester)
        stopped, unsettled = await self._stop(jobs)
        async with self._ledger.reading() as db:  # their final state and Wiro ids
            jobs = await erase_sql.member_jobs(db, requester)
        deleted, refused = await self._delete_at_wiro(jobs)
        selfies, results = await asyncio.to_thread(self._delete_files, jobs)
        await self._front_end_files(jobs)
        faces = await self._faces.delete_all(requester) if self._faces is not None else 0
        held = await self._held.forget(requester) if self._held is not None else 0
        now = self._clock()
        window_start = _time(now - DAY)
        mark = self._marks.key_for(requester)
        member_id = requester.split(":", 1)[-1]
        keep = [
            (job.id, mark, _scope_mark(job.scope, member_id, mark))
            for job in jobs
            if job.submitted_at is not None and job.created_at > window_start
        ]
        kept_ids = {job_id for job_id, _, _ in keep}
        async with self._ledger.reading() as db:
            await erase_sql.secure_delete(db)
        async with self._ledger.transaction() as db:
            # Read again under the write lock: a job queued meanwhile goes too.
            current = await erase_sql.member_jobs(db, requester)
            late = [job for job in current if job.id not in {known.id for known in jobs}]
            jobs_deleted = await erase_sql.delete_jobs(
                db, [job.id for job in current if job.id not in kept_ids]
            )
            quota_marks = await erase_sql.mark_jobs(db, keep)
            await erase_sql.prune_marks(db, window_start)
            audit = await erase_sql.delete_audit(db, requester)
            policies = await erase_sql.forget_policy_editor(db, requester)
            inbox = await erase_sql.drop_inbox_updates(db, member_id, _time(now))
        async with self._ledger.reading() as db:
            await erase_sql.scrub(db)
        if late:  # queued meanwhile: gone from the queue with their rows
            log.warning("%d job(s) were queued while a member was being forgotten", len(late))
            late_files = await asyncio.to_thread(self._delete_files, late)
            selfies, results = selfies + late_files[0], results + late_files[1]
        report = ForgetReport(
            stopped=stopped,
            unsettled=unsettled,
            jobs_deleted=jobs_deleted,
            quota_marks=quota_marks,
            wiro_files_deleted=deleted,
            wiro_files_refused=refused,
            faces=faces,
            selfies=selfies,
            results=results,
            audit_entries=audit,
            inbox_updates=inbox,
            policies=policies,
            held_requests=held,
        )
        log.info("A member was forgotten: %s", report)  # counts only, never who
        return report

    async def prune_marks(self) -> int:
        """Delete the quota marks whose 24 hours have ended; returns how many."""
        async with self._ledger.transaction() as db:
            return await erase_sql.prune_marks(db, _time(self._clock() - DAY))

    # ------------------------------------------------------------------ steps

    async def _stop(self, jobs: Sequence[MemberJob]) -> tuple[int, int]:
        active = [job.id for job in jobs if job.state not in _FINAL]
        for job_id in active:
            try:
                await self._stopper.cancel(job_id)
            except Exception:  # a job that cannot be stopped is still forgotten below
                log.warning("Could not stop job %s of a member being forgotten", job_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settle
        waiting = list(active)
        while waiting and loop.time() < deadline:
            await asyncio.sleep(0.2)
            async with self._ledger.reading() as db:
                found = await erase_sql.states(db, waiting)
            waiting = [job_id for job_id in waiting if found.get(job_id, "") not in _FINAL]
            waiting = [job_id for job_id in waiting if job_id in found]
        if waiting:
            log.warning("%d job(s) of a member being forgotten had not ended", len(waiting))
        return len(active), len(waiting)

    async def _delete_at_wiro(self, jobs: Sequence[MemberJob]) -> tuple[int, int]:
        tokens = [job.wiro_socket_token for job in jobs if job.wiro_socket_token]
        limit = asyncio.Semaphore(WIRO_CALLS_AT_ONCE)

        async def delete(token: str) -> bool:
            async with limit:
                try:
                    await self._wiro.delete_inputs_outputs(token)
                except WiroError as error:
                    log.info("Wiro did not delete a forgotten member's task files: %s", error)
                    return False
            return True

        outcomes = await asyncio.gather(*(delete(token) for token in tokens))
        return sum(outcomes), len(outcomes) - sum(outcomes)

    async def _front_end_files(self, jobs: Sequence[MemberJob]) -> None:
        for cleanup in self._job_cleanups:
            for job in jobs:
                try:
                    await cleanup(job.id)
                except Exception:
                    log.warning("A front end's files of job %s were not deleted", job.id)

    def _delete_files(self, jobs: Sequence[MemberJob]) -> tuple[int, int]:
        selfies = results = 0
        for job in jobs:
            if self._selfies is not None and job.selfie_path:
                self._selfies.delete(job.selfie_path)
                selfies += 1
            if self._results is not None and self._results.has(job.id):
                self._results.delete(job.id)
                results += 1
        return selfies, results


def _scope_mark(scope: str, member_id: str, mark: str) -> str:
    """A scope that names the member (their DM, their private chat: the id is in it) becomes
    their mark; a shared scope (a server, a group) stays, so its quota keeps counting."""
    parts = scope.split(":")
    return mark if member_id and member_id in parts else scope


def _time(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
