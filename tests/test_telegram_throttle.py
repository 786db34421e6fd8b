"""The pacer keeps the bot within Telegram's limits (the stand-in's strict mode answers 429
otherwise), honours retry_after in the refused chat only, and sends only the latest edit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter

from bot.frontends.telegram_bot.throttle import (
    EditOutcome,
    PaceLimits,
    Pacer,
    Priority,
    SlidingWindow,
)
from tests.telegram_standin import TelegramStandIn
from tests.telegram_standin.harness import aiogram_bot

# The stand-in's windows are Telegram's (1 s, 60 s); a faster per-chat rate keeps tests short.
FAST = PaceLimits(per_chat_per_second=5, per_group_per_minute=20, global_per_second=30)


@pytest.fixture
async def telegram(tmp_path) -> AsyncIterator[TelegramStandIn]:
    async with TelegramStandIn(save_dir=tmp_path / "sent") as server:
        yield server
        assert server.internal_errors == []


@pytest.fixture
async def bot(telegram: TelegramStandIn) -> AsyncIterator[Bot]:
    async with aiogram_bot(telegram) as client:
        yield client


@pytest.fixture
async def pacer() -> AsyncIterator[Pacer]:
    pacer = Pacer(FAST)
    yield pacer
    await pacer.close()


def test_sliding_window_counts_within_its_window() -> None:
    window = SlidingWindow(limit=3, window=60.0)
    for now in (0.0, 10.0, 20.0):
        assert window.delay(now) == 0.0
        window.record(now)
    assert window.delay(30.0) == 30.0  # the first of the three leaves the window at 60
    assert window.delay(60.0) == 0.0
    assert not window.idle(70.0) and window.idle(80.0)


async def test_normal_pacing_gets_no_429_and_never_waits_on_other_chats(
    telegram: TelegramStandIn, bot: Bot, pacer: Pacer
) -> None:
    telegram.rate_limits.enable(per_chat_per_second=5, per_group_per_minute=20)
    chats = [telegram.private.id, telegram.group.id, telegram.private_chat(telegram.bob).id]

    async def burst(chat_id: int) -> list[int]:
        sends = [
            pacer.send(
                chat_id,
                lambda n=n: bot.send_message(chat_id, f"message {n}"),
                group=chat_id == telegram.group.id,
            )
            for n in range(6)
        ]
        return [m.message_id for m in await asyncio.gather(*sends)]

    results = await asyncio.gather(*(burst(chat) for chat in chats))
    assert telegram.rate_limits.refused == []
    for chat, ids in zip(chats, results, strict=True):
        assert [m.text for m in telegram.sent(chat)] == [f"message {n}" for n in range(6)]
        assert len(ids) == 6


async def test_a_forced_429_delays_only_that_chat(
    telegram: TelegramStandIn, bot: Bot, pacer: Pacer
) -> None:
    slow, fast = telegram.private.id, telegram.private_chat(telegram.bob).id
    fault = telegram.faults.retry_after("sendMessage", 1, chat=slow, times=1)
    slow_send = asyncio.create_task(
        pacer.send(slow, lambda: bot.send_message(slow, "a"), group=False)
    )
    await telegram.wait_for(lambda s: fault.hits)
    await pacer.send(fast, lambda: bot.send_message(fast, "b"), group=False)
    assert not slow_send.done()  # bob's message went out while alice's chat waits
    await slow_send
    calls = telegram.requests_to("sendMessage")
    assert [(r.params["text"], r.status) for r in calls] == [("a", 429), ("b", 200), ("a", 200)]
    assert calls[2].started_at - calls[0].finished_at >= 1.0  # retry_after honoured


async def test_pending_edits_coalesce_to_the_latest_text(
    telegram: TelegramStandIn, bot: Bot, pacer: Pacer
) -> None:
    telegram.rate_limits.enable(per_chat_per_second=5)
    chat = telegram.private.id
    message = await pacer.send(chat, lambda: bot.send_message(chat, "status 0"), group=False)

    def edit(n: int) -> asyncio.Future[EditOutcome]:
        return asyncio.ensure_future(
            pacer.edit(
                chat,
                message.message_id,
                lambda: bot.edit_message_text(
                    f"status {n}", chat_id=chat, message_id=message.message_id
                ),
                group=False,
            )
        )

    outcomes = await asyncio.gather(*(edit(n) for n in range(1, 11)))
    assert set(outcomes) == {EditOutcome.DONE}
    edits = telegram.requests_to("editMessageText")
    assert len(edits) < 10 and edits[-1].params["text"] == "status 10"
    assert telegram.message(chat, message.message_id).text == "status 10"
    assert telegram.rate_limits.refused == []


async def test_not_modified_is_success_and_a_deleted_message_is_gone(
    telegram: TelegramStandIn, bot: Bot, pacer: Pacer
) -> None:
    chat = telegram.private.id
    message = await pacer.send(chat, lambda: bot.send_message(chat, "same"), group=False)

    def edit(text: str) -> asyncio.Future[EditOutcome]:
        return pacer.edit(
            chat,
            message.message_id,
            lambda: bot.edit_message_text(text, chat_id=chat, message_id=message.message_id),
            group=False,
        )

    assert await edit("same") is EditOutcome.UNCHANGED
    await bot.delete_message(chat, message.message_id)
    assert await edit("other") is EditOutcome.GONE
    telegram.faults.bad_request("editMessageText", "can't parse entities: oops")
    with pytest.raises(TelegramBadRequest):
        await edit("third")


async def test_endless_429s_reach_the_caller(telegram: TelegramStandIn, bot: Bot) -> None:
    pacer = Pacer(PaceLimits(per_chat_per_second=5, max_refusals=1))
    chat = telegram.private.id
    telegram.faults.retry_after("sendMessage", 1, chat=chat, times=None)
    try:
        with pytest.raises(TelegramRetryAfter):
            await pacer.send(chat, lambda: bot.send_message(chat, "x"), group=False)
    finally:
        await pacer.close()


async def test_a_group_over_its_minute_waits_without_a_429(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    telegram.rate_limits.enable(per_chat_per_second=5, per_group_per_minute=3)
    pacer = Pacer(PaceLimits(per_chat_per_second=5, per_group_per_minute=3))
    group, private = telegram.group.id, telegram.private.id
    try:
        sends = [
            asyncio.ensure_future(
                pacer.send(group, lambda n=n: bot.send_message(group, f"g{n}"), group=True)
            )
            for n in range(4)
        ]
        await asyncio.gather(*sends[:3])
        await pacer.send(private, lambda: bot.send_message(private, "p"), group=False)
        assert not sends[3].done()  # the fourth waits for the group's minute
        assert telegram.rate_limits.refused == []
    finally:
        await pacer.close()
    assert [m.text for m in telegram.sent(group)] == ["g0", "g1", "g2"]


async def test_when_the_bot_wide_limit_binds_first_replies_go_before_results_and_edits() -> None:
    # Two calls a second bot-wide: the first two take the window, the rest wait for it and go
    # by priority (a new member's first answer, then a result, then progress edits), and
    # within one priority in the order they came. No chat waits on its own spacing here.
    pacer = Pacer(PaceLimits(per_chat_per_second=100, global_per_second=2))
    order: list[str] = []

    def call(name: str):
        async def run() -> str:
            order.append(name)
            return name

        return run

    try:
        early = [pacer.send(chat, call(f"early-{chat}"), group=False) for chat in (1, 2)]
        await asyncio.gather(*early)
        waiting = [
            pacer.edit(3, 30, call("edit-3"), group=False),
            pacer.edit(4, 40, call("edit-4"), group=False),
            pacer.send(5, call("result-5"), group=False),
            pacer.send(6, call("first-6"), group=False, priority=Priority.FIRST_REPLY),
        ]
        await asyncio.wait_for(asyncio.gather(*waiting), 10)
    finally:
        await pacer.close()
    assert order == ["early-1", "early-2", "first-6", "result-5", "edit-3", "edit-4"]
