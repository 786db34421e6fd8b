"""Wiro request signing: API key, monotonic nonce and HMAC-SHA256 signature.

Signature-based projects send three headers on every request::

    x-api-key:   <API_KEY>
    x-nonce:     <NONCE>
    x-signature: hex(HMAC-SHA256(key=API_KEY, msg=API_SECRET + NONCE))

The signature covers neither method, path nor body. "API key only" projects
(empty secret) send ``x-api-key`` alone.

The nonce is an integer number of milliseconds that is fresh and strictly
increasing for the whole process, including under concurrent requests and when
the wall clock steps backwards: ``max(now_ms, last + 1)``, as Wiro's own WiroKit
SDK does.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable

__all__ = ["MonotonicNonce", "auth_headers", "next_nonce", "sign", "skip_nonces"]


class MonotonicNonce:
    """A thread-safe source of strictly increasing integer millisecond nonces."""

    def __init__(self, clock_ms: Callable[[], int] | None = None) -> None:
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self._last = 0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            self._last = max(int(self._clock_ms()), self._last + 1)
            return self._last

    def skip(self, milliseconds: int) -> None:
        """Move the next nonce at least ``milliseconds`` past the last one."""
        with self._lock:
            self._last += max(0, int(milliseconds))


_PROCESS_NONCE = MonotonicNonce()


def next_nonce() -> int:
    """The next process-wide nonce."""
    return _PROCESS_NONCE()


def skip_nonces(milliseconds: int) -> None:
    """Skip the process-wide nonces ahead: after a signature refused as a reused nonce, another
    process sharing the key may be drawing the same millisecond values in step."""
    _PROCESS_NONCE.skip(milliseconds)


def sign(api_key: str, api_secret: str, nonce: str | int) -> str:
    """Lower-case hex HMAC-SHA256 with the API key as key and secret + nonce as message."""
    message = f"{api_secret}{nonce}".encode()
    return hmac.new(api_key.encode(), message, hashlib.sha256).hexdigest()


def auth_headers(
    api_key: str, api_secret: str = "", *, nonce: Callable[[], int] = next_nonce
) -> dict[str, str]:
    """Headers for one request; a fresh nonce is drawn each call (signature mode only)."""
    if not api_secret:
        return {"x-api-key": api_key}
    value = str(nonce())
    return {"x-api-key": api_key, "x-nonce": value, "x-signature": sign(api_key, api_secret, value)}
