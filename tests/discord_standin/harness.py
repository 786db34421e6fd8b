"""Run a real discord.py client against a ``DiscordStandIn`` for the length of a block."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from .server import DiscordStandIn


@contextlib.asynccontextmanager
async def running_bot(
    bot: Any,
    discord_server: DiscordStandIn,
    *,
    token: str | None = None,
    wait: str = "guilds",
    timeout: float = 10.0,
    patch: bool = True,
) -> AsyncIterator[Any]:
    """Start ``bot`` (``bot.start(token)``) against the stand-in and yield it once usable.

    ``wait="guilds"``: until the bot has parsed GUILD_CREATE for every stand-in guild (fast:
    independent of ``guild_ready_timeout``); ``"ready"``: until ``on_ready`` (discord.py
    waits ``guild_ready_timeout``, default 2 s, after the last GUILD_CREATE; pass a small
    ``guild_ready_timeout=`` to the bot); ``"none"``: just started. Startup failures (e.g.
    ``LoginFailure``) are re-raised. On exit the bot is closed before the block ends.
    ``patch=True`` points ``Route.BASE``/``DEFAULT_GATEWAY`` at the stand-in meanwhile.
    """
    guild_ids = {g.id for g in discord_server.world.guilds}
    guilds_seen = asyncio.Event()

    def all_guilds_parsed() -> bool:
        for gid in guild_ids:
            g = bot.get_guild(gid)
            if g is None or g.unavailable:
                return False
        return True

    async def on_socket_event_type(event: str) -> None:
        # Listeners run as tasks, i.e. after discord.py has parsed the event.
        if event == "GUILD_CREATE" and all_guilds_parsed():
            guilds_seen.set()

    bot.add_listener(on_socket_event_type, "on_socket_event_type")
    with contextlib.ExitStack() as stack:
        if patch:
            stack.enter_context(discord_server.patch_discord_py())
        task = asyncio.create_task(bot.start(token or discord_server.token))
        try:
            if wait != "none":
                waiter = asyncio.ensure_future(
                    bot.wait_until_ready() if wait == "ready" else guilds_seen.wait()
                )
                done, _ = await asyncio.wait(
                    {task, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                if waiter not in done:
                    waiter.cancel()
                    if task in done:
                        task.result()  # re-raise the startup failure
                        raise RuntimeError("bot stopped before it was ready")
                    raise TimeoutError(f"bot not {wait} within {timeout}s")
            yield bot
        finally:
            bot.remove_listener(on_socket_event_type, "on_socket_event_type")
            await bot.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=5.0)
