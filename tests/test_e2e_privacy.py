"""What the bot keeps private: one `python -m bot` process per data folder, an owner-only data
folder, a DEBUG log without interaction tokens or file URLs, and a request whose selfie or job
cannot be saved refused at once without leaving anything behind."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from bot.frontends.discord_bot.requests import NOT_SAVED
from tests.discord_standin import DiscordStandIn
from tests.fakewiro import RUN_PATH as RUN
from tests.fakewiro import FakeWiro
from tests.support.bot_process import BotProcess, bot_env, eventually
from tests.support.disk import Disk
from tests.support.images import selfie_jpeg
from tests.support.portrait_bot import portrait_bot


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_one_bot_per_data_folder_and_a_debug_log_without_tokens_or_file_urls(tmp_path):
    data_dir = tmp_path / "data"
    async with (
        DiscordStandIn() as discord_server,
        FakeWiro("privacy-key-01", "privacy-secret-01") as wiro,
    ):
        env = bot_env(
            discord_server, wiro, data_dir, LOG_LEVEL="DEBUG", WIRO_REFRESH_CATALOG="false"
        )
        async with BotProcess(env, cwd=tmp_path) as first:
            await discord_server.wait_for(
                lambda s: s.synced_global and s.gateway.connected, timeout=20
            )
            # A second bot on the same folder would resume the first one's jobs: refused.
            async with BotProcess(env, cwd=tmp_path) as second:
                assert await second.wait() == 2
            assert second.output.splitlines() == [
                "Start-up error: another Portrait Bot is already using BOT_DATA_DIR "
                f"({data_dir.resolve()})"
            ]

            rec = await discord_server.slash(
                "portrait", attachments={"selfie": ("me.jpg", selfie_jpeg(), "image/jpeg")}
            )
            await discord_server.wait_for(
                lambda s: [m for m in s.messages.values() if m.attachments], timeout=30
            )
            await eventually(
                lambda: wiro.calls["/Task/InputOutputDelete"], timeout=10, what="clean-up"
            )
            # Owner-only: the ledger holds interaction tokens and file URLs; selfies are faces.
            assert mode(data_dir) == 0o700
            for name in ("jobs.sqlite3", "jobs.sqlite3-wal", "jobs.sqlite3-shm", "bot.lock"):
                assert mode(data_dir / name) == 0o600, name
            assert mode(data_dir / "selfies") == 0o700
            kept = list((data_dir / "selfies").iterdir())
            assert kept and all(mode(path) == 0o600 for path in kept)
            assert await first.interrupt() == 0

        log = first.output
        assert " DEBUG " in log and "Traceback" not in log
        # No library logs below INFO: aiosqlite would print every statement with its values.
        assert not [line for line in log.splitlines() if " DEBUG " in line and "bot." not in line]
        (upload,) = wiro.uploads
        private = [rec.token, upload["url"], str(upload["accesskey"])]
        private += [path for path in wiro.cdn]  # the outputs' paths at Wiro's CDN
        private += [discord_server.token, wiro.api_key, wiro.api_secret]
        for value in private:
            assert value not in log, value


# ====================================================================== intake
# A request whose selfie or job cannot be saved is refused at once, plainly, and leaves
# nothing behind: no queued job, no file at Wiro, no selfie on disk.


async def refused_at_intake(discord_server: DiscordStandIn, wiro: FakeWiro, bot: Any) -> str:
    rec = await discord_server.slash(
        "portrait", attachments={"selfie": ("me.jpg", selfie_jpeg(), "image/jpeg")}
    )
    reply = await rec.wait_original(lambda m: not m.loading, timeout=15)
    assert reply.ephemeral
    assert not [m for m in rec.followups if "Making a portrait" in m.content]
    assert await bot.services.ledger.unfinished() == []
    assert not wiro.uploads and not wiro.calls[RUN]
    return reply.content


async def test_a_selfie_that_cannot_be_saved_is_refused_at_once(
    discord_server, fake_wiro, tmp_path
):
    (tmp_path / "selfies").write_text("in the way: the folder cannot be made")
    async with portrait_bot(discord_server, fake_wiro, tmp_path) as bot:
        assert await refused_at_intake(discord_server, fake_wiro, bot) == NOT_SAVED


async def test_a_job_that_cannot_be_saved_is_refused_and_its_selfie_removed(
    discord_server, fake_wiro, tmp_path
):
    async with portrait_bot(discord_server, fake_wiro, tmp_path) as bot:
        disk = Disk.under(bot.services.ledger)
        disk.refuse = lambda sql, parameters: True
        assert await refused_at_intake(discord_server, fake_wiro, bot) == NOT_SAVED
        assert list((tmp_path / "selfies").iterdir()) == []
        disk.refuse = None
