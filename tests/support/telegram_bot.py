"""The real bot, started by its own launcher with Telegram on, pointed at the local Telegram
stand-in and the fake Wiro purely by settings (and, given a Discord stand-in, Discord too:
both front ends in one process on one set of services).

    async with telegram_bot(telegram, wiro, tmp_path) as app:   # TelegramApp, polling
        telegram.send_photo(selfie_jpeg(), caption="/portrait oil")
        ...
Leaving the block stops the app (as a signal would) and waits for `run_bot` to return.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from bot.core.wiro import PollSchedule
from bot.frontends.discord_bot.app import PortraitBot
from bot.frontends.discord_bot.settings import load_discord_settings
from bot.frontends.telegram_bot.app import TelegramApp
from bot.frontends.telegram_bot.settings import load_telegram_settings
from bot.launcher import run_bot
from bot.settings import load_settings
from tests.discord_standin import DiscordStandIn
from tests.fakewiro import FakeWiro
from tests.support.portrait_bot import first_created, guilds_ready
from tests.telegram_standin import TelegramStandIn


def telegram_env(
    telegram: TelegramStandIn,
    wiro: FakeWiro,
    data_dir: Path,
    discord_server: DiscordStandIn | None = None,
    **env: str,
) -> dict[str, str]:
    """The settings of a bot on the stand-in(s) and the fake Wiro, plus ``env``."""
    settings = {
        "TELEGRAM_BOT_TOKEN": telegram.token,
        "TELEGRAM_API_BASE": telegram.base_url,
        "WIRO_API_KEY": wiro.api_key,
        "WIRO_API_SECRET": wiro.api_secret,
        "WIRO_API_BASE": wiro.base_url,
        "WIRO_SOCKET_URL": wiro.socket_url,
        "BOT_DATA_DIR": str(data_dir),
        "STATUS_EDIT_INTERVAL": "1",
    }
    if discord_server is not None:
        settings |= {
            "DISCORD_TOKEN": discord_server.token,
            "DISCORD_API_BASE": discord_server.api_base,
        }
    return settings | env


@contextlib.asynccontextmanager
async def telegram_bot(
    telegram: TelegramStandIn,
    wiro: FakeWiro,
    data_dir: Path,
    *,
    discord_server: DiscordStandIn | None = None,
    poll_interval: float = 0.05,
    configure: Callable[[TelegramApp], None] | None = None,
    **env: str,
) -> AsyncIterator[TelegramApp]:
    values = telegram_env(telegram, wiro, data_dir, discord_server, **env)
    settings = load_settings(values)
    discord_settings = load_discord_settings(values)
    telegram_settings = load_telegram_settings(values)
    loop = asyncio.get_running_loop()
    created: asyncio.Future[TelegramApp] = loop.create_future()
    discord_bot: asyncio.Future[PortraitBot] = loop.create_future()

    def on_telegram(app: TelegramApp) -> None:
        app.poll_seconds = 1  # short long polls: a stop never waits on one
        if configure is not None:
            configure(app)
        created.set_result(app)

    runner = asyncio.create_task(
        run_bot(
            settings,
            discord=discord_settings,
            telegram=telegram_settings,
            poll_schedule=PollSchedule.constant(poll_interval),
            on_telegram=on_telegram,
            on_created=discord_bot.set_result,
        )
    )
    try:
        app = await asyncio.wait_for(first_created(created, runner), 10)
        webhook = telegram_settings.uses_webhook
        await asyncio.wait_for(_ready(app, telegram, runner, webhook=webhook), 10)
        if discord_server is not None:
            bot = await asyncio.wait_for(first_created(discord_bot, runner), 10)
            await asyncio.wait_for(guilds_ready(bot, discord_server, runner), 10)
        yield app
    finally:
        if created.done() and not created.cancelled():
            created.result().stop()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(runner, 15)


async def _ready(
    app: TelegramApp, telegram: TelegramStandIn, runner: asyncio.Task[None], *, webhook: bool
) -> None:
    """Until the dispatcher takes work and updates flow (a long poll waits, or the webhook
    is set)."""
    while not (
        app.services.dispatcher.accepting
        and (telegram.updates.webhook is not None if webhook else telegram.updates.polling)
    ):
        if runner.done():
            runner.result()
            raise RuntimeError("the bot stopped during start-up")
        await asyncio.sleep(0.01)
