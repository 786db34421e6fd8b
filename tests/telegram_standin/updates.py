"""Updates for the bot: a queue served by ``getUpdates`` long polling or pushed to a webhook.

Modelled as the Bot API server does it (core.telegram.org/bots/api#getupdates and
tdlib/telegram-bot-api ``Client::abort_long_poll``):
- an update stays queued, and is delivered again by every ``getUpdates``, until a call
  comes with ``offset`` greater than its ``update_id`` (a negative offset keeps only the
  last ``-offset`` updates);
- ``timeout`` > 0 waits until an update arrives or the timeout passes, then answers ``[]``;
- a second ``getUpdates`` while one is waiting ends the first with 409 "Conflict: terminated
  by other getUpdates request; ...", and ``setWebhook`` ends it with "Conflict: terminated by
  setWebhook request";
- while a webhook is set, ``getUpdates`` answers 409, and updates are POSTed to the URL in
  order with the ``X-Telegram-Bot-Api-Secret-Token`` header; a non-2xx answer or a failed
  connection leaves the update queued and it is retried after ``webhook_retry_delay``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .errors import TERMINATED_BY_OTHER, WEBHOOK_ACTIVE, ApiError
from .records import Notifier, WebhookDelivery

log = logging.getLogger("telegram_standin.updates")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass
class Webhook:
    url: str
    secret_token: str | None = None
    allowed_updates: list[str] | None = None
    max_connections: int = 40
    set_at: float = field(default_factory=time.monotonic)


@dataclass
class _Poll:
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    ended_by: str | None = None  # 409 description when another call ended this one


class UpdateQueue:
    """``standin.updates``: ``pending`` (unconfirmed, in order), ``delivery_counts``
    (update_id → times handed out), ``confirmed`` ids, ``webhook`` and ``webhook_deliveries``."""

    def __init__(self, notifier: Notifier, *, first_update_id: int = 500_001) -> None:
        self.notifier = notifier
        self.next_update_id = first_update_id
        self.pending: list[dict[str, Any]] = []
        self.delivery_counts: dict[int, int] = {}
        self.confirmed: list[int] = []
        self.webhook: Webhook | None = None
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.webhook_retry_delay = 0.05
        self.webhook_timeout = 10.0
        self.allowed_updates: list[str] | None = None  # last value given (recorded only)
        self._poll: _Poll | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_wakeup = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None

    # --- producing ---------------------------------------------------------------------
    def push(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue ``{"update_id": n, kind: payload}`` and wake the poller / webhook sender."""
        update = {"update_id": self.next_update_id, kind: payload}
        self.next_update_id += 1
        self.pending.append(update)
        if self._poll is not None:
            self._poll.wakeup.set()
        self._webhook_wakeup.set()
        self.notifier.notify()
        return update

    def _confirm_below(self, offset: int) -> None:
        kept = []
        for update in self.pending:
            if update["update_id"] < offset:
                self.confirmed.append(update["update_id"])
            else:
                kept.append(update)
        self.pending = kept

    # --- getUpdates ----------------------------------------------------------------------
    async def get_updates(
        self, offset: int | None, limit: int, timeout: float, closing: asyncio.Event
    ) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(409, WEBHOOK_ACTIVE)
        self._end_poll(TERMINATED_BY_OTHER)
        if offset is not None and offset > 0:
            self._confirm_below(offset)
        elif offset is not None and offset < 0:
            cut = len(self.pending) + offset
            if cut > 0:
                self._confirm_below(self.pending[cut]["update_id"])
        poll = _Poll()
        self._poll = poll
        self.notifier.notify()
        try:
            deadline = time.monotonic() + max(0.0, timeout)
            while not self.pending and not closing.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                poll.wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(poll.wakeup.wait(), remaining)
                if poll.ended_by:
                    raise ApiError(409, poll.ended_by)
        finally:
            if self._poll is poll:
                self._poll = None
            self.notifier.notify()
        batch = self.pending[: max(1, min(limit, 100))]
        for update in batch:
            uid = update["update_id"]
            self.delivery_counts[uid] = self.delivery_counts.get(uid, 0) + 1
        self.notifier.notify()
        return batch

    @property
    def polling(self) -> bool:
        """True while a getUpdates call is waiting."""
        return self._poll is not None

    def _end_poll(self, description: str) -> None:
        if self._poll is not None:
            self._poll.ended_by = description
            self._poll.wakeup.set()
            self._poll = None

    # --- webhook ---------------------------------------------------------------------------
    def set_webhook(self, webhook: Webhook, *, drop_pending: bool) -> None:
        self._end_poll("Conflict: terminated by setWebhook request")
        if drop_pending:
            self._confirm_below(self.next_update_id)
        self.webhook = webhook
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.create_task(self._deliver_loop())
        self._webhook_wakeup.set()

    async def delete_webhook(self, *, drop_pending: bool) -> None:
        self.webhook = None
        if drop_pending:
            self._confirm_below(self.next_update_id)
        await self._stop_webhook_task()

    async def _stop_webhook_task(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _deliver_loop(self) -> None:
        while self.webhook is not None:
            if not self.pending:
                self._webhook_wakeup.clear()
                await self._webhook_wakeup.wait()
                continue
            webhook, update = self.webhook, self.pending[0]
            status = await self._post(webhook, update)
            if status is not None and 200 <= status < 300:
                if self.pending and self.pending[0] is update:
                    self.pending.pop(0)
                    self.confirmed.append(update["update_id"])
            else:
                await asyncio.sleep(self.webhook_retry_delay)
            self.notifier.notify()

    async def _post(self, webhook: Webhook, update: dict[str, Any]) -> int | None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        headers = {SECRET_HEADER: webhook.secret_token} if webhook.secret_token else {}
        uid = update["update_id"]
        self.delivery_counts[uid] = self.delivery_counts.get(uid, 0) + 1
        status: int | None = None
        try:
            async with self._session.post(
                webhook.url,
                json=update,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.debug("webhook delivery of %s failed: %r", uid, exc)
        self.webhook_deliveries.append(
            WebhookDelivery(time.monotonic(), uid, status, headers.get(SECRET_HEADER))
        )
        return status

    async def close(self) -> None:
        if self._poll is not None:  # the waiting call answers [] (the closing event is set)
            self._poll.wakeup.set()
        await self._stop_webhook_task()
        if self._session is not None:
            await self._session.close()
            self._session = None
