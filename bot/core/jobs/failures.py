"""Why a portrait could not be made, in words a member understands.

Every Wiro error becomes one `PortraitFailed`: a plain reason for the member, and the detail
(never a secret) for the log.
"""

from __future__ import annotations

import re
from enum import StrEnum

from bot.core.wiro import (
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
        """Failures only the bot's owner can fix (logged as errors, not member mistakes)."""
        return self.reason in {FailureReason.BALANCE, FailureReason.AUTH}


# InstantID's demo says "Cannot find any face in the image!"; Wiro's exact text is not published,
# so match the family of phrasings a face detector failure produces ("no face detected", "face
# not found", "could not detect a face", "Detected 0 faces"). Each is anchored on a detection
# word (find, detect, found, detected, locate), so a prompt echoed in the log ("negative: no
# face paint") or a line such as "detected 2 faces" does not count.
_NO_FACE = re.compile(
    r"\b(no|zero|0)\s+(\w+\s+)?faces?\s+((was|were|is|are|have\s+been)\s+)?"
    r"(found|detected|located)\b"
    r"|\b(found|detected|located)\s+(no|zero|0)\s+(\w+\s+)?faces?\b"
    r"|\b(cannot|can't|could\s*n[o']?t|unable\s+to|failed\s+to|did\s*n[o']?t)\s+"
    r"(find|detect|locate)\s+(any\s+|a\s+|the\s+)?(\w+\s+)?faces?\b"
    r"|\bfaces?\s+((was|were|is|are)\s+)?not\s+(found|detected)\b",
    re.IGNORECASE,
)
# InstantID's predictor picks the largest face with `sorted(face_info, ...)[-1]`: with no face
# it dies of an IndexError in that step (/work/shared/cases/instantid_noface_debugerror.txt).
# Only the frame that raised counts: the pipeline call (`pipe(..., image=face_kps)`) appears in
# the traceback of any error raised further down.
_FACE_STEP = re.compile(
    r"face_info|face_?analysis|get_face|insightface|antelopev2|\bbbox\b", re.IGNORECASE
)
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit))\b(?::|$)")
_FRAME_LINE = re.compile(r'^\s*File "[^"]*", line \d+')
_TRACEBACK = re.compile(r"^Traceback \(most recent call last\):\s*$", re.MULTILINE)
# Python's words between the tracebacks of a chain (`raise ... from`, or an error in `except`).
_CHAINED = re.compile(
    r"(During handling of the above exception, another exception occurred:"
    r"|The above exception was the direct cause of the following exception:)\s*$"
)
NO_FACE_MESSAGE = (
    "Wiro couldn't find a usable face in your photo, so no portrait was made and nothing was "
    "charged. Tips for a good selfie: just you in the picture, facing the camera, your face "
    "large and not cut off, good light, no sunglasses or mask."
)
# Wiro's rejection text names its own fields and may echo values: log and ledger only.
REJECTED_MESSAGE = (
    "Wiro refused these settings. Please try other ones (the model, the LoRA or the values)."
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
            "The bot's owner needs to top it up.",
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
            "Wiro refused the bot's API keys. The bot's owner needs to check them.",
            detail,
        )
    if isinstance(error, WiroValidationError):
        return PortraitFailed(
            FailureReason.REJECTED,
            REJECTED_MESSAGE,
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
    """Whether a task's error text (Wiro's ``debugerror``, a stderr log) says the photo has no
    usable face: a face detector's wording anywhere, or an IndexError raised in the face step,
    i.e. by the last frame of a traceback in the last chain of tracebacks (an IndexError in the
    face step that led, while being handled, to another error still counts)."""
    if _NO_FACE.search(text):
        return True
    return any(_index_error_in_face_step(block) for block in _last_chain(text))


def _last_chain(text: str) -> list[str]:
    """The tracebacks of the last exception chain, last raised first (the whole text when it
    has no "Traceback" header: a log may have been cut)."""
    blocks = _TRACEBACK.split(text)
    chain = [blocks.pop()]
    while len(blocks) > 1 and _CHAINED.search(blocks[-1]):
        chain.append(blocks.pop())
    return chain


def _index_error_in_face_step(block: str) -> bool:
    lines = [line for line in block.splitlines() if line.strip()]
    raised = next((i for i in reversed(range(len(lines))) if _EXCEPTION_LINE.match(lines[i])), None)
    if raised is None or not _EXCEPTION_LINE.match(lines[raised])[1].endswith("IndexError"):
        return False
    frame = next((i for i in reversed(range(raised)) if _FRAME_LINE.match(lines[i])), None)
    if frame is None:
        return False
    # The frame's "File ..., in <function>" line and its source line (after 3.11's carets).
    source = [line for line in lines[frame + 1 : raised] if line.strip(" ^~") != ""][:1]
    return bool(_FACE_STEP.search(" ".join([lines[frame], *source])))
