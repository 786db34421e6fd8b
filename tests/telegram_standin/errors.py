"""Bot API answers: ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N,
"description": "...", "parameters": {...}}`` (core.telegram.org/bots/api#making-requests).

Descriptions are the strings the official Bot API server (tdlib/telegram-bot-api) sends;
where this stand-in had to choose its own wording, the README says so.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
BLOCKED = "Forbidden: bot was blocked by the user"
TERMINATED_BY_OTHER = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)


class ApiError(Exception):
    """Raised by a method handler; becomes an ``ok: false`` answer."""

    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def response(self) -> web.Response:
        return error_response(self.code, self.description, self.parameters)


def bad_request(detail: str) -> ApiError:
    """400 ``Bad Request: <detail>``."""
    return ApiError(400, f"Bad Request: {detail}")


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(),
        content_type="application/json",
    )


def ok_response(result: Any) -> web.Response:
    return json_response({"ok": True, "result": result})


def error_response(
    code: int, description: str, parameters: dict[str, Any] | None = None
) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return json_response(body, status=code)


def retry_after_error(seconds: int) -> ApiError:
    """429 as Telegram sends it: whole seconds in ``parameters.retry_after``."""
    return ApiError(
        429, f"Too Many Requests: retry after {seconds}", {"retry_after": max(1, int(seconds))}
    )
