"""How the bot learns that a Wiro task has finished ("waiting methods").

Each method is one row of the delivery-overhead and calls-per-job figures: polling
``/Task/Detail`` alone on the production ``PollSchedule()`` (``WIRO_FOLLOW_SOCKET=false``), and
Wiro's WebSocket with polling as its watchdog (the production default).
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


POLLING = WaitingMethod("polling only", env={"WIRO_FOLLOW_SOCKET": "false"})
SOCKET = WaitingMethod("socket + watchdog polls", env={"WIRO_FOLLOW_SOCKET": "true"})

WAITING_METHODS: tuple[WaitingMethod, ...] = (POLLING, SOCKET)
