"""`python -m bot` refuses a bad configuration with one clear line, never a traceback."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"


def run_bot(tmp_path, *args, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "WIRO_"))}
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
