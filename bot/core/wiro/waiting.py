"""Following a task to its end by polling ``/Task/Detail``, optionally helped by the socket.

Rules (fact sheet §3, §5, §7):

* poll on a :class:`PollSchedule`: by default adaptive (:class:`~bot.core.wiro.pacing.PollPlan`:
  once at 2 s, sparsely until shortly before the task's forecast end, densely around it,
  backing off 2/5/10 s when it overruns); ``PollSchedule(adaptive=False)`` is Wiro's MCP
  client's 2 s for the first 15 s, 5 s until 60 s, then 10 s, and
  ``PollSchedule.constant(s)`` a fixed interval (tests); non-adaptive schedules poll at once;
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
truth: the end (success, failure, cancel) only ever comes from ``/Task/Detail``, but

* while the subscription is connected, planned polls wait until the socket has been
  silent for longer than its next event can take: until the end of the forecast window,
  at least ``schedule.silence_min`` and at most ``schedule.watchdog`` seconds after it last
  spoke; a subscription that has not said a word yet is trusted ``schedule.first_word``
  seconds from its connection (Wiro's first status change follows the run within seconds
  unless its queue is long). A socket that talks until the end thus costs one
  ``/Task/Detail`` call per task, the one that confirms the end; a silent one hands over to
  the plan;
* a terminal socket message (``task_postprocess_end``, ``task_cancel``) triggers a poll at
  once (unless the last poll failed: its backoff holds), then every ``schedule.dense``
  seconds until ``/Task/Detail`` confirms it;
* a dropped connection hands over to the plan at once; a reconnection polls once at once
  (the events sent while it was down are lost);
* a ``task_error`` message before generation began may be a persisted pre-execution failure
  (or a stderr line: the socket cannot tell), so it brings a poll forward, at most one per
  ``schedule.silence_min`` seconds; after generation began it is a stderr line;
* other statuses announced on the socket cost no poll: they are yielded as a copy of the
  last polled task carrying the announced status, when the member-facing stage
  (queued, generating, finishing) changes; progress messages only feed ``on_progress``.
* Whether Wiro replays the events of a task that ended before the subscription is unknown
  [U]: a fresh task is subscribed within milliseconds of its run call, so that window is
  tiny, and a silent socket is caught by the watchdog; a task followed again after a
  restart (``started_ago``) is polled at once.

``on_progress`` receives :class:`~bot.core.wiro.socket.TaskProgress` values in
increasing order (a requeued task starts again from zero): from the socket's
``task_output`` messages, or, as long as the socket gave none, from the
tqdm-like lines of ``debugoutput``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
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
from .pacing import DEFAULT_FORECAST, Pacer, PollSchedule, SocketListener, TaskForecast
from .socket import TaskProgress, WiroSocket
from .task import CANCELLED_STATUS, ERROR_STATUS, Stage, Task, TaskRef

__all__ = [
    "DEFAULT_FAILURE_BUDGET",
    "EndTiming",
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


@dataclass
class EndTiming:
    """When a wait saw its task end, in ``loop.time()`` (``time.monotonic()``) seconds; the
    wait fills it in. ``running_at``: the last moment the task was known to be running (the
    last poll that found it so, else its start); ``announced_at``: the socket's terminal
    message; ``confirmed_at``: the poll that found the end; ``expected_at`` and ``spread``:
    the forecast's end and how far off it may be."""

    running_at: float | None = None
    announced_at: float | None = None
    confirmed_at: float | None = None
    expected_at: float | None = None
    spread: float = 0.0

    @property
    def ended_at(self) -> float | None:
        """The best estimate of the end: the socket's word; else, as polls only bound it
        (after ``running_at``, by ``confirmed_at``), the forecast (a normal law, its spread
        as one standard deviation) cut to those bounds: its mean. Without a forecast, their
        middle. So a length learned from a sparse plan is neither stretched by a poll gap
        nor stuck on a wrong forecast."""
        if self.announced_at is not None:
            return self.announced_at
        low, high = self.running_at, self.confirmed_at
        if high is None or low is None:
            return high
        if self.expected_at is None or self.spread <= 0:
            return (low + high) / 2
        return _truncated_mean(self.expected_at, self.spread, low, high)


def _truncated_mean(mean: float, sd: float, low: float, high: float) -> float:
    """The mean of a normal law (``mean``, ``sd``) cut to [low, high]."""
    a, b = (low - mean) / sd, (high - mean) / sd
    mass = _cdf(b) - _cdf(a)
    if mass < 1e-9:  # the forecast was far off: the nearer bound
        return low if mean < low else high
    estimate = mean + sd * (_pdf(a) - _pdf(b)) / mass
    return min(max(estimate, low), high)


