"""Builds the bot's resources (the Wiro client and its HTTP session), hands them to the bot and
runs it until it is closed."""

from __future__ import annotations

import logging
from collections.abc import Callable

import discord

from bot.app import PortraitBot, build_services
from bot.settings import Settings
from bot.wiro import PollSchedule, WiroClient

log = logging.getLogger(__name__)


class StartupError(Exception):
    """Discord refused to start the bot; the message is one line for the owner."""


async def run_bot(
    settings: Settings,
    *,
    sync_only: bool = False,
    poll_schedule: PollSchedule | None = None,
    on_created: Callable[[PortraitBot], None] | None = None,
) -> None:
    """Run until the bot is closed (or, with `sync_only`, until the commands are synced)."""
    if settings.discord_api_base:
        # Only the test suite's local Discord stand-in sets this.
        discord.http.Route.BASE = settings.discord_api_base
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with WiroClient(
        api_key=settings.wiro_api_key,
        api_secret=settings.wiro_api_secret,
        base_url=settings.wiro_api_base,
        request_timeout=settings.request_timeout,
        poll_schedule=poll_schedule,
    ) as wiro:
        services = build_services(settings, wiro)
        async with PortraitBot(services, force_sync=sync_only, sync_only=sync_only) as bot:
            if on_created is not None:
                on_created(bot)
            try:
                if sync_only:
                    await bot.login(settings.discord_token)  # runs setup_hook, which syncs
                else:
                    await bot.start(settings.discord_token)
            except discord.LoginFailure:
                raise StartupError("DISCORD_TOKEN was refused by Discord.") from None
            except discord.PrivilegedIntentsRequired:
                raise StartupError("Discord refused the bot's gateway intents.") from None
