"""The real bot, started by its own launcher, pointed at the local Discord stand-in and the
fake Wiro purely by settings."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TypeVar

from bot.core.wiro import PollSchedule
from bot.frontends.discord_bot.app import PortraitBot
from bot.frontends.discord_bot.settings import load_discord_settings
from bot.launcher import run_bot
from bot.settings import load_settings
from tests.discord_standin import DiscordStandIn
from tests.discord_standin.gateway import shard_of
from tests.fakewiro import FakeWiro

T = TypeVar("T")


@contextlib.asynccontextmanager
async def portrait_bot(
    discord_server: DiscordStandIn,
    wiro: FakeWiro,
    data_dir: Path,
    *,
    poll_interval: float = 0.05,
    configure: Callable[[PortraitBot], None] | None = None,
    **env: str,
) -> AsyncIterator[PortraitBot]:
    env = {
        "DISCORD_TOKEN": discord_server.token,
        "WIRO_API_KEY": wiro.api_key,
        "WIRO_API_SECRET": wiro.api_secret,
        "WIRO_API_BASE": wiro.base_url,
        "WIRO_SOCKET_URL": wiro.socket_url,
        "DISCORD_API_BASE": discord_server.api_base,
        "BOT_DATA_DIR": str(data_dir),
        "STATUS_EDIT_INTERVAL": "1",
        **env,
    }
    created: asyncio.Future[PortraitBot] = asyncio.get_running_loop().create_future()

    def on_created(bot: PortraitBot) -> None:
        if configure is not None:
            configure(bot)
        created.set_result(bot)

    runner = asyncio.create_task(
        run_bot(
            load_settings(env),
            discord=load_discord_settings(env),
            poll_schedule=PollSchedule.constant(poll_interval),
            on_created=on_created,
        )
    )
    try:
        bot = await asyncio.wait_for(first_created(created, runner), 10)
        await asyncio.wait_for(guilds_ready(bot, discord_server, runner), 10)
        yield bot
    finally:
        if created.done() and not created.cancelled():
            await created.result().close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(runner, 10)


async def first_created(created: asyncio.Future[T], runner: asyncio.Task[None]) -> T:
    """What `created` gets once the bot builds it; the start-up error if the run ends first."""
    await asyncio.wait({created, runner}, return_when=asyncio.FIRST_COMPLETED)
    if not created.done():
        runner.result()  # re-raise the start-up error
        raise RuntimeError("the bot stopped before it was created")
    return created.result()


async def guilds_ready(
    bot: PortraitBot, discord_server: DiscordStandIn, runner: asyncio.Task[None]
) -> None:
    count = getattr(bot, "shard_count", None) or 1
    shard_ids = getattr(bot, "shard_ids", None) or range(count)
    wanted = {
        guild.id
        for guild in discord_server.world.guilds
        if shard_of(guild.id, count) in shard_ids  # a sharded bot sees its shards' guilds
    }
    while not all(bot.get_guild(gid) is not None for gid in wanted):
        if runner.done():
            runner.result()
            raise RuntimeError("the bot stopped during start-up")
        await asyncio.sleep(0.01)
