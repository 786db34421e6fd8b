"""HTTP front door: one catch-all aiohttp handler that records the request, applies
faults, authenticates, and dispatches to the route table below."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import faults as errors
from . import payloads, rest_channels, rest_commands, rest_interactions
from .messages import UploadedFile, read_body
from .records import RequestRecord

if TYPE_CHECKING:
    from .server import DiscordStandIn

log = logging.getLogger("discord_standin.rest")

API_PREFIX = re.compile(r"^/api(?:/v(\d+))?(?=/|$)")


@dataclass
class Ctx:
    server: DiscordStandIn
    request: web.Request
    record: RequestRecord
    params: dict[str, str]
    body: Any
    files: list[UploadedFile]

    def int_param(self, name: str) -> int:
        """A snowflake path parameter; -1 (never found) if it is not a number."""
        value = self.params[name]
        return int(value) if value.isdigit() else -1


Handler = Callable[[Ctx], Awaitable[web.Response]]


@dataclass
class RouteDef:
    method: str
    template: str
    handler: Handler
    auth: bool
    regex: re.Pattern[str]


def _route(method: str, template: str, handler: Handler, auth: bool = True) -> RouteDef:
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return RouteDef(method, template, handler, auth, re.compile(f"^{pattern}$"))


async def users_me(ctx: Ctx) -> web.Response:
    data = payloads.user(ctx.server.world.bot_user) | {"verified": True, "mfa_enabled": False}
    return errors.json_response(data)


async def get_user(ctx: Ctx) -> web.Response:
    user = ctx.server.world.user(ctx.int_param("user_id"))
    if user is None:
        return errors.discord_error(404, 10013, "Unknown User")
    return errors.json_response(payloads.user(user))


async def app_info(ctx: Ctx) -> web.Response:
    return errors.json_response(payloads.application(ctx.server.world))


async def gateway(ctx: Ctx) -> web.Response:
    return errors.json_response({"url": ctx.server.gateway_url})


async def gateway_bot(ctx: Ctx) -> web.Response:
    limit = {"total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1}
    return errors.json_response(
        {
            "url": ctx.server.gateway_url,
            "shards": ctx.server.recommended_shards,
            "session_start_limit": limit,
        }
    )


ROUTES: list[RouteDef] = [
    _route("GET", "/users/@me", users_me),
    _route("GET", "/users/{user_id}", get_user),
    _route("POST", "/users/@me/channels", rest_channels.create_dm),
    _route("GET", "/oauth2/applications/@me", app_info),
    _route("GET", "/applications/@me", app_info),
    _route("GET", "/gateway", gateway, auth=False),
    _route("GET", "/gateway/bot", gateway_bot),
    *rest_commands.routes(_route),
    *rest_channels.routes(_route),
    *rest_interactions.routes(_route),
]


def _match(method: str, path: str) -> tuple[RouteDef | None, dict[str, str], bool]:
    path_known = False
    for route in ROUTES:
        m = route.regex.match(path)
        if m:
            path_known = True
            if route.method == method:
                return route, m.groupdict(), True
    return None, {}, path_known


class RestApp:
    """The aiohttp request handler; ``server`` holds the state."""

    def __init__(self, server: DiscordStandIn) -> None:
        self.server = server

    async def handle(self, request: web.Request) -> web.StreamResponse:
        server = self.server
        path = request.path
        if request.headers.get("Upgrade", "").lower() == "websocket" and path in (
            "/",
            "/gateway",
            "/gateway/",
        ):
            return await server.gateway.handle(request)
        record = RequestRecord(
            method=request.method,
            path=path,
            query=dict(request.query),
            started_at=time.monotonic(),
        )
        server.requests.append(record)
        try:
            response = await self._answer(request, record)
        except Exception as exc:  # a stand-in bug: make it loud but don't trigger 5xx retries
            log.exception("stand-in handler failed for %s %s", request.method, path)
            server.internal_errors.append(f"{request.method} {path}: {exc!r}")
            response = errors.discord_error(400, 0, f"stand-in internal error: {exc!r}")
        record.status = response.status
        record.finished_at = time.monotonic()
        server.notifier.notify()
        return response

    async def _answer(self, request: web.Request, record: RequestRecord) -> web.Response:
        server = self.server
        body, files = await read_body(request)
        record.json = body
        record.files = [(f.field, f.filename, f.data) for f in files]
        if sum(len(f.data) for f in files) > server.upload_limit:
            return errors.discord_error(413, 40005, "Request entity too large")
        delay, fault = server.faults.select(record, server.api_prefix)
        if delay:
            await server.interruptible_sleep(delay)
            record.fault = f"delayed {delay}s"
        if fault is not None:
            record.fault = fault.describe()
            return fault.response()

        prefix = API_PREFIX.match(request.path)
        if prefix is None:
            return self._cdn(request, record)
        path = request.path[prefix.end() :] or "/"
        route, params, path_known = _match(request.method, path)
        if route is None:
            server.unknown_routes.append(f"{request.method} {path}")
            if path_known:
                return errors.discord_error(405, 0, "405: Method Not Allowed")
            return errors.not_found_route()
        record.route = f"{route.method} {route.template}"
        if route.auth and request.headers.get("Authorization") != f"Bot {server.token}":
            return errors.discord_error(401, 0, "401: Unauthorized")
        ctx = Ctx(server, request, record, params, body, files)
        return await route.handler(ctx)

    def _cdn(self, request: web.Request, record: RequestRecord) -> web.Response:
        path = request.path
        if path.startswith("/media/"):
            path = path[len("/media") :]
        att = self.server.cdn.get(path) if request.method in ("GET", "HEAD") else None
        if att is None:
            self.server.unknown_routes.append(f"{request.method} {request.path}")
            return web.Response(status=404, text="404: Not Found")
        record.route = "GET /<cdn>"
        return web.Response(
            body=att.data,
            headers={"Content-Type": att.content_type or "application/octet-stream"},
        )
