"""Builds the bot's resources (the Wiro client and its HTTP session), hands them to the bot and
runs it until it is closed."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Callable, Iterator
from http import HTTPStatus

import aiohttp
import discord
import yarl
from discord.gateway import DiscordWebSocket

from bot.core.jobs.ledger import LedgerError
from bot.core.jobs.sqlite_ledger import SqliteLedger
from bot.core.wiro import OutputHosts, PollSchedule, WiroClient, WiroSocket
from bot.frontends.discord_bot.app import PortraitBot
from bot.services import Services, build_services
from bot.settings import Settings
from bot.storage import DataDirError, exclusive_use, prepare_data_dir

log = logging.getLogger(__name__)


class StartupError(Exception):
    """The bot cannot start (storage, database or Discord); the message is one line for the
    owner."""


async def run_bot(
    settings: Settings,
    *,
    sync_only: bool = False,
    poll_schedule: PollSchedule | None = None,
    on_created: Callable[[PortraitBot], None] | None = None,
) -> None:
    """Run until the bot is closed (or, with `sync_only`, until the commands are synced).

    Raises :class:`StartupError` (one line for the owner) when the data folder cannot be used
    or is in use by another bot process, the job database is corrupt, locked or read-only, or
    Discord cannot be reached, refuses the token or answers an HTTP error (a 5xx outage, a
    proxy's error page) at login, command sync or gateway fetch."""
    try:
        with exclusive_use(prepare_data_dir(settings.data_dir)):
            mode = "signature" if settings.signed else "API-key-only"
            log.info(
                "Wiro %s mode at %s; data in %s", mode, settings.wiro_api_base, settings.data_dir
            )
            with _discord_api(settings.discord_api_base):
                await _run(settings, sync_only, poll_schedule, on_created)
    except (DataDirError, LedgerError) as error:
        raise StartupError(str(error)) from None


async def _run(
    settings: Settings,
    sync_only: bool,
    poll_schedule: PollSchedule | None,
    on_created: Callable[[PortraitBot], None] | None,
) -> None:
    ledger = await SqliteLedger.open(SqliteLedger.default_path(settings.data_dir))
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
        if settings.refresh_catalog and not sync_only:
            await services.catalogs.refresh(wiro)
        try:
            await _run_discord(settings, services, sync_only, on_created)
        finally:
            await services.dispatcher.stop()


async def _run_discord(
    settings: Settings,
    services: Services,
    sync_only: bool,
    on_created: Callable[[PortraitBot], None] | None,
) -> None:
    async with PortraitBot(services, force_sync=sync_only, sync_only=sync_only) as bot:
        if on_created is not None:
            on_created(bot)
        _close_on_signals(bot)
        connecting = False
        try:
            await bot.login(settings.discord_token)  # runs setup_hook, which syncs
            if sync_only:
                return
            _freeze_startup_objects()
            await services.dispatcher.start()
            connecting = True
            if settings.discord_api_base:
                # A plain Bot never asks /gateway/bot; ask it so the socket goes there too.
                _, url, _ = await bot.http.get_bot_gateway()
                DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
            await bot.connect()
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


def _close_on_signals(bot: PortraitBot) -> None:
    """SIGINT and SIGTERM close the bot cleanly instead of killing it mid-request."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, lambda: asyncio.ensure_future(bot.close()))


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
