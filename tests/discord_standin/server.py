"""``DiscordStandIn``: a local Discord (REST v10 + gateway) for the real discord.py client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from . import payloads
from .faults import Faults
from .gateway import Gateway
from .interactions import Builder, ChannelLike, Upload, UserLike
from .models import (
    PRIVILEGED_INTENTS,
    Channel,
    Intent,
    SnowflakeFactory,
    add_guild,
    build_default_world,
)
from .records import (
    InteractionRecord,
    Notifier,
    RequestRecord,
    StoredAttachment,
    StoredMessage,
    SyncCall,
    TypingRecord,
)
from .rest import RestApp

log = logging.getLogger("discord_standin")
T = TypeVar("T")


LISTEN_BACKLOG = 2048


class DiscordStandIn:
    """``async with DiscordStandIn() as discord_server:`` serves REST at ``.api_base`` and
    the gateway at ``.gateway_url`` on 127.0.0.1 (random port) until the block exits."""

    def __init__(
        self,
        *,
        token: str = "standin.bot.token",
        ack_timeout: float = 3.0,
        token_ttl: float = 15 * 60.0,
        heartbeat_interval_ms: int = 41_250,
        save_dir: str | Path | None = None,
        allowed_privileged_intents: int = int(PRIVILEGED_INTENTS),
        enforce_permissions: bool = True,
        application_flags: int = 0,
        upload_limit: int = payloads.ATTACHMENT_SIZE_LIMIT,
    ) -> None:
        self.token = token
        self.ack_timeout = ack_timeout
        self.token_ttl = token_ttl
        self.save_dir = Path(save_dir) if save_dir is not None else None
        self.allowed_privileged_intents = allowed_privileged_intents
        self.enforce_permissions = enforce_permissions
        self.application_flags = application_flags
        self.upload_limit = upload_limit
        self.new_id = SnowflakeFactory()
        fixtures = build_default_world(self.new_id)
        self._fixtures = fixtures
        # What GET /gateway/bot recommends (an AutoShardedClient without a count asks).
        self.recommended_shards = 1
        self.world = fixtures.world
        self.guild = fixtures.guild
        self.channel = fixtures.channel
        self.nsfw_channel = fixtures.nsfw_channel
        self.no_files_channel = fixtures.no_files_channel
        self.everyone_role = fixtures.everyone_role
        self.moderator_role = fixtures.moderator_role
        self.bot_role = fixtures.bot_role
        self.member = fixtures.user
        self.moderator = fixtures.moderator
        self.bot_member = fixtures.bot_member
        self.faults = Faults()
        self.notifier = Notifier()
        self.gateway = Gateway(self, heartbeat_interval_ms)
        self.builder = Builder(self)
        # records
        self.requests: list[RequestRecord] = []
        self.unknown_routes: list[str] = []
        self.internal_errors: list[str] = []
        self.messages: dict[int, StoredMessage] = {}
        self.interactions: dict[int, InteractionRecord] = {}
        self.typing: list[TypingRecord] = []
        self.synced_global: list[dict[str, Any]] = []
        self.synced_guild: dict[int, list[dict[str, Any]]] = {}
        self.sync_history: list[SyncCall] = []
        self.command_ids: dict[tuple[int | None, str, int], int] = {}
        self.cdn: dict[str, StoredAttachment] = {}
        self.uploads: list[StoredAttachment] = []
        self.ready_at: float | None = None
        self._by_token: dict[str, InteractionRecord] = {}
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self.port = 0

    # --- lifecycle ------------------------------------------------------------------
    async def __aenter__(self) -> DiscordStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._closing = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", RestApp(self).handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        # Discord takes a burst of new connections; aiohttp's default listen backlog (128) made
        # the kernel drop SYNs in the bench's command bursts, adding 1 s retransmits to acks.
        await web.SockSite(self._runner, sock, backlog=LISTEN_BACKLOG).start()
        log.debug("stand-in listening on %s", self.base_url)

    async def stop(self) -> None:
        self._closing.set()
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def interruptible_sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    # --- addresses and identities ----------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_prefix(self) -> str:
        return "/api/v10"

    @property
    def api_base(self) -> str:
        """What ``discord.http.Route.BASE`` must be set to."""
        return self.base_url + self.api_prefix

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def application_id(self) -> int:
        return self.world.application_id

    @property
    def bot_user_id(self) -> int:
        return self.world.bot_user.id

    @property
    def user(self) -> Any:
        """The default (non-moderator) user, i.e. ``self.member.user``."""
        return self.member.user

    @contextlib.contextmanager
    def patch_discord_py(self) -> Iterator[None]:
        """Point discord.py at the stand-in: ``Route.BASE`` and, because a plain
        ``Client``/``Bot`` never asks ``/gateway/bot``, ``DiscordWebSocket.DEFAULT_GATEWAY``."""
        import discord.gateway
        import discord.http
        import yarl

        route = discord.http.Route
        ws_cls = discord.gateway.DiscordWebSocket
        old = (route.BASE, ws_cls.DEFAULT_GATEWAY)
        route.BASE = self.api_base
        ws_cls.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield
        finally:
            route.BASE, ws_cls.DEFAULT_GATEWAY = old

    # --- queries ---------------------------------------------------------------------
    @property
    def sync_calls(self) -> int:
        return len(self.sync_history)

    def find_command(self, name: str, guild_id: int | None = None) -> dict[str, Any] | None:
        """The synced definition of ``name``: guild command first, then global."""
        tables = [self.synced_guild.get(guild_id, [])] if guild_id else []
        for table in [*tables, self.synced_global]:
            for cmd in table:
                if cmd["name"] == name and cmd.get("type", 1) == 1:
                    return cmd
        return None

    def dm_channel(self, user: UserLike = None) -> Channel:
        """The DM channel between ``user`` (default: ``self.member``) and the bot."""
        return self.world.dm_channel(self.builder.resolve_user(user), self.new_id())

    def interaction_by_token(self, token: str) -> InteractionRecord | None:
        return self._by_token.get(token)

    def channel_messages(
        self, channel: ChannelLike = None, *, include_deleted: bool = False
    ) -> list[StoredMessage]:
        """Messages in a channel in creation order (interaction responses included)."""
        ch = self.builder.resolve_channel(channel)
        return [
            m
            for m in self.messages.values()
            if m.channel_id == ch.id and (include_deleted or not m.deleted)
        ]

    def requests_to(self, method: str, pattern: str) -> list[RequestRecord]:
        from fnmatch import fnmatchcase

        out = []
        for r in self.requests:
            path = r.path.removeprefix(self.api_prefix)
            if method in ("*", r.method) and fnmatchcase(path, pattern):
                out.append(r)
        return out

    async def wait_for(self, predicate: Callable[[DiscordStandIn], T], timeout: float = 5.0) -> T:
        """Wait until ``predicate(self)`` is truthy (re-checked on every recorded change)."""
        return await self.notifier.wait_for(
            lambda: predicate(self), timeout, lambda: f"{len(self.requests)} requests"
        )

    async def wait_until_identified(self, timeout: float = 5.0) -> None:
        await self.wait_for(lambda s: s.gateway.connected and s.ready_at is not None, timeout)

    # --- acting as Discord / as users ---------------------------------------------------
    async def _inject(self, rec: InteractionRecord) -> InteractionRecord:
        self.interactions[rec.id] = rec
        self._by_token[rec.token] = rec
        rec.sent_at = time.monotonic()
        rec.log("sent", rec.type)
        await self.gateway.dispatch("INTERACTION_CREATE", rec.payload)
        return rec

    def add_guild(self, name: str, *, shard: tuple[int, int] | None = None) -> Any:
        """Another guild with #general, the default member and the bot (before the bot
        connects); ``shard=(id, count)`` puts it on that shard. Returns the `Guild`."""
        return add_guild(self._fixtures, self.new_id, name, shard=shard)

    async def slash(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        attachments: dict[str, tuple[str, bytes] | tuple[str, bytes, str] | bytes | Upload]
        | None = None,
        user: UserLike = None,
        channel: ChannelLike = None,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """``/name`` (``"portrait history"`` for subcommands) as APPLICATION_COMMAND."""
        ch = self.builder.resolve_channel(channel)
        opts = {**(options or {}), **(attachments or {})}
        data = self.builder.command_data(name, opts, ch)
        rec = self.builder.base(2, data, user=user, channel=ch, locale=locale, name=name)
        return await self._inject(rec)

    async def autocomplete(
        self,
        name: str,
        *,
        focused: str,
        value: Any,
        options: dict[str, Any] | None = None,
        user: UserLike = None,
        channel: ChannelLike = None,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """APPLICATION_COMMAND_AUTOCOMPLETE; ``await rec.wait_choices()`` gives the answer."""
        ch = self.builder.resolve_channel(channel)
        opts = {**(options or {}), focused: value}
        data = self.builder.command_data(name, opts, ch, focused=focused)
        rec = self.builder.base(4, data, user=user, channel=ch, locale=locale, name=name)
        return await self._inject(rec)

    def _message(self, message: StoredMessage | int) -> StoredMessage:
        msg = message if isinstance(message, StoredMessage) else self.messages.get(int(message))
        if msg is None or msg.deleted:
            raise ValueError(f"message {message!r} does not exist (or was deleted)")
        return msg

    def _clicker(self, msg: StoredMessage, user: UserLike) -> UserLike:
        if user is None and msg.ephemeral and msg.interaction_id in self.interactions:
            return self.interactions[msg.interaction_id].user_id
        return user

    async def click(
        self,
        message: StoredMessage | int,
        custom_id: str,
        *,
        user: UserLike = None,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """Press a button on a message the bot posted (MESSAGE_COMPONENT)."""
        msg = self._message(message)
        data = self.builder.component_data(msg, custom_id, None)
        rec = self.builder.base(
            3,
            data,
            user=self._clicker(msg, user),
            channel=msg.channel_id,
            locale=locale,
            name=custom_id,
            message=msg,
        )
        return await self._inject(rec)

    async def select(
        self,
        message: StoredMessage | int,
        custom_id: str,
        values: list[Any],
        *,
        user: UserLike = None,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """Choose ``values`` in a select menu on a message the bot posted (option values for
        string selects; fixtures or ids for user/role/mentionable/channel selects)."""
        msg = self._message(message)
        data = self.builder.component_data(msg, custom_id, list(values))
        rec = self.builder.base(
            3,
            data,
            user=self._clicker(msg, user),
            channel=msg.channel_id,
            locale=locale,
            name=custom_id,
            message=msg,
        )
        return await self._inject(rec)

    async def submit_modal(
        self,
        modal: InteractionRecord | str,
        fields: dict[str, Any],
        *,
        user: UserLike = None,
        channel: ChannelLike = None,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """Submit a modal: pass the record whose callback opened it (type 9) or a custom_id."""
        opener: InteractionRecord | None
        if isinstance(modal, InteractionRecord):
            opener = modal
            if opener.modal is None:
                raise ValueError(f"interaction {opener.name!r} did not open a modal")
        else:
            opener = next(
                (
                    r
                    for r in reversed(self.interactions.values())
                    if r.modal and r.modal.get("custom_id") == modal
                ),
                None,
            )
        layout = opener.modal.get("components") if opener and opener.modal else None
        custom_id = opener.modal["custom_id"] if opener and opener.modal else str(modal)
        data = self.builder.modal_data(custom_id, fields, layout)
        if user is None and opener is not None:
            user = opener.user_id
        if channel is None and opener is not None:
            channel = opener.channel_id
        source = opener.source_message if opener else None
        rec = self.builder.base(
            5, data, user=user, channel=channel, locale=locale, name=custom_id, message=source
        )
        return await self._inject(rec)

    def expire_interaction(self, rec: InteractionRecord) -> None:
        """Expire the interaction token: callbacks → 404 10062, webhook calls → 401 50027."""
        rec.expired = True
        rec.log("expired")

    async def delete_message(self, message: StoredMessage | int) -> StoredMessage:
        """A user (moderator) deletes a message: later edits/gets → 404 10008."""
        msg = self._message(message)
        await self.mark_deleted(msg, by="user")
        return msg

    async def request_reconnect(self) -> None:
        """Gateway op 7 RECONNECT: discord.py reconnects and RESUMEs."""
        await self.gateway.request_reconnect()

    # --- internal helpers used by the REST handlers -----------------------------------------
    async def mark_deleted(self, msg: StoredMessage, *, by: str) -> None:
        msg.deleted = True
        msg.deleted_by = by
        msg.deleted_at = time.monotonic()
        if msg.interaction_id in self.interactions:
            self.interactions[msg.interaction_id].log("deleted", (msg.id, by))
        self.notifier.notify()
        if not msg.ephemeral:
            data = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
            if msg.guild_id:
                data["guild_id"] = str(msg.guild_id)
            await self._dispatch_if_subscribed("MESSAGE_DELETE", data, msg)

    async def dispatch_message_event(self, event: str, msg: StoredMessage) -> None:
        """MESSAGE_CREATE/UPDATE for the bot's own non-ephemeral messages, as Discord does."""
        if msg.ephemeral or msg.loading:
            return
        data = payloads.message(msg, self.world)
        if msg.guild_id:
            data["guild_id"] = str(msg.guild_id)
            guild = self.world.guild(msg.guild_id)
            member = guild.member(msg.author_id) if guild else None
            if member:
                data["member"] = payloads.member(member, with_user=False)
        await self._dispatch_if_subscribed(event, data, msg)

    async def _dispatch_if_subscribed(
        self, event: str, data: dict[str, Any], msg: StoredMessage
    ) -> None:
        session = self.gateway.session_for(msg.guild_id)
        if session is None:
            return
        needed = Intent.GUILD_MESSAGES if msg.guild_id else Intent.DIRECT_MESSAGES
        if session.has(needed):
            await self.gateway.dispatch(event, data, session)
