"""When to ask ``/Task/Detail`` about a task whose length can be foreseen.

Wiro's task length for one model, step count and sample count is steady, so polling need
not be steady: a :class:`PollPlan` asks once early (a task without a usable face fails
within seconds), stays away while the task cannot be done yet, polls densely around its
expected end and backs off again when the task overruns. The times are seconds since the
run call returned (the task's creation, give or take a round trip)::

    early      sparse (gaps <= `sparse`)      dense window (<= `dense_polls`)    overrun
    2 s ....... every <= 30 s ............ |E - h ... E ... E + h| ...... +2, +5, +10, +10 ...

``E`` and ``h`` come from a :class:`TaskForecast` (``bot.core.jobs.lengths`` learns them from the
bot's own finished jobs). A 30 s task with a learned length thus costs at most
``1 + dense_polls`` polls (6), where Wiro's MCP client (2/5/10 s) asks about 12 times and
WiroKit (every 3 s) about 10.

:class:`PollSchedule` holds the plan's parameters (and the older fixed schedules);
:class:`Pacer` and :class:`SocketListener` are the bookkeeping of one wait in
:mod:`bot.core.wiro.waiting`, where the rules are described.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import random
from dataclasses import dataclass

from .socket import SocketEvent, Subscription

__all__ = [
    "DEFAULT_FORECAST",
    "Pacer",
    "PollPlan",
    "PollSchedule",
    "SocketListener",
    "TaskForecast",
]


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
    # An end just after the window is the likeliest overrun: look again soon, then back off.
    overrun: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0, 10.0)

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
        # The window's polls close its slices (start, start+step], ... (end-step, end]: an end
        # anywhere in it is seen at most `step` later, and none is spent on its very start.
        step = max(self.dense, (end - start) / self.dense_polls)
        count = max(1, math.floor((end - start) / step + 1e-9))
        dense = [start + k * step for k in range(1, count + 1)]
        before = [self.early] if dense[0] > self.early + 1e-9 else []
        if start - self.early > self.dense / 2:
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


@dataclass(frozen=True)
class PollSchedule:
    """When to poll: an adaptive :class:`~bot.core.wiro.pacing.PollPlan` (``adaptive``, the
    default: ``early``, ``sparse``, ``dense``, ``dense_polls``, ``min_spread``, ``overrun``
    are its parameters), or else by time since the wait began (``fast`` until
    ``fast_until``, ``medium`` until ``medium_until``, then ``slow``: Wiro's MCP client).

    ``watchdog`` and ``silence_min``: the most and least seconds a connected socket may stay
    silent before polls resume; ``first_word``: how long a subscription that has said
    nothing yet is trusted. ``dense`` is also the pause between polls confirming an end
    the socket announced. ``failure_backoff``: the least pause after a failed poll, doubled
    for each further failure in a row up to ``failure_backoff_max`` (times a 0.8-1.2 jitter).
    """

    fast: float = 2.0
    fast_until: float = 15.0
    medium: float = 5.0
    medium_until: float = 60.0
    slow: float = 10.0
    watchdog: float = 10.0
    silence_min: float = 2.0
    first_word: float = 5.0
    failure_backoff: float = 1.0
    failure_backoff_max: float = 15.0
    adaptive: bool = True
    early: float = 2.0
    sparse: float = 30.0
    dense: float = 0.5
    dense_polls: int = 5
    min_spread: float = 1.0
    # An end just after the window is the likeliest overrun: look again soon, then back off.
    overrun: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0, 10.0)

    def interval(self, elapsed: float) -> float:
        """The pause of a non-adaptive schedule, ``elapsed`` seconds into the wait."""
        if elapsed < self.fast_until:
            return self.fast
        if elapsed < self.medium_until:
            return self.medium
        return self.slow

    def plan(self, forecast: TaskForecast) -> PollPlan:
        """The adaptive plan for a task with this forecast."""
        return PollPlan(
            forecast,
            early=self.early,
            sparse=self.sparse,
            dense=self.dense,
            dense_polls=self.dense_polls,
            min_spread=self.min_spread,
            overrun=self.overrun,
        )

    def backoff(self, failures: int) -> float:
        """The pause after the ``failures``-th failed poll in a row (1, 2, ...)."""
        base = self.failure_backoff * 2 ** max(0, failures - 1)
        return min(base, self.failure_backoff_max) * random.uniform(0.8, 1.2)

    @classmethod
    def constant(cls, interval: float, *, watchdog: float = 20.0) -> PollSchedule:
        """The same interval throughout, from the start (handy in tests:
        ``PollSchedule.constant(0.01)``); failed polls back off from ``interval`` to eight
        times it (at most 15 s); a connected socket may be silent ``watchdog`` seconds once
        it has spoken (before that, ``interval``)."""
        return cls(
            fast=interval,
            medium=interval,
            slow=interval,
            watchdog=watchdog,
            silence_min=min(interval, watchdog),
            first_word=interval,
            failure_backoff=interval,
            failure_backoff_max=max(interval, min(15.0, 8 * interval)),
            adaptive=False,
            dense=interval,
        )


class SocketListener:
    """What a wait knows of its socket subscription: when it last spoke (or connected),
    whether it announced the end, and whether a reconnect calls for a catch-up poll (events
    sent while it was down are lost: Wiro replays nothing we know of)."""

    def __init__(self, subscription: Subscription, started: float) -> None:
        self.subscription = subscription
        self.connected = False
        self.ever_connected = False
        self.quiet_since = started  # the last word from the socket, or its (re)connection
        self.dropped_at: float | None = None
        self.catch_up = False
        self.ended_at: float | None = None  # when the socket announced the end
        # A task_error message before generation began: maybe a persisted pre-execution
        # failure (fact sheet §3), which only Task/Detail can tell from a stderr line.
        self.error_at: float | None = None
        self.generating = False

    def heard_at(self) -> float:
        last = self.subscription.last_event_at
        return self.quiet_since if last is None else max(last, self.quiet_since)

    async def wait(self, pause: float) -> list[SocketEvent]:
        events = await self.subscription.wait(pause)
        now = asyncio.get_running_loop().time()
        self.observe(now)
        if self.ended_at is None and any(event.terminal for event in events):
            self.ended_at = now
        for event in events:
            if event.status in _GENERATING:
                self.generating = True
            elif event.status == "task_error" and not self.generating:
                self.error_at = now
        return events

    def observe(self, now: float) -> None:
        connected = self.subscription.connected
        if connected == self.connected:
            return
        self.connected = connected
        if connected:
            self.quiet_since = now
            self.catch_up = self.ever_connected
            self.ever_connected = True
        else:
            self.dropped_at = now


class Pacer:
    """When a wait's next poll is due, in ``loop.time()`` terms (rules:
    :mod:`bot.core.wiro.waiting`)."""

    def __init__(self, schedule: PollSchedule, forecast: TaskForecast, task_start: float) -> None:
        self.schedule = schedule
        self.plan = schedule.plan(forecast) if schedule.adaptive else None
        self.task_start = task_start
        self.last_poll: float | None = None
        self.plan_from = -1.0  # planned polls at or before this (task seconds) are spent

    def polled(self, now: float, listener: SocketListener | None) -> None:
        self.last_poll = now
        self.plan_from = now - self.task_start
        if listener is not None:
            listener.catch_up = False

    def due(self, listener: SocketListener | None, back_off: float, cap: float | None) -> float:
        if self.plan is not None:
            if listener is not None and listener.dropped_at is not None:
                # Dropped: planned polls missed while the socket was trusted stay missed.
                self.plan_from = max(self.plan_from, listener.dropped_at - self.task_start)
                listener.dropped_at = None
            due = self.task_start + self.plan.next_poll(self.plan_from)
        elif self.last_poll is None:
            due = self.task_start
        else:
            due = self.last_poll + self.schedule.interval(self.last_poll - self.task_start)
        if listener is not None:
            listener.observe(asyncio.get_running_loop().time())
            if listener.catch_up:
                due = self.task_start  # now: what happened while it was down is unknown
            elif listener.connected:
                if listener.subscription.last_event_at is None:
                    quiet = min(self.schedule.first_word, self.schedule.watchdog)
                    due = max(due, listener.quiet_since + quiet)
                else:
                    heard = listener.heard_at()
                    due = max(due, heard + self._quiet(heard))
            error = listener.error_at
            if error is not None and (self.last_poll is None or self.last_poll < error):
                # Soon, but no more than one poll per silence_min for a stream of them.
                since = -math.inf if self.last_poll is None else self.last_poll
                due = min(due, max(error, since + self.schedule.silence_min))
            ended = listener.ended_at
            if ended is not None:
                # Announced on the socket: confirm now, and again until Task/Detail agrees.
                if self.last_poll is None or self.last_poll < ended:
                    due = ended
                else:
                    due = min(due, self.last_poll + self.schedule.dense)
        if cap is not None:
            due = min(due, cap)
        if back_off and self.last_poll is not None:
            due = max(due, self.last_poll + back_off)
        return due

    def _quiet(self, heard: float) -> float:
        """How long a connected socket may stay silent before a watchdog poll: until the end
        of the window the task should end in (its next event cannot come later), within
        ``silence_min`` and ``watchdog`` seconds."""
        if self.plan is None:
            return self.schedule.watchdog
        window_end = self.task_start + self.plan.window[1]
        return min(self.schedule.watchdog, max(self.schedule.silence_min, window_end - heard))


# Statuses of a task that has started generating: a task_error message after one of these is
# a stderr line, not a failure.
_GENERATING = frozenset(
    {"task_start", "task_output", "task_output_full", "task_end", "task_postprocess_start"}
)
