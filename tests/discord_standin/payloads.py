"""JSON payload builders, shaped like Discord API v10 objects (what discord.py parses)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from .models import Channel, Guild, Member, Role, User, World
from .records import StoredAttachment, StoredMessage

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024  # non-boosted guild upload limit


def iso_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def user(u: User) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(u.id),
        "username": u.username,
        "global_name": u.global_name,
        "discriminator": "0",
        "avatar": u.avatar,
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
        "collectibles": None,
        "primary_guild": None,
    }
    if u.bot:
        data["bot"] = True
    return data


def role(r: Role) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(r.id),
        "name": r.name,
        "permissions": str(r.permissions),
        "position": r.position,
        "color": r.color,
        "colors": {"primary_color": r.color, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "managed": r.managed,
        "mentionable": False,
        "icon": None,
        "unicode_emoji": None,
        "flags": 0,
    }
    if r.bot_id is not None:
        data["tags"] = {"bot_id": str(r.bot_id)}
    return data


def member(m: Member, *, with_user: bool = True, permissions: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "roles": [str(r) for r in m.role_ids],
        "nick": m.nick,
        "avatar": None,
        "banner": None,
        "joined_at": m.joined_at,
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
        "communication_disabled_until": None,
    }
    if with_user:
        data["user"] = user(m.user)
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


def channel(c: Channel, world: World, *, permissions: int | None = None) -> dict[str, Any]:
    if c.is_dm:
        recipient = world.user(c.recipient_id or 0)
        data: dict[str, Any] = {
            "id": str(c.id),
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [user(recipient)] if recipient else [],
        }
    else:
        data = {
            "id": str(c.id),
            "type": c.type,
            "guild_id": str(c.guild_id),
            "name": c.name,
            "position": c.position,
            "parent_id": str(c.parent_id) if c.parent_id else None,
            "nsfw": c.nsfw,
            "topic": c.topic,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
            "permission_overwrites": [
                {"id": str(o.id), "type": o.type, "allow": str(o.allow), "deny": str(o.deny)}
                for o in c.overwrites
            ],
        }
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


def guild_create(g: Guild, world: World, *, members: list[Member]) -> dict[str, Any]:
    return {
        "id": str(g.id),
        "name": g.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(g.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 1,
        "default_message_notifications": 1,
        "explicit_content_filter": 2,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "preferred_locale": g.preferred_locale,
        "system_channel_id": str(g.channels[0].id) if g.channels else None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "vanity_url_code": None,
        "features": list(g.features),
        "roles": [role(r) for r in g.roles],
        "emojis": [],
        "stickers": [],
        "soundboard_sounds": [],
        "max_members": 500000,
        "max_video_channel_users": 25,
        "application_id": None,
        "joined_at": iso_now(),
        "large": False,
        "unavailable": False,
        "lazy": True,
        "member_count": len(g.members),
        "voice_states": [],
        "members": [member(m) for m in members],
        "channels": [channel(c, world) for c in g.channels],
        "threads": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "embedded_activities": [],
        "incidents_data": None,
    }


def team(world: World) -> dict[str, Any] | None:
    t = world.team
    if t is None:
        return None
    return {
        "id": str(t.id),
        "name": t.name,
        "icon": None,
        "owner_user_id": str(t.owner_user_id),
        "members": [
            {
                "membership_state": m.membership_state,
                "team_id": str(t.id),
                "permissions": ["*"],
                "role": m.role,
                "user": user(m.user),
            }
            for m in t.members
        ],
    }


def application(world: World) -> dict[str, Any]:
    # A team-owned application's owner is the team's pseudo-user (flag 1024, TEAM_PSEUDO_USER).
    owner = user(world.owner)
    if world.team is not None:
        owner = user(User(id=world.team.id, username=f"team{world.team.id}")) | {"flags": 1024}
    return {
        "id": str(world.application_id),
        "name": world.bot_user.username,
        "icon": None,
        "description": "Discord stand-in application",
        "summary": "",
        "type": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "flags": 0,
        "owner": owner,
        "team": team(world),
        "bot": user(world.bot_user),
        "tags": [],
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "approximate_guild_count": len(world.guilds),
        "integration_types_config": {"0": {}, "1": {}},
    }


def attachment(a: StoredAttachment) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(a.id),
        "filename": a.filename,
        "size": a.size,
        "url": a.url,
        "proxy_url": a.proxy_url,
        "content_type": a.content_type,
        "flags": 0,
    }
    if a.width is not None:
        data["width"] = a.width
        data["height"] = a.height
    if a.description is not None:
        data["description"] = a.description
    if a.ephemeral:
        data["ephemeral"] = True
    return data


def message(m: StoredMessage, world: World) -> dict[str, Any]:
    author = world.user(m.author_id) or world.bot_user
    data: dict[str, Any] = {
        "id": str(m.id),
        "type": m.type,
        "channel_id": str(m.channel_id),
        "author": user(author),
        "content": m.content,
        "timestamp": m.timestamp,
        "edited_timestamp": m.edited_timestamp,
        "tts": m.tts,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [attachment(a) for a in m.attachments],
        "embeds": m.embeds,
        "components": m.components,
        "pinned": False,
        "flags": m.flags,
        "position": None,
    }
    if m.webhook_id is not None:
        data["webhook_id"] = str(m.webhook_id)
    if m.author_id == world.bot_user.id:
        data["application_id"] = str(world.application_id)
    if m.message_reference is not None:
        data["message_reference"] = m.message_reference
    data.update(m.extra)
    return data


def command_output(
    cmd: dict[str, Any], *, cmd_id: int, version: int, app_id: int, guild_id: int | None
) -> dict[str, Any]:
    """What Discord answers for a registered command: the input plus server-side fields."""
    out = {
        "type": 1,
        "description": "",
        "default_member_permissions": None,
        "nsfw": False,
        "name_localizations": None,
        "description_localizations": None,
        **cmd,
    }
    out.update(id=str(cmd_id), application_id=str(app_id), version=str(version))
    if out["default_member_permissions"] is not None:  # Discord answers a permission string
        out["default_member_permissions"] = str(out["default_member_permissions"])
    if guild_id is not None:
        out["guild_id"] = str(guild_id)
    else:
        out.setdefault("contexts", None)
        out.setdefault("integration_types", [0])
        out.setdefault("dm_permission", True)
    return out
