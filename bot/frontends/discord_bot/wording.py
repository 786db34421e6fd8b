"""The core's refusals in a Discord member's words.

Times are Discord timestamps: ``<t:UNIX:R>`` renders as "in 3 hours" in each member's own
time zone (Discord's message formatting reference)."""

from __future__ import annotations

import math
from datetime import datetime

from bot.core.jobs.limits import LimitKind, LimitReached


def relative_time(moment: datetime) -> str:
    """`moment` as a Discord relative timestamp, rounded up to a whole second: never earlier
    than the moment itself (a limit is over at the time shown, not a second later)."""
    return f"<t:{math.ceil(moment.timestamp())}:R>"


def limit_message(limit: LimitReached) -> str:
    """Which fair-use limit refused the request, and when it frees up."""
    if limit.kind is LimitKind.ACTIVE:
        ongoing = "a portrait" if limit.used == 1 else f"{limit.used} portraits"
        return (
            f"You already have {ongoing} in progress. You can ask for another once "
            f"{'it is' if limit.used == 1 else 'one is'} finished."
        )
    when = relative_time(limit.frees_at) if limit.frees_at is not None else "later"
    if limit.kind is LimitKind.MEMBER_DAILY:
        return (
            f"You've reached your limit of {_portraits(limit.limit)} for the last 24 hours. "
            f"Your next one is available {when}."
        )
    return (
        f"This server has used its {_portraits(limit.limit)} for the last 24 hours. "
        f"More are available {when}."
    )


def _portraits(count: int) -> str:
    return "1 portrait" if count == 1 else f"{count} portraits"
