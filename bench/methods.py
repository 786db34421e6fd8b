"""How the bot learns that a Wiro task has finished ("waiting methods").

Each method is one row of the delivery-overhead and calls-per-job figures: polling
``/Task/Detail`` alone on the production ``PollSchedule()`` (``WIRO_FOLLOW_SOCKET=false``),
Wiro's WebSocket connected but silent (the fake accepts the subscriptions and never sends:
the bot must notice and poll), and Wiro's WebSocket working, with polling as its watchdog (the
production default).
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
    # The fake Wiro's socket mode (`tests.fakewiro.Scenario.socket`): "ok" or "silent".
    fake_socket: str = "ok"


POLLING = WaitingMethod("polling only", env={"WIRO_FOLLOW_SOCKET": "false"})
SILENT = WaitingMethod("socket silent", env={"WIRO_FOLLOW_SOCKET": "true"}, fake_socket="silent")
SOCKET = WaitingMethod("socket working", env={"WIRO_FOLLOW_SOCKET": "true"})

WAITING_METHODS: tuple[WaitingMethod, ...] = (POLLING, SILENT, SOCKET)
# The goals, by method: Wiro calls per 30 s job besides upload and run, and the p95 of
# task end -> result posted, in seconds.
CALLS_GOAL = {POLLING.name: 8, SILENT.name: 8, SOCKET.name: 3}
DELIVERY_GOAL = {POLLING.name: 0.8, SILENT.name: 0.8, SOCKET.name: 0.05}
