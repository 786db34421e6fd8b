"""The figures of one scope (a server, a chat) or of every scope, from the job ledger and the
audit log, for its administrators and the bot's owner.

Read in two queries (the jobs asked for in the window, the refusals in the audit log) and
summed here. A job counts on the UTC day it was asked for. Outcomes: "delivered"; "failed"
also holds jobs whose result no way to the member took ("kept", reason ``undelivered``) and
jobs a crash left unconfirmed (reason ``unconfirmed``); "cancelled"; "refused" are requests the
fair-use limits or the policy turned away (nothing was spent). Jobs still in progress are in
no outcome. Spend is Wiro's ``totalcost`` (dollars) as the ledger keeps it in ``jobs.cost``.
Figures are as old as the jobs kept (``JOB_RETENTION_DAYS``).
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from bot.core.insight.audit import from_text, to_text
from bot.core.jobs.ledger import Clock, utc_now

if TYPE_CHECKING:
    from bot.core.jobs.sql_ledger import SqlLedger

__all__ = ["DayCount", "Insight", "MemberUse", "ScopeStats", "scope_stats", "stats_scopes"]

TOP_MEMBERS = 5
MONTH_DAYS = 30


@dataclass(frozen=True)
class DayCount:
    """One UTC day: portraits delivered, jobs failed, dollars spent (Wiro's totalcost)."""

    day: date
    delivered: int
    failed: int
    cost: float


@dataclass(frozen=True)
class MemberUse:
    """A member's use: their requester key, latest display name and portraits asked for
    (every job in the window, whatever its outcome)."""

    requester: str
    member_name: str
    portraits: int


@dataclass(frozen=True)
class ScopeStats:
    """The figures of `scope` (None: every scope) over the `days` (oldest first, the last
    one today, UTC) up to `generated_at`.

    delivered / failed / cancelled / refused: counts over those days (see the module
    docstring). failures_by_reason: failed jobs by the ledger's failure reason (``no_face``,
    ``balance``, ... ``unknown`` when none was recorded). median_wait_seconds: from the request
    to the run call at Wiro (the queue and any cooldown); median_generation_seconds: the
    Wiro task's length (the measured task seconds, else submitted to finished) of the jobs
    that produced a result; None without such jobs. spend_*: dollars over the last 24 hours,
    7 days and 30 days. top_members: the most active members, most first."""

    scope: str | None
    generated_at: datetime
    days: list[DayCount]
    delivered: int
    failed: int
    cancelled: int
    refused: int
    failures_by_reason: dict[str, int]
    median_wait_seconds: float | None
    median_generation_seconds: float | None
    spend_day: float
    spend_week: float
    spend_month: float
    top_members: list[MemberUse]

    @property
    def portraits(self) -> int:
        """Every job over the days that reached an outcome (delivered, failed, cancelled)."""
        return self.delivered + self.failed + self.cancelled


_FAILED = {"failed", "kept", "unconfirmed"}
_NO_REASON = {"unconfirmed": "unconfirmed", "kept": "undelivered"}
_MADE = {"delivered", "kept"}  # Wiro made the images
_JOBS_SQL = (
    "SELECT state, created_at, submitted_at, finished_at, task_seconds, cost, failure_reason, "
    "requester, {member_name} AS member_name FROM jobs WHERE created_at >= ?"
)
_REFUSED_SQL = (
    "SELECT COUNT(*) FROM audit_log WHERE kind = 'request' AND outcome = 'refused' AND at >= ?"
)


async def scope_stats(
    ledger: SqlLedger, scope: str | None, *, now: datetime, days: int = MONTH_DAYS
) -> ScopeStats:
    """The figures of `scope` (None: every scope) at `now` (aware), over `days` UTC days
    (today included); see `ScopeStats`. Raises `LedgerError` when the database fails."""
    if days < 1:
        raise ValueError("days must be at least 1")
    now = now.astimezone(UTC)
    first_day = now.date() - timedelta(days=days - 1)
    chart_start = datetime.combine(first_day, time(), tzinfo=UTC)
    since = min(chart_start, now - timedelta(days=MONTH_DAYS))
    jobs_sql, refused_sql = _JOBS_SQL, _REFUSED_SQL
    jobs_args, refused_args = [to_text(since)], [to_text(chart_start)]
    if scope is not None:
        jobs_sql += " AND scope = ?"
        refused_sql += " AND scope = ?"
        jobs_args.append(scope)
        refused_args.append(scope)
    async with ledger.reading() as db:
        jobs_sql = jobs_sql.format(member_name=db.dialect.json_text("params", "member_name"))
        rows = await db.execute_fetchall(jobs_sql, tuple(jobs_args))
        refused_rows = await db.execute_fetchall(refused_sql, tuple(refused_args))
    refused = int(refused_rows[0][0])

    by_day = {first_day + timedelta(days=n): [0, 0, 0.0] for n in range(days)}
    outcomes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    waits: list[float] = []
    lengths: list[float] = []
    spend = {"day": 0.0, "week": 0.0, "month": 0.0}
    uses: Counter[str] = Counter()
    names: dict[str, tuple[datetime, str]] = {}
    for row in rows:
        state = row["state"]
        created = from_text(row["created_at"])
        cost = float(row["cost"] or 0.0)
        age = now - created
        for window, span in (("day", 1), ("week", 7), ("month", MONTH_DAYS)):
            if age <= timedelta(days=span):
                spend[window] += cost
        counts = by_day.get(created.date())
        if counts is None:
            continue  # before the chart's first day (the month's spend only)
        counts[2] += cost
        requester = row["requester"]
        uses[requester] += 1
        if requester not in names or names[requester][0] < created:
            names[requester] = (created, str(row["member_name"] or ""))
        if state == "delivered":
            counts[0] += 1
            outcomes["delivered"] += 1
        elif state in _FAILED:
            counts[1] += 1
            outcomes["failed"] += 1
            reasons[row["failure_reason"] or _NO_REASON.get(state, "unknown")] += 1
        elif state == "cancelled":
            outcomes["cancelled"] += 1
        submitted = row["submitted_at"]
        if submitted is not None:
            waits.append((from_text(submitted) - created).total_seconds())
        if state in _MADE:
            if row["task_seconds"] is not None:
                lengths.append(float(row["task_seconds"]))
            elif submitted is not None and row["finished_at"] is not None:
                finished = from_text(row["finished_at"])
                lengths.append((finished - from_text(submitted)).total_seconds())

    top = sorted(uses.items(), key=lambda item: (-item[1], item[0]))[:TOP_MEMBERS]
    return ScopeStats(
        scope=scope,
        generated_at=now,
        days=[DayCount(day, d, f, round(c, 6)) for day, (d, f, c) in by_day.items()],
        delivered=outcomes["delivered"],
        failed=outcomes["failed"],
        cancelled=outcomes["cancelled"],
        refused=refused,
        failures_by_reason=dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0]))),
        median_wait_seconds=statistics.median(waits) if waits else None,
        median_generation_seconds=statistics.median(lengths) if lengths else None,
        spend_day=round(spend["day"], 6),
        spend_week=round(spend["week"], 6),
        spend_month=round(spend["month"], 6),
        top_members=[MemberUse(key, names[key][1], count) for key, count in top],
    )


async def stats_scopes(ledger: SqlLedger, *, now: datetime, days: int = MONTH_DAYS) -> list[str]:
    """The scopes with jobs asked for over the last `days` days, the busiest first."""
    since = to_text(now - timedelta(days=days))
    async with ledger.reading() as db:
        rows = await db.execute_fetchall(
            "SELECT scope, COUNT(*) AS n FROM jobs WHERE created_at >= ? "
            "GROUP BY scope ORDER BY n DESC, scope",
            (since,),
        )
    return [str(row[0]) for row in rows]


class Insight:
    """The figures as a service (`services.insight`): ``await insight.stats(scope)``."""

    def __init__(self, ledger: SqlLedger, *, clock: Clock = utc_now) -> None:
        self._ledger = ledger
        self._clock = clock

    async def stats(
        self, scope: str | None, *, now: datetime | None = None, days: int = MONTH_DAYS
    ) -> ScopeStats:
        """`scope_stats` at the clock's time (or `now`)."""
        return await scope_stats(self._ledger, scope, now=now or self._clock(), days=days)

    async def scopes(self, *, now: datetime | None = None) -> list[str]:
        """`stats_scopes` at the clock's time (or `now`)."""
        return await stats_scopes(self._ledger, now=now or self._clock())
