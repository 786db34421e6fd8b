"""The Wiro error hierarchy.

Every error carries ``message`` (Wiro's text or ours; never credentials),
``code`` (Wiro's ``errors[0].code`` when it sent one) and ``http_status``.
Catch by kind: transient ones (:class:`WiroConnectionError`,
:class:`WiroServerError`, :class:`WiroRateLimited`) may succeed later; the
others will not without a change on our side or the user's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .task import summarize_debug_error

if TYPE_CHECKING:
    from .task import Task

__all__ = [
    "WiroAuthError",
    "WiroConcurrencyLimit",
    "WiroConnectionError",
    "WiroError",
    "WiroInsufficientBalance",
    "WiroNotFound",
    "WiroRateLimited",
    "WiroServerError",
    "WiroTaskCancelled",
    "WiroTaskFailed",
    "WiroTimeout",
    "WiroValidationError",
]


class WiroError(Exception):
    """Base class of everything this package raises."""

    def __init__(
        self, message: str, *, code: int | None = None, http_status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, code={self.code!r}, "
            f"http_status={self.http_status!r})"
        )


class WiroAuthError(WiroError):
    """Bad or missing key/signature, IP not allowed (HTTP 401/403 or an auth message)."""


class WiroInsufficientBalance(WiroError):
    """Code 97: the Wiro account balance is too low to run."""


class WiroConcurrencyLimit(WiroError):
    """Code 96: too many tasks running for the balance; retry after one ends."""


class WiroValidationError(WiroError):
    """A request parameter was missing, mistyped or out of range (code 0, HTTP 400/422)."""


class WiroNotFound(WiroError):
    """Code 1 (no such task, not accessible, not cancellable) or HTTP 404."""


class WiroRateLimited(WiroError):
    """HTTP 429; ``retry_after`` holds the server's Retry-After in seconds, if sent."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        http_status: int | None = 429,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code, http_status=http_status)
        self.retry_after = retry_after


class WiroServerError(WiroError):
    """HTTP 5xx, an unclassified code-0 error, or a response we could not parse."""


class WiroConnectionError(WiroError):
    """The request did not complete: connection refused or dropped, or it timed out."""


class WiroTimeout(WiroError):
    """``wait()`` gave up after its overall timeout; the task may still be running."""

    def __init__(self, message: str, *, task: Task | None = None) -> None:
        super().__init__(message)
        self.task = task


class WiroTaskFailed(WiroError):
    """The task ended without a usable result; ``message`` is the tail of its stderr."""

    def __init__(self, message: str, *, task: Task) -> None:
        super().__init__(message)
        self.task = task

    @classmethod
    def for_task(cls, task: Task, *, reason: str = "") -> WiroTaskFailed:
        summary = summarize_debug_error(task.debug_error)
        if not summary:
            exit_code = task.pexit or "none"
            summary = reason or (
                f"Wiro task {task.id} ended with status {task.status}, exit code {exit_code} "
                f"and {len(task.outputs)} output(s)"
            )
        return cls(summary, task=task)


class WiroTaskCancelled(WiroError):
    """The task ended in ``task_cancel`` (by us, the Wiro dashboard or the system)."""

    def __init__(self, message: str, *, task: Task) -> None:
        super().__init__(message)
        self.task = task
