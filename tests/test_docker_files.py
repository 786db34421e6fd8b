"""The container files (issue 14) keep their promises: a non-root user, a health check on the
bot's own /healthz, every runtime package copied, no secrets sent to the build. (This machine
runs no Docker daemon: the image itself is not built in the tests.)"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_SHIPPED = {"tests", "bench"}


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    text = dockerfile().replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in text.splitlines() if line.startswith(f"{name} ")]


def test_the_image_runs_as_a_user_of_its_own() -> None:
    (user,) = instructions("USER")
    assert user.strip() not in {"root", "0"}
    assert re.search(rf"useradd [^\n]*\b{user.strip()}\b", dockerfile())
    assert instructions("FROM")[0].startswith("python:3.11-slim")


def test_the_health_check_asks_the_bots_healthz_on_its_metrics_port() -> None:
    env = " ".join(instructions("ENV"))
    port = re.search(r"METRICS_PORT=(\d+)", env)
    assert port is not None and "METRICS_HOST=0.0.0.0" in env
    (check,) = instructions("HEALTHCHECK")
    assert "os.environ.get('METRICS_PORT') or '9464'" in check and port.group(1) == "9464"
    assert "http://127.0.0.1:{port}/healthz" in check
    assert instructions("EXPOSE") == [port.group(1)]


def test_every_runtime_package_is_copied_and_nothing_secret_is_sent() -> None:
    packages = {
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in NOT_SHIPPED
    }
    copied = {line.split()[0].rstrip("/") for line in instructions("COPY")}
    assert packages <= copied, f"not in the image: {packages - copied}"
    assert "requirements.txt" in copied
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ".env" in ignored and "data/" in ignored and ".git/" in ignored


def test_compose_starts_the_bot_on_postgresql() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "image: postgres:" in compose and "build: ." in compose
    assert re.search(r"DATABASE_URL: postgresql://.+@db:5432/", compose)
    assert "condition: service_healthy" in compose  # the bot waits for the database
    assert "${POSTGRES_PASSWORD:?" in compose  # no default password to guess
