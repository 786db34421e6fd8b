"""What the Telegram end-to-end tests share: the stand-in and the real bot as fixtures (import
them into a test module), and waits for the bot's answers to a member's message."""

from __future__ import annotations

import pytest

from tests.support.telegram_bot import telegram_bot
from tests.telegram_standin import TelegramStandIn

RUN = "/Run/wiro/instant-id-lora"
UPLOAD = "/File/Upload"


@pytest.fixture
async def telegram(tmp_path):
    async with TelegramStandIn(save_dir=tmp_path / "sent") as server:
        yield server
        assert server.internal_errors == []
        assert server.unknown_methods == []


@pytest.fixture
async def app(telegram, fake_wiro, tmp_path):
    async with telegram_bot(telegram, fake_wiro, tmp_path / "data") as app:
        yield app


def replying_to(asked):
    return lambda m: m.reply_to_message_id == asked.message_id and m.chat_id == asked.chat_id


async def reply_to(telegram, asked, timeout=10):
    """The bot's first message replying to the member's message ``asked``."""
    return await telegram.wait_message(replying_to(asked), timeout=timeout)


async def result_of(telegram, asked, timeout=15):
    """The result photo replying to the member's message ``asked``."""
    return await telegram.wait_message(
        lambda m: replying_to(asked)(m) and m.photo is not None, timeout=timeout
    )


def nothing_spent(wiro):
    return wiro.calls[RUN] == 0 and wiro.calls[UPLOAD] == 0
