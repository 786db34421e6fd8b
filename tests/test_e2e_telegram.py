"""The Telegram front end end to end: the real bot (its own launcher, unmodified aiogram)
against the Telegram stand-in and the strict fake Wiro, over real sockets on 127.0.0.1."""

from __future__ import annotations

import pytest

from tests.support.images import selfie_jpeg
from tests.support.telegram_bot import telegram_bot
from tests.telegram_standin import TelegramStandIn

RUN = "/Run/wiro/instant-id-lora"


@pytest.fixture
async def telegram(tmp_path):
    async with TelegramStandIn(save_dir=tmp_path / "sent") as server:
        yield server
        assert server.internal_errors == []


@pytest.fixture
async def app(telegram, fake_wiro, tmp_path):
    async with telegram_bot(telegram, fake_wiro, tmp_path / "data") as app:
        yield app


def portraits(telegram, chat=None):
    return [m for m in telegram.sent(chat) if m.photo is not None]


async def test_a_photo_with_the_caption_becomes_a_portrait(app, telegram, fake_wiro):
    asked = telegram.send_photo(selfie_jpeg(), caption="/portrait a lighthouse keeper --seed 7")
    result = await telegram.wait_message(lambda m: m.photo is not None, timeout=15)
    assert result.reply_to_message_id == asked.message_id
    assert fake_wiro.calls[RUN] == 1
    assert fake_wiro.runs[0]["prompt"].startswith("a lighthouse keeper")
    assert fake_wiro.runs[0]["seed"] == "7"
