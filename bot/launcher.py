"""Builds the bot's resources (the ledger, the Wiro client and its HTTP session, the services),
hands them to every front end whose token is set (Discord, Telegram) and runs them in one
process until they are closed."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING

import aiohttp
import discord
import yarl
from discord.gateway import DiscordWebSocket

from bot.core.jobs.database import open_ledger
from bot.core.jobs.database_url import is_postgres_url
from bot.core.jobs.ledger import LedgerError
from bot.core.request.face_check import warm_up
from bot.core.wiro import OutputHosts, PollSchedule, WiroClient, WiroSocket
from bot.frontends.discord_bot.app import PortraitBot, portrait_bot
from bot.frontends.discord_bot.settings import DiscordSettings
from bot.frontends.telegram_bot.settings import TelegramSettings
from bot.ops import OpsServer
from bot.services import Services, build_services
from bot.settings import Settings
from bot.storage import DataDirError, exclusive_use, prepare_data_dir

if TYPE_CHECKING:
    from bot.frontends.telegram_bot.app import TelegramApp

log = logging.getLogger(__name__)


class StartupError(Exception):
    """The bot cannot start (storage, database, Discord or Telegram); the message is one line
    for the owner."""


async def run_bot(
    settings: Settings,
    *,
    discord: DiscordSettings | None = None,
    telegram: TelegramSettings | None = None,
    sync_only: bool = False,
    poll_schedule: PollSchedule | None = None,
    on_created: Callable[[PortraitBot], None] | None = None,
    on_telegram: Callable[[TelegramApp], None] | None = None,
) -> None:
    """Run every front end whose token is set (Discord: ``discord.token``;
    Telegram: ``telegram.bot_token``) in this process on one set of services, until they are
    closed: SIGINT/SIGTERM, or a test closing the Discord bot or stopping the Telegram app
    (`TelegramApp.stop`); whichever ends first ends the others. With `sync_only`, only
    Discord's commands are synced. `on_created` / `on_telegram` see each front end once it is
    built (tests).

    Raises :class:`StartupError` (one line for the owner) when the data folder cannot be used
    or (SQLite only) is in use by another bot process, the job database is corrupt, locked or
    read-only, Discord cannot be reached, refuses the token or answers an HTTP error (a 5xx
    outage, a proxy's error page) at login, command sync or gateway fetch, or Telegram refuses
    the token or cannot be reached."""
    try:
        folder = prepare_data_dir(settings.data_dir)
        # SQLite: one process per data folder (its lock). PostgreSQL: any number of processes
        # share the database (claims and leases) and this folder (unique file names).
        shared = is_postgres_url(settings.database_url)
        with contextlib.nullcontext() if shared else exclusive_use(folder):
            mode = "signature" if settings.signed else "API-key-only"
            log.info(
                "Wiro %s mode at %s; data in %s", mode, settings.wiro_api_base, settings.data_dir
            )
            discord = discord or DiscordSettings(token="")
            with _discord_api(discord.api_base):
                fronts = _FrontEnds(discord, telegram, sync_only, on_created, on_telegram)
                await _run(settings, poll_schedule, fronts)
    except (DataDirError, LedgerError) as error:
        raise StartupError(str(error)) from None


@dataclass(frozen=True)
class _FrontEnds:
    discord: DiscordSettings
    telegram: TelegramSettings | None
    sync_only: bool
    on_created: Callable[[PortraitBot], None] | None
    on_telegram: Callable[[TelegramApp], None] | None

    @property
    def runs_telegram(self) -> bool:
        return self.telegram is not None and self.telegram.enabled and not self.sync_only


async def _run(settings: Settings, poll_schedule: PollSchedule | None, fronts: _FrontEnds) -> None:
    ledger = await open_ledger(settings.database_url, settings.data_dir)  # SQLite or PostgreSQL
    async with (
        ledger,
        WiroClient(
            api_key=settings.wiro_api_key,
            api_secret=settings.wiro_api_secret,
            base_url=settings.wiro_api_base,
            request_timeout=settings.request_timeout,
            poll_schedule=poll_schedule,
            output_hosts=OutputHosts.from_settings(
                settings.wiro_api_base,
                settings.wiro_socket_url,
                extra_hosts=settings.wiro_output_hosts,
            ),
        ) as wiro,
        WiroSocket(settings.wiro_socket_url) as socket,
    ):
        # The socket is only a hint (progress, an early word of the end); polling is the truth.
        services = build_services(
            settings, wiro, ledger, socket if settings.follow_socket else None
        )
        if settings.refresh_catalog and not fronts.sync_only:
            await services.catalogs.refresh(wiro)
        try:
            await _run_front_ends(settings, services, fronts)
        finally:
            await services.health.stop()
            await services.dispatcher.stop()


async def _run_front_ends(settings: Settings, services: Services, fronts: _FrontEnds) -> None:
    """Build and log in every front end (each registers itself with the services), then
    start the one dispatcher, then run them all until one ends or a signal comes."""
    stopping = asyncio.Event()
    _stop_on_signals(stopping)  # a signal during start-up ends the run once it is up
    async with contextlib.AsyncExitStack() as stack:
        telegram_app: TelegramApp | None = None
        if fronts.runs_telegram:
            assert fronts.telegram is not None
            # Imported only when Telegram runs: aiogram's models take seconds to load.
            from bot.frontends.telegram_bot.app import TelegramApp, TelegramStartupError

            telegram_app = TelegramApp(services, fronts.telegram)
            stack.push_async_callback(telegram_app.close)
            if fronts.on_telegram is not None:
                fronts.on_telegram(telegram_app)
            try:
                await telegram_app.start()
            except TelegramStartupError as error:
                raise StartupError(str(error)) from None
        discord_bot: PortraitBot | None = None
        if fronts.discord.enabled:
            discord_bot = await stack.enter_async_context(
                portrait_bot(
                    services,
                    fronts.discord,
                    force_sync=fronts.sync_only,
                    sync_only=fronts.sync_only,
                )
            )
            if fronts.on_created is not None:
                fronts.on_created(discord_bot)
            async with _discord_startup(discord_bot, connecting=False):
                await discord_bot.login(fronts.discord.token)  # runs setup_hook, which syncs
            if fronts.sync_only:
                return
        _freeze_startup_objects()
        await warm_up()  # the face check's model, before the first member's photo
        if settings.metrics_port is not None:
            ops = OpsServer(services, settings.metrics_host, settings.metrics_port)
            try:
                await ops.start()
            except OSError as error:
                raise StartupError(
                    f"METRICS_PORT {settings.metrics_port} cannot be used: {error.strerror}"
                ) from None
            stack.push_async_callback(ops.close)
        await services.dispatcher.start()
        await services.health.start()  # checks Wiro's keys now (in the background), then often
        runs: list[asyncio.Task[None]] = []
        if discord_bot is not None:
            runs.append(asyncio.create_task(_connect_discord(fronts.discord, discord_bot)))
        if telegram_app is not None:
            runs.append(asyncio.create_task(telegram_app.run()))
        stop_wait = asyncio.create_task(stopping.wait())
        try:
            await asyncio.wait([*runs, stop_wait], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop_wait.cancel()
            # One front end ended (or a signal came): end the others too.
            if telegram_app is not None:
                telegram_app.stop()
            if discord_bot is not None and not discord_bot.is_closed():
                await discord_bot.close()
            results = await asyncio.gather(*runs, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                raise result


async def _connect_discord(settings: DiscordSettings, bot: PortraitBot) -> None:
    async with _discord_startup(bot, connecting=True):
        if settings.api_base:
            # A plain Bot never asks /gateway/bot; ask it so the socket goes there too.
            _, url, _ = await bot.http.get_bot_gateway()
            DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        await bot.connect()


@contextlib.asynccontextmanager
async def _discord_startup(bot: PortraitBot, *, connecting: bool) -> AsyncIterator[None]:
    """Discord's start-up errors as one-line `StartupError`s (after start-up, as they are)."""
    try:
        yield
    except discord.LoginFailure:
        raise StartupError("DISCORD_TOKEN was refused by Discord.") from None
    except (aiohttp.ClientConnectionError, TimeoutError) as error:
        if bot.is_ready():
            raise  # an outage after start-up; discord.py reconnects by itself
        raise StartupError(f"Discord unreachable: {_reason(error)}") from None
    except discord.PrivilegedIntentsRequired:
        raise StartupError("Discord refused the bot's gateway intents.") from None
    except (discord.HTTPException, discord.RateLimited, discord.GatewayNotFound) as error:
        if bot.is_ready():
            raise
        # discord.py wraps the HTTP error of a failed gateway fetch in GatewayNotFound.
        answer = error.__cause__ if isinstance(error, discord.GatewayNotFound) else error
        if not isinstance(answer, (discord.HTTPException, discord.RateLimited)):
            raise StartupError("Discord gave no gateway to connect to.") from None
        raise StartupError(_refused_at(answer, _stage(bot, connecting))) from None


def _freeze_startup_objects() -> None:
    """Keep what start-up built (modules, discord.py, aiogram, the catalog: most of the heap)
    out of the garbage collector's full passes, which otherwise stall the event loop for 100 ms
    and more with a thousand jobs in flight (the bench's profile). Garbage is collected first,
    so nothing unreachable is kept; objects made from here on are collected as usual."""
    gc.collect()
    gc.freeze()


def _stage(bot: PortraitBot, connecting: bool) -> str:
    """Where start-up was when Discord answered with an error: `login` first fetches the bot's
    own user, then runs `setup_hook` (which syncs the commands); `connect` fetches the gateway."""
    if connecting:
        return "while fetching the gateway"
    if bot.user is None:
        return "at login"
    return "while syncing the slash commands"


def _refused_at(error: discord.HTTPException | discord.RateLimited, stage: str) -> str:
    """One line for an HTTP error at start-up: the status and its standard phrase (never the
    body, which may be a proxy's HTML page), and what to do."""
    if isinstance(error, discord.RateLimited):
        return (
            f"Discord asked the bot to wait {error.retry_after:.0f} s {stage} (rate limited); "
            "try again later"
        )
    status = error.status
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = getattr(error.response, "reason", None) or "error"
    answer = f"Discord answered {status} {phrase} {stage}"
    if status >= 500:
        return f"{answer}; try again later"
    if error.code:  # Discord's own JSON error: its code and text say what it refused
        return f"{answer} (error {error.code}: {error.text[:200]})"
    return answer


def _reason(error: BaseException) -> str:
    """The reason in a connection error, without its exception class."""
    return str(error) or type(error).__name__


def _stop_on_signals(stopping: asyncio.Event) -> None:
    """SIGINT and SIGTERM end every front end cleanly instead of killing it mid-request."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stopping.set)


@contextlib.contextmanager
def _discord_api(api_base: str | None) -> Iterator[None]:
    """Point discord.py at another Discord API (only the tests' local stand-in does this)."""
    if not api_base:
        yield
        return
    saved = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = api_base
    try:
        yield
    finally:
        discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved
