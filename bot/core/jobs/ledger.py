"""The job ledger: every portrait job as a row that outlives the process.

Platform-free and Wiro-free: this module holds the types, the state machine and the
:class:`JobLedger` interface. :mod:`bot.core.jobs.sql_ledger` implements it in SQL, stored by
:mod:`bot.core.jobs.sqlite_ledger` in an embedded SQLite file (the default) or by
:mod:`bot.core.jobs.postgres_ledger` in a PostgreSQL database (``DATABASE_URL``).

States make the money safe. The allowed transitions (:data:`TRANSITIONS`)::

    QUEUED      -> SUBMITTING, FAILED, CANCELLED
    SUBMITTING  -> RUNNING, QUEUED (Wiro refused the run: busy), FAILED, UNCONFIRMED
    RUNNING     -> DELIVERING, FAILED, CANCELLED
    DELIVERING  -> DELIVERED, KEPT (the platform refused it everywhere), FAILED
    KEPT        -> DELIVERING (the member's "Send again" claims it; back to KEPT if not posted)
    DELIVERED, FAILED, CANCELLED, UNCONFIRMED: final, no way out

A job is SUBMITTING (committed) *before* the run call is made and enters RUNNING with the
task id right after, so a crash in between leaves a SUBMITTING row that start-up reconciles
with Wiro's task list (RUNNING when found, UNCONFIRMED when not) and never runs a second time.
The only way back to the queue is SUBMITTING → QUEUED, for a run call Wiro refused outright
(its concurrency limit); it counts one more ``attempts`` and keeps its place in the queue.
A job enters RUNNING only with its ``wiro_task_id`` and DELIVERED only with the
``result_message_ref`` it was posted as, so a restart can tell a posted result from one still
to post. A member's Cancel reaches a job while QUEUED or RUNNING; once the run call is in
flight (SUBMITTING) or the result is being posted (DELIVERING) the job runs to its end.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol

__all__ = [
    "ACTIVE_STATES",
    "FINAL_STATES",
    "TRANSITIONS",
    "UPDATABLE_FIELDS",
    "Clock",
    "ConstraintViolated",
    "InboxUpdate",
    "InvalidTransition",
    "Job",
    "JobEvent",
    "JobLedger",
    "JobNotFound",
    "JobState",
    "LedgerError",
    "LedgerUnavailable",
    "StaleTransition",
    "can_transition",
    "sources_of",
    "utc_now",
]


class JobState(StrEnum):
    QUEUED = "queued"  # waiting at the bot
    SUBMITTING = "submitting"  # the run call is about to be / being made
    RUNNING = "running"  # task id known, the task is at Wiro
    DELIVERING = "delivering"  # outputs downloaded / being posted
    DELIVERED = "delivered"  # final: the result is posted
    FAILED = "failed"  # final
    CANCELLED = "cancelled"  # final
    UNCONFIRMED = "unconfirmed"  # final: crashed while submitting, Wiro's task list can't confirm
    KEPT = "kept"  # final for the queue: undeliverable, kept on disk until the member asks again


FINAL_STATES: frozenset[JobState] = frozenset(
    {JobState.DELIVERED, JobState.FAILED, JobState.CANCELLED, JobState.UNCONFIRMED, JobState.KEPT}
)
ACTIVE_STATES: frozenset[JobState] = frozenset(JobState) - FINAL_STATES

TRANSITIONS: Mapping[JobState, frozenset[JobState]] = MappingProxyType(
    {
        JobState.QUEUED: frozenset({JobState.SUBMITTING, JobState.FAILED, JobState.CANCELLED}),
        JobState.SUBMITTING: frozenset(
            {JobState.RUNNING, JobState.QUEUED, JobState.FAILED, JobState.UNCONFIRMED}
        ),
        JobState.RUNNING: frozenset({JobState.DELIVERING, JobState.FAILED, JobState.CANCELLED}),
        JobState.DELIVERING: frozenset({JobState.DELIVERED, JobState.KEPT, JobState.FAILED}),
        JobState.KEPT: frozenset({JobState.DELIVERING}),
        JobState.DELIVERED: frozenset(),
        JobState.FAILED: frozenset(),
        JobState.CANCELLED: frozenset(),
        JobState.UNCONFIRMED: frozenset(),
    }
)

# Fields that `update` (and `create` / `transition`, alongside their own) may set. Everything
# else is owned by the ledger (id, state, timestamps, attempts) or fixed at creation (the
# platform, who asked, the quota scope, the reply address and its secret, the parameters).
UPDATABLE_FIELDS: frozenset[str] = frozenset(
    {
        "wiro_task_id",
        "wiro_socket_token",
        "input_url",
        "outputs",
        "status_message_ref",
        "result_message_ref",
        "failure_reason",
        "failure_message",
        "failure_detail",
        "cost",
        "selfie_path",
        "selfie_expires_at",
        "not_before",
        "delivery_nonce",
        "task_seconds",
    }
)

Clock = Callable[[], datetime]
"""Returns the current time as a timezone-aware UTC datetime."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def can_transition(from_state: JobState, to_state: JobState) -> bool:
    """Whether the state table allows going from ``from_state`` to ``to_state``."""
    return JobState(to_state) in TRANSITIONS[JobState(from_state)]


