"""Following a task to its end by polling ``/Task/Detail``, optionally helped by the socket.

Rules (fact sheet §3, §5, §7):

* poll on a :class:`PollSchedule` (2 s for the first 15 s, 5 s until 60 s, then
  10 s, as Wiro's MCP client does);
* report a change whenever the status or the generation progress changes;
* ``task_postprocess_end`` with ``pexit == "0"`` and outputs is success; any
  other ``task_postprocess_end`` is :class:`WiroTaskFailed`; ``task_cancel`` is
  :class:`WiroTaskCancelled`;
* a persisted ``task_error`` is not final (Wiro may requeue): keep polling, and
  fail only if it is still in ``task_error`` after ``error_grace`` seconds;
* unknown statuses count as running;
* transient errors while polling (connection, 5xx, 429 once the client's own
  retries are spent, and an HTTP 200 whose body is not Wiro's JSON envelope)
  are logged and polling goes on after a backoff (``schedule.failure_backoff``
  doubling per failure up to ``failure_backoff_max``, with jitter; after a 429
  no sooner than its Retry-After, capped at a minute); once polls have failed
  for ``failure_budget`` seconds in a row the last error is raised (a budget
  in time, not a count: a flaky upstream is transient, however fast it fails);
* the overall ``timeout`` raises :class:`WiroTimeout` and leaves the task alone:
  killing it is the caller's decision.

With a :class:`~bot.core.wiro.socket.WiroSocket` the socket is a hint, never the
truth: every state (and so the end) still comes from ``/Task/Detail``, but

* a socket message with a status not heard before, or a terminal one,
  triggers a poll at once (so delivery starts when the task ends, not at the
  next tick), unless the last poll failed: its backoff holds; a return to an
  earlier status (``task_error`` stderr lines between ``task_output`` lines,
  a requeue) does so at most every ``schedule.fast`` seconds; repeated
  ``task_output`` progress messages only feed ``on_progress``;
* while the subscription is connected and its task was heard of within
  ``schedule.watchdog`` seconds, polls relax to every ``watchdog`` seconds;
  when the socket is silent longer, or not connected, the normal schedule
  applies (a dropped connection wakes the wait at once);
* after a terminal socket message that ``/Task/Detail`` does not confirm yet,
  polls come at least every ``schedule.fast`` seconds.

``on_progress`` receives :class:`~bot.core.wiro.socket.TaskProgress` values in
increasing order (a requeued task starts again from zero): from the socket's
``task_output`` messages, or, as long as the socket gave none, from the
tqdm-like lines of ``debugoutput``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from .errors import (
    WiroConnectionError,
    WiroRateLimited,
    WiroServerError,
    WiroTaskCancelled,
    WiroTaskFailed,
    WiroTimeout,
)
from .socket import Subscription, TaskProgress, WiroSocket
from .task import CANCELLED_STATUS, ERROR_STATUS, Task, TaskRef

__all__ = [
    "DEFAULT_FAILURE_BUDGET",
    "OnChange",
    "OnProgress",
    "PollSchedule",
    "wait_for_task",
    "watch_task",
]

log = logging.getLogger(__name__)

# Seconds of failed polls in a row before a wait gives up (the task is then stopped by the
# caller); a few seconds of garbage from Wiro must not fail a paid task.
DEFAULT_FAILURE_BUDGET = 120.0
_TRANSIENT = (WiroConnectionError, WiroServerError, WiroRateLimited)
_MAX_RATE_LIMIT_PAUSE = 60.0
# Statuses before generation: seeing one again (after task_error, Wiro may requeue) restarts
# the progress bar.
_BEFORE_GENERATION = frozenset(
    {
        "task_queue",
        "task_accept",
        "task_preprocess_start",
        "task_preprocess_end",
        "task_assign",
        "task_start",
    }
)

FetchTask = Callable[[TaskRef], Awaitable[Task]]
OnChange = Callable[[Task], Awaitable[None] | None]
OnProgress = Callable[[TaskProgress], Awaitable[None] | None]


@dataclass(frozen=True)
class PollSchedule:
    """How long to sleep between two polls, by time since the wait began.

    ``watchdog``: with a live, talking socket, the longest pause between polls
    (and how long the socket may stay silent before the normal schedule returns).
    ``failure_backoff``: the least pause after a failed poll, doubled for each further
    failure in a row up to ``failure_backoff_max`` (times a 0.8-1.2 jitter).
    """

    fast: float = 2.0
    fast_until: float = 15.0
    medium: float = 5.0
    medium_until: float = 60.0
    slow: float = 10.0
    watchdog: float = 20.0
    failure_backoff: float = 1.0
    failure_backoff_max: float = 15.0

    def interval(self, elapsed: float) -> float:
        if elapsed < self.fast_until:
            return self.fast
        if elapsed < self.medium_until:
            return self.medium
        return self.slow

    def backoff(self, failures: int) -> float:
        """The pause after the ``failures``-th failed poll in a row (1, 2, ...)."""
        base = self.failure_backoff * 2 ** max(0, failures - 1)
        return min(base, self.failure_backoff_max) * random.uniform(0.8, 1.2)

    @classmethod
    def constant(cls, interval: float, *, watchdog: float = 20.0) -> PollSchedule:
        """The same interval throughout (handy in tests: ``PollSchedule.constant(0.01)``);
        failed polls back off from ``interval`` to eight times it (at most 15 s)."""
        return cls(
            fast=interval,
            medium=interval,
            slow=interval,
            watchdog=watchdog,
            failure_backoff=interval,
            failure_backoff_max=max(interval, min(15.0, 8 * interval)),
        )


def _change_key(task: Task) -> tuple[str, float | None]:
    return task.status, task.progress


class _ProgressReporter:
    """Hands progress to ``on_progress``: no repeats, never backwards within one run."""

    def __init__(self, task_id: str, callback: OnProgress | None) -> None:
        self.task_id = task_id
        self.callback = callback
        self.from_socket = False
        self._last: TaskProgress | None = None
        self._floor = -1.0
        self._status: str | None = None

    def status(self, status: str) -> None:
        """A status from /Task/Detail: entering the queue or task_start again restarts."""
        restart = status in _BEFORE_GENERATION and status != self._status
        if restart and self._last is not None:
            self._floor, self._last = -1.0, None
        self._status = status

    async def from_task(self, task: Task) -> None:
        if self.from_socket:
            return
        progress = TaskProgress.from_text(task.debug_output)
        if progress is None and task.progress is not None:
            progress = TaskProgress(percentage=task.progress)
        if progress is not None:
            await self.report(progress)

    async def report(self, progress: TaskProgress) -> None:
        if self.callback is None or progress.percentage is None:
            return
        if progress == self._last or progress.percentage < self._floor:
            return
        self._last, self._floor = progress, progress.percentage
        try:
            result = self.callback(progress)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("on_progress callback failed for task %s", self.task_id)


async def watch_task(
    fetch: FetchTask,
    ref: TaskRef,
    *,
    schedule: PollSchedule,
    timeout: float = 600.0,  # noqa: ASYNC109 - the public interface: an overall deadline
    error_grace: float = 150.0,
    failure_budget: float = DEFAULT_FAILURE_BUDGET,
    socket: WiroSocket | None = None,
    on_progress: OnProgress | None = None,
) -> AsyncIterator[Task]:
    """Yield the task each time it changes; the last one yielded has succeeded.

    Raises :class:`WiroTaskFailed`, :class:`WiroTaskCancelled`,
    :class:`WiroTimeout`, or the last polling error. A failed or cancelled end
    state is not yielded: it is on the exception's ``task``. ``socket`` and
    ``on_progress``: see the module docstring.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + timeout
    last_key: tuple[str, float | None] | None = None
    last_task: Task | None = None
    error_since: float | None = None
    failures = 0
    failing_since: float | None = None
    progress = _ProgressReporter(ref.task_id, on_progress)
    subscription = socket.subscribe(ref) if socket is not None else None
    socket_status: str | None = None
    socket_statuses: set[str] = set()
    unconfirmed_end = False

    try:
        while True:
            remaining = deadline - loop.time()
            task: Task | None = None
            back_off = 0.0
            try:
                if remaining <= 0:
                    raise TimeoutError
                async with asyncio.timeout(remaining):
                    task = await fetch(ref)
                failures, failing_since = 0, None
            except TimeoutError:
                raise _timed_out(ref, timeout, last_task) from None
            except _TRANSIENT as exc:
                failures += 1
                now = loop.time()
                if failing_since is None:
                    failing_since = now
                if now - failing_since >= failure_budget:
                    log.warning(
                        "Giving up on task %s after %.0f s of failed polls (%d): %s",
                        ref.task_id,
                        now - failing_since,
                        failures,
                        exc,
                    )
                    raise
                back_off = schedule.backoff(failures)
                if isinstance(exc, WiroRateLimited) and exc.retry_after:
                    back_off = max(back_off, min(exc.retry_after, _MAX_RATE_LIMIT_PAUSE))
                log.warning(
                    "Polling task %s failed (%d in a row), retrying in %.1f s: %s",
                    ref.task_id,
                    failures,
                    back_off,
                    exc,
                )

            now = loop.time()
            if task is not None:
                last_task = task
                if task.status == CANCELLED_STATUS:
                    raise WiroTaskCancelled(f"Wiro task {task.id} was cancelled", task=task)
                if task.is_terminal and not task.succeeded:
                    raise WiroTaskFailed.for_task(task)
                progress.status(task.status)
                await progress.from_task(task)
                key = _change_key(task)
                if key != last_key:
                    last_key = key
                    yield task
                if task.succeeded:
                    return
                if task.status == ERROR_STATUS:
                    if error_since is None:
                        error_since = now
                        log.info(
                            "Task %s reports task_error; waiting up to %ss", task.id, error_grace
                        )
                    elif now - error_since >= error_grace:
                        raise WiroTaskFailed.for_task(
                            task, reason=f"Wiro task {task.id} stayed in task_error"
                        )
                else:
                    error_since = None

            now = loop.time()
            if now >= deadline:
                raise _timed_out(ref, timeout, last_task)
            delay = max(schedule.interval(now - started), back_off)
            cap = None if error_since is None else max(0.0, error_since + error_grace - now)
            if subscription is None:
                if cap is not None:
                    delay = min(delay, cap)
                await asyncio.sleep(max(0.0, min(delay, deadline - now)))
                continue

            # With the socket: sleep until the poll is due, waking for socket news. News makes
            # the poll urgent, but never sooner than the backoff after a failed poll.
            base, urgent = now, False
            while True:
                due = base + back_off
                if not urgent:
                    due = base + _socket_delay(
                        delay, schedule, subscription, base, back_off, unconfirmed_end, cap
                    )
                pause = min(due, deadline) - loop.time()
                if pause <= 0:
                    break
                for event in await subscription.wait(pause):
                    if event.progress is not None:
                        progress.from_socket = True
                        await progress.report(event.progress)
                    if event.terminal:
                        unconfirmed_end = True
                    # A new status is worth a poll now; a status seen before (stderr lines
                    # between progress lines, a requeue) only after schedule.fast seconds.
                    if event.terminal or (
                        event.status != socket_status
                        and (
                            event.status not in socket_statuses
                            or loop.time() - base >= schedule.fast
                        )
                    ):
                        urgent = True
                    socket_status = event.status
                    socket_statuses.add(event.status)
    finally:
        if subscription is not None:
            subscription.close()


