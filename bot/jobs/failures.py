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
    NO_IMAGE = "no_image"  # the task succeeded, but no output was an image from a Wiro host


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


# InstantID's demo says "Cannot find any face in the image!"; Wiro's exact text is not published,
# so match the family of phrasings a face detector failure produces ("no face detected", "face
# not found", "could not detect a face"), but not a log line such as "detected 2 faces".
_NO_FACE = re.compile(
    r"\b(no|zero)\s+(\w+\s+)?faces?\b"
    r"|\b(cannot|can't|could\s*n[o']?t|unable\s+to|failed\s+to)\s+(find|detect|locate)\s+"
    r"(any\s+|a\s+|the\s+)?(\w+\s+)?faces?\b"
    r"|\bfaces?\s+(was\s+|were\s+|is\s+|are\s+)?not\s+(found|detected)\b",
    re.IGNORECASE,
)
# InstantID's predictor picks the largest face with `sorted(face_info, ...)[-1]`: with no face
# it dies of an IndexError in that step (/work/shared/cases/instantid_noface_debugerror.txt).
_FACE_STEP = re.compile(
    r"face_info|face_?analysis|get_face|insightface|antelopev2|face_(emb|kps)|\bbbox\b",
    re.IGNORECASE,
)
_EXCEPTION_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(Error|Exception|Interrupt))\b")
_TRACEBACK = "Traceback (most recent call last):"
_MEMBER_TEXT_LIMIT = 300
NO_FACE_MESSAGE = (
    "Wiro couldn't find a usable face in your photo, so no portrait was made and nothing was "
    "charged. Tips for a good selfie: just you in the picture, facing the camera, your face "
    "large and not cut off, good light, no sunglasses or mask."
)
TECHNICAL_MESSAGE = (
    "Wiro had a problem making this portrait. Nothing was charged; please try again."
)


def explain(error: WiroError) -> PortraitFailed:
    """Map a Wiro error to the reason a member reads."""
    detail = f"{type(error).__name__}: {error}"
    if isinstance(error, WiroTaskFailed):
        # Wiro's error text is a stderr log: it goes to the log and the ledger, never to the
        # member, who reads a plain sentence.
        if is_no_face(str(error)):
            return PortraitFailed(FailureReason.NO_FACE, NO_FACE_MESSAGE, detail)
        return PortraitFailed(FailureReason.FAILED, TECHNICAL_MESSAGE, detail)
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


def is_no_face(text: str) -> bool:
    """Whether a task's error text says the photo has no usable face: a face detector's
    wording, or an IndexError raised in the face step of a traceback."""
    if _NO_FACE.search(text):
        return True
    traceback = text.rpartition(_TRACEBACK)[2] if _TRACEBACK in text else ""
    exceptions = [
        m.group(1) for line in traceback.splitlines() if (m := _EXCEPTION_LINE.match(line))
    ]
    return (
        bool(exceptions)
        and exceptions[-1].endswith("IndexError")
        and bool(_FACE_STEP.search(traceback))
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
