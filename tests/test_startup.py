"""`python -m bot` refuses a bad configuration with one clear line, never a traceback."""

import contextlib
import http.server
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"
TG_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


def run_bot(tmp_path, *args, **env):
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DISCORD_", "TELEGRAM_", "WIRO_", "BOT_", "LOG_LEVEL"))
    }
    clean["PYTHONPATH"] = str(ROOT)
    # Run from an empty folder so no developer's .env is read.
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_token_is_one_line_naming_it(tmp_path):
    done = run_bot(tmp_path, WIRO_API_KEY="key-123456")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "Configuration error: Neither DISCORD_TOKEN nor TELEGRAM_BOT_TOKEN is set: add at least "
        "one to .env or the environment."
    ]
    assert "Traceback" not in done.stdout + done.stderr


def test_sync_needs_the_discord_token_even_with_telegram(tmp_path):
    done = run_bot(tmp_path, "sync", WIRO_API_KEY="key-123456", TELEGRAM_BOT_TOKEN=TG_TOKEN)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "Configuration error: DISCORD_TOKEN is not set: add it to .env or the environment."
    ]


def test_webhook_mode_without_its_secret_is_named(tmp_path):
    done = run_bot(
        tmp_path,
        WIRO_API_KEY="key-123456",
        TELEGRAM_BOT_TOKEN=TG_TOKEN,
        TELEGRAM_WEBHOOK_URL="https://bot.example.org/telegram",
    )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("Configuration error: TELEGRAM_WEBHOOK_SECRET is not set")


def test_malformed_secret_is_not_echoed(tmp_path):
    done = run_bot(tmp_path, DISCORD_TOKEN=TOKEN, WIRO_API_KEY="has a space")
    assert done.returncode == 2
    assert "WIRO_API_KEY" in done.stderr and "has a space" not in done.stderr


def test_dotenv_file_is_read(tmp_path):
    (tmp_path / ".env").write_text(
        f"DISCORD_TOKEN={TOKEN}\nWIRO_API_KEY=key-123456\nWIRO_API_BASE=ftp://x\n"
    )
    done = run_bot(tmp_path)
    assert done.returncode == 2
    assert "WIRO_API_BASE" in done.stderr


def test_generate_does_not_need_a_discord_token(tmp_path):
    done = run_bot(
        tmp_path, "generate", "--selfie", "missing.jpg", "--out", "out", WIRO_API_KEY="key-123456"
    )
    assert done.returncode == 2
    assert "missing.jpg" in done.stderr
    assert "DISCORD_TOKEN" not in done.stderr


# ====================================================================== start-up problems
# Each one ends start-up with one line naming it, exit status 2 and no traceback.

WIRO_NOWHERE = {"WIRO_API_KEY": "key-123456", "WIRO_API_BASE": "http://127.0.0.1:9/v1"}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_up(tmp_path: Path, data_dir: Path | str, **env: str) -> str:
    """Run `python -m bot` until it gives up; returns its one `Start-up error` line."""
    settings = {
        "DISCORD_TOKEN": TOKEN,
        "BOT_DATA_DIR": str(data_dir),
        "DISCORD_API_BASE": f"http://127.0.0.1:{closed_port()}/api/v10",
        **WIRO_NOWHERE,
    }
    done = run_bot(tmp_path, **settings | env)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output, output
    problems = [line for line in done.stderr.splitlines() if line.startswith("Start-up error")]
    assert len(problems) == 1 and done.stderr.strip().endswith(problems[0]), output
    return problems[0]


def test_a_corrupt_database_is_named(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "jobs.sqlite3").write_bytes(random.Random(8).randbytes(8192))
    line = start_up(tmp_path, data)
    assert line == (
        f"Start-up error: the job database {data / 'jobs.sqlite3'} is corrupt or not an SQLite "
        "database (file is not a database)"
    )


