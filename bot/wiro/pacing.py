"""When to ask ``/Task/Detail`` about a task whose length can be foreseen.

Wiro's task length for one model, step count and sample count is steady, so polling need
not be steady: a :class:`PollPlan` asks once early (a task without a usable face fails
within seconds), stays away while the task cannot be done yet, polls densely around its
expected end and backs off again when the task overruns. The times are seconds since the
run call returned (the task's creation, give or take a round trip)::

    early      sparse (gaps <= `sparse`)      dense window (<= `dense_polls`)    overrun
    2 s ....... every <= 30 s ............ |E - h ... E ... E + h| ...... +2, +5, +10, +10 ...

``E`` and ``h`` come from a :class:`TaskForecast` (``bot.jobs.lengths`` learns them from the
bot's own finished jobs). A 30 s task with a learned length thus costs at most
``1 + dense_polls`` polls (6), where Wiro's MCP client (2/5/10 s) asks about 12 times and
WiroKit (every 3 s) about 10.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

__all__ = ["DEFAULT_FORECAST", "PollPlan", "TaskForecast"]


@dataclass(frozen=True)
class TaskForecast:
    """A task's expected length in seconds (run call → ``task_postprocess_end``).

    ``spread``: how far off the end may be, in seconds (the half-width of the window the end
    is expected in). ``basis``: where the figure comes from, for logs ("prior", "learned",
    "scaled").
    """

    expected: float
    spread: float
    basis: str = "prior"


# Nothing learned yet: 20 steps at 1 sample usually take 6-20 s at Wiro (queue included; the
# issue's observation, Wiro publishes no figure), so expect 13 s, give or take 7 s.
DEFAULT_FORECAST = TaskForecast(expected=13.0, spread=7.0)


@dataclass(frozen=True)
class PollPlan:
    """The poll times of one task, in seconds since its run call (see the module docstring).

    ``early``: the first poll. ``sparse``: the longest gap before the dense window.
    ``dense``: the shortest gap inside the window, which holds at most ``dense_polls``
    polls (a wide window gets wider gaps). ``min_spread``: the window is at least ±this.
    ``overrun``: the gaps after the window, the last one repeated.
    """

    forecast: TaskForecast
    early: float = 2.0
    sparse: float = 30.0
    dense: float = 0.5
    dense_polls: int = 5
    min_spread: float = 1.0
    overrun: tuple[float, ...] = (2.0, 5.0, 10.0)

    def __post_init__(self) -> None:
        if self.dense <= 0 or self.dense_polls < 2 or not self.overrun:
            raise ValueError("a poll plan needs dense > 0, dense_polls >= 2 and an overrun gap")
        if min(self.overrun) <= 0 or self.sparse <= 0:
            raise ValueError("poll gaps must be positive")

    @property
    def window(self) -> tuple[float, float]:
        """The seconds (from, to) the end is expected in, polled densely."""
        half = max(self.min_spread, self.forecast.spread)
        end = max(self.early, self.forecast.expected + half)
        start = max(self.early, self.forecast.expected - half)
        return start, end

    def times(self) -> list[float]:
        """Every poll up to the end of the window, ascending (the overrun follows)."""
        start, end = self.window
        step = max(self.dense, (end - start) / (self.dense_polls - 1))
        count = max(1, math.floor((end - start) / step + 1e-9) + 1)
        dense = [start + k * step for k in range(count)]
        before: list[float] = []
        if start - self.early > self.dense / 2:
            before.append(self.early)
            gaps = math.ceil((start - self.early) / self.sparse - 1e-9)
            before += [self.early + (start - self.early) * k / gaps for k in range(1, gaps)]
        return before + dense

    def next_poll(self, after: float) -> float:
        """The first planned poll strictly later than ``after`` seconds."""
        times = self.times()
        index = bisect.bisect_right(times, after + 1e-9)
        if index < len(times):
            return times[index]
        moment = times[-1]
        for gap in self.overrun:
            moment += gap
            if moment > after + 1e-9:
                return moment
        last = self.overrun[-1]
        return moment + last * (math.floor((after - moment) / last + 1e-9) + 1)

    def polls_until(self, end: float) -> int:
        """How many polls this plan makes for a task that ends at ``end`` seconds, the one
        that sees the end included (what the bench compares with Wiro's own clients)."""
        count, moment = 0, -1.0
        while True:
            moment = self.next_poll(moment)
            count += 1
            if moment >= end:
                return count
