"""`python -m bot` as a server owner runs it: a real process, configured only by its environment."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.discord_standin import DiscordStandIn
from tests.fakewiro import FakeWiro
from tests.support.images import selfie_jpeg

ROOT = Path(__file__).resolve().parents[1]


async def test_the_bot_process_serves_portrait(tmp_path):
    async with (
        DiscordStandIn() as discord_server,
        FakeWiro("proc-key-01", "proc-secret-01") as wiro,
    ):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "WIRO_"))}
        env.update(
            PYTHONPATH=str(ROOT),
            DISCORD_TOKEN=discord_server.token,
            DISCORD_API_BASE=discord_server.api_base,
            WIRO_API_KEY=wiro.api_key,
            WIRO_API_SECRET=wiro.api_secret,
            WIRO_API_BASE=wiro.base_url,
            WIRO_SOCKET_URL=wiro.socket_url,
            BOT_DATA_DIR=str(tmp_path / "data"),
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            await discord_server.wait_for(lambda s: s.synced_global, timeout=20)
            await discord_server.wait_until_identified(timeout=20)
            rec = await discord_server.slash(
                "portrait", attachments={"selfie": ("me.jpg", selfie_jpeg(), "image/jpeg")}
            )
            posted = await discord_server.wait_for(
                lambda s: [m for m in s.messages.values() if m.attachments], timeout=30
            )
            assert len(posted) == 1
            assert rec.ack_at is not None
        finally:
            process.send_signal(signal.SIGINT)
            output, _ = await asyncio.wait_for(process.communicate(), 20)
        log = output.decode()
        assert "Job 1 is Wiro task" in log
        assert "Traceback" not in log
        for secret in (discord_server.token, wiro.api_key, wiro.api_secret):
            assert secret not in log
        assert (tmp_path / "data" / "command-sync.json").exists()
