"""Webhook mode: a small aiohttp server that Telegram POSTs updates to.

Bot API ``setWebhook``: Telegram sends each update as a JSON POST to the URL and repeats it
until it gets a 2xx; with ``secret_token`` set, every call carries it in the
``X-Telegram-Bot-Api-Secret-Token`` header. Here an update is answered 200 only once it is
recorded in the inbox (`UpdateInbox.record`); a call without the right secret gets 401 and
nothing else, a body that is no update 400, a storage failure 500 (Telegram tries again).
"""

from __future__ import annotations

import hmac
import json
import logging
from urllib.parse import urlparse

from aiohttp import web

from bot.core.jobs.ledger import LedgerError

from .inbox import UpdateInbox

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024  # an update is a few kB; Telegram sends no files in updates


class WebhookServer:
    """Listens on ``port`` (every interface: a reverse proxy or Telegram itself in front) at
    the path of ``url``; `start` raises `OSError` when the port cannot be used."""

    def __init__(self, inbox: UpdateInbox, *, url: str, port: int, secret: str) -> None:
        self._inbox = inbox
        self._secret = secret.encode()
        self.path = urlparse(url).path or "/"
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self, host: str = "0.0.0.0") -> None:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(self.path, self._receive)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, host, self.port).start()
        except BaseException:
            await self.stop()
            raise
        log.info("Telegram webhook listening on port %d at %s", self.port, self.path)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            log.warning("Refused a webhook call without the right secret from %s", request.remote)
            return web.Response(status=401)
        try:
            payload = json.loads(await request.read())
        except ValueError:
            return web.Response(status=400)
        update_id = payload.get("update_id") if isinstance(payload, dict) else None
        if type(update_id) is not int:
            return web.Response(status=400)
        try:
            await self._inbox.record([(update_id, payload)])
        except LedgerError as error:
            log.error(
                "Cannot record Telegram update %s (%s); Telegram will resend it", update_id, error
            )
            return web.Response(status=500)
        return web.Response(status=200)
