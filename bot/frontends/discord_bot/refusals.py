"""What Discord's answer to a request means, and its true cause in a member's words.

Sources: Discord's JSON error codes (https://discord.com/developers/docs/topics/opcodes-and-status-codes)
and what discord.py 2.7 lets through (`discord/http.py`): it retries a 429 that carries a `Via`
header itself (unless `retry_after` exceeds the client's `max_ratelimit_timeout`, then it raises
`RateLimited`), and 500/502/504/524 up to five times (about 25 s) before raising
`DiscordServerError`. A 429 without `Via` (Cloudflare's own limit) and a 503 reach us at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

import aiohttp
import discord

# Unknown Webhook, Invalid Webhook Token, Unknown Interaction: the token, not the message, is gone.
DEAD_TOKEN_CODES = frozenset({10015, 50027, 10062})
UNKNOWN_CHANNEL = 10003
MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013
CANNOT_DM = 50007
INVALID_FORM_BODY = 50035
THREAD_ARCHIVED = 50083
REQUEST_TOO_LARGE = 40005
OLD_MESSAGE_EDITS = 30046  # "Maximum number of edits to messages older than 1 hour reached"


class Verdict(Enum):
    LATER = "later"  # 429, 5xx, no connection: the same request may work later
    DEAD_TOKEN = "dead token"  # the interaction's 15 minutes are over: use another way
    FORM = "form"  # 50035: the bot built a message Discord refuses (a bug in the bot)
    TOO_LARGE = "too large"  # 40005 / 413: smaller files, or fewer per message
    REFUSED = "refused"  # a lasting answer for this place: channel gone, no permission, ...


@dataclass(frozen=True)
class Refusal:
    verdict: Verdict
    cause: str  # for the member: why, in words they can act on
    detail: str  # for the owner's log (status, code, Discord's text; never a token)
    retry_after: float | None = None  # seconds Discord asked us to wait, when it said


def read_refusal(error: BaseException, *, missing: Iterable[str] = ()) -> Refusal:
    """Sort a failed request. ``missing``: permission names the bot lacks where it posted, as
    far as the cached guild knows (used to name the permission on a 403)."""
    if isinstance(error, discord.RateLimited):
        return Refusal(
            Verdict.LATER, _BUSY, f"rate limited for {error.retry_after:.0f} s", error.retry_after
        )
    if isinstance(error, (aiohttp.ClientError, OSError, asyncio.TimeoutError)):
        return Refusal(Verdict.LATER, _BUSY, f"no answer from Discord ({type(error).__name__})")
    if not isinstance(error, discord.HTTPException):
        raise TypeError(f"not a Discord answer: {type(error).__name__}") from error
    status, code = error.status, error.code
    detail = f"HTTP {status}, code {code}: {error.text[:200]}"
    if status == 429 or status >= 500:
        return Refusal(Verdict.LATER, _BUSY, detail, retry_after_of(error))
    if code in DEAD_TOKEN_CODES or status == 401:
        return Refusal(Verdict.DEAD_TOKEN, "my time to answer here ran out", detail)
    if code == INVALID_FORM_BODY:
        return Refusal(Verdict.FORM, "Discord refused the message I built", detail)
    if code == REQUEST_TOO_LARGE or status == 413:
        return Refusal(Verdict.TOO_LARGE, "the images were too large to upload", detail)
    return Refusal(Verdict.REFUSED, _lasting_cause(status, code, list(missing)), detail)


_BUSY = "Discord kept answering that it was busy"


def _lasting_cause(status: int, code: int, missing: list[str]) -> str:
    if code == CANNOT_DM:
        return "your direct messages are closed to me"
    if code == UNKNOWN_CHANNEL or (status == 404 and code == 0):
        return "the channel no longer exists"
    if code == MISSING_ACCESS:
        return "I can no longer see the channel (the View Channel permission)"
    if code == MISSING_PERMISSIONS or status == 403:
        if missing:
            return f"I'm missing the {_names(missing)} permission in the channel"
        return "I'm missing a permission in the channel (Send Messages or Attach Files)"
    if code == THREAD_ARCHIVED:
        return "the thread is archived"
    return f"Discord refused it (HTTP {status}, code {code})"


def _names(permissions: list[str]) -> str:
    words = [name.replace("_", " ").title() for name in permissions]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def retry_after_of(error: discord.HTTPException) -> float | None:
    """Seconds Discord (or Cloudflare) asked to wait: the ``Retry-After`` header, if any."""
    headers = getattr(error.response, "headers", None) or {}
    try:
        value = float(headers.get("Retry-After", ""))
    except ValueError:
        return None
    return value if value >= 0 else None
