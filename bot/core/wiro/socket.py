"""Following tasks over Wiro's WebSocket (fact sheet §5): a hint, never the truth.

One :class:`WiroSocket` per process serves every task: it connects lazily on the
first :meth:`~WiroSocket.subscribe`, sends ``{"type": "task_info", "tasktoken":
<socketaccesstoken>}`` for each task, and routes each message to its
subscription by ``id`` (the task id; the newer format may omit ``tasktoken``) or
else by ``tasktoken``::

    async with WiroSocket("wss://socket.wiro.ai/v1") as socket:
        async with socket.subscribe(ref) as events:
            async for event in events:          # ends after a terminal event
                print(event.status, event.progress)

Rules:

* the socket never raises into callers: a refused or dropped connection is
  retried with jittered exponential backoff (``min_backoff`` doubling up to
  ``max_backoff``), and every live subscription is sent again after a
  reconnect; meanwhile :attr:`Subscription.connected` is False, which is the
  caller's cue to poll ``/Task/Detail`` (see :mod:`bot.core.wiro.waiting`);
* junk (not JSON, not an object, no ``type``, a task nobody follows) is ignored
  and logged at DEBUG without its content;
* a subscription is dropped after a terminal event (``task_postprocess_end``,
  ``task_cancel``, or ``"terminal": true``) or when closed; the connection is
  closed once no subscription is left for ``idle_timeout`` seconds, or on
  :meth:`WiroSocket.close`;
* Wiro has no unsubscribe message: messages for a dropped task are ignored;
* socket tokens never reach the logs (we log task ids).

Whether Wiro replays past events for a task that ended before ``task_info``
is unknown [U], so a caller must not rely on hearing of an end that came first:
:mod:`bot.core.wiro.waiting` trusts a subscription that has said nothing only for a few
seconds, and polls at once when following a task again after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
from collections import deque
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import aiohttp

from .task import TERMINAL_STATUSES, TaskRef

__all__ = ["SocketEvent", "Subscription", "TaskProgress", "WiroSocket"]

log = logging.getLogger(__name__)

OUTPUT_STATUS = "task_output"
_STABLE_AFTER = 10.0  # a connection that lived this long counts as a success for backoff
_CLOSE_GRACE = 10.0  # seconds close() waits for the connection and session to end


# --- messages -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskProgress:
    """How far generation is: from a ``progressGenerate`` object or a tqdm-like line.

    ``percentage`` is 0-100, ``step``/``steps`` are the sampler's steps, and
    ``remaining_seconds`` is the model's own estimate of the time left.
    """

    percentage: float | None
    step: int | None = None
    steps: int | None = None
    remaining_seconds: float | None = None

    @classmethod
    def from_message(cls, message: object) -> TaskProgress | None:
        """Parse a ``task_output`` message: an object, a JSON object in a string, or text."""
        if isinstance(message, Mapping):
            return cls._from_object(message)
        if isinstance(message, str):
            text = message.strip()
            if text.startswith("{"):
                try:
                    decoded = json.loads(text)
                except ValueError:
                    decoded = None
                if isinstance(decoded, Mapping):
                    return cls._from_object(decoded)
            return cls.from_text(text)
        return None

    @classmethod
    def from_text(cls, text: str) -> TaskProgress | None:
        """The last tqdm-style line with ``NN%`` (``45%|####  | 9/20 [00:04<00:05, 2.1it/s]``)."""
        lines = [line for line in re.split(r"[\r\n]+", text) if _PERCENT.search(line)]
        if not lines:
            return None
        line = lines[-1]
        found = _PERCENT.findall(line)
        percentage = _clamp(float(found[-1]))
        after = line[_PERCENT.search(line).end() :]  # type: ignore[union-attr]
        step = steps = None
        counted = _STEPS.search(after)
        if counted:
            step, steps = int(counted.group(1)), int(counted.group(2))
        remaining = None
        times = _TQDM_TIMES.search(after)
        if times:
            remaining = _seconds(times.group(1))
        return cls(percentage=percentage, step=step, steps=steps, remaining_seconds=remaining)

    @classmethod
    def _from_object(cls, raw: Mapping[object, object]) -> TaskProgress | None:
        percentage = _number(raw.get("percentage"))
        step = _whole(raw.get("stepCurrent"))
        steps = _whole(raw.get("stepTotal"))
        if steps is not None and steps <= 0:
            steps = None
        if percentage is None and step is not None and steps:
            percentage = 100.0 * step / steps
        remaining = _seconds(raw.get("remainingTime"))
        if percentage is None and step is None and remaining is None:
            return None
        return cls(
            percentage=None if percentage is None else _clamp(percentage),
            step=step,
            steps=steps,
            remaining_seconds=remaining,
        )


@dataclass(frozen=True)
class SocketEvent:
    """One message about one task. ``raw`` is the message as received (it may hold the token)."""

    status: str
    task_id: str
    progress: TaskProgress | None
    terminal: bool
    raw: Mapping[str, object] = field(repr=False, compare=False, hash=False)

    @classmethod
    def from_message(cls, raw: Mapping[str, object], *, task_id: str) -> SocketEvent:
        status = str(raw.get("type"))
        progress = None
        if status == OUTPUT_STATUS:
            progress = TaskProgress.from_message(raw.get("message"))
        return cls(
            status=status,
            task_id=task_id,
            progress=progress,
            terminal=raw.get("terminal") is True or status in TERMINAL_STATUSES,
            raw=MappingProxyType(dict(raw)),
        )


_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s?%")
_STEPS = re.compile(r"(\d+)\s*/\s*(\d+)")
_TQDM_TIMES = re.compile(r"\[\s*[\d:.]+\s*<\s*([\d:.?]+)")
_CLOCK = re.compile(r"^\d+(?:\.\d+)?(?::\d+(?:\.\d+)?){1,2}$")
_PLAIN_SECONDS = re.compile(r"^(\d+(?:\.\d+)?)\s*s?$")


def _clamp(value: float) -> float:
    return max(0.0, min(100.0, value))


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().rstrip("%").strip())
        except ValueError:
            return None
    else:
        return None
    if number != number or number in (float("inf"), float("-inf")):
        return None
    return number


