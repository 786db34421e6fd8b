"""Application command routes (global and guild): bulk overwrite, create, get, edit, delete.

Ids are stable per (name, type) like Discord's, so re-syncing keeps command ids.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import faults as errors
from .payloads import command_output
from .records import SyncCall
from .validation import validate_commands

if TYPE_CHECKING:
    from .rest import Ctx
    from .server import DiscordStandIn


def _scope(ctx: Ctx) -> tuple[int | None, web.Response | None]:
    server = ctx.server
    if ctx.params.get("application_id") != str(server.application_id):
        return None, errors.discord_error(403, 50001, "Missing Access")
    if "guild_id" not in ctx.params:
        return None, None
    guild_id = ctx.int_param("guild_id")
    if server.world.guild(guild_id) is None:
        return None, errors.discord_error(403, 50001, "Missing Access")
    return guild_id, None


def _table(server: DiscordStandIn, guild_id: int | None) -> list[dict[str, Any]]:
    if guild_id is None:
        return server.synced_global
    return server.synced_guild.setdefault(guild_id, [])


def _register(server: DiscordStandIn, cmd: dict[str, Any], guild_id: int | None) -> dict[str, Any]:
    key = (guild_id, cmd.get("name"), cmd.get("type", 1))
    cmd_id = server.command_ids.setdefault(key, server.new_id())
    return command_output(
        cmd, cmd_id=cmd_id, version=server.new_id(), app_id=server.application_id, guild_id=guild_id
    )


async def bulk_overwrite(ctx: Ctx) -> web.Response:
    server = ctx.server
    guild_id, err = _scope(ctx)
    if err:
        return err
    body = ctx.body if isinstance(ctx.body, list) else []
    errs = validate_commands(body)
    if errs:
        return errors.invalid_form_body(errs)
    registered = [_register(server, cmd, guild_id) for cmd in body]
    table = _table(server, guild_id)
    table[:] = registered
    server.sync_history.append(
        SyncCall(at=time.monotonic(), guild_id=guild_id, commands=registered)
    )
    server.notifier.notify()
    return errors.json_response(registered)


async def list_commands(ctx: Ctx) -> web.Response:
    guild_id, err = _scope(ctx)
    if err:
        return err
    return errors.json_response(_table(ctx.server, guild_id))


async def create_command(ctx: Ctx) -> web.Response:
    server = ctx.server
    guild_id, err = _scope(ctx)
    if err:
        return err
    body = ctx.body if isinstance(ctx.body, dict) else {}
    errs = validate_commands([body])
    if errs:
        return errors.invalid_form_body(errs["0"])
    cmd = _register(server, body, guild_id)
    table = _table(server, guild_id)
    existed = [c for c in table if c["id"] == cmd["id"]]
    table[:] = [c for c in table if c["id"] != cmd["id"]] + [cmd]
    server.notifier.notify()
    return errors.json_response(cmd, status=200 if existed else 201)


def _find(ctx: Ctx, guild_id: int | None) -> dict[str, Any] | None:
    return next(
        (c for c in _table(ctx.server, guild_id) if c["id"] == ctx.params["command_id"]), None
    )


async def get_command(ctx: Ctx) -> web.Response:
    guild_id, err = _scope(ctx)
    if err:
        return err
    cmd = _find(ctx, guild_id)
    if cmd is None:
        return errors.discord_error(404, 10063, "Unknown application command")
    return errors.json_response(cmd)


async def edit_command(ctx: Ctx) -> web.Response:
    guild_id, err = _scope(ctx)
    if err:
        return err
    cmd = _find(ctx, guild_id)
    if cmd is None:
        return errors.discord_error(404, 10063, "Unknown application command")
    cmd.update(ctx.body if isinstance(ctx.body, dict) else {})
    cmd["version"] = str(ctx.server.new_id())
    ctx.server.notifier.notify()
    return errors.json_response(cmd)


async def delete_command(ctx: Ctx) -> web.Response:
    guild_id, err = _scope(ctx)
    if err:
        return err
    cmd = _find(ctx, guild_id)
    if cmd is None:
        return errors.discord_error(404, 10063, "Unknown application command")
    _table(ctx.server, guild_id).remove(cmd)
    ctx.server.notifier.notify()
    return web.Response(status=204)


def routes(route: Any) -> list[Any]:
    """Route definitions, built with ``rest._route``."""
    out = []
    for base in (
        "/applications/{application_id}/commands",
        "/applications/{application_id}/guilds/{guild_id}/commands",
    ):
        out += [
            route("PUT", base, bulk_overwrite),
            route("GET", base, list_commands),
            route("POST", base, create_command),
            route("GET", base + "/{command_id}", get_command),
            route("PATCH", base + "/{command_id}", edit_command),
            route("DELETE", base + "/{command_id}", delete_command),
        ]
    return out
