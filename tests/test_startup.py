"""`python -m bot` refuses a bad configuration with one clear line, never a traceback."""

import contextlib
import os
import random
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"


def run_bot(tmp_path, *args, **env):
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DISCORD_", "WIRO_", "BOT_", "LOG_LEVEL"))
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
        "Configuration error: DISCORD_TOKEN is not set: add it to .env or the environment."
    ]
    assert "Traceback" not in done.stdout + done.stderr


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


@pytest.mark.parametrize("discord", ["closed port", "unresolvable host"])
def test_an_unreachable_discord_is_named(tmp_path, discord):
    base = {
        "closed port": f"http://127.0.0.1:{closed_port()}/api/v10",
        "unresolvable host": "http://nonexistent.invalid/api/v10",
    }[discord]
    line = start_up(tmp_path, tmp_path / "data", DISCORD_API_BASE=base)
    assert line.startswith("Start-up error: Discord unreachable: Cannot connect to host")
    assert base.split("/")[2].split(":")[0] in line  # the host it could not reach
