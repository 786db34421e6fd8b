"""Run the real aiogram client against a ``TelegramStandIn`` (aiogram imported lazily)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from .server import TelegramStandIn


@contextlib.asynccontextmanager
async def aiogram_bot(standin: TelegramStandIn, **bot_kwargs: Any) -> AsyncIterator[Any]:
    """An ``aiogram.Bot`` whose session talks to the stand-in
    (``AiohttpSession(api=TelegramAPIServer.from_base(standin.base_url))``), closed on exit."""
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    session = AiohttpSession(api=TelegramAPIServer.from_base(standin.base_url))
    bot = Bot(standin.token, session=session, **bot_kwargs)
    try:
        yield bot
    finally:
        await close_session(bot)


async def close_session(bot: Any) -> None:
    """Close the bot's HTTP session. ``AiohttpSession.close()`` then sleeps 250 ms to let TLS
    connections close, which plain HTTP on 127.0.0.1 does not need, so tests close the
    underlying aiohttp session directly."""
    inner = getattr(bot.session, "_session", None)
    if inner is not None and not inner.closed:
        await inner.close()


@contextlib.asynccontextmanager
async def polling(
    dispatcher: Any,
    bot: Any,
    standin: TelegramStandIn,
    *,
    timeout: float = 5.0,
    **polling_kwargs: Any,
) -> AsyncIterator[asyncio.Task[None]]:
    """``dispatcher.start_polling(bot)`` as a task until the block ends; yields once the first
    ``getUpdates`` is waiting at the stand-in. On exit ``stop_polling()`` and the task ends
    (its errors re-raised). Signals are left alone; the bot session stays open."""
    polling_kwargs.setdefault("handle_signals", False)
    polling_kwargs.setdefault("close_bot_session", False)
    task = asyncio.create_task(dispatcher.start_polling(bot, **polling_kwargs))
    waiter = asyncio.ensure_future(standin.wait_for(lambda s: s.updates.polling, timeout))
    done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if waiter not in done:
        waiter.cancel()
        task.result()  # re-raise why polling stopped
        raise RuntimeError("polling stopped before its first getUpdates")
    waiter.result()
    try:
        yield task
    finally:
        if not task.done():
            await dispatcher.stop_polling()
        await asyncio.wait_for(task, timeout)
