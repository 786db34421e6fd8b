"""Helpers of the insight tests (audit log, stats, health): a clock the test moves, requesters
of both platforms, and jobs driven through the real ledger to a chosen end."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.jobs.admission import Requester
from bot.core.jobs.ledger import Job, JobState
from bot.core.jobs.sql_ledger import SqlLedger

START = datetime(2026, 3, 10, 12, 0, 0, 250_000, tzinfo=UTC)
GUILD = "discord:guild:2002"
CHAT = "telegram:chat:-1005"


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def discord_member(user_id: int, guild_id: int = 2002, channel_id: int = 3003) -> Requester:
    return Requester(
        "discord",
        f"discord:{user_id}",
        f"discord:guild:{guild_id}",
        f"discord:guild:{guild_id}",
        {"user_id": user_id, "guild_id": guild_id, "channel_id": channel_id},
        "interaction-token",
    )


def telegram_member(user_id: int, chat_id: int = -1005) -> Requester:
    return Requester(
        "telegram",
        f"telegram:{user_id}",
        f"telegram:chat:{chat_id}",
        f"telegram:chat:{chat_id}",
        {"user_id": user_id, "chat_id": chat_id, "chat_type": "group", "thread_id": None},
    )


def params(member_name: str, prompt: str = "a portrait", **options: Any) -> dict[str, Any]:
    return {
        "options": {"prompt": prompt, "model_id": "850", "lora_id": "12", **options},
        "member_name": member_name,
    }


async def create(ledger: SqlLedger, who: Requester, member_name: str) -> Job:
    return await ledger.create(
        platform=who.platform,
        requester=who.requester,
        scope=who.scope,
        reply_address=who.reply_address,
        reply_secret=who.reply_secret,
        params=params(member_name),
    )


async def end_job(
    ledger: SqlLedger,
    clock: Clock,
    job: Job,
    end: JobState,
    *,
    wait: float = 0.0,
    generation: float = 0.0,
    cost: float | None = None,
    reason: str = "",
    task_seconds: float | None = None,
) -> Job:
    """Drive `job` to `end` as the queue would: `wait` seconds in the line, then (for any end
    but a cancel in the queue) `generation` seconds at Wiro."""
    clock.advance(seconds=wait)
    if end is JobState.CANCELLED and not generation:
        return await ledger.transition(job.id, JobState.CANCELLED, expected=JobState.QUEUED)
    await ledger.transition(job.id, JobState.SUBMITTING)
    await ledger.transition(job.id, JobState.RUNNING, wiro_task_id=f"task-{job.id}")
    clock.advance(seconds=generation)
    if end is JobState.FAILED:
        return await ledger.transition(job.id, JobState.FAILED, failure_reason=reason)
    if end is JobState.CANCELLED:
        return await ledger.transition(job.id, JobState.CANCELLED)
    await ledger.transition(job.id, JobState.DELIVERING, cost=cost, task_seconds=task_seconds)
    if end is JobState.KEPT:
        return await ledger.transition(job.id, JobState.KEPT, failure_reason="undelivered")
    return await ledger.transition(
        job.id, JobState.DELIVERED, result_message_ref=f"message-{job.id}"
    )


async def until(
    check: Callable[[], Awaitable[object] | object], what: str, timeout: float = 10.0
) -> None:
    """Re-check `check` (sync or async) every 20 ms until it is truthy; fail after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() >= deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        await asyncio.sleep(0.02)
