import json

import discord
import pytest
from discord import app_commands

from bot.frontends.discord_bot.commandsync import STATE_FILE, sync_commands


def make_tree(description: str = "Say hello") -> tuple[app_commands.CommandTree, list]:
    client = discord.Client(intents=discord.Intents.none())
    tree = app_commands.CommandTree(client)
    calls: list = []

    @app_commands.command(name="hello", description=description)
    async def hello(interaction: discord.Interaction) -> None: ...

    tree.add_command(hello)

    async def fake_sync(*, guild=None):
        calls.append(guild.id if guild else None)
        return []

    tree.sync = fake_sync  # Discord's side is exercised end to end in the stand-in tests
    return tree, calls


@pytest.mark.parametrize("guild_id", [None, 123456789012345678])
async def test_syncs_once_until_the_commands_change(tmp_path, guild_id):
    tree, calls = make_tree()
    kwargs = {"application_id": 1, "data_dir": tmp_path, "guild_id": guild_id}
    assert await sync_commands(tree, **kwargs) is True
    assert await sync_commands(tree, **kwargs) is False
    assert calls == [guild_id]

    changed, calls_after_change = make_tree(description="Say hello, politely")
    assert await sync_commands(changed, **kwargs) is True
    assert calls_after_change == [guild_id]


async def test_forced_sync_always_syncs(tmp_path):
    tree, calls = make_tree()
    for _ in range(2):
        await sync_commands(tree, application_id=1, data_dir=tmp_path, guild_id=None, force=True)
    assert len(calls) == 2


async def test_each_application_and_scope_is_remembered_apart(tmp_path):
    tree, calls = make_tree()
    await sync_commands(tree, application_id=1, data_dir=tmp_path, guild_id=None)
    await sync_commands(tree, application_id=2, data_dir=tmp_path, guild_id=None)
    assert len(calls) == 2
    assert set(json.loads((tmp_path / STATE_FILE).read_text())) == {"1:global", "2:global"}


async def test_a_corrupt_state_file_means_sync_again(tmp_path):
    (tmp_path / STATE_FILE).write_text("{not json")
    tree, calls = make_tree()
    assert await sync_commands(tree, application_id=1, data_dir=tmp_path, guild_id=None)
    assert calls == [None]
