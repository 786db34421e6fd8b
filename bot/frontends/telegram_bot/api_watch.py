"""Watching the bot's calls to the Telegram Bot API, for the metrics and ``/healthz``.

An aiogram request middleware (``bot.session.middleware``) sees every API call: a call that
raises `TelegramAPIError` (an error answer: its ``error_code``, or 0 when aiogram gives none)
or `TelegramNetworkError` (no answer) is counted in ``portrait_frontend_api_errors_total``
(`bot.core.metrics`), and the last call's outcome tells `problem` whether Telegram is
reachable. With long polling a ``getUpdates`` goes out at least every poll (30 s), so the last
outcome is always recent.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import BaseRequestMiddleware
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError

from bot.core.metrics import Metrics

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.client.session.middlewares.base import NextRequestMiddlewareType
    from aiogram.methods import Response, TelegramMethod

__all__ = ["ApiWatch"]


class ApiWatch(BaseRequestMiddleware):
    """Counts failed Telegram API calls and remembers whether the last one got an answer."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._unreachable_since: float | None = None

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[Any],
        bot: Bot,
        method: TelegramMethod[Any],
    ) -> Response[Any]:
        try:
            response = await make_request(bot, method)
        except TelegramNetworkError:
            self._metrics.frontend_error("telegram", None)
            if self._unreachable_since is None:
                self._unreachable_since = time.monotonic()
            raise
        except TelegramAPIError as error:
            self._metrics.frontend_error("telegram", _status(error))
            self._unreachable_since = None  # an error answer is still an answer
            raise
        self._unreachable_since = None
        return response

    def problem(self) -> str | None:
        """None while the last call got an answer, else why not (for ``/healthz``)."""
        if self._unreachable_since is None:
            return None
        seconds = time.monotonic() - self._unreachable_since
        return f"the Telegram Bot API has not answered for {seconds:.0f} s"


def _status(error: TelegramAPIError) -> int:
    method_error = getattr(error, "error_code", None)
    return int(method_error) if isinstance(method_error, int) else 0
