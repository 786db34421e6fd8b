"""How the bot learns that a Wiro task has finished ("waiting methods").

Each method is one row of the delivery-overhead and calls-per-job figures. Today the bot only
polls ``/Task/Detail`` on the production ``PollSchedule()``; a WebSocket follower (a later issue)
becomes one more entry here, e.g. ``WaitingMethod("socket", env={...})`` with whatever setting
switches the bot to it, and every scenario that loops over ``WAITING_METHODS`` reports it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class WaitingMethod:
    name: str
    # Extra settings (environment variables) for the bot process.
    env: dict[str, str] = field(default_factory=dict)
    # How `bench.botproc` builds the poll schedule: "default" is `PollSchedule()` as in
    # production (the launcher is given no schedule), "constant:SECONDS" a fixed interval.
    poll_schedule: str = "default"


POLLING = WaitingMethod("polling (default schedule)")

WAITING_METHODS: tuple[WaitingMethod, ...] = (POLLING,)
