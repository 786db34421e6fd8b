"""Builders for injected interactions (INTERACTION_CREATE payloads) and their records.

Command options are typed from the command definition the bot synced (guild commands
first, then global); unsynced commands fall back to types inferred from Python values.
Definitions are enforced like the Discord client does: unknown options, missing required
options, values outside ``choices``/min/max are ``ValueError``s in the test.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import payloads
from .messages import make_attachment
from .models import Channel, Member, Perm, Role, User
from .records import InteractionRecord, Notifier, StoredMessage, iter_components

if TYPE_CHECKING:
    from .server import DiscordStandIn

SUB_COMMAND, SUB_GROUP, STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE = range(1, 10)
NUMBER, ATTACHMENT = 10, 11
SELECT_TYPES = {3, 5, 6, 7, 8}  # string, user, role, mentionable, channel
DM_APP_PERMISSIONS = int(
    Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.ADD_REACTIONS
)


@dataclass
class Upload:
    """A file a user attaches to a slash command option."""

    filename: str
    data: bytes
    content_type: str | None = None


UserLike = Member | User | int | None
ChannelLike = Channel | int | None


def as_upload(name: str, spec: Any) -> Upload:
    if isinstance(spec, Upload):
        return spec
    if isinstance(spec, bytes | bytearray):
        return Upload(f"{name}.png", bytes(spec), None)
    if isinstance(spec, tuple) and len(spec) in (2, 3):
        return Upload(spec[0], bytes(spec[1]), spec[2] if len(spec) == 3 else None)
    raise TypeError(f"attachment {name!r}: expected (filename, bytes[, content_type]) or Upload")


class Builder:
    def __init__(self, server: DiscordStandIn) -> None:
        self.server = server

    # --- who and where ----------------------------------------------------------
    def resolve_channel(self, channel: ChannelLike) -> Channel:
        if channel is None:
            return self.server.channel
        if isinstance(channel, Channel):
            return channel
        found = self.server.world.channel(int(channel))
        if found is None:
            raise ValueError(f"unknown channel {channel}")
        return found

    def resolve_user(self, user: UserLike) -> User:
        if user is None:
            return self.server.member.user
        if isinstance(user, Member):
            return user.user
        if isinstance(user, User):
            return user
        found = self.server.world.user(int(user))
        if found is None:
            raise ValueError(f"unknown user {user}")
        return found

    def base(
        self,
        itype: int,
        data: dict[str, Any] | None,
        *,
        user: UserLike,
        channel: ChannelLike,
        locale: str = "en-US",
        name: str | None = None,
        message: StoredMessage | None = None,
    ) -> InteractionRecord:
        server = self.server
        world = server.world
        ch = self.resolve_channel(channel)
        u = self.resolve_user(user)
        iid = server.new_id()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(96)
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(world.application_id),
            "type": itype,
            "token": token,
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": server.upload_limit,
            "channel_id": str(ch.id),
        }
        if data is not None:
            payload["data"] = data
        if ch.is_dm:
            payload["user"] = payloads.user(u)
            payload["context"] = 1
            payload["authorizing_integration_owners"] = {"0": "0"}
            payload["app_permissions"] = str(DM_APP_PERMISSIONS)
            payload["channel"] = payloads.channel(ch, world)
        else:
            guild = world.guild(ch.guild_id or 0)
            assert guild is not None
            member = guild.member(u.id)
            if member is None:
                raise ValueError(f"{u.username} is not a member of {guild.name}")
            bot = guild.member(world.bot_user.id)
            assert bot is not None
            perms = guild.permissions_in(member, ch)
            payload.update(
                guild_id=str(guild.id),
                guild={
                    "id": str(guild.id),
                    "locale": guild.preferred_locale,
                    "features": list(guild.features),
                },
                guild_locale=guild.preferred_locale,
                member=payloads.member(member, permissions=perms),
                app_permissions=str(guild.permissions_in(bot, ch)),
                channel=payloads.channel(ch, world, permissions=perms),
                context=0,
                authorizing_integration_owners={"0": str(guild.id)},
            )
        if message is not None:
            payload["message"] = payloads.message(message, world)
        return InteractionRecord(
            id=iid,
            token=token,
            type=itype,
            payload=payload,
            user_id=u.id,
            channel_id=ch.id,
            guild_id=ch.guild_id,
            name=name,
            source_message=message,
            notifier=Notifier(parent=server.notifier),
        )

    # --- application commands ----------------------------------------------------
    def command_data(
        self,
        name: str,
        options: dict[str, Any],
        channel: Channel,
        *,
        focused: str | None = None,
    ) -> dict[str, Any]:
        server = self.server
        parts = name.split()
        definition = server.find_command(parts[0], channel.guild_id)
        data: dict[str, Any] = {"name": parts[0], "type": 1}
        if definition is None:
            data["id"] = str(server.command_ids.setdefault((None, parts[0], 1), server.new_id()))
            defs: list[dict[str, Any]] | None = None
        else:
            data["id"] = definition["id"]
            if definition.get("guild_id"):
                data["guild_id"] = definition["guild_id"]
            defs = definition.get("options") or []
        path_types: list[int] = []
        for depth, sub in enumerate(parts[1:]):
            if defs is None:
                path_types.append(SUB_GROUP if len(parts) == 3 and depth == 0 else SUB_COMMAND)
                continue
            sub_def = next((o for o in defs if o["name"] == sub and o["type"] in (1, 2)), None)
            if sub_def is None:
                raise ValueError(f"/{name}: no subcommand {sub!r} in the synced definition")
            path_types.append(sub_def["type"])
            defs = sub_def.get("options") or []
        resolved: dict[str, dict[str, Any]] = {}
        leaf = self._options(name, options, defs, channel, resolved, focused)
        for sub, sub_type in zip(reversed(parts[1:]), reversed(path_types), strict=True):
            leaf = [{"name": sub, "type": sub_type, "options": leaf}]
        if leaf:
            data["options"] = leaf
        if resolved:
            data["resolved"] = resolved
        return data

    def _options(
        self,
        name: str,
        options: dict[str, Any],
        defs: list[dict[str, Any]] | None,
        channel: Channel,
        resolved: dict[str, dict[str, Any]],
        focused: str | None,
    ) -> list[dict[str, Any]]:
        out = []
        by_name = {o["name"]: o for o in defs or []}
        if defs is not None:
            unknown = set(options) - set(by_name)
            if unknown:
                raise ValueError(
                    f"/{name}: unknown option(s) {sorted(unknown)}; has {sorted(by_name)}"
                )
            if focused is None:
                missing = [
                    o["name"] for o in defs if o.get("required") and o["name"] not in options
                ]
                if missing:
                    raise ValueError(f"/{name}: required option(s) missing: {missing}")
        for opt_name, value in options.items():
            opt_def = by_name.get(opt_name)
            opt_type = opt_def["type"] if opt_def else self._infer_type(value)
            if opt_name == focused:
                out.append({"name": opt_name, "type": opt_type, "value": value, "focused": True})
                continue
            if opt_type == ATTACHMENT and focused is not None:
                continue  # Discord does not upload files while autocompleting
            wire = self._value(opt_name, opt_type, value, channel, resolved)
            if opt_def:
                self._check(name, opt_def, wire)
            out.append({"name": opt_name, "type": opt_type, "value": wire})
        return out

    @staticmethod
    def _infer_type(value: Any) -> int:
        if isinstance(value, bool):
            return BOOLEAN
        if isinstance(value, int):
            return INTEGER
        if isinstance(value, float):
            return NUMBER
        if isinstance(value, Member | User):
            return USER
        if isinstance(value, Channel):
            return CHANNEL
        if isinstance(value, Role):
            return ROLE
        if isinstance(value, Upload | bytes | tuple):
            return ATTACHMENT
        return STRING

    def _value(
        self, opt: str, opt_type: int, value: Any, channel: Channel, resolved: dict[str, Any]
    ) -> Any:
        server = self.server
        world = server.world
        if opt_type == STRING:
            return str(value)
        if opt_type == INTEGER:
            return int(value)
        if opt_type == NUMBER:
            return value if isinstance(value, int | float) else float(value)
        if opt_type == BOOLEAN:
            return bool(value)
        if opt_type == ATTACHMENT:
            up = as_upload(opt, value)
            att = make_attachment(
                server,
                scope="ephemeral-attachments",
                channel_id=world.application_id,
                filename=up.filename,
                data=up.data,
                content_type=up.content_type,
                ephemeral=True,
            )
            server.uploads.append(att)
            resolved.setdefault("attachments", {})[str(att.id)] = payloads.attachment(att)
            return str(att.id)
        if opt_type in (USER, MENTIONABLE) and not isinstance(value, Role):
            user = self.resolve_user(value)
            resolved.setdefault("users", {})[str(user.id)] = payloads.user(user)
            guild = world.guild(channel.guild_id or 0)
            member = guild.member(user.id) if guild else None
            if guild and member:
                perms = guild.permissions_in(member, channel)
                resolved.setdefault("members", {})[str(user.id)] = payloads.member(
                    member, with_user=False, permissions=perms
                )
            return str(user.id)
        if opt_type in (ROLE, MENTIONABLE):
            role_id = value.id if isinstance(value, Role) else int(value)
            guild = world.guild(channel.guild_id or 0)
            if guild is None:
                raise ValueError("role options need a guild channel")
            resolved.setdefault("roles", {})[str(role_id)] = payloads.role(guild.role(role_id))
            return str(role_id)
        if opt_type == CHANNEL:
            target = self.resolve_channel(value)
            data = payloads.channel(target, world)
            keep = ("id", "name", "type", "nsfw", "parent_id", "guild_id", "flags", "topic")
            entry = {k: v for k, v in data.items() if k in keep}
            guild = world.guild(target.guild_id or 0)
            member = guild.member(self.resolve_user(None).id) if guild else None
            entry["permissions"] = str(
                guild.permissions_in(member, target) if guild and member else 0
            )
            resolved.setdefault("channels", {})[str(target.id)] = entry
            return str(target.id)
        raise ValueError(f"option {opt!r}: unsupported type {opt_type}")

    @staticmethod
    def _check(name: str, opt_def: dict[str, Any], wire: Any) -> None:
        label = f"/{name} {opt_def['name']}"
        choices = opt_def.get("choices")
        if choices and wire not in [c["value"] for c in choices]:
            raise ValueError(f"{label}: {wire!r} is not one of the choices {choices}")
        if isinstance(wire, int | float) and not isinstance(wire, bool):
            lo, hi = opt_def.get("min_value"), opt_def.get("max_value")
            if (lo is not None and wire < lo) or (hi is not None and wire > hi):
                raise ValueError(f"{label}: {wire} outside [{lo}, {hi}]")
        if opt_def["type"] == STRING:
            lo, hi = opt_def.get("min_length"), opt_def.get("max_length")
            if (lo is not None and len(wire) < lo) or (hi is not None and len(wire) > hi):
                raise ValueError(f"{label}: length {len(wire)} outside [{lo}, {hi}]")

    # --- components and modals ---------------------------------------------------
    def component_data(
        self, message: StoredMessage, custom_id: str, values: list[Any] | None
    ) -> dict[str, Any]:
        comp = message.component(custom_id)
        if comp is None:
            have = message.custom_ids()
            raise ValueError(f"message {message.id} has no component {custom_id!r}; it has {have}")
        if comp.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled")
        ctype = comp["type"]
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": ctype}
        if ctype in SELECT_TYPES:
            if values is None:
                raise ValueError(f"{custom_id!r} is a select menu: use select(..., values)")
            lo, hi = comp.get("min_values", 1), comp.get("max_values", 1)
            if not lo <= len(values) <= hi:
                raise ValueError(f"{custom_id!r}: choose {lo}..{hi} values, got {len(values)}")
            if ctype == 3:
                allowed = [o["value"] for o in comp.get("options") or []]
                bad = [v for v in values if v not in allowed]
                if bad:
                    raise ValueError(f"{custom_id!r}: {bad} not in options {allowed}")
            if ctype == 3:
                data["values"] = [str(v) for v in values]
            else:  # user/role/mentionable/channel selects carry resolved objects
                channel = self.resolve_channel(message.channel_id)
                kind = {5: USER, 6: ROLE, 7: MENTIONABLE, 8: CHANNEL}[ctype]
                resolved: dict[str, Any] = {}
                data["values"] = [
                    self._value(custom_id, kind, v, channel, resolved) for v in values
                ]
                data["resolved"] = resolved
        elif values is not None:
            raise ValueError(f"{custom_id!r} is a button (type {ctype}); use click()")
        elif ctype == 2 and comp.get("style") == 5:
            raise ValueError(f"{custom_id!r} is a link button; it never reaches the bot")
        return data

    @staticmethod
    def modal_data(
        custom_id: str, fields: dict[str, Any], layout: list[dict[str, Any]] | None
    ) -> dict[str, Any]:
        def submitted(comp: dict[str, Any]) -> dict[str, Any] | None:
            cid = comp.get("custom_id")
            if cid is None:
                return None
            value = fields.get(cid, comp.get("value") or "")
            if comp.get("type") == 4:
                if comp.get("required", True) and not value:
                    raise ValueError(f"modal field {cid!r} is required")
                return {"type": 4, "custom_id": cid, "value": str(value)}
            values = value if isinstance(value, list) else ([value] if value else [])
            return {"type": comp["type"], "custom_id": cid, "values": [str(v) for v in values]}

        components: list[dict[str, Any]] = []
        if layout:
            known = {c.get("custom_id") for c in iter_components(layout)}
            unknown = set(fields) - known
            if unknown:
                raise ValueError(f"modal {custom_id!r} has no field(s) {sorted(unknown)}")
            for top in layout:
                if top.get("type") == 1:
                    row = [s for s in map(submitted, top.get("components") or []) if s]
                    components.append({"type": 1, "components": row})
                elif top.get("type") == 18 and isinstance(top.get("component"), dict):
                    inner = submitted(top["component"])
                    if inner:
                        components.append({"type": 18, "component": inner})
        else:
            for cid, value in fields.items():
                row = [{"type": 4, "custom_id": cid, "value": str(value)}]
                components.append({"type": 1, "components": row})
        return {"custom_id": custom_id, "components": components}
