"""Wiro's own clients' published polling schedules, simulated against the bench's task lengths.

Sources (``/work/shared/specs/wiro-api-facts.md`` §7): WiroKit (``wiroai/ReactNative-QuickStart``
``packages/wirokit``) polls every 3 s; Wiro's MCP server (``wiroai/Wiro-MCP`` ``src/client.ts``)
every 2 s for the first 15 s, every 5 s until 60 s, then every 10 s; the n8n node
(``wiroai/n8n-nodes-wiroai`` ``nodes/WiroAI/utils/polling.ts``) every 20 s. Each is modelled as
a loop that asks first and then sleeps, the first ask right after the run call: a task of
length T is seen by the first poll at or after T. None of them uses the socket, and none
deletes the task's files, so their calls per job are their Task/Detail polls plus the same
output downloads as ours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Peer:
    name: str
    schedule: str  # as published
    interval: Callable[[float], float]  # the pause after a poll made `elapsed` seconds in

    def polls(self) -> Iterator[float]:
        moment = 0.0
        while True:
            yield moment
            moment += self.interval(moment)

    def polls_until(self, length: float) -> int:
        """Task/Detail calls for a task that ends ``length`` s after the run call."""
        return next(i for i, moment in enumerate(self.polls(), 1) if moment >= length)

    def detection_delay(self, length: float) -> float:
        """Seconds from the task's end to the poll that sees it."""
        return next(moment for moment in self.polls() if moment >= length) - length


def _mcp(elapsed: float) -> float:
    if elapsed < 15.0:
        return 2.0
    return 5.0 if elapsed < 60.0 else 10.0


PEERS: tuple[Peer, ...] = (
    Peer("WiroKit", "every 3 s", lambda _: 3.0),
    Peer("Wiro MCP", "2 s to 15 s, 5 s to 60 s, then 10 s", _mcp),
    Peer("n8n node", "every 20 s", lambda _: 20.0),
)
