"""Wiro's health as the bot sees it: do its keys work, is there credit to run.

At start-up and then every ``WIRO_HEALTH_MINUTES`` (default 15) the bot makes one cheap signed
call (``/Task/List`` for one task: it needs the project's keys, costs nothing and starts
nothing) and logs the result (INFO when fine, WARNING otherwise; never a secret). Wiro's answer
decides the state: code 97 (insufficient balance) OUT_OF_CREDIT, refused keys (HTTP 401/403,
codes 98/99) KEYS_REFUSED, no answer (connection, timeout, 5xx, 429) UNREACHABLE.

Jobs tell more than the check can: the check's call needs no credit, so a job whose run call
Wiro refused with code 97 (`FailureReason.BALANCE`) sets OUT_OF_CREDIT, which stays until a
run call is accepted again (`run_accepted`); a job refused for its keys sets KEYS_REFUSED
until a check passes. OUT_OF_CREDIT and KEYS_REFUSED are told to the bot's owner through
`OwnerAlerts` (at most once an hour per state, across restarts).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from bot.core.jobs.failures import FailureReason, PortraitFailed
from bot.core.jobs.ledger import Clock, utc_now
from bot.core.wiro import (
    WiroAuthError,
    WiroConnectionError,
    WiroError,
    WiroInsufficientBalance,
    WiroRateLimited,
    WiroServerError,
)

if TYPE_CHECKING:
    from bot.core.insight.alerts import OwnerAlerts

__all__ = ["ALERTS", "HealthState", "WiroHealth", "WiroProbe"]

log = logging.getLogger(__name__)

DETAIL_MAX_CHARS = 300


class HealthState(StrEnum):
    OK = "ok"
    OUT_OF_CREDIT = "out_of_credit"  # Wiro's code 97: the balance is too low to run
    KEYS_REFUSED = "keys_refused"  # WIRO_API_KEY / WIRO_API_SECRET refused
    UNREACHABLE = "unreachable"  # no usable answer (network, timeout, 5xx, 429)
    UNKNOWN = "unknown"  # not checked yet, or an answer the check does not understand


# What the bot's owner is told (plain text) when Wiro enters a state; other states only log.
ALERTS: dict[HealthState, str] = {
    HealthState.OUT_OF_CREDIT: (
        "Portrait Bot: your Wiro balance is too low to make portraits (Wiro's code 97, "
        "insufficient balance). Members' requests fail until you top it up at wiro.ai. "
        "(At most one alert an hour.)"
    ),
    HealthState.KEYS_REFUSED: (
        "Portrait Bot: Wiro refuses the bot's API keys (WIRO_API_KEY / WIRO_API_SECRET). "
        "No portrait can be made until they are fixed in .env and the bot restarted. "
        "(At most one alert an hour.)"
    ),
}


class WiroProbe(Protocol):
    """The Wiro call of the check: `WiroClient.list_tasks`."""

    async def list_tasks(self, *, limit: int = 20, model_name: str | None = None) -> object: ...


class WiroHealth:
    """The state of the bot's Wiro account (`state`, `checked_at`: when the last check ended,
    None before the first), checked by `check_now` and every `every` once `start`ed, and fed
    by the job queue (`job_failed`, `run_accepted`: the dispatcher's `wiro_watch`)."""

    def __init__(
        self,
        wiro: WiroProbe,
        alerts: OwnerAlerts | None = None,
        *,
        every: timedelta = timedelta(minutes=15),
        clock: Clock = utc_now,
    ) -> None:
        self._wiro = wiro
        self._alerts = alerts
        self.every = every
        self._clock = clock
        self.state = HealthState.UNKNOWN
        self.checked_at: datetime | None = None
        self.detail = ""  # why, in the check's or the job's words (never a secret)
        self._credit_out_by_job = False
        self._loop: asyncio.Task[None] | None = None

    @property
    def out_of_credit(self) -> bool:
        return self.state is HealthState.OUT_OF_CREDIT

    async def start(self) -> None:
        """Check now (in the background: start-up does not wait for Wiro), then every
        `every` (never again when `every` is zero)."""
        if self._loop is None:
            self._loop = asyncio.create_task(self._check_forever(), name="wiro-health")

    async def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop

    async def check_now(self) -> HealthState:
        """One check: the cheap signed call, its answer as a state (logged, alerts sent)."""
        try:
            await self._wiro.list_tasks(limit=1)
        except WiroInsufficientBalance as error:
            state, detail = HealthState.OUT_OF_CREDIT, _detail(error)
        except WiroAuthError as error:
            state, detail = HealthState.KEYS_REFUSED, _detail(error)
        except (WiroConnectionError, WiroServerError, WiroRateLimited) as error:
            state, detail = HealthState.UNREACHABLE, _detail(error)
        except WiroError as error:
            state, detail = HealthState.UNKNOWN, _detail(error)
        else:
            state, detail = HealthState.OK, "the keys work"
            if self._credit_out_by_job:
                state, detail = HealthState.OUT_OF_CREDIT, self.detail or "a run was refused (97)"
        self.checked_at = self._clock()
        level = logging.INFO if state is HealthState.OK else logging.WARNING
        log.log(level, "Wiro health check: %s (%s)", state.value, detail)
        await self._enter(state, detail)
        return self.state

    async def job_failed(self, failure: PortraitFailed) -> None:
        """A job failed: Wiro's code 97 means OUT_OF_CREDIT, refused keys KEYS_REFUSED."""
        if failure.reason is FailureReason.BALANCE:
            self._credit_out_by_job = True
            await self._enter(HealthState.OUT_OF_CREDIT, _cut(failure.detail))
        elif failure.reason is FailureReason.AUTH:
            await self._enter(HealthState.KEYS_REFUSED, _cut(failure.detail))

    def run_accepted(self) -> None:
        """Wiro accepted a run call: there is credit (and the keys work)."""
        self._credit_out_by_job = False
        if self.state in (HealthState.OUT_OF_CREDIT, HealthState.KEYS_REFUSED):
            log.info("Wiro accepted a run again: health %s -> ok", self.state.value)
            self.state, self.detail = HealthState.OK, "a run was accepted"

    async def _enter(self, state: HealthState, detail: str) -> None:
        if state is not self.state:
            log.log(
                logging.INFO if state is HealthState.OK else logging.WARNING,
                "Wiro health: %s -> %s",
                self.state.value,
                state.value,
            )
        self.state, self.detail = state, detail
        text = ALERTS.get(state)
        if text is not None and self._alerts is not None:
            await self._alerts.send(state.value, text)

    async def _check_forever(self) -> None:
        while True:
            try:
                await self.check_now()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("The Wiro health check hit an unexpected error")
            if self.every <= timedelta(0):
                return
            await asyncio.sleep(self.every.total_seconds())


def _detail(error: WiroError) -> str:
    """The error's class and Wiro's words (WiroError messages never hold credentials)."""
    return _cut(f"{type(error).__name__}: {error.message}")


def _cut(text: str) -> str:
    return text if len(text) <= DETAIL_MAX_CHARS else text[: DETAIL_MAX_CHARS - 1] + "…"
