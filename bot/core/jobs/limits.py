"""Fair use: per-member active jobs, cooldown and daily quota, and a shared daily
quota per server or group chat.

Checked before anything is spent. A limit reached is returned as data (`LimitReached`: which
limit, and when it frees up); each front end words it for its members. Daily quotas are
rolling 24-hour windows; 0 turns a quota off. The cooldown is a wait, not a
refusal: a request inside it is accepted and starts when it ends (Wiro's tasks often take only
6-20 s, so a click on Re-roll right after a result must not be turned away).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.core.jobs.ledger import JobLedger

DAY = timedelta(hours=24)


@dataclass(frozen=True)
class FairUse:
    member_max_active: int = 1
    member_cooldown: float = 30.0  # seconds between two requests of one member
    member_daily_quota: int = 10
    guild_daily_quota: int = 100


class LimitKind(StrEnum):
    ACTIVE = "active"  # the member has `member_max_active` jobs in progress
    MEMBER_DAILY = "member_daily"  # the member's `member_daily_quota` for 24 hours is used
    SCOPE_DAILY = "scope_daily"  # the server's or chat's `guild_daily_quota` is used


class LimitReached(Exception):
    """The member may not start a job now. Data, worded by each front end: `kind`, `limit`
    (the setting's value: jobs in progress or portraits per 24 hours), `used` (how many the
    member or scope has) and `frees_at` (when a daily quota frees up, UTC; None for ACTIVE,
    which frees up when a job ends)."""

    def __init__(
        self, kind: LimitKind, *, limit: int, used: int, frees_at: datetime | None = None
    ) -> None:
        super().__init__(f"{kind.value} limit reached ({used}/{limit})")
        self.kind = kind
        self.limit = limit
        self.used = used
        self.frees_at = frees_at


async def check_fair_use(
    ledger: JobLedger,
    rules: FairUse,
    *,
    requester: str,
    quota_scope: str | None,
    now: datetime,
    also_counted_as: str | None = None,
) -> datetime | None:
    """When the member's new job may start: None for now, or the end of their cooldown
    (`member_cooldown` seconds after their previous request was, or will be, due to start, so
    quick requests become jobs spaced by the cooldown). Raises `LimitReached` for the first
    limit that refuses: active jobs, then the member's and the shared scope's daily quota.

    `requester` is the ledger's requester key; `quota_scope` the scope whose shared daily
    quota (`guild_daily_quota`) applies, such as a server or a group chat, or None when the
    request is the member's own (a DM, a private chat) and only their own limits apply.
    `also_counted_as`: another requester key whose jobs count against the member's daily
    quota too (the quota mark of a member who asked to be forgotten:
    `bot.core.privacy.marks.QuotaMarks.key_for`)."""
    active = await ledger.count_active(requester)
    if active >= rules.member_max_active:
        raise LimitReached(LimitKind.ACTIVE, limit=rules.member_max_active, used=active)
    since = now - DAY
    if rules.member_daily_quota > 0:
        keys = [requester] + ([also_counted_as] if also_counted_as else [])
        used = 0
        for key in keys:
            used += await ledger.count_since(since=since, requester=key)
        if used >= rules.member_daily_quota:
            oldest = [await ledger.oldest_since(since=since, requester=key) for key in keys]
            raise LimitReached(
                LimitKind.MEMBER_DAILY,
                limit=rules.member_daily_quota,
                used=used,
                frees_at=min((time for time in oldest if time), default=now) + DAY,
            )
    if rules.guild_daily_quota > 0 and quota_scope is not None:
        used = await ledger.count_since(since=since, scope=quota_scope)
        if used >= rules.guild_daily_quota:
            oldest = await ledger.oldest_since(since=since, scope=quota_scope)
            raise LimitReached(
                LimitKind.SCOPE_DAILY,
                limit=rules.guild_daily_quota,
                used=used,
                frees_at=(oldest or now) + DAY,
            )
    last = await ledger.last_due_at(requester)
    if last is not None and rules.member_cooldown > 0:
        ready = last + timedelta(seconds=rules.member_cooldown)
        if ready > now:
            return ready
    return None
