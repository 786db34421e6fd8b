"""A Discord stand-in world for sharded bots: one server on every shard, and members spread
over them (the multi-process test and `python -m bench.processes`)."""

from __future__ import annotations

from typing import Any

from tests.discord_standin import DiscordStandIn, Member, User
from tests.discord_standin.gateway import shard_of


def servers_on_every_shard(server: DiscordStandIn, shards: int) -> list[Any]:
    """The default server plus one for each other shard: guild i is on shard i."""
    guilds = {shard_of(server.guild.id, shards): server.guild}
    for shard in range(shards):
        if shard not in guilds:
            guilds[shard] = server.add_guild(f"Server {shard}", shard=(shard, shards))
    return [guilds[shard] for shard in range(shards)]


def add_members(server: DiscordStandIn, guilds: list[Any], count: int) -> list[tuple[Member, Any]]:
    """``count`` new members, member i in guild i modulo the guilds; each with the channel
    they ask in (their guild's #general)."""
    members = []
    for number in range(count):
        guild = guilds[number % len(guilds)]
        user = User(id=server.new_id(), username=f"m{number}", global_name=f"M{number}")
        server.world.add_user(user)
        member = Member(user=user, guild_id=guild.id)
        guild.members.append(member)
        members.append((member, guild.channels[0]))
    return members
