"""Turn one Wiro HTTP response into its JSON payload or a typed error.

The HTTP status is checked first (401/403 auth, 400/422 validation, 404 not
found, 408 request timeout, 429 rate limited, 5xx server). On 2xx the body is
Wiro's envelope ``{"result": bool, "errors": [...], ...}``; when ``result`` is
false, ``errors[0]`` decides the error. ``errors`` may hold objects
``{"code", "message"}`` or plain strings; a string has no code and is
classified by its text.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from .errors import (
    WiroAuthError,
    WiroConcurrencyLimit,
    WiroConnectionError,
    WiroError,
    WiroInsufficientBalance,
    WiroNotFound,
    WiroRateLimited,
    WiroServerError,
    WiroValidationError,
)

__all__ = ["error_from_message", "parse_response", "parse_retry_after"]

_AUTH_TEXT = re.compile(
    r"requires signature|authorization is not|requested ip .* is not allowed|"
    r"bearer token|sign[ -]?in required|api key",
    re.IGNORECASE,
)
_VALIDATION_TEXT = re.compile(
    r"request parameter|parameters are invalid|\bmust be\b|\brequired\b|\binvalid\b|"
    r"not allowed",
    re.IGNORECASE,
)
_NOT_FOUND_TEXT = re.compile(
    r"there is no task|not[ -]exist|not found|not[ -]accessible|not in a cancellable state|"
    r"could not be killed",
    re.IGNORECASE,
)
_BALANCE_TEXT = re.compile(r"insufficient balance", re.IGNORECASE)
_CONCURRENCY_TEXT = re.compile(r"concurren", re.IGNORECASE)

_BODY_SNIPPET = 200


def error_from_message(
    message: str, code: int | None, *, http_status: int | None = None
) -> WiroError:
    """Classify one ``errors[]`` entry (a code and/or a message) as a typed error."""
    kwargs = {"code": code, "http_status": http_status}
    if code == 97:
        return WiroInsufficientBalance(message, **kwargs)
    if code == 96:
        return WiroConcurrencyLimit(message, **kwargs)
    if code == 1:
        return WiroNotFound(message, **kwargs)
    if code in (98, 99):
        return WiroAuthError(message, **kwargs)
    if _AUTH_TEXT.search(message):
        return WiroAuthError(message, **kwargs)
    if code is None:
        # Plain-string errors carry no code: read the text.
        if _BALANCE_TEXT.search(message):
            return WiroInsufficientBalance(message, **kwargs)
        if _CONCURRENCY_TEXT.search(message):
            return WiroConcurrencyLimit(message, **kwargs)
        if _NOT_FOUND_TEXT.search(message):
            return WiroNotFound(message, **kwargs)
    if _VALIDATION_TEXT.search(message):
        return WiroValidationError(message, **kwargs)
    if code in (0, None):
        return WiroServerError(message, **kwargs)
    return WiroError(message, **kwargs)


def parse_response(
    status: int, body: bytes, headers: Mapping[str, str], *, what: str
) -> dict[str, object]:
    """The payload of a successful call, or raise the matching :class:`WiroError`.

    ``what`` names the call in messages (e.g. ``"POST /Task/Detail"``).
    """
    payload = _decode(body)
    if not 200 <= status < 300:
        raise _http_error(status, payload, body, headers, what=what)
    if not isinstance(payload, dict):
        raise WiroServerError(
            f"{what}: malformed JSON response: {_snippet(body)}", http_status=status
        )
    if payload.get("result") in (True, "true", 1):
        return payload
    first = _first_error(payload)
    if first is None:
        raise WiroServerError(f"{what}: result is false without an error", http_status=status)
    message, code = first
    raise error_from_message(message or f"{what}: error code {code}", code, http_status=status)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def _http_error(
    status: int,
    payload: object,
    body: bytes,
    headers: Mapping[str, str],
    *,
    what: str,
) -> WiroError:
    first = _first_error(payload) if isinstance(payload, dict) else None
    detail = first[0] if first and first[0] else _snippet(body)
    code = first[1] if first else None
    message = f"{what}: HTTP {status}" + (f": {detail}" if detail else "")
    kwargs = {"code": code, "http_status": status}
    if status in (401, 403):
        return WiroAuthError(message, **kwargs)
    if status == 404:
        return WiroNotFound(message, **kwargs)
    if status in (400, 422):
        return WiroValidationError(message, **kwargs)
    if status == 408:
        return WiroConnectionError(message, **kwargs)
    if status == 429:
        return WiroRateLimited(
            message, **kwargs, retry_after=parse_retry_after(headers.get("Retry-After"))
        )
    if status >= 500:
        return WiroServerError(message, **kwargs)
    return WiroError(message, **kwargs)


def _first_error(payload: Mapping[str, object]) -> tuple[str, int | None] | None:
    errors = payload.get("errors")
    if isinstance(errors, (str, Mapping)):
        errors = [errors]
    if not isinstance(errors, list) or not errors:
        return None
    entry = errors[0]
    if isinstance(entry, Mapping):
        return str(entry.get("message") or "").strip(), _code(entry.get("code"))
    return str(entry).strip(), None


def _code(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _decode(body: bytes) -> object:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def _snippet(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    text = " ".join(text.split())
    return text[:_BODY_SNIPPET] + ("…" if len(text) > _BODY_SNIPPET else "")
