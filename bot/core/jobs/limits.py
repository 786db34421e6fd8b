"""Fair use: per-member active jobs, cooldown and daily quota, and a per-server daily quota.

Checked before anything is spent. A member over a limit is told which one, and when it frees up
as a Discord timestamp (`<t:UNIX:R>` renders as "in 3 hours" in each member's own time zone).
Daily quotas are rolling 24-hour windows; 0 turns a quota off. The cooldown is a wait, not a
refusal: a request inside it is accepted and starts when it ends (Wiro's tasks often take only
6-20 s, so a click on Re-roll right after a result must not be turned away).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.jobs.ledger import JobLedger

DAY = timedelta(hours=24)


@dataclass(frozen=True)
class FairUse:
    member_max_active: int = 1
    member_cooldown: float = 30.0  # seconds between two requests of one member
    member_daily_quota: int = 10
    guild_daily_quota: int = 100


class LimitReached(Exception):
    """The member may not start a job now; `message` says which limit and when it frees up."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def relative_time(moment: datetime) -> str:
    """`moment` as a Discord relative timestamp, rounded up to a whole second: never earlier
    than the moment itself (a limit is over at the time shown, not a second later)."""
    return f"<t:{math.ceil(moment.timestamp())}:R>"


async def check_fair_use(
    ledger: JobLedger,
    rules: FairUse,
    *,
    requester: str,
    quota_scope: str | None,
    now: datetime,
) -> datetime | None:
    """When the member's new job may start: None for now, or the end of their cooldown
    (`member_cooldown` seconds after their previous request was, or will be, due to start, so
    quick requests become jobs spaced by the cooldown). Raises `LimitReached` for the first
    limit that refuses: active jobs, then the member's and the shared scope's daily quota.

    `requester` is the ledger's requester key; `quota_scope` the scope whose shared daily
    quota (`guild_daily_quota`) applies, such as a server, or None when the request is the
    member's own (a DM) and only their own limits apply."""
    active = await ledger.count_active(requester)
    if active >= rules.member_max_active:
        ongoing = "a portrait" if active == 1 else f"{active} portraits"
        raise LimitReached(
            f"You already have {ongoing} in progress. You can ask for another once "
            f"{'it is' if active == 1 else 'one is'} finished."
        )
    since = now - DAY
    if rules.member_daily_quota > 0:
        used = await ledger.count_since(since=since, requester=requester)
        if used >= rules.member_daily_quota:
            oldest = await ledger.oldest_since(since=since, requester=requester)
            raise LimitReached(
                f"You've reached your limit of {_portraits(rules.member_daily_quota)} "
                "for the last 24 hours. "
                f"Your next one is available {relative_time((oldest or now) + DAY)}."
            )
    if rules.guild_daily_quota > 0 and quota_scope is not None:
        used = await ledger.count_since(since=since, scope=quota_scope)
        if used >= rules.guild_daily_quota:
            oldest = await ledger.oldest_since(since=since, scope=quota_scope)
            raise LimitReached(
                f"This server has used its {_portraits(rules.guild_daily_quota)} for the last "
                f"24 hours. More are available {relative_time((oldest or now) + DAY)}."
            )
    last = await ledger.last_due_at(requester)
    if last is not None and rules.member_cooldown > 0:
        ready = last + timedelta(seconds=rules.member_cooldown)
        if ready > now:
            return ready
    return None


def _portraits(count: int) -> str:
    return "1 portrait" if count == 1 else f"{count} portraits"
