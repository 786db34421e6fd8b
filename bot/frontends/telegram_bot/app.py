"""The Telegram application: the aiogram `Bot` and `Dispatcher` with the routers, the shared
services' Telegram front end, start-up (``getMe``, ``setMyCommands``, webhook or not) and the
update loop (long polling by default, a webhook server when ``TELEGRAM_WEBHOOK_URL`` is set).

    app = TelegramApp(services, telegram_settings)   # registers the front end (services)
    await app.start()      # TelegramStartupError: one line for the owner
    ...                    # the launcher starts the dispatcher once every front end is in
    await app.run()        # until app.stop(); updates recorded before confirmed (inbox.py)
    await app.close()

Updates are fed to the dispatcher by `inbox.UpdateInbox`, never by aiogram's own polling
(which confirms an update before its handler ran). Handlers get ``origin`` as data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllPrivateChats,
)

from bot.services import Services

from .api_watch import ApiWatch
from .buttons import buttons_router
from .chat_commands import commands_router
from .inbox import ALLOWED_UPDATES, UpdateInbox
from .job_messages import TelegramJobMessages
from .owner_contact import TelegramOwnerContact
from .requests import TelegramJobStarter
from .settings import TelegramSettings
from .webhook import WebhookServer

log = logging.getLogger(__name__)

# setMyCommands: names [a-z0-9_]{1,32}, descriptions 1-256 characters.
COMMANDS = (
    BotCommand(command="portrait", description="Send with a selfie: make a portrait"),
    BotCommand(command="styles", description="The models and LoRAs you can use"),
    BotCommand(command="history", description="Your last 10 portraits"),
    BotCommand(command="cancel", description="Stop your portrait in progress"),
    BotCommand(command="faces", description="Your saved faces: default, delete"),
    BotCommand(command="face", description="Save a face: send a photo with /face save <name>"),
    BotCommand(command="privacy", description="What the bot keeps about you"),
    BotCommand(command="forgetme", description="Delete everything the bot keeps about you"),
    BotCommand(command="help", description="How to ask for a portrait"),
    BotCommand(command="start", description="Start here"),
)
# For the chat's administrators (and everyone in their private chat, which is theirs).
ADMIN_COMMANDS = (
    BotCommand(command="settings", description="This chat's settings (administrators)"),
    BotCommand(command="stats", description="Portraits and spend in this chat (administrators)"),
    BotCommand(command="log", description="Recent requests and changes (administrators)"),
)
DRAIN_SECONDS = 10.0  # updates being handled may finish this long at shutdown


def polling_lease(bot_id: int) -> str:
    """The lease of long polling one Telegram bot (`bot.core.jobs.leases`)."""
    return f"telegram-polling:{bot_id}"


class TelegramStartupError(Exception):
    """The Telegram front end cannot start; the message is one line for the owner (never the
    token)."""


class TelegramApp:
    """One Telegram bot on the shared services (see the module docstring)."""

    def __init__(
        self, services: Services, settings: TelegramSettings, *, poll_seconds: int = 30
    ) -> None:
        self.services = services
        self.settings = settings
        self.poll_seconds = poll_seconds
        self.drain_seconds = DRAIN_SECONDS
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.api_base))
        self.api_watch = ApiWatch(services.metrics)
        session.middleware(self.api_watch)
        services.frontends.add_health_probe("telegram", self.api_watch.problem)
        self.bot = Bot(
            settings.bot_token,
            session=session,
            default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
        )
        self.frontend = TelegramJobMessages(
            self.bot, services, interval=services.settings.status_edit_interval
        )
        services.add_frontend(self.frontend)
        # Forget me also deletes the original PNGs this front end keeps per job.
        services.forgetting.add_job_cleanup(self.frontend.originals.delete)
        self.starter = TelegramJobStarter(services.admission, self.frontend)
        self.owner_contact = TelegramOwnerContact(self.bot, self.frontend.pacer, settings.owner_ids)
        if settings.owner_ids:  # Wiro's health alerts reach them (`FrontEnds.tell_owners`)
            services.frontends.add_owner_contact(self.owner_contact)
        self.dispatcher = Dispatcher()
        self.inbox = UpdateInbox(services.ledger, self.dispatcher, self.bot, claims=services.claims)
        self.username = ""
        self._stop = asyncio.Event()
        self._webhook: WebhookServer | None = None

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        """Ask Telegram who the bot is, register its commands and choose how updates come
        (``setWebhook`` with the secret, or ``deleteWebhook`` for long polling). Raises
        `TelegramStartupError`."""
        stage = "at login (getMe)"
        try:
            me = await self.bot.get_me()
            self.username = me.username or ""
            self._include_routers()
            stage = "while registering the commands (setMyCommands)"
            await self.bot.set_my_commands(list(COMMANDS))
            # Telegram picks the narrowest scope that has a list: administrators of groups,
            # and every private chat (a member administers their own), see the admin commands.
            for scope in (BotCommandScopeAllChatAdministrators(), BotCommandScopeAllPrivateChats()):
                await self.bot.set_my_commands([*COMMANDS, *ADMIN_COMMANDS], scope=scope)
            if self.settings.webhook_url is not None:
                stage = "while setting the webhook (setWebhook)"
                await self.bot.set_webhook(
                    self.settings.webhook_url,
                    secret_token=self.settings.webhook_secret,
                    allowed_updates=ALLOWED_UPDATES,
                    drop_pending_updates=False,
                )
            else:
                stage = "while switching to long polling (deleteWebhook)"
                await self.bot.delete_webhook(drop_pending_updates=False)
        except TelegramUnauthorizedError:
            raise TelegramStartupError("TELEGRAM_BOT_TOKEN was refused by Telegram.") from None
        except TelegramNetworkError as error:
            raise TelegramStartupError(
                f"Telegram unreachable at {self.settings.api_base}: {_first_line(error)}"
            ) from None
        except (TelegramAPIError, TimeoutError) as error:
            raise TelegramStartupError(_refused(error, stage)) from None
        if self.settings.webhook_url is not None:
            self._webhook = WebhookServer(
                self.inbox,
                url=self.settings.webhook_url,
                port=self.settings.webhook_port,
                secret=self.settings.webhook_secret,
            )
            try:
                await self._webhook.start()
            except OSError as error:
                raise TelegramStartupError(
                    f"TELEGRAM_WEBHOOK_PORT {self.settings.webhook_port} cannot be used: "
                    f"{error.strerror or error}"
                ) from None
        mode = "webhook" if self._webhook is not None else "long polling"
        log.info("Telegram: logged in as @%s (%s)", self.username, mode)

    def _include_routers(self) -> None:
        # Buttons first: they take the replies to "Edit prompt" before the commands' hints.
        self.dispatcher.include_routers(
            buttons_router(self.services, self.frontend, self.starter),
            commands_router(self.services, self.starter, self.username, self.frontend.pacer),
        )

    async def run(self) -> None:
        """Handle the updates left from before a restart, then take new ones until `stop`;
        updates being handled then get `drain_seconds` to finish (the rest are handled again at
        the next start)."""
        try:
            if self._webhook is not None:
                # Every process behind the webhook takes updates; each looks now and then for
                # updates a gone process had recorded but not handled.
                every = self.services.settings.process_lease_seconds
                while not self._stop.is_set():
                    await self.inbox.resume()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), every)
            else:
                # One process at a time takes this bot's updates (Telegram answers a second
                # getUpdates with 409 Conflict); the others wait to take over if it stops.
                lease = timedelta(seconds=self.services.settings.process_lease_seconds)
                await self.services.leases.hold_while(
                    polling_lease(self.bot.id), self._poll, self._stop, ttl=lease
                )
        finally:
            if self._webhook is not None:
                await self._webhook.stop()  # Telegram keeps later updates until we are back
            await self.inbox.drain(self.drain_seconds)

    async def _poll(self, lost: asyncio.Event) -> None:
        # Holding the lease (PROCESS_LEASE_SECONDS, renewed every third of it): after a
        # crash, another process polls within that time.
        await self.inbox.resume()  # updates the last holder recorded but had not handled
        await self.inbox.poll(lost, poll_seconds=self.poll_seconds)

    def stop(self) -> None:
        """Make `run` return (soon: a long poll in flight is abandoned, not confirmed)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def close(self) -> None:
        """Close the front end and the HTTP session (after `run` has returned)."""
        if self._webhook is not None:
            await self._webhook.stop()
        await self.frontend.close()
        await self.bot.session.close()


def _first_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0][:200]


def _refused(error: BaseException, stage: str) -> str:
    """One line for an error answer at start-up: Telegram's own description (never the
    token: aiogram's message names the method, not the URL)."""
    if isinstance(error, TimeoutError):
        return f"Telegram did not answer {stage}; try again later"
    if isinstance(error, TelegramRetryAfter):
        return f"Telegram asked the bot to wait {error.retry_after} s {stage}; try again later"
    message = getattr(error, "message", "") or _first_line(error)
    return f"Telegram refused the bot {stage}: {_first_line(message)}"
