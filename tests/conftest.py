"""Shared fixtures: the fake Wiro (tests/fakewiro.py), the local Discord stand-in
(tests/discord_standin/) and the real bot started against both; the Telegram ones come from
`tests.support.telegram_e2e`."""

from collections.abc import AsyncIterator

import pytest

from bot.frontends.discord_bot.app import PortraitBot
from tests.discord_standin import DiscordStandIn
from tests.fakewiro import FakeWiro
from tests.support.portrait_bot import portrait_bot

# The Telegram stand-in and the Telegram bot as fixtures (`telegram`, `app`); the ledger on
# both databases (`backend`, `open_ledger`, `postgres_url`).
pytest_plugins = ["tests.support.telegram_e2e", "tests.support.ledgers"]


@pytest.fixture
async def fake_wiro() -> AsyncIterator[FakeWiro]:
    """A running FakeWiro with api_key="test-key", api_secret="test-secret"."""
    async with FakeWiro(api_key="test-key", api_secret="test-secret") as wiro:
        yield wiro


@pytest.fixture
async def discord_server() -> AsyncIterator[DiscordStandIn]:
    async with DiscordStandIn() as server:
        yield server


@pytest.fixture
async def bot(discord_server, fake_wiro, tmp_path) -> AsyncIterator[PortraitBot]:
    """The bot, through its own launcher, connected to the stand-in and the fake Wiro."""
    async with portrait_bot(discord_server, fake_wiro, tmp_path) as bot:
        yield bot
