"""LOCAL STAND-IN (branch i12-discord) for insight's figures: the contract's dataclasses, and
an `Insight` whose figures come from the stand-in audit log only (the real one reads the
ledger)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from bot.core.insight.audit import AuditLog

__all__ = ["DayCount", "Insight", "MemberUse", "ScopeStats"]


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


class Insight:
    def __init__(self, audit: AuditLog) -> None:
        self._audit = audit

    async def stats(self, scope: str | None) -> ScopeStats:
        now = datetime.now(UTC)
        entries = [e for e in await self._audit.recent(scope, limit=10_000) if e.kind == "request"]
        outcomes = Counter(e.outcome for e in entries)
        users = Counter((e.requester, e.member_name) for e in entries if e.outcome != "refused")
        today = now.date()
        days = [DayCount(today - timedelta(days=n), 0, 0, 0.0) for n in range(29, -1, -1)]
        return ScopeStats(
            scope=scope,
            generated_at=now,
            days=days,
            delivered=outcomes["delivered"],
            failed=outcomes["failed"],
            cancelled=outcomes["cancelled"],
            refused=outcomes["refused"],
            top_members=[MemberUse(r, n, c) for (r, n), c in users.most_common(5)],
        )
