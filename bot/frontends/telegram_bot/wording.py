"""The core's refusals in a Telegram member's words (Telegram has no timestamp markup, so
times are "in 3 h 20 min", counted from now)."""

from __future__ import annotations

import math
from datetime import datetime

from bot.core.jobs.limits import LimitKind, LimitReached


def wait_text(seconds: float) -> str:
    """A wait as members read it, rounded up (never earlier than the moment itself):
    "in 45 s", "in 12 min", "in 3 h 20 min"."""
    whole = max(1, math.ceil(seconds))
    if whole < 60:
        return f"in {whole} s"
    minutes = math.ceil(whole / 60)
    if minutes < 60:
        return f"in {minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"in {hours} h {minutes} min" if minutes else f"in {hours} h"


def limit_message(limit: LimitReached, now: datetime) -> str:
    """Which fair-use limit refused the request, and when it frees up (plain text: escape it
    before sending as HTML)."""
    if limit.kind is LimitKind.ACTIVE:
        ongoing = "a portrait" if limit.used == 1 else f"{limit.used} portraits"
        return (
            f"You already have {ongoing} in progress. You can ask for another once "
            f"{'it is' if limit.used == 1 else 'one is'} finished (/cancel stops it)."
        )
    frees_at = limit.frees_at or now
    when = wait_text((frees_at - now).total_seconds())
    if limit.kind is LimitKind.MEMBER_DAILY:
        return (
            f"You've reached your limit of {_portraits(limit.limit)} for the last 24 hours. "
            f"Your next one is available {when}."
        )
    return (
        f"This chat has used its {_portraits(limit.limit)} for the last 24 hours. "
        f"More are available {when}."
    )


def _portraits(count: int) -> str:
    return "1 portrait" if count == 1 else f"{count} portraits"
