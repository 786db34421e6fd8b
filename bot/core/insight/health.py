"""LOCAL STAND-IN (branch i12-discord) for insight's Wiro health: the state names only."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class HealthState(StrEnum):
    OK = "ok"
    OUT_OF_CREDIT = "out_of_credit"
    KEYS_REFUSED = "keys_refused"
    UNREACHABLE = "unreachable"
    UNKNOWN = "unknown"


class WiroHealth:
    """Stand-in: never checks; `.state` stays UNKNOWN unless set."""

    def __init__(self) -> None:
        self.state = HealthState.UNKNOWN
        self.checked_at: datetime | None = None

    async def check_now(self) -> HealthState:
        return self.state

    def start(self) -> None: ...

    async def stop(self) -> None: ...