def sources_of(to_state: JobState) -> frozenset[JobState]:
    """Every state from which the table allows going to ``to_state``."""
    return frozenset(state for state, targets in TRANSITIONS.items() if to_state in targets)


# ====================================================================== errors


class LedgerError(Exception):
    """The ledger could not do what was asked (including the database failing)."""


class LedgerUnavailable(LedgerError):
    """The database could not be read or written (a full disk, an I/O error, a read-only or
    locked file, a database server that cannot be reached). Nothing was changed; the same call
    may succeed later."""


class ConstraintViolated(LedgerError):
    """The database refused a write that breaks one of its rules (a unique name taken, a
    foreign key to nothing). Nothing was changed."""


class JobNotFound(LedgerError, LookupError):
    def __init__(self, job_id: int) -> None:
        super().__init__(f"job {job_id} does not exist")
        self.job_id = job_id


class InvalidTransition(LedgerError):
    """The state table forbids this transition (a programming error, not a race)."""

    def __init__(
        self, job_id: int, from_state: JobState, to_state: JobState, detail: str = ""
    ) -> None:
        message = f"job {job_id}: {from_state} → {to_state} is not allowed"
        super().__init__(f"{message} ({detail})" if detail else message)
        self.job_id = job_id
        self.from_state = from_state
        self.to_state = to_state


class StaleTransition(LedgerError):
    """The job is no longer in an expected state: another worker or a cancel got there first."""

    def __init__(
        self,
        job_id: int,
        *,
        expected: Collection[JobState],
        actual: JobState,
        to_state: JobState,
    ) -> None:
        wanted = ", ".join(sorted(expected))
        super().__init__(
            f"job {job_id} is {actual}, not {wanted}: it cannot go to {to_state} any more"
        )
        self.job_id = job_id
        self.expected = frozenset(expected)
        self.actual = actual
        self.to_state = to_state


# ====================================================================== records


