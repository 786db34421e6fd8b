"""The Discord bot: one `commands.Bot` that is handed its resources and loads the cogs."""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from datetime import timedelta

import discord
from discord.ext import commands

from bot.core.catalog import Catalog
from bot.core.catalog.refresh import load_catalog
from bot.core.jobs import JobLimits
from bot.core.jobs.dispatcher import Dispatcher, DispatchRules
from bot.core.jobs.ledger import JobLedger
from bot.core.jobs.limits import FairUse
from bot.core.request.selfie import SelfieLimits
from bot.core.request.selfie_store import SelfieStore
from bot.core.result.store import ResultStore
from bot.core.wiro import WiroClient, WiroSocket
from bot.frontends.discord_bot.buttons import CancelButton
from bot.frontends.discord_bot.commandsync import sync_commands
from bot.frontends.discord_bot.errors import on_app_command_error
from bot.frontends.discord_bot.job_messages import JobMessages
from bot.frontends.discord_bot.kept import SendAgainButton
from bot.frontends.discord_bot.requests import JobStarter
from bot.frontends.discord_bot.result_buttons import DYNAMIC_ITEMS as RESULT_ITEMS
from bot.settings import Settings

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.portrait",)
# Seconds discord.py may wait out a 429 inside one request before raising it (its minimum is 30).
RATE_LIMIT_WAIT = 30.0


@dataclass
class Services:
    """What the cogs use; built once at start-up and handed in."""

    settings: Settings
    wiro: WiroClient
    ledger: JobLedger
    catalog: Catalog
    selfie_limits: SelfieLimits
    fair_use: FairUse
    rules: DispatchRules
    socket: WiroSocket | None = None


def build_services(
    settings: Settings, wiro: WiroClient, ledger: JobLedger, socket: WiroSocket | None = None
) -> Services:
    return Services(
        settings=settings,
        wiro=wiro,
        ledger=ledger,
        socket=socket,
        catalog=Catalog.bundled(),
        selfie_limits=SelfieLimits(max_bytes=int(settings.selfie_max_mb * 1024 * 1024)),
        fair_use=FairUse(
            member_max_active=settings.member_max_active,
            member_cooldown=settings.member_cooldown,
            member_daily_quota=settings.member_daily_quota,
            guild_daily_quota=settings.guild_daily_quota,
        ),
        rules=DispatchRules(
            max_running=settings.max_running_tasks,
            busy_retry=settings.busy_retry_seconds,
            delete_wiro_files=settings.delete_wiro_files,
            retention=timedelta(days=settings.retention_days),
            delivery_retry=timedelta(minutes=settings.delivery_retry_minutes),
            job_limits=JobLimits(timeout=settings.task_timeout, error_grace=settings.error_grace),
        ),
    )


def _freeze_startup_objects() -> None:
    """Keep what start-up built (modules, discord.py, the catalog: most of the heap) out of the
    garbage collector's full passes, which otherwise stall the event loop for 100 ms and more
    with a thousand jobs in flight (the bench's profile). Garbage is collected first, so
    nothing unreachable is kept; objects made from here on are collected as usual."""
    gc.collect()
    gc.freeze()


class PortraitBot(commands.Bot):
    def __init__(
        self, services: Services, *, force_sync: bool = False, sync_only: bool = False
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
        )
        self.services = services
        self.selfies = SelfieStore(services.settings.data_dir / "selfies")
        self.results = ResultStore(services.settings.data_dir / "results")
        self.job_messages = JobMessages(
            self, lambda: services.catalog, interval=services.settings.status_edit_interval
        )
        self.dispatcher = Dispatcher(
            services.ledger,
            services.wiro,
            lambda: services.catalog,
            self.job_messages,
            services.rules,
            selfies=self.selfies,
            results=self.results,
            socket=services.socket,
        )
        self.job_starter = JobStarter(self)
        self._force_sync = force_sync
        self._sync_only = sync_only

    async def setup_hook(self) -> None:
        settings = self.services.settings
        if settings.refresh_catalog and not self._sync_only:
            self.services.catalog = await load_catalog(self.services.wiro)
        self.add_dynamic_items(CancelButton, SendAgainButton, *RESULT_ITEMS)
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        self.tree.on_error = on_app_command_error
        await sync_commands(
            self.tree,
            application_id=self.application_id or 0,
            data_dir=settings.data_dir,
            guild_id=settings.discord_guild_id,
            force=self._force_sync,
        )
        if not self._sync_only:
            _freeze_startup_objects()
            await self.dispatcher.start()

    async def on_ready(self) -> None:
        log.info("Logged in as %s; in %d server(s)", self.user, len(self.guilds))

    async def close(self) -> None:
        """Stop taking work, leave running jobs in the ledger for the next start, disconnect."""
        await self.dispatcher.stop()
        await self.job_messages.close()
        await super().close()
