"""Why a portrait could not be made, in words a member understands.

Every Wiro error becomes one `PortraitFailed`: a plain reason for the member, and the detail
(never a secret) for the log.
"""

from __future__ import annotations

import re
from enum import StrEnum

from bot.wiro import (
    WiroAuthError,
    WiroConcurrencyLimit,
    WiroError,
    WiroInsufficientBalance,
    WiroRateLimited,
    WiroTaskCancelled,
    WiroTaskFailed,
    WiroTimeout,
    WiroValidationError,
)


class FailureReason(StrEnum):
    NO_FACE = "no_face"
    BALANCE = "balance"
    BUSY = "busy"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    AUTH = "auth"
    UNAVAILABLE = "unavailable"
    FAILED = "failed"
    UNDELIVERED = "undelivered"


class PortraitFailed(Exception):
    """A job ended without a portrait. `str()` is the member-facing text."""

    def __init__(self, reason: FailureReason, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.detail = detail or message

    @property
    def owner_should_act(self) -> bool:
        """Failures only the server owner can fix (logged as errors, not member mistakes)."""
        return self.reason in {FailureReason.BALANCE, FailureReason.AUTH}


# InstantID's own wording is "Cannot find any face in the image!"; Wiro's exact text is unknown,
# so match the family of phrasings a face detector failure produces.
_NO_FACE = re.compile(
    r"(no|any|find|detect\w*)\s+(\w+\s+)?faces?\b|face\w*\s+not\s+(found|detected)", re.I
)
_MEMBER_TEXT_LIMIT = 300


def explain(error: WiroError) -> PortraitFailed:
    """Map a Wiro error to the reason a member reads."""
    detail = f"{type(error).__name__}: {error}"
    if isinstance(error, WiroTaskFailed):
        text = str(error).strip()
        if _NO_FACE.search(text):
            return PortraitFailed(
                FailureReason.NO_FACE,
                "Wiro couldn't find a usable face in your photo. Try a clear, well-lit selfie "
                "where your face is large and looking at the camera.",
                detail,
            )
        return PortraitFailed(
            FailureReason.FAILED,
            f"Wiro couldn't make this portrait: {_last_line(text) or 'no reason was given'}",
            detail,
        )
    if isinstance(error, WiroTaskCancelled):
        return PortraitFailed(FailureReason.CANCELLED, "The portrait was cancelled.", detail)
    if isinstance(error, WiroTimeout):
        return PortraitFailed(
            FailureReason.TIMEOUT,
            "Wiro took too long, so I stopped the task. Please try again later.",
            detail,
        )
    if isinstance(error, WiroInsufficientBalance):
        return PortraitFailed(
            FailureReason.BALANCE,
            "This bot's Wiro balance is empty, so no portrait could be made. "
            "The server owner needs to top it up.",
            detail,
        )
    if isinstance(error, WiroConcurrencyLimit):
        return PortraitFailed(
            FailureReason.BUSY,
            "Wiro is busy with other portraits from this bot. Please try again in a minute.",
            detail,
        )
    if isinstance(error, WiroAuthError):
        return PortraitFailed(
            FailureReason.AUTH,
            "Wiro refused the bot's API keys. The server owner needs to check them.",
            detail,
        )
    if isinstance(error, WiroValidationError):
        return PortraitFailed(
            FailureReason.REJECTED,
            f"Wiro rejected these settings: {_last_line(str(error))}",
            detail,
        )
    if isinstance(error, WiroRateLimited):
        return PortraitFailed(
            FailureReason.BUSY,
            "Wiro is receiving too many requests right now. Please try again in a minute.",
            detail,
        )
    return PortraitFailed(
        FailureReason.UNAVAILABLE,
        "Wiro isn't answering right now. Please try again in a few minutes.",
        detail,
    )


def _last_line(text: str) -> str:
    """The last non-empty line of an error log (a traceback's last line names the error)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[-1]
    if len(line) > _MEMBER_TEXT_LIMIT:
        line = line[: _MEMBER_TEXT_LIMIT - 1] + "…"
    return line
