"""Misbehaviour on request, plus Discord-shaped error responses.

Patterns are ``fnmatch`` globs over the request path *relative to the API base*
(``/webhooks/*/messages/@original``; ``*`` also spans ``/``), or over the raw path for
non-API URLs (``/attachments/*``). ``method`` may be ``"*"``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from aiohttp import web

from .records import RequestRecord

JSON_HEADERS = {"Content-Type": "application/json"}  # exactly this: discord.py compares ==


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data, separators=(",", ":")).encode(),
        headers={**JSON_HEADERS, **(headers or {})},
    )


def discord_error(
    status: int, code: int, message: str, errors: dict[str, Any] | None = None
) -> web.Response:
    body: dict[str, Any] = {"message": message, "code": code}
    if errors:
        body["errors"] = errors
    return json_response(body, status=status)


def not_found_route() -> web.Response:
    return discord_error(404, 0, "404: Not Found")


def unknown_message() -> web.Response:
    return discord_error(404, 10008, "Unknown Message")


def unknown_interaction() -> web.Response:
    return discord_error(404, 10062, "Unknown interaction")


def invalid_webhook_token() -> web.Response:
    return discord_error(401, 50027, "Invalid Webhook Token")


def unknown_webhook() -> web.Response:
    return discord_error(404, 10015, "Unknown Webhook")


def missing_permissions() -> web.Response:
    return discord_error(403, 50013, "Missing Permissions")


def already_acknowledged() -> web.Response:
    return discord_error(400, 40060, "Interaction has already been acknowledged.")


def invalid_form_body(errors: dict[str, Any]) -> web.Response:
    return discord_error(400, 50035, "Invalid Form Body", errors)


def rate_limited(retry_after: float, *, is_global: bool, scope: str, bucket: str) -> web.Response:
    """A 429 discord.py accepts as a real rate limit (it needs ``Via`` and a JSON body,
    otherwise it assumes a Cloudflare ban and raises immediately)."""
    headers = {
        "Via": "1.1 google",
        "Retry-After": str(max(1, math.ceil(retry_after))),
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
        "X-RateLimit-Reset-After": f"{retry_after:.3f}",
        "X-RateLimit-Bucket": bucket,
        "X-RateLimit-Scope": scope,
    }
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    body = {
        "message": "You are being rate limited.",
        "retry_after": retry_after,
        "global": is_global,
    }
    if is_global:
        body["code"] = 0
    return json_response(body, status=429, headers=headers)


@dataclass
class Fault:
    method: str
    pattern: str
    kind: str  # "rate_limit", "cloudflare", "error", "delay"
    times: int | None  # None = forever
    when: Callable[[RequestRecord], bool] | None = None
    status: int = 0
    code: int = 0
    message: str = ""
    retry_after: float = 0.0
    is_global: bool = False
    scope: str = "user"
    delay: float = 0.0
    hits: list[float] = field(default_factory=list)  # monotonic time of each firing

    @property
    def exhausted(self) -> bool:
        return self.times is not None and len(self.hits) >= self.times

    def matches(self, req: RequestRecord, api_prefix: str) -> bool:
        if self.exhausted or self.method not in ("*", req.method):
            return False
        path = req.path
        if path.startswith(api_prefix) and not self.pattern.startswith(api_prefix):
            path = path[len(api_prefix) :] or "/"
        if not fnmatchcase(path, self.pattern):
            return False
        return self.when is None or bool(self.when(req))

    def describe(self) -> str:
        return f"{self.kind} {self.method} {self.pattern}"

    def response(self) -> web.Response:
        if self.kind == "rate_limit":
            bucket = f"standin-{abs(hash(self.pattern)) % 10**8:08d}"
            return rate_limited(
                self.retry_after, is_global=self.is_global, scope=self.scope, bucket=bucket
            )
        if self.kind == "cloudflare":
            body = {"message": "You are being rate limited.", "retry_after": self.retry_after}
            retry = {"Retry-After": str(max(1, math.ceil(self.retry_after)))}
            return json_response(body, status=429, headers=retry)
        return discord_error(self.status, self.code, self.message)


class Faults:
    """``discord_server.faults``: register misbehaviour; each returns the ``Fault``
    (inspect ``fault.hits`` to see when it fired)."""

    def __init__(self) -> None:
        self.active: list[Fault] = []

    def _add(self, fault: Fault) -> Fault:
        self.active.append(fault)
        return fault

    def rate_limit(
        self,
        method: str,
        pattern: str,
        *,
        times: int = 1,
        retry_after: float = 0.2,
        is_global: bool = False,
        scope: str = "user",
        when: Callable[[RequestRecord], bool] | None = None,
    ) -> Fault:
        """429 with ``retry_after`` (seconds) and X-RateLimit-* headers, ``times`` times."""
        if is_global:
            scope = "global"
        return self._add(
            Fault(
                method,
                pattern,
                "rate_limit",
                times,
                when,
                429,
                0,
                "",
                retry_after,
                is_global,
                scope,
            )
        )

    def cloudflare_rate_limit(
        self,
        method: str,
        pattern: str,
        *,
        times: int = 1,
        retry_after: float = 1.0,
        when: Callable[[RequestRecord], bool] | None = None,
    ) -> Fault:
        """429 from Cloudflare's limit in front of Discord: no ``Via`` header and no rate-limit
        headers, only ``Retry-After``; discord.py raises it at once instead of waiting."""
        return self._add(
            Fault(method, pattern, "cloudflare", times, when, 429, retry_after=retry_after)
        )

    def error(
        self,
        method: str,
        pattern: str,
        status: int,
        code: int,
        message: str,
        *,
        times: int | None = None,
        when: Callable[[RequestRecord], bool] | None = None,
    ) -> Fault:
        """Any Discord JSON error ``{"code": code, "message": message}``."""
        return self._add(Fault(method, pattern, "error", times, when, status, code, message))

    def forbidden(
        self,
        method: str,
        pattern: str,
        *,
        times: int | None = None,
        when: Callable[[RequestRecord], bool] | None = None,
    ) -> Fault:
        """403 code 50013 Missing Permissions; ``when=lambda r: r.has_files`` for uploads only."""
        return self.error(
            method, pattern, 403, 50013, "Missing Permissions", times=times, when=when
        )

    def not_found(
        self,
        method: str,
        pattern: str,
        *,
        code: int = 10008,
        message: str = "Unknown Message",
        times: int | None = None,
    ) -> Fault:
        return self.error(method, pattern, 404, code, message, times=times)

    def server_error(
        self, method: str, pattern: str, *, status: int = 500, times: int = 1
    ) -> Fault:
        """5xx: discord.py retries these after 1 s, 3 s, ... (slow; use times=1)."""
        return self.error(method, pattern, status, 0, "500: Internal Server Error", times=times)

    def delay(
        self,
        method: str,
        pattern: str,
        seconds: float,
        *,
        times: int | None = None,
        when: Callable[[RequestRecord], bool] | None = None,
    ) -> Fault:
        """Answer normally, but only after ``seconds`` (cut short when the server stops)."""
        return self._add(Fault(method, pattern, "delay", times, when, delay=seconds))

    def clear(self) -> None:
        self.active.clear()

    def select(self, req: RequestRecord, api_prefix: str) -> tuple[float, Fault | None]:
        """Total delay to apply, and the first error/429 fault to answer with (if any)."""
        delay = 0.0
        answer: Fault | None = None
        now = time.monotonic()
        for fault in self.active:
            if not fault.matches(req, api_prefix):
                continue
            if fault.kind == "delay":
                fault.hits.append(now)
                delay += fault.delay
            elif answer is None:
                fault.hits.append(now)
                answer = fault
        return delay, answer
