"""The operations endpoint (issue 14): `/metrics` for Prometheus and `/healthz`, served by the
real bot through its own launcher with the Discord stand-in and the fake Wiro; and the
`METRICS_PORT` setting."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.core.insight.health import HealthState
from bot.core.metrics import Metrics, wiro_outcome
from bot.core.wiro.errors import WiroAuthError, WiroConnectionError, WiroRateLimited
from bot.frontends.discord_bot.api_watch import gateway_problem
from bot.launcher import StartupError
from bot.settings import SettingsError, load_settings
from tests.support.images import selfie_jpeg
from tests.support.insight import until
from tests.support.portrait_bot import portrait_bot

RUN = "/Run/wiro/instant-id-lora"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page: (name, sorted labels) -> value."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def get(port: int, path: str) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, response.headers["Content-Type"], await response.text()


async def test_metrics_and_health_of_a_running_bot(discord_server, fake_wiro, tmp_path) -> None:
    port = free_port()
    async with portrait_bot(discord_server, fake_wiro, tmp_path, METRICS_PORT=str(port)) as bot:
        services = bot.services
        await until(lambda: services.health.state is HealthState.OK, "the start-up check")
        await until(lambda: bot.is_ready(), "the gateway")
        assert await get(port, "/healthz") == (200, "text/plain; charset=utf-8", "ok\n")

        rec = await discord_server.slash(
            "portrait",
            {"prompt": "a lighthouse keeper", "samples": 2},
            attachments={"selfie": ("me.jpg", selfie_jpeg(), "image/jpeg")},
            user=discord_server.member,
        )
        await rec.wait_original(lambda m: "Selfie accepted" in m.content)

        async def delivered() -> bool:
            _, _, page = await get(port, "/metrics")
            return samples(page).get(("portrait_jobs", (("state", "delivered"),))) == 1

        await until(delivered, "the portrait delivered", timeout=20)
        status, kind, page = await get(port, "/metrics")
        assert status == 200 and kind.startswith("text/plain; version=0.0.4")
        found = samples(page)
        assert found[("portrait_queue_length", ())] == 0
        assert found[("portrait_jobs", (("state", "running"),))] == 0
        assert found[("portrait_wiro_calls_total", (("endpoint", RUN), ("outcome", "ok")))] == 1
        assert (
            found[("portrait_wiro_calls_total", (("endpoint", "/File/Upload"), ("outcome", "ok")))]
            == 1
        )
        assert found[("portrait_task_duration_seconds_count", ())] == 1
        assert found[("portrait_delivery_duration_seconds_count", ())] == 1
        assert found[("portrait_wiro_spend_dollars_total", ())] == pytest.approx(0.008)
        assert "test-secret" not in page and "test-key" not in page

        # Wiro refuses the keys: the next check makes the process unhealthy, with the reason.
        fake_wiro.api_key = "another-key"
        assert await services.health.check_now() is HealthState.KEYS_REFUSED
        status, _, text = await get(port, "/healthz")
        assert status == 503 and text == "wiro: Wiro refuses the bot's API keys\n"
        found = samples((await get(port, "/metrics"))[2])
        assert (
            found[("portrait_wiro_calls_total", (("endpoint", "/Task/List"), ("outcome", "auth")))]
            >= 1
        )

        assert services.frontends.health_probes["discord"]() is None
    # The bot closed: its probe names Discord (the endpoint closed with it).
    assert gateway_problem(bot) == "the Discord client is closed"


async def test_a_taken_metrics_port_stops_the_start_with_one_line(
    discord_server, fake_wiro, tmp_path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StartupError, match=f"^METRICS_PORT {port} cannot be used"):
            async with portrait_bot(discord_server, fake_wiro, tmp_path, METRICS_PORT=str(port)):
                pass


def test_the_metrics_port_setting() -> None:
    base = {"DISCORD_TOKEN": "x", "WIRO_API_KEY": "k"}
    assert load_settings(base).metrics_port is None  # off by default
    assert load_settings({**base, "METRICS_PORT": " "}).metrics_port is None
    assert load_settings({**base, "METRICS_PORT": "9464"}).metrics_port == 9464
    for wrong in ("0", "70000", "http", "-1"):
        with pytest.raises(SettingsError, match="METRICS_PORT"):
            load_settings({**base, "METRICS_PORT": wrong})


def test_wiro_outcomes_and_front_end_errors_are_labelled() -> None:
    assert wiro_outcome(None) == "ok"
    assert wiro_outcome(WiroAuthError("no")) == "auth"
    assert wiro_outcome(WiroConnectionError("down")) == "connection"
    assert wiro_outcome(WiroRateLimited("slow")) == "rate_limited"
    metrics = Metrics()
    metrics.frontend_error("telegram", 429)
    metrics.frontend_error("telegram", None)
    metrics.task_ended(None, None)  # resumed after a restart: nothing to observe
    found = samples(metrics.exposition().decode())
    assert (
        found[("portrait_frontend_api_errors_total", (("platform", "telegram"), ("status", "429")))]
        == 1
    )
    assert (
        found[
            (
                "portrait_frontend_api_errors_total",
                (("platform", "telegram"), ("status", "network")),
            )
        ]
        == 1
    )
    assert found[("portrait_task_duration_seconds_count", ())] == 0