def _socket_delay(
    delay: float,
    schedule: PollSchedule,
    subscription: Subscription,
    base: float,
    back_off: float,
    unconfirmed_end: bool,
    cap: float | None,
) -> float:
    """The pause after a poll at ``base``, given what the socket is doing now."""
    heard = subscription.last_event_at
    if subscription.connected and heard is not None and schedule.watchdog > delay:
        # Relaxed until the socket has been silent for a watchdog period.
        delay = min(schedule.watchdog, max(delay, heard + schedule.watchdog - base))
    if unconfirmed_end:
        delay = min(delay, max(schedule.fast, back_off))
    if cap is not None:
        delay = min(delay, cap)
    return delay


async def wait_for_task(
    fetch: FetchTask,
    ref: TaskRef,
    *,
    schedule: PollSchedule,
    timeout: float = 600.0,  # noqa: ASYNC109 - the public interface: an overall deadline
    error_grace: float = 150.0,
    on_change: OnChange | None = None,
    failure_budget: float = DEFAULT_FAILURE_BUDGET,
    socket: WiroSocket | None = None,
    on_progress: OnProgress | None = None,
) -> Task:
    """Poll until the task succeeds and return it; raise like :func:`watch_task`.

    ``on_change`` is called (and awaited, if it returns an awaitable) with each
    change, in order, including the final successful task; ``on_progress``
    likewise with each new :class:`TaskProgress`. An exception from either
    callback is logged and does not stop the wait.
    """
    final: Task | None = None
    updates = watch_task(
        fetch,
        ref,
        schedule=schedule,
        timeout=timeout,
        error_grace=error_grace,
        failure_budget=failure_budget,
        socket=socket,
        on_progress=on_progress,
    )
    try:
        async for task in updates:
            final = task
            if on_change is not None:
                await _notify(on_change, task)
    finally:
        await updates.aclose()
    if final is None:  # pragma: no cover - watch_task always yields before returning
        raise WiroTimeout(f"Wiro task {ref.task_id} ended without a result")
    return final


async def _notify(on_change: OnChange, task: Task) -> None:
    try:
        result = on_change(task)
        if inspect.isawaitable(result):
            await result
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("on_change callback failed for task %s (status %s)", task.id, task.status)


def _timed_out(ref: TaskRef, timeout: float, task: Task | None) -> WiroTimeout:
    status = task.status if task else "unknown"
    return WiroTimeout(
        f"Wiro task {ref.task_id} did not finish within {timeout:g}s (last status: {status})",
        task=task,
    )
