"""`python -m bot` as a real child process, configured only by its environment, for tests that
stop it the hard way (SIGKILL) and start it again on the same data folder.

    env = bot_env(discord_server, wiro, tmp_path / "data", MAX_RUNNING_TASKS="2")
    async with BotProcess(env, cwd=tmp_path) as bot:
        ...
        await bot.kill()  # SIGKILL: no clean-up code of the bot runs
    async with BotProcess(env, cwd=tmp_path) as bot:
        ...
        assert await bot.interrupt() == 0  # SIGINT: the clean way out
    assert "Traceback" not in bot.output

Leaving the ``async with`` block kills a process that is still running, so a failing test
never leaves a bot behind, and prints the process's output when the block failed. The ledger
can be read while the bot runs (or after it died) with :func:`read_jobs`; nothing here writes
to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from bot.core.jobs.sqlite_ledger import LEDGER_FILENAME
from tests.discord_standin import DiscordStandIn
from tests.fakewiro import FakeWiro

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

# The bot's settings (see bot/settings.py); inherited values are dropped so that only what a
# test passes configures the process.
_SETTING_PREFIXES = (
    "DISCORD_",
    "WIRO_",
    "BOT_",
    "LOG_LEVEL",
    "SELFIE_",
    "STATUS_EDIT_",
    "MAX_RUNNING_",
    "MEMBER_",
    "GUILD_",
    "DELETE_WIRO_",
    "JOB_RETENTION_",
    "DATABASE_URL",
    "PROCESS_LEASE_",
    "METRICS_",
    "TELEGRAM_",
)


def bot_env(
    discord_server: DiscordStandIn, wiro: FakeWiro, data_dir: Path, **settings: str
) -> dict[str, str]:
    """The environment of a bot pointed at the stand-in and the fake Wiro, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SETTING_PREFIXES)}
    env.update(
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        DISCORD_TOKEN=discord_server.token,
        DISCORD_API_BASE=discord_server.api_base,
        WIRO_API_KEY=wiro.api_key,
        WIRO_API_SECRET=wiro.api_secret,
        WIRO_API_BASE=wiro.base_url,
        # Never the real wss://socket.wiro.ai: the fake's socket endpoint (if it has one).
        WIRO_SOCKET_URL=getattr(wiro, "socket_url", "") or _ws(wiro.root_url) + "/socket/v1",
        BOT_DATA_DIR=str(data_dir),
    )
    env.update(settings)  # the test's word is the last
    return env


def _ws(http_url: str) -> str:
    return "ws" + http_url.removeprefix("http")


class BotProcess:
    """One run of ``python -m bot``; its output (stdout and stderr) is collected as it comes."""

    def __init__(self, env: Mapping[str, str], *, cwd: Path) -> None:
        self._env = dict(env)
        self._cwd = cwd
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._lines: list[str] = []

    async def start(self) -> Self:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=self._cwd, env=self._env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read(self._process))
        return self

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            self._lines.append(line.decode(errors="replace"))

    @property
    def output(self) -> str:
        """Everything the process printed so far."""
        return "".join(self._lines)

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.returncode

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def kill(self) -> int:
        """SIGKILL, as a crash or an OOM kill would; returns the exit status (-9)."""
        assert self._process is not None
        with contextlib.suppress(ProcessLookupError):
            self._process.kill()
        return await self._finished()

    async def interrupt(self, timeout: float = 20.0) -> int:
        """SIGINT (Ctrl-C), then wait for the bot to close itself; returns the exit status."""
        assert self._process is not None
        self._process.send_signal(signal.SIGINT)
        return await asyncio.wait_for(self._finished(), timeout)

    async def wait(self, timeout: float = 20.0) -> int:
        """Wait for the process to end on its own; returns the exit status."""
        return await asyncio.wait_for(self._finished(), timeout)

    async def _finished(self) -> int:
        assert self._process is not None
        code = await self._process.wait()
        if self._reader is not None:
            await self._reader  # the pipe closes with the process: the output is complete
        return code

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.running:
            await self.kill()
        if exc_type is not None:  # pytest shows this with the failure
            print(f"---- output of `python -m bot` (exit {self.returncode}) ----\n{self.output}")


def read_jobs(data_dir: Path) -> dict[int, dict[str, Any]]:
    """Every row of the bot's job ledger (``BOT_DATA_DIR/jobs.sqlite3``) by id, read-only."""
    path = Path(data_dir) / LEDGER_FILENAME
    if not path.exists():
        return {}
    uri = path.resolve().as_uri() + "?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5.0)) as db:
        db.row_factory = sqlite3.Row
        return {row["id"]: dict(row) for row in db.execute("SELECT * FROM jobs ORDER BY id")}


async def eventually(
    check: Callable[[], T], *, timeout: float, what: str, interval: float = 0.05
) -> T:
    """Poll ``check`` until it returns something truthy (returned); TimeoutError naming
    ``what`` after ``timeout`` seconds. For state the Discord stand-in does not see (the
    ledger, the fake Wiro); for the stand-in's own records use its ``wait_for``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if result:
            return result
        if loop.time() >= deadline:
            raise TimeoutError(f"not within {timeout:g} s: {what}")
        await asyncio.sleep(interval)
