"""Exactly-once Telegram updates: each update is recorded in the ledger's inbox (committed)
before it is confirmed to Telegram, handled, then marked done.

Why not aiogram's own polling: it confirms an update (the next ``getUpdates`` offset) as soon
as its handler has *started*, so a crash mid-handler loses it. Here:

* Long polling: a batch from ``getUpdates`` is recorded first; only then does the next call
  carry ``offset`` = last id + 1, which confirms the batch (Bot API: "An update is considered
  confirmed as soon as getUpdates is called with an offset higher than its update_id").
* Webhook: the POST is answered 200 only after the update is recorded; any failure answers
  500 and Telegram delivers it again.
* An update already in the inbox (Telegram redelivered it after a restart) is not handled
  again; updates recorded but not done (the process stopped mid-handler) are handled at
  start-up (`resume`). A job made from an update carries ``params["origin"]`` (the update's
  ``origin``, handed to every handler), and the ``/portrait`` handler skips an update whose job
  already exists, so a handler cut short after queueing its job does not queue a second one.

Handled updates are forgotten after `KEEP_DONE` (Telegram keeps an unconfirmed update for 24
hours, and ids may restart after a week without updates).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta
from typing import Any, Protocol

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError, TelegramConflictError, TelegramRetryAfter
from aiogram.methods import GetUpdates
from aiogram.types import Update

from bot.core.jobs.ledger import Clock, InboxUpdate, JobLedger, LedgerError, utc_now

from .address import PLATFORM

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query"]
KEEP_DONE = timedelta(hours=48)
PRUNE_EVERY = 3600.0  # seconds
RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)  # seconds, after failed getUpdates or records
MAX_CONCURRENT = 32  # updates handled at once


class UpdateClaims(Protocol):
    """Which process handles which update (`bot.core.jobs.claims.JobClaims`)."""

    @property
    def holder(self) -> str: ...

    async def adopt_updates(self, source: str) -> list[InboxUpdate]: ...


def inbox_source(bot_id: int) -> str:
    """The inbox key of one Telegram bot's updates (ids are per bot)."""
    return f"{PLATFORM}:{bot_id}"


def dump_update(update: Update) -> dict[str, Any]:
    """The update as Telegram sent it (JSON types, Telegram's field names, unknown fields
    kept), to record and to parse again with ``Update.model_validate``."""
    return update.model_dump(mode="json", exclude_unset=True, by_alias=True)


