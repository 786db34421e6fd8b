"""Delivering a finished portrait as durably as the rest of the job.

Wiro has been paid once a job is DELIVERING, so a post the platform answers with "later" (429,
5xx, no connection) is tried again, honouring the wait it asks for, with a growing pause, for
`delivery_retry` counted from when the job entered DELIVERING (so the bound holds across
restarts: the job simply stays DELIVERING and is resumed). When that time is up, the last try
treats "later" as "not here" and falls back to the other ways; a result no way took is kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.core.jobs.ledger import Clock

log = logging.getLogger(__name__)

# Pauses between tries grow from the first to the longest (seconds), unless Discord asks longer.
FIRST_PAUSE = 2.0
LONGEST_PAUSE = 300.0


class DeliveryDeferred(Exception):
    """The platform asked to try the post again later (429, 5xx, no connection)."""

    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


class DeliveryUncertain(Exception):
    """Raised by `JobEvents.find_delivered` when a post may or may not have reached the chat
    (a restart in the middle of sending) and the platform cannot be asked which (Telegram's Bot
    API cannot read chat history). The result is then kept, never posted twice: the member is
    told where to get it (`message`)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


Attempt = Callable[[bool], Awaitable[str]]
"""One try at posting: given whether it is the last try, returns the message reference, raises
`DeliveryDeferred` (never on the last try) or `PortraitFailed` (no way took it)."""


async def deliver_with_retries(
    job_id: int,
    attempt: Attempt,
    *,
    deadline: datetime,
    clock: Clock,
    first_pause: float = FIRST_PAUSE,
    on_deferred: Callable[[], Awaitable[None]] | None = None,
) -> str:
    """Try `attempt` until it posts or the deadline passes; returns the message reference.
    ``on_deferred`` runs once, at the first "later" (the dispatcher keeps the images then)."""
    pause = first_pause
    deferred = False
    while True:
        last_try = clock() >= deadline
        try:
            return await attempt(last_try)
        except DeliveryDeferred as later:
            left = (deadline - clock()).total_seconds()
            wait = max(pause, later.retry_after or 0.0)
            wait = max(0.0, min(wait, left))
            level = logging.INFO if deferred else logging.WARNING
            log.log(
                level,
                "The chat could not take the result of job %s now (%s); trying again in %.0f s "
                "(until %s)",
                job_id,
                later.detail,
                wait,
                deadline.strftime("%H:%M:%S UTC"),
            )
            if not deferred:
                deferred = True
                if on_deferred is not None:
                    await on_deferred()
            await asyncio.sleep(wait)
            pause = min(pause * 2, LONGEST_PAUSE)