def _whole(value: object) -> int | None:
    number = _number(value)
    if number is None or number < 0:
        return None
    return int(number)


def _seconds(value: object) -> float | None:
    """Seconds from ``12``, ``"12"``, ``"12s"``, ``"00:12"`` or ``"1:02:03"``; else None."""
    if isinstance(value, str):
        text = value.strip().lower()
        if _CLOCK.match(text):
            total = 0.0
            for part in text.split(":"):
                total = total * 60 + float(part)
            return total
        plain = _PLAIN_SECONDS.match(text)
        return float(plain.group(1)) if plain else None
    number = _number(value)
    return number if number is not None and number >= 0 else None


# --- subscriptions --------------------------------------------------------------------------


class Subscription:
    """The events of one task. An async iterator (it ends after a terminal event or
    :meth:`close`) and an async context manager (which closes it on exit).

    ``connected`` is True while the socket is up and this task's ``task_info``
    has been sent on it; ``last_event_at`` is the ``loop.time()`` (monotonic)
    of the last message for this task.
    """

    def __init__(self, socket: WiroSocket | None, ref: TaskRef) -> None:
        self.ref = ref
        self._socket = socket
        self._events: deque[SocketEvent] = deque()
        self._signal = asyncio.Event()
        self._closed = socket is None
        self._live = False
        self.last_event_at: float | None = None

    def __repr__(self) -> str:
        return f"Subscription(task_id={self.ref.task_id!r}, connected={self.connected})"

    @property
    def connected(self) -> bool:
        return self._live and not self._closed

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop following the task (queued events can still be read)."""
        if self._closed:
            return
        self._closed = True
        self._live = False
        self._signal.set()
        if self._socket is not None:
            self._socket._drop(self)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SocketEvent:
        while True:
            if self._events:
                return self._events.popleft()
            if self._closed:
                raise StopAsyncIteration
            self._signal.clear()
            await self._signal.wait()

    async def wait(self, timeout: float) -> list[SocketEvent]:  # noqa: ASYNC109 - a poll pause
        """The events received so far; if none, wait up to ``timeout`` seconds for one.

        Also returns (with no events) early when ``connected`` changes. Once the
        subscription is closed and drained it just sleeps ``timeout``."""
        if not self._events:
            if self._closed:
                await asyncio.sleep(max(0.0, timeout))
            else:
                self._signal.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, timeout)):
                        await self._signal.wait()
        events = list(self._events)
        self._events.clear()
        return events

    # -- called by WiroSocket ---

    def _deliver(self, event: SocketEvent, now: float) -> None:
        if self._closed:
            return
        self.last_event_at = now
        self._events.append(event)
        self._signal.set()
        if event.terminal:
            self.close()

    def _set_live(self, live: bool) -> None:
        live = live and not self._closed
        if live != self._live:
            self._live = live
            self._signal.set()


# --- the connection -------------------------------------------------------------------------


class WiroSocket:
    """One shared WebSocket connection to Wiro for any number of tasks.

    ``connect_timeout`` bounds the opening handshake, ``heartbeat`` is the
    ping interval (a missing pong closes the connection), reconnects back off
    from ``min_backoff`` to ``max_backoff`` seconds with jitter, and the
    connection closes after ``idle_timeout`` seconds without subscriptions.
    ``session`` is borrowed if given (not closed here), else created lazily.
    """

    def __init__(
        self,
        url: str,
        *,
        session: aiohttp.ClientSession | None = None,
        connect_timeout: float = 10.0,
        heartbeat: float | None = 30.0,
        max_backoff: float = 30.0,
        min_backoff: float = 0.5,
        idle_timeout: float = 30.0,
    ) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self.heartbeat = heartbeat
        self.max_backoff = max_backoff
        self.min_backoff = min(min_backoff, max_backoff)
        self.idle_timeout = idle_timeout
        self.connections = 0  # connections opened so far (for tests and metrics)
        self._session = session
        self._owns_session = session is None
        self._subs: dict[Subscription, None] = {}
        self._by_id: dict[str, list[Subscription]] = {}
        self._by_token: dict[str, list[Subscription]] = {}
        self._runner: asyncio.Task[None] | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._outbox: asyncio.Queue[Subscription] | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._chores: set[asyncio.Task[Any]] = set()
        self._closed = False
        parts = urlsplit(url)
        self._where = f"{parts.scheme}://{parts.netloc}{parts.path}"

    def __repr__(self) -> str:
        return (
            f"WiroSocket(url={self._where!r}, connected={self.connected}, "
            f"subscriptions={len(self._subs)})"
        )

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed

    @property
    def subscriptions(self) -> int:
        """How many tasks are followed now."""
        return len(self._subs)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def subscribe(self, ref: TaskRef) -> Subscription:
        """Follow a task (connecting if needed). Must be called inside the event loop.

        After :meth:`close` this returns a closed subscription, so callers just poll."""
        if self._closed:
            log.debug("Wiro socket is closed; task %s will be polled only", ref.task_id)
            return Subscription(None, ref)
        subscription = Subscription(self, ref)
        self._subs[subscription] = None
        self._by_id.setdefault(ref.task_id, []).append(subscription)
        self._by_token.setdefault(ref.socket_token, []).append(subscription)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._outbox is not None:
            self._outbox.put_nowait(subscription)
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(self._run(), name="wiro-socket")
        return subscription

    async def close(self) -> None:
        """End every subscription and close the connection (and an owned session)."""
        self._closed = True
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        for subscription in list(self._subs):
            subscription.close()
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        # aiohttp's closing handshake and ClientSession.close() wait on the peer (a close
        # frame, each connection's end) without a bound of their own in every path: a close
        # that cannot finish is given up on rather than hanging the caller.
        try:
            async with asyncio.timeout(_CLOSE_GRACE):
                if self._ws is not None:
                    await self._ws.close()
                if self._chores:
                    await asyncio.gather(*self._chores, return_exceptions=True)
                if self._owns_session and self._session is not None:
                    await self._session.close()
        except TimeoutError:
            log.warning("The Wiro socket did not close within %gs; abandoning it", _CLOSE_GRACE)
            for chore in list(self._chores):
                chore.cancel()
        finally:
            self._ws = None
            if self._owns_session:
                self._session = None

    # -- subscriptions ---

    def _drop(self, subscription: Subscription) -> None:
        if subscription not in self._subs:
            return
        del self._subs[subscription]
        for index, key in (
            (self._by_id, subscription.ref.task_id),
            (self._by_token, subscription.ref.socket_token),
        ):
            followers = index.get(key, [])
            if subscription in followers:
                followers.remove(subscription)
            if not followers:
                index.pop(key, None)
        if not self._subs and not self._closed and self._idle_timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # closed outside the loop (garbage collection): no timer
                return
            self._idle_timer = loop.call_later(self.idle_timeout, self._on_idle)

    def _on_idle(self) -> None:
        self._idle_timer = None
        if self._subs or self._ws is None or self._ws.closed:
            return
        log.debug("No Wiro task followed for %gs; closing the socket", self.idle_timeout)
        self._spawn(self._ws.close())

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        chore = asyncio.get_running_loop().create_task(work)
        self._chores.add(chore)
        chore.add_done_callback(self._chores.discard)

    # -- the connection loop ---

    async def _run(self) -> None:
        failures = 0
        try:
            while self._subs and not self._closed:
                try:
                    ws = await self._open(first_failure=failures == 0)
                    if ws is None:
                        failures += 1
                    else:
                        healthy = await self._serve(ws)
                        failures = 0 if healthy else failures + 1
                        if not self._subs or self._closed:
                            break
                        log.info(
                            "Wiro socket closed; reconnecting for %d followed task(s)",
                            len(self._subs),
                        )
                except asyncio.CancelledError:
                    raise
                except Exception:
                    failures += 1
                    log.exception("Wiro socket loop failed; tasks are polled meanwhile")
                await asyncio.sleep(self._backoff(failures))
        finally:
            if self._runner is asyncio.current_task():
                self._runner = None

    def _backoff(self, failures: int) -> float:
        delay = min(self.max_backoff, self.min_backoff * 2**failures)
        return delay * random.uniform(0.5, 1.0)

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise RuntimeError("the aiohttp session given to WiroSocket is closed")
            self._session = aiohttp.ClientSession()
        return self._session

    async def _open(self, *, first_failure: bool) -> aiohttp.ClientWebSocketResponse | None:
        try:
            session = self._get_session()
            async with asyncio.timeout(self.connect_timeout):
                return await session.ws_connect(
                    self.url,
                    heartbeat=self.heartbeat,
                    timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
                    autoping=True,
                )
        except asyncio.CancelledError:
            raise
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError, RuntimeError) as exc:
            level = logging.WARNING if first_failure else logging.DEBUG
            log.log(
                level,
                "Cannot open the Wiro socket at %s (%s); polling meanwhile",
                self._where,
                _describe(exc),
            )
            return None

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> bool:
        """Read until the connection ends; True if it was healthy (heard from, or lasted)."""
        loop = asyncio.get_running_loop()
        opened = loop.time()
        heard = False
        self.connections += 1
        outbox: asyncio.Queue[Subscription] = asyncio.Queue()
        for subscription in self._subs:
            outbox.put_nowait(subscription)
        self._ws, self._outbox = ws, outbox
        log.info("Wiro socket connected (%d followed task(s))", len(self._subs))
        writer = loop.create_task(self._write(ws, outbox), name="wiro-socket-writer")
        try:
            while True:
                message = await ws.receive()
                if message.type is aiohttp.WSMsgType.TEXT:
                    heard = True
                    self._handle(message.data, loop.time())
                elif message.type is aiohttp.WSMsgType.BINARY:
                    heard = True
                    try:
                        text = message.data.decode()
                    except UnicodeDecodeError:
                        log.debug("Ignoring a binary socket message (%d bytes)", len(message.data))
                        continue
                    self._handle(text, loop.time())
                else:
                    if message.type is aiohttp.WSMsgType.ERROR:
                        log.debug("Wiro socket error: %s", _describe(message.data))
                    break
        finally:
            if self._ws is ws:
                self._ws, self._outbox = None, None
            for subscription in self._subs:
                subscription._set_live(False)
            writer.cancel()
            try:
                await asyncio.gather(writer, return_exceptions=True)
            finally:  # also when close() cancels this wait: the connection is still ended
                if not ws.closed:
                    self._spawn(ws.close())
        return heard or loop.time() - opened >= _STABLE_AFTER

    async def _write(self, ws: aiohttp.ClientWebSocketResponse, outbox: asyncio.Queue) -> None:
        while True:
            subscription: Subscription = await outbox.get()
            if subscription.closed:
                continue
            frame = json.dumps({"type": "task_info", "tasktoken": subscription.ref.socket_token})
            try:
                await ws.send_str(frame)
            except (aiohttp.ClientError, OSError, RuntimeError) as exc:
                log.debug("Wiro socket send failed: %s", _describe(exc))
                await ws.close()
                return
            subscription._set_live(True)
            log.debug("Following Wiro task %s over the socket", subscription.ref.task_id)

    def _handle(self, text: str, now: float) -> None:
        try:
            payload = json.loads(text)
        except ValueError:
            log.debug("Ignoring a socket message that is not JSON (%d chars)", len(text))
            return
        if not isinstance(payload, dict):
            kind = type(payload).__name__
            log.debug("Ignoring a socket message that is not an object (%s)", kind)
            return
        status = payload.get("type")
        if not isinstance(status, str) or not status:
            log.debug("Ignoring a socket message without a type")
            return
        task_id = payload.get("id")
        task_id = "" if task_id is None or isinstance(task_id, (dict, list)) else str(task_id)
        token = payload.get("tasktoken")
        followers = self._by_id.get(task_id) if task_id else None
        if not followers and isinstance(token, str):
            followers = self._by_token.get(token)
        if not followers:
            log.debug("Ignoring socket message %r for a task not followed (%s)", status, task_id)
            return
        event = SocketEvent.from_message(payload, task_id=task_id or followers[0].ref.task_id)
        log.debug("Socket: task %s %s", event.task_id, status)
        for subscription in list(followers):
            subscription._deliver(event, now)


def _describe(exc: object) -> str:
    text = str(exc)
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
