"""How long the job queue waits after a database write failed (a full disk, an I/O error).

Retrying at once is what made a full disk spin a job 177 times in 36 s: each step waits twice
as long as the one before, up to a cap, and only one step runs at a time, so however many
workers hit the same broken disk, it is tried again (and logged) once per step.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class WriteBackoff:
    """Doubling waits from ``first`` to ``cap`` seconds; :meth:`recovered` starts over."""

    def __init__(
        self, first: float, cap: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._first = first
        self._cap = cap
        self._clock = clock
        self._step = 0.0
        self._until = 0.0

    @property
    def seconds_left(self) -> float:
        """How long until the next try (0 when nothing is being waited for)."""
        return max(0.0, self._until - self._clock())

    def failed(self) -> float | None:
        """A write failed: start the next, longer wait unless one is running. Returns the new
        wait in seconds (worth one log line), or None when a wait was already running."""
        if self.seconds_left > 0:
            return None
        self._step = min(self._cap, max(self._first, self._step * 2))
        self._until = self._clock() + self._step
        return self._step

    def recovered(self) -> bool:
        """A write went through; True when that ends a run of failures (worth a log line)."""
        failing, self._step = self._step > 0, 0.0
        return failing