class UpdateInbox:
    """Records, confirms and feeds one bot's updates to ``dispatcher`` (see the module
    docstring). Handlers receive ``origin`` (``"telegram:<bot id>:<update id>"``) as data."""

    def __init__(
        self,
        ledger: JobLedger,
        dispatcher: Dispatcher,
        bot: Bot,
        *,
        clock: Clock = utc_now,
        max_concurrent: int = MAX_CONCURRENT,
        claims: UpdateClaims | None = None,
    ) -> None:
        self._ledger = ledger
        self._claims = claims
        self._dispatcher = dispatcher
        self._bot = bot
        self._clock = clock
        self._source = inbox_source(bot.id)
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(max_concurrent)
        self._pruned_at = 0.0
        self.handled = 0  # updates handled by this process (for tests and logs)

    @property
    def source(self) -> str:
        return self._source

    def origin(self, update_id: int) -> str:
        return f"{self._source}:{update_id}"

    # ------------------------------------------------------------------ recording

    async def record(self, updates: list[tuple[int, dict[str, Any]]]) -> list[int]:
        """Record the updates (one commit); returns the ids seen for the first time, which are
        then handled in the background. Raises `LedgerError`: then confirm nothing."""
        holder = self._claims.holder if self._claims is not None else None
        new = await self._ledger.inbox_add(self._source, updates, holder=holder)
        fresh = set(new)
        for update_id, payload in updates:
            if update_id in fresh:
                fresh.discard(update_id)
                self._spawn(update_id, payload)
        skipped = len(updates) - len(new)
        if skipped:
            log.info("Skipped %d Telegram update(s) already recorded", skipped)
        return new

    async def resume(self) -> int:
        """Handle every update recorded but not done whose process is gone (a restart or a
        crash cut it short; with claims, updates another live process is handling are left to
        it); returns how many were found."""
        if self._claims is not None:
            pending = await self._claims.adopt_updates(self._source)
        else:
            pending = await self._ledger.inbox_pending(self._source)
        if pending:
            log.info("Handling %d Telegram update(s) left unhandled", len(pending))
        for item in pending:
            self._spawn(item.update_id, item.payload)
        await self._prune_if_due()
        return len(pending)

    # ------------------------------------------------------------------ handling

    def _spawn(self, update_id: int, payload: dict[str, Any]) -> None:
        task = asyncio.create_task(self._handle(update_id, payload), name=f"update-{update_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, update_id: int, payload: dict[str, Any]) -> None:
        async with self._slots:
            try:
                update = Update.model_validate(payload, context={"bot": self._bot})
                await self._dispatcher.feed_update(self._bot, update, origin=self.origin(update_id))
            except asyncio.CancelledError:
                raise  # stopping: left not done, handled again at the next start
            except Exception:
                # Done all the same: a handler that fails on an update would fail again.
                log.exception("Handling Telegram update %s failed", update_id)
            try:
                await self._ledger.inbox_done(self._source, update_id)
            except LedgerError as error:
                log.warning("Cannot mark Telegram update %s done: %s", update_id, error)
            self.handled += 1

    async def drain(self, grace: float) -> None:
        """Let the updates being handled finish for up to ``grace`` seconds, then cancel the
        rest (they stay not done in the inbox and are handled at the next start)."""
        tasks = list(self._tasks)
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    async def _prune_if_due(self) -> None:
        now = time.monotonic()
        if self._pruned_at and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        try:
            await self._ledger.inbox_prune(self._clock() - KEEP_DONE)
        except LedgerError as error:
            log.warning("Cannot prune the Telegram update inbox: %s", error)

    # ------------------------------------------------------------------ long polling

    async def poll(self, stop: asyncio.Event, *, poll_seconds: int = 30) -> None:
        """Long-poll ``getUpdates`` until ``stop`` is set: record each batch, then confirm it
        with the next call's offset. Network trouble and 5xx are retried with a growing pause;
        a 409 (another process polls with this token, or a webhook is set) is logged and
        retried the same way."""
        offset: int | None = None
        failures = 0
        while not stop.is_set():
            method = GetUpdates(
                offset=offset, timeout=poll_seconds, allowed_updates=ALLOWED_UPDATES
            )
            call = asyncio.ensure_future(self._bot(method, request_timeout=poll_seconds + 30))
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({call, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not call.done():  # stopping: the batch it may bring stays unconfirmed
                call.cancel()
                await asyncio.gather(call, return_exceptions=True)
                return
            try:
                updates = call.result()
            except TelegramRetryAfter as error:
                await _pause(stop, float(error.retry_after))
                continue
            except (TelegramAPIError, OSError, TimeoutError) as error:
                failures += 1
                delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS)) - 1]
                conflict = isinstance(error, TelegramConflictError)
                level = logging.ERROR if conflict else logging.WARNING
                log.log(level, "getUpdates failed (%s); again in %.1f s", _reason(error), delay)
                await _pause(stop, delay)
                continue
            failures = 0
            if not updates:
                await self._prune_if_due()
                continue
            batch = [(update.update_id, dump_update(update)) for update in updates]
            try:
                await self.record(batch)
            except LedgerError as error:
                # Not recorded: not confirmed either; Telegram hands the batch out again.
                log.error("Cannot record Telegram updates (%s); asking again shortly", error)
                await _pause(stop, RETRY_DELAYS[2])
                continue
            offset = updates[-1].update_id + 1


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def _reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0][:200]
