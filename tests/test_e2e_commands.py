"""The command definitions Discord receives, and when the bot syncs them."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from bot.frontends.discord_bot.settings import load_discord_settings
from bot.launcher import run_bot
from bot.settings import load_settings
from tests.discord_standin import DiscordStandIn
from tests.fakewiro import FakeWiro
from tests.support.portrait_bot import portrait_bot

SNAPSHOT = Path(__file__).parent / "snapshots" / "commands.json"
# The parts of a definition a member sees or Discord enforces.
KEPT = {
    *("name", "description", "type", "required", "options", "choices", "autocomplete"),
    *("min_value", "max_value", "min_length", "max_length", "contexts", "dm_permission"),
    "default_member_permissions",
}


def essentials(definition):
    if isinstance(definition, list):
        return [essentials(item) for item in definition]
    if isinstance(definition, dict):
        return {k: essentials(v) for k, v in definition.items() if k in KEPT or k == "value"}
    return definition


@pytest.fixture
async def servers():
    async with DiscordStandIn() as discord_server, FakeWiro("k-0123456", "s-0123456") as wiro:
        yield discord_server, wiro


async def test_synced_commands_match_the_snapshot(servers, tmp_path):
    discord_server, wiro = servers
    async with portrait_bot(discord_server, wiro, tmp_path):
        await discord_server.wait_for(lambda s: s.synced_global)
    synced = essentials(sorted(discord_server.synced_global, key=lambda c: c["name"]))
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(synced, indent=2, ensure_ascii=False) + "\n")
    assert synced == json.loads(SNAPSHOT.read_text())


async def test_restarts_do_not_sync_again_until_commands_change(servers, tmp_path):
    discord_server, wiro = servers
    async with portrait_bot(discord_server, wiro, tmp_path):
        await discord_server.wait_for(lambda s: s.sync_calls == 1)
    async with portrait_bot(discord_server, wiro, tmp_path):
        pass
    assert discord_server.sync_calls == 1


async def test_a_development_guild_gets_the_commands_instead(servers, tmp_path):
    discord_server, wiro = servers
    guild_id = str(discord_server.guild.id)
    async with portrait_bot(discord_server, wiro, tmp_path, DISCORD_GUILD_ID=guild_id):
        await discord_server.wait_for(lambda s: s.synced_guild.get(discord_server.guild.id))
    assert sorted(c["name"] for c in discord_server.synced_guild[discord_server.guild.id]) == [
        "face",
        "portrait",
        "portrait-admin",
        "portrait-history",
        "portrait-privacy",
    ]


async def test_sync_command_forces_a_sync_and_exits(servers, tmp_path):
    discord_server, wiro = servers
    async with portrait_bot(discord_server, wiro, tmp_path):
        pass
    env = {
        "DISCORD_TOKEN": discord_server.token,
        "WIRO_API_KEY": wiro.api_key,
        "WIRO_API_SECRET": wiro.api_secret,
        "WIRO_API_BASE": wiro.base_url,
        "WIRO_SOCKET_URL": wiro.socket_url,
        "DISCORD_API_BASE": discord_server.api_base,
        "BOT_DATA_DIR": str(tmp_path),
    }
    discord = load_discord_settings(env, required=True)
    await asyncio.wait_for(run_bot(load_settings(env), discord=discord, sync_only=True), 10)
    assert discord_server.sync_calls == 2
    assert wiro.calls["/Tool/Detail"] == 1  # syncing needs no Wiro call
