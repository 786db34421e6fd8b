"""LOCAL STAND-IN (branch i12-telegram) for insight's figures: the contract's dataclasses, and
`scope_stats` counting the ledger's jobs per day (every counted job as "delivered"; no costs).
The lead keeps insight's file."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bot.core.jobs.ledger import JobLedger

__all__ = ["DayCount", "MemberUse", "ScopeStats", "scope_stats"]


@dataclass(frozen=True)
class DayCount:
    day: date
    delivered: int
    failed: int
    cost: float


@dataclass(frozen=True)
class MemberUse:
    requester: str
    member_name: str
    portraits: int


@dataclass(frozen=True)
class ScopeStats:
    scope: str | None
    generated_at: datetime
    days: list[DayCount]
    delivered: int
    failed: int
    cancelled: int
    refused: int
    failures_by_reason: dict[str, int] = field(default_factory=dict)
    median_wait_seconds: float | None = None
    median_generation_seconds: float | None = None
    spend_day: float = 0.0
    spend_week: float = 0.0
    spend_month: float = 0.0
    top_members: list[MemberUse] = field(default_factory=list)


async def scope_stats(
    ledger: JobLedger, scope: str | None, *, now: datetime, days: int = 30
) -> ScopeStats:
    """Jobs per 24-hour window over the last ``days`` (oldest first) in ``scope``."""
    since = [await ledger.count_since(since=now - timedelta(days=k), scope=scope)
             for k in range(days + 1)]  # fmt: skip
    per_day = [
        DayCount((now - timedelta(days=k)).date(), since[k + 1] - since[k], 0, 0.0)
        for k in range(days - 1, -1, -1)
    ]
    return ScopeStats(scope, now, per_day, since[days], 0, 0, 0)
