"""The bot's Prometheus metrics (``prometheus_client``), one `Metrics` per set of services.

Counted as things happen (per process: Prometheus adds the processes up):

* ``portrait_wiro_calls_total{endpoint, outcome}``: every HTTP call to Wiro's API, by path
  (``/Run/wiro/instant-id-lora``, ``/Task/Detail``, ...) and outcome (``ok`` or the error's
  kind: ``auth``, ``insufficient_balance``, ``concurrency_limit``, ``validation``,
  ``not_found``, ``rate_limited``, ``server_error``, ``connection``, ``timeout``, ``error``);
* ``portrait_task_duration_seconds``: a task's length at Wiro, from the run call's answer to
  the end the bot saw (tasks that succeeded);
* ``portrait_delivery_duration_seconds``: from the images downloaded to the result posted;
* ``portrait_frontend_api_errors_total{platform, status}``: Discord or Telegram API calls that
  failed (HTTP status, or ``network``);
* ``portrait_wiro_spend_dollars_total``: Wiro's ``totalcost`` of the tasks that ended.

Read from the ledger at each scrape (`refresh`), so they hold across processes and restarts:

* ``portrait_jobs{state}``: jobs in the ledger by state (finished ones until pruned);
* ``portrait_queue_length``: jobs waiting for their turn (``queued``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.core.jobs.ledger import JobState
from bot.core.jobs.sql_ledger import SqlLedger
from bot.core.wiro.errors import (
    WiroAuthError,
    WiroConcurrencyLimit,
    WiroConnectionError,
    WiroError,
    WiroInsufficientBalance,
    WiroNotFound,
    WiroRateLimited,
    WiroServerError,
    WiroTimeout,
    WiroValidationError,
)

__all__ = ["CONTENT_TYPE", "Metrics", "wiro_outcome"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # Prometheus' text format

# Seconds. Tasks: InstantID on Wiro takes ~10-60 s; deliveries: a post of a few MB.
TASK_BUCKETS = (5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600)
DELIVERY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)

_OUTCOMES: tuple[tuple[type[WiroError], str], ...] = (
    (WiroAuthError, "auth"),
    (WiroInsufficientBalance, "insufficient_balance"),
    (WiroConcurrencyLimit, "concurrency_limit"),
    (WiroValidationError, "validation"),
    (WiroNotFound, "not_found"),
    (WiroRateLimited, "rate_limited"),
    (WiroServerError, "server_error"),
    (WiroConnectionError, "connection"),
    (WiroTimeout, "timeout"),
)


def wiro_outcome(error: BaseException | None) -> str:
    """The ``outcome`` label of a Wiro call that raised ``error`` (None: ``ok``)."""
    if error is None:
        return "ok"
    for kind, name in _OUTCOMES:
        if isinstance(error, kind):
            return name
    return "error"


class Metrics:
    """The metrics of one bot process; ``registry`` is what ``/metrics`` serves."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.wiro_calls = Counter(
            "portrait_wiro_calls",
            "HTTP calls to Wiro's API by endpoint and outcome",
            ["endpoint", "outcome"],
            registry=self.registry,
        )
        self.task_duration = Histogram(
            "portrait_task_duration_seconds",
            "Length of a Wiro task that succeeded, as the bot saw it",
            buckets=TASK_BUCKETS,
            registry=self.registry,
        )
        self.delivery_duration = Histogram(
            "portrait_delivery_duration_seconds",
            "From the result's images downloaded to the result posted",
            buckets=DELIVERY_BUCKETS,
            registry=self.registry,
        )
        self.frontend_errors = Counter(
            "portrait_frontend_api_errors",
            "Discord or Telegram API calls that failed, by HTTP status or 'network'",
            ["platform", "status"],
            registry=self.registry,
        )
        self.spend = Counter(
            "portrait_wiro_spend_dollars",
            "Wiro's totalcost of the tasks that ended, in dollars",
            registry=self.registry,
        )
        self.jobs = Gauge(
            "portrait_jobs", "Jobs in the ledger by state", ["state"], registry=self.registry
        )
        self.queue_length = Gauge(
            "portrait_queue_length", "Jobs waiting for their turn", registry=self.registry
        )

    def wiro_call(self, endpoint: str, error: BaseException | None) -> None:
        """Count one Wiro call to ``endpoint`` (its path) that ended with ``error`` (None: ok)."""
        self.wiro_calls.labels(endpoint, wiro_outcome(error)).inc()

    def task_ended(self, seconds: float | None, cost: float | None) -> None:
        """A task ended with a result: its length (None: unknown, resumed after a restart) and
        Wiro's ``totalcost`` (None: not reported)."""
        if seconds is not None and seconds >= 0:
            self.task_duration.observe(seconds)
        if cost is not None and cost > 0:
            self.spend.inc(cost)

    def delivered(self, seconds: float) -> None:
        self.delivery_duration.observe(max(0.0, seconds))

    def frontend_error(self, platform: str, status: int | None) -> None:
        """A ``platform`` ("discord", "telegram") API call failed with HTTP ``status`` (None:
        no answer)."""
        self.frontend_errors.labels(platform, str(status) if status else "network").inc()

    async def refresh(self, ledger: SqlLedger) -> None:
        """Read the jobs by state from the ledger. Raises `LedgerError`."""
        async with ledger.reading() as db:
            rows = await db.execute_fetchall("SELECT state, COUNT(*) FROM jobs GROUP BY state")
        counts = {str(row[0]): int(row[1]) for row in rows}
        for state in JobState:
            self.jobs.labels(state.value).set(counts.get(state.value, 0))
        self.queue_length.set(counts.get(JobState.QUEUED.value, 0))

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format (`CONTENT_TYPE`)."""
        return generate_latest(self.registry)
