"""Channel routes: messages (create/get/list/edit/delete), typing, DMs, guild lookups."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import faults as errors
from . import payloads
from .messages import create_message, edit_message
from .models import Channel, Perm
from .records import StoredMessage, TypingRecord
from .validation import validate_message

if TYPE_CHECKING:
    from .rest import Ctx


def bad_message(errs: dict[str, Any]) -> web.Response:
    if errs == {"_empty": True}:
        return errors.discord_error(400, 50006, "Cannot send an empty message")
    return errors.invalid_form_body(errs)


def _channel(ctx: Ctx) -> Channel | None:
    return ctx.server.world.channel(ctx.int_param("channel_id"))


def unknown_channel() -> web.Response:
    return errors.discord_error(404, 10003, "Unknown Channel")


# Discord checks an enforced nonce for uniqueness "in the past few minutes".
NONCE_WINDOW = 5 * 60.0


def _same_nonce(ctx: Ctx, body: dict[str, Any]) -> StoredMessage | None:
    """The bot's message created recently with this nonce, when the new one enforces it: Discord
    then returns that message and creates none."""
    nonce = body.get("nonce")
    if nonce is None or not body.get("enforce_nonce"):
        return None
    now = time.monotonic()
    author = ctx.server.world.bot_user.id
    return next(
        (
            m
            for m in ctx.server.messages.values()
            if m.nonce == str(nonce) and m.author_id == author and now - m.created_at < NONCE_WINDOW
        ),
        None,
    )


def bot_permissions(ctx: Ctx, channel: Channel) -> int:
    if channel.is_dm:
        return int(
            Perm.VIEW_CHANNEL
            | Perm.SEND_MESSAGES
            | Perm.ATTACH_FILES
            | Perm.EMBED_LINKS
            | Perm.READ_MESSAGE_HISTORY
        )
    guild = ctx.server.world.guild(channel.guild_id or 0)
    me = guild.member(ctx.server.world.bot_user.id) if guild else None
    if guild is None or me is None:
        return 0
    return guild.permissions_in(me, channel)


def _visible_message(ctx: Ctx, channel: Channel) -> StoredMessage | None:
    msg = ctx.server.messages.get(ctx.int_param("message_id"))
    if msg is None or msg.deleted or msg.ephemeral or msg.channel_id != channel.id:
        return None
    return msg


async def get_channel(ctx: Ctx) -> web.Response:
    channel = _channel(ctx)
    if channel is None:
        return unknown_channel()
    return errors.json_response(payloads.channel(channel, ctx.server.world))


async def post_message(ctx: Ctx) -> web.Response:
    server = ctx.server
    channel = _channel(ctx)
    if channel is None:
        return unknown_channel()
    if server.enforce_permissions:
        perms = bot_permissions(ctx, channel)
        if not perms & Perm.VIEW_CHANNEL:
            return errors.discord_error(403, 50001, "Missing Access")
        if not perms & Perm.SEND_MESSAGES or (ctx.files and not perms & Perm.ATTACH_FILES):
            return errors.missing_permissions()
    body = ctx.body if isinstance(ctx.body, dict) else {}
    errs = validate_message(body, creating=True, n_files=len(ctx.files))
    if errs:
        return bad_message(errs)
    if body.get("message_reference"):
        ref = body["message_reference"]
        target = server.messages.get(int(ref.get("message_id") or 0))
        if (target is None or target.deleted) and ref.get("fail_if_not_exists", True):
            return errors.invalid_form_body(
                {
                    "message_reference": {
                        "_errors": [
                            {"code": "REPLIES_UNKNOWN_MESSAGE", "message": "Unknown message"}
                        ]
                    }
                }
            )
    earlier = _same_nonce(ctx, body)
    if earlier is not None:
        return errors.json_response(payloads.message(earlier, server.world))
    msg = create_message(
        server,
        channel_id=channel.id,
        guild_id=channel.guild_id,
        payload=body,
        files=ctx.files,
        author_id=server.world.bot_user.id,
        msg_type=19 if body.get("message_reference") else 0,
    )
    if body.get("enforce_nonce") and body.get("nonce") is not None:
        msg.nonce = str(body["nonce"])
    msg.flags &= ~64  # channel messages can't be ephemeral
    await server.dispatch_message_event("MESSAGE_CREATE", msg)
    return errors.json_response(payloads.message(msg, server.world))


async def list_messages(ctx: Ctx) -> web.Response:
    channel = _channel(ctx)
    if channel is None:
        return unknown_channel()
    if ctx.server.enforce_permissions:
        perms = bot_permissions(ctx, channel)
        if not perms & Perm.VIEW_CHANNEL:
            return errors.discord_error(403, 50001, "Missing Access")
        if not perms & Perm.READ_MESSAGE_HISTORY:
            return errors.json_response([])  # Discord's answer: an empty list, no error
    limit = min(int(ctx.request.query.get("limit", 50)), 100)
    msgs = [m for m in ctx.server.channel_messages(channel.id) if not m.ephemeral]
    before = ctx.request.query.get("before")
    after = ctx.request.query.get("after")
    if before:
        msgs = [m for m in msgs if m.id < int(before)]
    if after:
        msgs = [m for m in msgs if m.id > int(after)][:limit]
    msgs = sorted(msgs, key=lambda m: m.id, reverse=True)[:limit]
    return errors.json_response([payloads.message(m, ctx.server.world) for m in msgs])


async def get_message(ctx: Ctx) -> web.Response:
    channel = _channel(ctx)
    if channel is None:
        return unknown_channel()
    msg = _visible_message(ctx, channel)
    if msg is None:
        return errors.unknown_message()
    return errors.json_response(payloads.message(msg, ctx.server.world))


async def patch_message(ctx: Ctx) -> web.Response:
    server = ctx.server
    channel = _channel(ctx)
    if channel is None:
        return unknown_channel()
    msg = _visible_message(ctx, channel)
    if msg is None:
        return errors.unknown_message()
    if msg.author_id != server.world.bot_user.id:
        return errors.discord_error(403, 50005, "Cannot edit a message authored by another user")
    body = ctx.body if isinstance(ctx.body, dict) else {}
    errs = validate_message(body, creating=False, n_files=len(ctx.files))
    if errs:
        return bad_message(errs)
    edit_message(server, msg, body, ctx.files, via="channel")
    await server.dispatch_message_event("MESSAGE_UPDATE", msg)
    return errors.json_response(payloads.message(msg, server.world))


async def delete_message(ctx: Ctx) -> web.Response:
    server = ctx.server
    channel = _channel(ctx)
    if channel is None:
        return unknown_channel()
    msg = _visible_message(ctx, channel)
    if msg is None:
        return errors.unknown_message()
    own = msg.author_id == server.world.bot_user.id
    if not own and not bot_permissions(ctx, channel) & Perm.MANAGE_MESSAGES:
        return errors.missing_permissions()
    await server.mark_deleted(msg, by="bot")
    return web.Response(status=204)


async def typing(ctx: Ctx) -> web.Response:
    channel = _channel(ctx)
    if channel is None:
        return unknown_channel()
    ctx.server.typing.append(TypingRecord(at=time.monotonic(), channel_id=channel.id))
    return web.Response(status=204)


async def create_dm(ctx: Ctx) -> web.Response:
    server = ctx.server
    body = ctx.body if isinstance(ctx.body, dict) else {}
    user = server.world.user(int(body.get("recipient_id") or 0))
    if user is None:
        return errors.discord_error(404, 10013, "Unknown User")
    channel = server.world.dm_channel(user, server.new_id())
    return errors.json_response(payloads.channel(channel, server.world))


async def get_guild(ctx: Ctx) -> web.Response:
    guild = ctx.server.world.guild(ctx.int_param("guild_id"))
    if guild is None:
        return errors.discord_error(404, 10004, "Unknown Guild")
    data = payloads.guild_create(guild, ctx.server.world, members=[])
    for key in ("members", "channels", "threads", "presences", "voice_states", "joined_at"):
        data.pop(key, None)
    return errors.json_response(data)


async def guild_channels(ctx: Ctx) -> web.Response:
    guild = ctx.server.world.guild(ctx.int_param("guild_id"))
    if guild is None:
        return errors.discord_error(404, 10004, "Unknown Guild")
    return errors.json_response([payloads.channel(c, ctx.server.world) for c in guild.channels])


async def guild_roles(ctx: Ctx) -> web.Response:
    guild = ctx.server.world.guild(ctx.int_param("guild_id"))
    if guild is None:
        return errors.discord_error(404, 10004, "Unknown Guild")
    return errors.json_response([payloads.role(r) for r in guild.roles])


async def guild_member(ctx: Ctx) -> web.Response:
    guild = ctx.server.world.guild(ctx.int_param("guild_id"))
    if guild is None:
        return errors.discord_error(404, 10004, "Unknown Guild")
    member = guild.member(ctx.int_param("user_id"))
    if member is None:
        return errors.discord_error(404, 10007, "Unknown Member")
    return errors.json_response(payloads.member(member))


def routes(route: Any) -> list[Any]:
    """Route definitions, built with ``rest._route``."""
    return [
        route("GET", "/channels/{channel_id}", get_channel),
        route("POST", "/channels/{channel_id}/messages", post_message),
        route("GET", "/channels/{channel_id}/messages", list_messages),
        route("GET", "/channels/{channel_id}/messages/{message_id}", get_message),
        route("PATCH", "/channels/{channel_id}/messages/{message_id}", patch_message),
        route("DELETE", "/channels/{channel_id}/messages/{message_id}", delete_message),
        route("POST", "/channels/{channel_id}/typing", typing),
        route("GET", "/guilds/{guild_id}", get_guild),
        route("GET", "/guilds/{guild_id}/channels", guild_channels),
        route("GET", "/guilds/{guild_id}/roles", guild_roles),
        route("GET", "/guilds/{guild_id}/members/{user_id}", guild_member),
    ]
