"""Discord sharding (issue 14): `DISCORD_SHARD_COUNT` / `DISCORD_SHARD_IDS` run the gateway
as discord.py's AutoShardedBot; the Discord stand-in sends each guild's events to the shard
Discord's rule names (``(guild_id >> 22) % shard_count``)."""

from __future__ import annotations

import pytest

from bot.frontends.discord_bot.api_watch import gateway_problem
from bot.frontends.discord_bot.app import ShardedPortraitBot
from bot.frontends.discord_bot.settings import load_discord_settings
from bot.settings import SettingsError
from tests.discord_standin.gateway import shard_of
from tests.support.images import selfie_jpeg
from tests.support.insight import until
from tests.support.portrait_bot import portrait_bot

TOKEN = "a.b.c"


def shards(**env: str):
    settings = load_discord_settings({"DISCORD_TOKEN": TOKEN, **env})
    return settings.shard_count, settings.shard_ids


def test_shard_settings() -> None:
    assert shards() == (None, None)
    assert shards(DISCORD_SHARD_COUNT="4") == (4, None)
    assert shards(DISCORD_SHARD_COUNT="4", DISCORD_SHARD_IDS="3, 0-1") == (4, (0, 1, 3))
    for wrong in ({"DISCORD_SHARD_IDS": "0"}, {"DISCORD_SHARD_COUNT": "0"}):
        with pytest.raises(SettingsError, match="DISCORD_SHARD"):
            shards(**wrong)
    for ids in ("4", "0,0", "1-x", "a", "2-5", "3-1", "0-999999999", "²", "1,²"):
        with pytest.raises(SettingsError, match="DISCORD_SHARD_IDS"):
            shards(DISCORD_SHARD_COUNT="4", DISCORD_SHARD_IDS=ids)


async def test_two_shards_in_one_process_serve_both_guilds(
    discord_server, fake_wiro, tmp_path
) -> None:
    other = discord_server.add_guild(
        "Second Server", shard=(1 - shard_of(discord_server.guild.id, 2), 2)
    )
    limits = {"MEMBER_MAX_ACTIVE_JOBS": "2", "MEMBER_COOLDOWN_SECONDS": "0"}
    async with portrait_bot(
        discord_server, fake_wiro, tmp_path, DISCORD_SHARD_COUNT="2", **limits
    ) as bot:
        assert isinstance(bot, ShardedPortraitBot)
        identified = sorted(s.shard for s in discord_server.gateway.sessions.values())
        assert identified == [(0, 2), (1, 2)]
        assert bot.get_guild(other.id) is not None and bot.get_guild(discord_server.guild.id)
        await until(lambda: gateway_problem(bot) is None, "every shard ready")

        # A /portrait in each guild is answered and delivered through its own shard.
        for channel in (discord_server.channel, other.channels[0]):
            rec = await discord_server.slash(
                "portrait",
                {"prompt": "a lighthouse keeper"},
                attachments={"selfie": ("me.jpg", selfie_jpeg(), "image/jpeg")},
                user=discord_server.member,
                channel=channel,
            )
            await rec.wait_original(lambda m: "Selfie accepted" in m.content)
        await discord_server.wait_for(
            lambda s: [m for m in s.messages.values() if m.attachments and not m.ephemeral][1:],
            timeout=20,
        )
        posted = {m.channel_id for m in discord_server.messages.values() if m.attachments}
        assert posted == {discord_server.channel.id, other.channels[0].id}


async def test_a_process_runs_only_its_shards(discord_server, fake_wiro, tmp_path) -> None:
    mine = discord_server.add_guild("On shard 1", shard=(1, 2))
    theirs = discord_server.add_guild("On shard 0", shard=(0, 2))
    async with portrait_bot(
        discord_server, fake_wiro, tmp_path, DISCORD_SHARD_COUNT="2", DISCORD_SHARD_IDS="1"
    ) as bot:
        assert [s.shard for s in discord_server.gateway.sessions.values()] == [(1, 2)]
        assert bot.get_guild(mine.id) is not None
        assert bot.get_guild(theirs.id) is None  # another process's shard
