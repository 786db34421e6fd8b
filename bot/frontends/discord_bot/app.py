"""The Discord bot: one `commands.Bot` that is handed the shared services (`bot.services`) and
loads the cogs. The launcher starts the dispatcher once every front end is registered."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.frontends.discord_bot.api_watch import api_trace, gateway_problem
from bot.frontends.discord_bot.buttons import CancelButton
from bot.frontends.discord_bot.commandsync import sync_commands
from bot.frontends.discord_bot.errors import on_app_command_error
from bot.frontends.discord_bot.job_messages import JobMessages
from bot.frontends.discord_bot.kept import SendAgainButton
from bot.frontends.discord_bot.owner import DiscordOwners
from bot.frontends.discord_bot.requests import JobStarter
from bot.frontends.discord_bot.result_buttons import DYNAMIC_ITEMS as RESULT_ITEMS
from bot.frontends.discord_bot.settings import DiscordSettings
from bot.services import Services

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.portrait", "cogs.admin")
# Seconds discord.py may wait out a 429 inside one request before raising it (its minimum is 30).
RATE_LIMIT_WAIT = 30.0


class PortraitBot(commands.Bot):
    def __init__(
        self,
        services: Services,
        settings: DiscordSettings,
        *,
        force_sync: bool = False,
        sync_only: bool = False,
    ) -> None:
        # Slash commands need no privileged intents; the guild cache gives channels and roles.
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            # A longer 429 is raised to us (discord.RateLimited) instead of holding the request,
            # so a result post waits durably in the ledger and other messages keep moving.
            max_ratelimit_timeout=RATE_LIMIT_WAIT,
            http_trace=api_trace(services.metrics),
            **self._shard_options(settings),
        )
        self.services = services
        self.discord_settings = settings
        self.selfies = services.selfies
        self.results = services.results
        self.dispatcher = services.dispatcher
        self.job_messages = JobMessages(
            self,
            services.catalogs.get,
            interval=services.settings.status_edit_interval,
            policy=services.policies.effective,
        )
        services.add_frontend(self.job_messages)
        self.job_starter = JobStarter(self)
        self.owners = DiscordOwners(self)
        add_owner_contact = getattr(services.frontends, "add_owner_contact", None)
        if add_owner_contact is not None:  # the insight service's alerts to the bot's owner
            add_owner_contact(self.owners)
        services.frontends.add_health_probe("discord", lambda: gateway_problem(self))
        self._force_sync = force_sync
        self._sync_only = sync_only

    def _shard_options(self, settings: DiscordSettings) -> dict[str, object]:
        return {}  # one gateway connection; `ShardedPortraitBot` passes its shards

    async def setup_hook(self) -> None:
        settings = self.services.settings
        self.add_dynamic_items(CancelButton, SendAgainButton, *RESULT_ITEMS)
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        self.tree.on_error = on_app_command_error
        await sync_commands(
            self.tree,
            application_id=self.application_id or 0,
            data_dir=settings.data_dir,
            guild_id=self.discord_settings.guild_id,
            force=self._force_sync,
        )

    async def on_ready(self) -> None:
        log.info("Logged in as %s; in %d server(s)", self.user, len(self.guilds))

    async def close(self) -> None:
        """Stop taking work, leave running jobs in the ledger for the next start, disconnect."""
        await self.dispatcher.stop()  # the launcher's stop too: stopping twice is harmless
        await self.job_messages.close()
        await super().close()


class ShardedPortraitBot(PortraitBot, commands.AutoShardedBot):
    """`PortraitBot` on discord.py's ``AutoShardedBot``: the shards ``shard_ids`` of
    ``shard_count`` (``DISCORD_SHARD_COUNT`` / ``DISCORD_SHARD_IDS``), each its own gateway
    connection, in this process."""

    def _shard_options(self, settings: DiscordSettings) -> dict[str, object]:
        ids = list(settings.shard_ids) if settings.shard_ids is not None else None
        return {"shard_count": settings.shard_count, "shard_ids": ids}


def portrait_bot(
    services: Services,
    settings: DiscordSettings,
    *,
    force_sync: bool = False,
    sync_only: bool = False,
) -> PortraitBot:
    """The Discord bot for ``settings``: sharded when ``DISCORD_SHARD_COUNT`` is set."""
    kind = ShardedPortraitBot if settings.shard_count is not None else PortraitBot
    return kind(services, settings, force_sync=force_sync, sync_only=sync_only)