def _pdf(x: float) -> float:
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def _cdf(x: float) -> float:
    return (1 + math.erf(x / math.sqrt(2))) / 2


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
    forecast: TaskForecast | None = None,
    started_ago: float = 0.0,
    timing: EndTiming | None = None,
) -> AsyncIterator[Task]:
    """Yield the task each time it changes; the last one yielded has succeeded.

    Raises :class:`WiroTaskFailed`, :class:`WiroTaskCancelled`,
    :class:`WiroTimeout`, or the last polling error. A failed or cancelled end
    state is not yielded: it is on the exception's ``task``. ``socket`` and
    ``on_progress``: see the module docstring. ``forecast``: the task's expected
    length (:data:`~bot.core.wiro.pacing.DEFAULT_FORECAST` when None), for an adaptive
    ``schedule``. ``started_ago``: seconds the task has already run (a wait resumed
    after a restart: its state is unknown, so the first poll comes at once). ``timing``: filled
    in with when the end was seen.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + timeout
    pacer = Pacer(schedule, forecast or DEFAULT_FORECAST, started - max(0.0, started_ago))
    last_key: tuple[str, float | None] | None = None
    last_stage: Stage | None = None
    last_task: Task | None = None
    error_since: float | None = None
    failures = 0
    failing_since: float | None = None
    back_off = 0.0
    progress = _ProgressReporter(ref.task_id, on_progress)
    subscription = socket.subscribe(ref) if socket is not None else None
    listener = SocketListener(subscription, started) if subscription is not None else None
    poll_now = not schedule.adaptive or started_ago > 0
    timing = timing if timing is not None else EndTiming()
    timing.running_at = pacer.task_start
    if pacer.plan is not None:
        timing.expected_at = pacer.task_start + pacer.plan.forecast.expected
        timing.spread = pacer.plan.forecast.spread

    try:
        while True:
            # Sleep until the poll is due, waking for socket news (which may bring it forward).
            while not poll_now:
                now = loop.time()
                cap = None if error_since is None else error_since + error_grace
                due = pacer.due(listener, back_off, cap)
                pause = min(due, deadline) - now
                if pause <= 0:
                    break
                if listener is None:
                    await asyncio.sleep(pause)
                    continue
                for event in await listener.wait(pause):
                    if event.progress is not None:
                        progress.from_socket = True
                        await progress.report(event.progress)
                    hint = _stage_hint(event.status)
                    if hint is not None and hint != last_stage:
                        # The member's phase may follow the socket; the end never does.
                        last_stage, last_key = hint, (event.status, None)
                        yield _hinted(last_task, ref, event.status)
            poll_now = False

            remaining = deadline - loop.time()
            task: Task | None = None
            back_off = 0.0
            try:
                if remaining <= 0:
                    raise TimeoutError
                asked_at = loop.time()
                pacer.polled(asked_at, listener)
                async with asyncio.timeout(remaining):
                    task = await fetch(ref)
                failures, failing_since = 0, None
                if task.is_terminal:
                    timing.confirmed_at = asked_at
                    if listener is not None:
                        timing.announced_at = listener.ended_at
                else:
                    timing.running_at = asked_at
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
                    last_key, last_stage = key, task.stage
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
            if loop.time() >= deadline:
                raise _timed_out(ref, timeout, last_task)
    finally:
        if subscription is not None:
            subscription.close()


def _stage_hint(status: str) -> Stage | None:
    """The member-facing stage a socket status implies (lifecycle statuses of a running task;
    the socket's ``task_error`` is a stderr line, not a state)."""
    if status not in _RUNNING_STATUSES:
        return None
    return Task.from_api({"status": status}).stage


_RUNNING_STATUSES = _BEFORE_GENERATION | {
    "task_output",
    "task_output_full",
    "task_end",
    "task_postprocess_start",
}


def _hinted(last: Task | None, ref: TaskRef, status: str) -> Task:
    """The last polled task (or a bare one) with the status the socket announced."""
    raw: dict[str, object] = (
        dict(last.raw) if last is not None else {"id": ref.task_id, "socketaccesstoken": ""}
    )
    raw["status"] = status
    return Task.from_api(raw)


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
    forecast: TaskForecast | None = None,
    started_ago: float = 0.0,
    timing: EndTiming | None = None,
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
        forecast=forecast,
        started_ago=started_ago,
        timing=timing,
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
