"""Watching the bot's calls to Discord, for the metrics and ``/healthz``.

discord.py takes an aiohttp `TraceConfig` (``Client(http_trace=...)``) for its HTTP session:
a request that ends with status 400 or more, or fails without an answer, is counted in
``portrait_frontend_api_errors_total`` (`bot.core.metrics`). Rate limits (429) are counted
too, though discord.py waits them out itself. `gateway_problem` tells ``/healthz`` whether the
gateway connection is up.
"""

from __future__ import annotations

from types import SimpleNamespace

import aiohttp
import discord

from bot.core.metrics import Metrics

__all__ = ["api_trace", "gateway_problem"]


def api_trace(metrics: Metrics) -> aiohttp.TraceConfig:
    """A trace that counts Discord's error answers and failed requests in ``metrics``."""
    trace = aiohttp.TraceConfig()

    async def ended(
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        if params.response.status >= 400:
            metrics.frontend_error("discord", params.response.status)

    async def failed(
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestExceptionParams,
    ) -> None:
        metrics.frontend_error("discord", None)

    trace.on_request_end.append(ended)
    trace.on_request_exception.append(failed)
    return trace


def gateway_problem(client: discord.Client) -> str | None:
    """None while ``client`` is connected to Discord's gateway, else why not."""
    if client.is_closed():
        return "the Discord client is closed"
    if isinstance(client, discord.AutoShardedClient):
        down = [shard.id for shard in client.shards.values() if shard.is_closed()]
        if not client.is_ready() or not client.shards:
            return "not connected to Discord's gateway"
        return f"gateway shard(s) {', '.join(map(str, down))} not connected" if down else None
    socket = client.ws
    if not client.is_ready() or socket is None or not socket.open:
        return "not connected to Discord's gateway"
    return None
