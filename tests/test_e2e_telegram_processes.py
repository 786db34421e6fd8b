"""Two bot processes with one Telegram bot on one PostgreSQL database (issue 14): only one
long-polls at a time (a lease; Telegram would answer a second getUpdates with 409 Conflict),
and when it is killed the other takes the updates over within PROCESS_LEASE_SECONDS; every
update is handled once."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.bot_process import BotProcess, bot_env, eventually
from tests.telegram_standin import TelegramStandIn


@pytest.fixture
async def telegram(tmp_path):
    async with TelegramStandIn(save_dir=tmp_path / "sent") as server:
        yield server


def conflicts(telegram: TelegramStandIn) -> list:
    return [r for r in telegram.requests_to("getUpdates") if r.status == 409]


async def test_one_process_polls_and_another_takes_over(
    discord_server, telegram, fake_wiro, tmp_path, postgres_database
) -> None:
    database = postgres_database
    env = bot_env(
        discord_server,
        fake_wiro,
        tmp_path / "data",
        DISCORD_TOKEN="",
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_BASE=telegram.base_url,
        DATABASE_URL=database,
        PROCESS_LEASE_SECONDS="3",
    )
    first = await BotProcess(env, cwd=tmp_path).start()
    second = await BotProcess(env, cwd=tmp_path).start()
    try:
        hello = telegram.send_text("/help")
        await telegram.wait_message(lambda m: m.reply_to_message_id == hello.message_id, timeout=30)
        await asyncio.sleep(2.0)  # several polls: only the lease holder asks
        polled = len(telegram.requests_to("getUpdates"))
        assert polled >= 1 and not conflicts(telegram)

        # Kill whichever polls (the one whose log says it holds the lease).
        poller, other = (first, second) if "holds telegram" in first.output else (second, first)
        await poller.kill()
        after = telegram.send_text("/help")
        await telegram.wait_message(lambda m: m.reply_to_message_id == after.message_id, timeout=30)
        await eventually(
            lambda: "holds telegram" in other.output, timeout=10, what="the lease moved"
        )
        await asyncio.sleep(1.0)
        answers = [m for m in telegram.sent() if m.reply_to_message_id == after.message_id]
        assert len(answers) == 1  # handled once
        assert not conflicts(telegram)
    finally:
        for bot in (first, second):
            if bot.running:
                await bot.interrupt(timeout=30)
    assert "Traceback" not in first.output + second.output