def test_a_database_locked_by_another_program_is_named(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    with contextlib.closing(sqlite3.connect(data / "jobs.sqlite3", isolation_level=None)) as db:
        db.execute("CREATE TABLE someone_elses (x)")
        db.execute("BEGIN EXCLUSIVE")
        line = start_up(tmp_path, data)
    assert "jobs.sqlite3 is locked by another program" in line


@pytest.mark.parametrize("where", ["a file", "/proc/x"])
def test_an_unusable_data_folder_is_named(tmp_path, where):
    if where == "a file":
        where = tmp_path / "data"
        where.write_text("not a folder")
    line = start_up(tmp_path, where)
    assert line.startswith("Start-up error: BOT_DATA_DIR is not usable: ")
    assert str(where) in line


def test_a_shared_data_folder_is_refused_and_left_as_it_was(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    line = start_up(tmp_path, shared)
    assert line == (
        f"Start-up error: BOT_DATA_DIR {shared} is a shared folder (mode 1777); "
        "give the bot a folder of its own"
    )
    assert os.stat(shared).st_mode & 0o7777 == 0o1777
    assert list(shared.iterdir()) == []


def test_proc_as_data_folder_names_the_real_reason(tmp_path):
    line = start_up(tmp_path, "/proc")
    assert line.startswith("Start-up error: BOT_DATA_DIR is not usable: /proc cannot be written")
    assert "No such file" not in line


@pytest.mark.parametrize("discord", ["closed port", "unresolvable host"])
def test_an_unreachable_discord_is_named(tmp_path, discord):
    base = {
        "closed port": f"http://127.0.0.1:{closed_port()}/api/v10",
        "unresolvable host": "http://nonexistent.invalid/api/v10",
    }[discord]
    line = start_up(tmp_path, tmp_path / "data", DISCORD_API_BASE=base)
    assert line.startswith("Start-up error: Discord unreachable: Cannot connect to host")
    assert base.split("/")[2].split(":")[0] in line  # the host it could not reach


@contextlib.contextmanager
def error_page_server(status: int, path_prefix: str = "/"):
    """A local server that answers every request under ``path_prefix`` with ``status`` and an
    HTML page (a proxy or an outage in front of Discord); other paths get a stand-in answer of
    the Discord API. Yields the API base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self) -> None:
            if self.path.startswith(path_prefix):
                body, kind, code = b"<html><h1>Bad gateway</h1></html>", "text/html", status
            else:
                body, kind, code = DISCORD_ANSWERS.get(self.path.split("?")[0], b"[]"), "", 200
                kind = "application/json"
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = answer

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v10"
    finally:
        server.shutdown()
        server.server_close()


BOT_USER = {"id": "1", "username": "bot", "discriminator": "0", "avatar": None, "bot": True}
DISCORD_ANSWERS = {
    "/api/v10/users/@me": json.dumps(BOT_USER).encode(),
    "/api/v10/oauth2/applications/@me": json.dumps(
        {
            "id": "1",
            "name": "bot",
            "icon": None,
            "description": "",
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "owner": BOT_USER,
        }
    ).encode(),
}


# 503 rather than 502: discord.py itself retries a 502 five times over ~25 s before giving
# up with the same DiscordServerError, which the bot reports the same way.
@pytest.mark.parametrize(
    ("status", "prefix", "line"),
    [
        (
            503,
            "/",
            "Start-up error: Discord answered 503 Service Unavailable at login; try again later",
        ),
        (400, "/", "Start-up error: Discord answered 400 Bad Request at login"),
        (
            503,
            "/api/v10/applications/",
            "Start-up error: Discord answered 503 Service Unavailable while syncing the slash "
            "commands; try again later",
        ),
        (
            503,
            "/api/v10/gateway",
            "Start-up error: Discord answered 503 Service Unavailable while fetching the gateway; "
            "try again later",
        ),
    ],
)
def test_an_http_error_from_discord_at_start_up_is_one_line(tmp_path, status, prefix, line):
    with error_page_server(status, prefix) as base:
        assert start_up(tmp_path, tmp_path / "data", DISCORD_API_BASE=base) == line


# ====================================================================== Telegram start-up


def telegram_start_up(tmp_path: Path, api_base: str) -> str:
    """`python -m bot` with Telegram only; returns its one `Start-up error` line."""
    settings = {
        "TELEGRAM_BOT_TOKEN": TG_TOKEN,
        "TELEGRAM_API_BASE": api_base,
        "BOT_DATA_DIR": str(tmp_path / "data"),
        "WIRO_REFRESH_CATALOG": "false",
        **WIRO_NOWHERE,
    }
    done = run_bot(tmp_path, **settings)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output, output
    assert TG_TOKEN.split(":")[1] not in output
    problems = [line for line in done.stderr.splitlines() if line.startswith("Start-up error")]
    assert len(problems) == 1 and done.stderr.strip().endswith(problems[0]), output
    return problems[0]


def test_an_unreachable_telegram_is_named(tmp_path):
    base = f"http://127.0.0.1:{closed_port()}"
    line = telegram_start_up(tmp_path, base)
    assert line.startswith(f"Start-up error: Telegram unreachable at {base}: ")


@contextlib.contextmanager
def bot_api_answering(status: int, description: str):
    """A local Bot API that answers every method with ``status`` and Telegram's JSON error."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self) -> None:
            body = json.dumps(
                {"ok": False, "error_code": status, "description": description}
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = answer

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_refused_telegram_token_is_named(tmp_path):
    with bot_api_answering(401, "Unauthorized") as base:
        line = telegram_start_up(tmp_path, base)
    assert line == "Start-up error: TELEGRAM_BOT_TOKEN was refused by Telegram."


def test_another_telegram_error_at_start_up_is_one_line(tmp_path):
    with bot_api_answering(400, "Bad Request: something odd") as base:
        line = telegram_start_up(tmp_path, base)
    assert line.startswith("Start-up error: Telegram refused the bot at login (getMe): ")
    assert "something odd" in line