@dataclass(frozen=True)
class Job:
    """One row of the ledger. Every datetime is timezone-aware UTC.

    Who asked and where to answer are platform-neutral: ``platform`` names the front end
    (``"discord"``, ``"telegram"``); ``requester`` is a key no two platforms share
    (``"discord:<user id>"``, ``"telegram:<user id>"``), the member's quotas count by it;
    ``scope`` is where a shared quota counts (``"discord:guild:<id>"``, ``"discord:dm:<user
    id>"``, ``"telegram:chat:<id>"``); ``reply_address`` is the front end's own JSON object
    saying where to answer, and ``reply_secret`` its secret part (such as Discord's interaction
    token), never written to logs. Message references are the front end's text ids.

    Secrets and personal links stay out of ``repr``: the reply secret (it can post as the bot),
    the task's socket token and the public URL of the uploaded selfie.
    """

    id: int
    platform: str
    requester: str
    scope: str
    reply_address: dict[str, Any]
    reply_secret: str = field(repr=False)
    params: dict[str, Any]
    state: JobState
    created_at: datetime
    updated_at: datetime
    # When the run call that may have started a Wiro task was begun (set on SUBMITTING,
    # cleared when Wiro refused it and the job went back to the queue). Quotas count on it.
    submitted_at: datetime | None
    finished_at: datetime | None  # when it reached a final state
    attempts: int  # how many times it went back to the queue
    wiro_task_id: str | None
    wiro_socket_token: str | None = field(repr=False)
    input_url: str | None = field(repr=False)
    outputs: list[dict[str, Any]]  # url, name, content_type, size
    status_message_ref: str | None
    result_message_ref: str | None
    failure_reason: str  # "" unless failed
    failure_message: str  # "" unless failed
    cost: float | None  # as Wiro reported it
    # The prepared selfie on disk: uploaded when the job starts, then kept for re-rolls until
    # selfie_expires_at (the job over first); input_url is its Wiro URL once uploaded.
    selfie_path: str | None
    selfie_expires_at: datetime | None
    # Asked inside the member's cooldown: queued, but not started before this moment.
    not_before: datetime | None
    failure_detail: str = ""  # "" unless failed: Wiro's raw reason, for the owner and history
    delivery_nonce: str | None = None  # sent with the result post, recorded before it
    # Seconds from the run call's answer to the end the bot saw (a task that succeeded in one
    # go, not resumed after a restart): what the poll plan learns task lengths from.
    task_seconds: float | None = None

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES


@dataclass(frozen=True)
class JobEvent:
    """One state change of a job; ``from_state`` is None for its creation."""

    id: int
    job_id: int
    from_state: JobState | None
    to_state: JobState
    at: datetime
    note: str


@dataclass(frozen=True)
class QueueEntry:
    """A QUEUED job's place in line, without the rest of its row (cheap to read in bulk)."""

    id: int
    not_before: datetime | None  # the job waits for its member's cooldown until then


@dataclass(frozen=True)
class InboxUpdate:
    """An update a chat platform delivered, as recorded in the inbox: its id (unique per
    ``source``) and the update as received (JSON object)."""

    update_id: int
    payload: dict[str, Any]


# ====================================================================== interface


