"""The bot process's operations endpoint: ``/metrics`` for Prometheus and ``/healthz`` for a
container's or load balancer's health check, on ``METRICS_HOST:METRICS_PORT`` (off when
``METRICS_PORT`` is empty). Plain aiohttp; nothing of it is reachable from the chat platforms.

``/healthz`` answers 200 ``ok`` when the ledger answers a query, Wiro's last health check
(`bot.core.insight.health`) found it reachable with working keys (out of credit still counts as
reachable: the owner is alerted separately), and every front end's probe reports its platform
reachable; otherwise 503 with one line per reason. Before the first Wiro check ends, Wiro counts
as unknown, not as down (a start-up must not fail its first probe for a slow Wiro).
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.core.insight.health import HealthState
from bot.core.jobs.ledger import LedgerError
from bot.core.metrics import CONTENT_TYPE
from bot.services import Services

__all__ = ["OpsServer", "health_reasons"]

log = logging.getLogger(__name__)

_WIRO_DOWN = {
    HealthState.KEYS_REFUSED: "Wiro refuses the bot's API keys",
    HealthState.UNREACHABLE: "Wiro cannot be reached",
}


async def health_reasons(services: Services) -> list[str]:
    """Why the process is not healthy (empty when it is); one short line each, no secrets."""
    reasons: list[str] = []
    try:
        async with services.ledger.reading() as db:  # type: ignore[attr-defined]
            await db.execute_fetchall("SELECT 1")
    except (LedgerError, OSError, ValueError) as error:
        reasons.append(f"ledger: {type(error).__name__}")
    if (wiro := _WIRO_DOWN.get(services.health.state)) is not None:
        reasons.append(f"wiro: {wiro}")
    for name, probe in services.frontends.health_probes.items():
        try:
            problem = probe()
        except Exception as error:  # a broken probe is itself a reason
            problem = f"its health probe failed ({type(error).__name__})"
        if problem:
            reasons.append(f"{name}: {problem}")
    return reasons


class OpsServer:
    """Serves ``/metrics`` and ``/healthz`` for ``services`` on ``host:port`` (port 0: any
    free port; `port` tells which once started)."""

    def __init__(self, services: Services, host: str, port: int) -> None:
        self._services = services
        self._host = host
        self._port = port
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        self._runner = web.AppRunner(app, access_log=None)
        self._site: web.TCPSite | None = None

    @property
    def port(self) -> int:
        addresses = self._runner.addresses if self._site is not None else []
        return int(addresses[0][1]) if addresses else self._port

    async def start(self) -> None:
        """Listen. Raises OSError (the port is taken)."""
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self._host, self._port)
        await self._site.start()
        log.info("Metrics and health check on http://%s:%d/", self._host, self.port)

    async def close(self) -> None:
        await self._runner.cleanup()

    async def _metrics(self, request: web.Request) -> web.Response:
        metrics = self._services.metrics
        try:
            await metrics.refresh(self._services.ledger)  # type: ignore[arg-type]
        except (LedgerError, OSError, ValueError) as error:
            log.warning("Metrics: the ledger could not be read (%s)", type(error).__name__)
        return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    async def _healthz(self, request: web.Request) -> web.Response:
        reasons = await health_reasons(self._services)
        if reasons:
            return web.Response(status=503, text="\n".join(reasons) + "\n")
        return web.Response(text="ok\n")
