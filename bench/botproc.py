"""The bot under test in a process of its own: ``python -m bench.botproc STATS_JSON [SCHEDULE]``.

It starts exactly as ``python -m bot run`` does (settings from the environment, the same
logging set-up, ``bot.launcher.run_bot`` with every front end whose token is set: Discord,
Telegram or both), plus two samplers the bench reads back:

* event-loop lag: a task sleeps 50 ms in a loop and records by how much each sleep overshot;
* resident memory (VmRSS) every 250 ms, and ``ru_maxrss`` at exit (the peak).

Set BENCH_PROFILE=FILE to write a cProfile of the bot process there.

SIGTERM closes the bot through the launcher's own signal handler; then the samples are written
to STATS_JSON. End of stdin (the bench died) closes it too. SCHEDULE is ``default`` (the
production ``PollSchedule()``: the launcher is given none) or ``constant:SECONDS``.

The Discord and Telegram stand-ins and the fake Wiro stay in the bench's process, so this
process holds only the bot: its loop lag and memory are the bot's own.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import sys
import time
from pathlib import Path

from bot.core.wiro import PollSchedule
from bot.frontends.discord_bot.settings import load_discord_settings
from bot.frontends.telegram_bot.settings import load_telegram_settings
from bot.launcher import run_bot
from bot.logs import setup_logging
from bot.settings import load_settings

LAG_PERIOD = 0.05
RSS_PERIOD = 0.25
_PAGE = os.sysconf("SC_PAGE_SIZE")


def poll_schedule(spec: str) -> PollSchedule | None:
    if spec == "default":
        return None  # WiroClient falls back to PollSchedule(), as in production
    kind, _, value = spec.partition(":")
    if kind == "constant":
        return PollSchedule.constant(float(value))
    raise SystemExit(f"unknown poll schedule {spec!r}")


def rss_bytes() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * _PAGE


async def sample_lag(samples: list[tuple[float, float]]) -> None:
    while True:
        before = time.monotonic()
        await asyncio.sleep(LAG_PERIOD)
        now = time.monotonic()
        samples.append((now, now - before - LAG_PERIOD))


async def sample_rss(samples: list[tuple[float, int]]) -> None:
    while True:
        samples.append((time.monotonic(), rss_bytes()))
        await asyncio.sleep(RSS_PERIOD)


def close_on_stdin_eof() -> None:
    """If the bench goes away, stop like on SIGTERM instead of lingering."""
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()

    def readable() -> None:
        if not os.read(fd, 4096):
            loop.remove_reader(fd)
            os.kill(os.getpid(), signal.SIGTERM)

    loop.add_reader(fd, readable)


async def main(schedule: PollSchedule | None) -> dict[str, object]:
    # As `python -m bot run`: Discord and/or Telegram, whichever tokens are set.
    settings = load_settings(os.environ)
    discord = load_discord_settings(os.environ)
    telegram = load_telegram_settings(os.environ)
    setup_logging(
        settings.log_level,
        [
            discord.token,
            settings.wiro_api_key,
            settings.wiro_api_secret,
            telegram.bot_token,
            telegram.webhook_secret,
        ],
    )
    lag: list[tuple[float, float]] = []
    rss: list[tuple[float, int]] = []
    samplers = [asyncio.create_task(sample_lag(lag)), asyncio.create_task(sample_rss(rss))]
    close_on_stdin_eof()
    try:
        await run_bot(settings, discord=discord, telegram=telegram, poll_schedule=schedule)
    finally:
        for sampler in samplers:
            sampler.cancel()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "lag": lag,
        "rss": rss,
        "ru_maxrss_bytes": usage.ru_maxrss * 1024,  # KiB on Linux
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
    }


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if not 1 <= len(arguments) <= 2:
        raise SystemExit("usage: python -m bench.botproc STATS_JSON [default|constant:SECONDS]")
    schedule = poll_schedule(arguments[1] if arguments[1:] else "default")
    profile_path = os.environ.get("BENCH_PROFILE")  # cProfile the bot into this file
    if profile_path:
        import cProfile

        with cProfile.Profile() as profiler:
            stats = asyncio.run(main(schedule))
        profiler.dump_stats(profile_path)
    else:
        stats = asyncio.run(main(schedule))
    Path(arguments[0]).write_text(json.dumps(stats))