class JobLedger(Protocol):
    """Where jobs live. Every method is one atomic, committed operation.

    Field values: ids are ints; datetimes must be timezone-aware (stored as UTC); ``params``
    is a JSON-able mapping (never image bytes); ``outputs`` a list of JSON-able mappings.
    """

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
        """A new QUEUED job (``fields``: any of :data:`UPDATABLE_FIELDS`). ``platform``,
        ``requester`` and ``scope`` must be non-empty text; ``reply_address`` a JSON-able
        mapping (see :class:`Job`)."""
        ...

    async def get(self, job_id: int) -> Job | None: ...

    async def transition(
        self,
        job_id: int,
        to: JobState,
        *,
        expected: JobState | Collection[JobState] | None = None,
        note: str = "",
        **fields: Any,
    ) -> Job:
        """Move the job to ``to`` and set ``fields``, as one compare-and-set.

        ``expected``: the state(s) the caller believes the job is in; every one must be
        allowed to go to ``to`` (else :class:`InvalidTransition`, before anything is read).
        Raises :class:`StaleTransition` when the job is in none of them any more,
        :class:`InvalidTransition` when ``expected`` is None and the job's current state may
        not go to ``to``, :class:`JobNotFound` for an unknown id. Records a :class:`JobEvent`.
        """
        ...

    async def update(self, job_id: int, **fields: Any) -> Job:
        """Set non-state fields (any of :data:`UPDATABLE_FIELDS`); raises JobNotFound."""
        ...

    async def events(self, job_id: int) -> list[JobEvent]:
        """The job's state changes, oldest first ([] for an unknown job)."""
        ...

    async def unfinished(self) -> list[Job]:
        """Every job not in a final state, oldest first (what start-up picks up again)."""
        ...

    async def queued(self) -> list[Job]:
        """QUEUED jobs in queue order: when each became due (``not_before``, else
        ``created_at``), then id. A requeued job keeps its place. Jobs not due yet are included;
        the dispatcher skips them."""
        ...

    async def queue_order(self) -> list[QueueEntry]:
        """Every QUEUED job's id (and ``not_before``) in :meth:`queued` order, in one query;
        a job's 1-based position is its index + 1."""
        ...

    async def jobs(self, job_ids: Collection[int]) -> list[Job]:
        """The jobs with these ids (unknown ids are left out), in id order, in one query."""
        ...

    async def queue_position(self, job_id: int) -> int | None:
        """1-based place among QUEUED jobs, in :meth:`queued` order; None when not queued."""
        ...

    async def recent_for(
        self, requester: str, limit: int = 10, *, scope: str | None = None
    ) -> list[Job]:
        """The requester's newest jobs, newest first; only those asked in ``scope`` when it
        is given (a history shown where others can read it)."""
        ...

    async def count_active(self, requester: str) -> int:
        """How many of the requester's jobs are in :data:`ACTIVE_STATES`."""
        ...

    async def count_since(
        self, *, since: datetime, requester: str | None = None, scope: str | None = None
    ) -> int:
        """Jobs created after ``since`` that count against a quota (a rolling window
        ``(since, now]``: a job stops counting exactly when the window has moved past it, the
        moment a refusal shows, rounded up to a whole second).

        A job counts unless it ended (FAILED/CANCELLED) without a run call ever having been
        begun for it (``submitted_at`` is None): those never reached Wiro and cost nothing.
        QUEUED jobs count, so a member cannot queue past a quota. The filters combine.
        """
        ...

    async def oldest_since(
        self, *, since: datetime, requester: str | None = None, scope: str | None = None
    ) -> datetime | None:
        """``created_at`` of the oldest job :meth:`count_since` counts: when one frees up."""
        ...

    async def last_due_at(self, requester: str) -> datetime | None:
        """When the requester's latest request was (or will be) due to start: the latest of every
        job's ``not_before`` or, without one, ``created_at`` (the cooldown counts from it)."""
        ...

    async def expired_selfies(self, now: datetime) -> list[Job]:
        """Final jobs still holding a ``selfie_path`` whose ``selfie_expires_at`` is at/before
        now. An unfinished job keeps its selfie whatever the time: it is uploaded to Wiro only
        when the job starts."""
        ...

    async def recent_task_lengths(self, limit: int = 200) -> list[tuple[dict[str, Any], float]]:
        """The ``(params, task_seconds)`` of the newest ``limit`` jobs that recorded a task
        length, newest first."""
        ...

    async def prune(self, older_than: datetime) -> int:
        """Delete final jobs last updated before ``older_than`` (and their events).

        A job whose ``selfie_path`` is still set is kept: its row is the only record of a
        file to delete. Returns how many jobs were deleted.
        """
        ...

    # -- the update inbox: each update a platform delivers is processed exactly once --------

    async def inbox_add(
        self,
        source: str,
        updates: Sequence[tuple[int, Mapping[str, Any]]],
        *,
        holder: str | None = None,
    ) -> list[int]:
        """Record ``(update_id, payload)`` pairs of ``source`` (``"telegram:<bot id>"``) in
        one commit, before they are confirmed to the platform, as handled by the process
        ``holder`` (`bot.core.jobs.claims`). Returns the ids that were not recorded yet, in
        the order given: only those are to be processed (the others are redeliveries)."""
        ...

    async def inbox_done(self, source: str, update_id: int) -> None:
        """Mark a recorded update handled (an unknown id is ignored)."""
        ...

    async def inbox_pending(self, source: str) -> list[InboxUpdate]:
        """Updates of ``source`` recorded but not handled (a restart cut them short), oldest
        id first."""
        ...

    async def inbox_prune(self, older_than: datetime) -> int:
        """Forget handled updates handled before ``older_than`` (unhandled ones are kept);
        returns how many. Keep them longer than the platform redelivers (Telegram: 24 h)."""
        ...

    async def job_by_origin(self, origin: str) -> Job | None:
        """The oldest job whose ``params["origin"]`` is ``origin`` (the update that asked for
        it, e.g. ``"telegram:<bot id>:<update id>"``), if any."""
        ...

    async def close(self) -> None: ...
