"""One process on SQLite against three on PostgreSQL (issue 14), the same load side by side:
jobs per minute at a fixed Wiro task length, the acknowledgement's p50 / p95, and each
process's peak RSS.

    python -m bench.processes [--jobs 300] [--task-seconds 2] [--slots 50]

Each setup runs ``python -m bot`` as real child processes (`tests/support/bot_process.py`)
against the Discord stand-in and the fake Wiro in this process, on 127.0.0.1; the three
PostgreSQL processes split the gateway (``DISCORD_SHARD_COUNT=3``) and share one database made
for the run on the local server (``postgres@127.0.0.1``, dropped afterwards). The commands come
from 60 members in three servers (one per shard), in bursts of 30; every fake task takes
``--task-seconds``, and ``MAX_RUNNING_TASKS`` (``--slots``) is high enough that Wiro is not what
limits the rate. Jobs per minute: from the first command to the last result posted.
Peak RSS: the kernel's high-water mark (``VmHWM``) of each process just before it is stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import asyncpg

from bench.stats import percentile
from tests.discord_standin import DiscordStandIn, InteractionRecord
from tests.fakewiro import FakeWiro
from tests.support.bot_process import BotProcess, bot_env, eventually, read_jobs
from tests.support.images import selfie_jpeg
from tests.support.shards import add_members, servers_on_every_shard

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SHARDS = 3
MEMBERS = 60
BURST = 30
STALL_SECONDS = 60.0


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def job_outcomes(database_url: str, data_dir: Path) -> Counter[str]:
    """How the jobs ended: state, and the failure reason of the failed ones."""
    if database_url:
        conn = await asyncpg.connect(database_url)
        try:
            rows = [tuple(r) for r in await conn.fetch("SELECT state, failure_reason FROM jobs")]
        finally:
            await conn.close()
    else:
        rows = [(r["state"], r["failure_reason"]) for r in read_jobs(data_dir).values()]
    return Counter(f"{state} {reason}".strip() for state, reason in rows)


async def run_setup(
    name: str, processes: int, database_url: str, args: argparse.Namespace
) -> dict[str, object]:
    # Nonces may arrive out of order within a minute, as in the other benchmarks (`--strict-
    # nonces` there; bench/profile.py): Wiro publishes no nonce rule.
    fake = FakeWiro(api_key="k", api_secret="s", nonce_reorder_window_ms=60_000)
    async with DiscordStandIn() as server, fake as wiro:
        wiro.scenario.duration = args.task_seconds
        members = add_members(server, servers_on_every_shard(server, SHARDS), MEMBERS)
        selfie = selfie_jpeg()
        with tempfile.TemporaryDirectory() as folder:
            settings = {
                "MAX_RUNNING_TASKS": str(args.slots),
                "MEMBER_MAX_ACTIVE_JOBS": "20",
                "MEMBER_COOLDOWN_SECONDS": "0",
                "MEMBER_DAILY_QUOTA": "0",
                "GUILD_DAILY_QUOTA": "0",
                "LOG_LEVEL": "WARNING",
            }
            if database_url:
                settings |= {"DATABASE_URL": database_url, "DISCORD_SHARD_COUNT": str(SHARDS)}
            bots = []
            for index in range(processes):
                extra = {"DISCORD_SHARD_IDS": str(index)} if database_url else {}
                env = bot_env(server, wiro, Path(folder) / "data", **settings, **extra)
                bots.append(await BotProcess(env, cwd=Path(folder)).start())
            try:
                await eventually(
                    lambda: len(server.gateway.sessions) >= max(1, processes),
                    timeout=60,
                    what="every process identified",
                )
                await asyncio.sleep(2.0)
                records: list[InteractionRecord] = []
                started = time.monotonic()
                for first in range(0, args.jobs, BURST):
                    batch = []
                    for number in range(first, min(args.jobs, first + BURST)):
                        member, channel = members[number % MEMBERS]
                        batch.append(
                            server.slash(
                                "portrait",
                                {"prompt": f"bench {number}"},
                                attachments={"selfie": ("me.jpg", selfie, "image/jpeg")},
                                user=member,
                                channel=channel,
                            )
                        )
                    records += await asyncio.gather(*batch)
                    await asyncio.sleep(0.2)

                def posted() -> int:
                    return sum(
                        1 for m in server.messages.values() if m.attachments and not m.ephemeral
                    )

                # Until every result is posted, or nothing more came for a minute.
                last, last_change = -1, time.monotonic()
                while posted() < args.jobs and time.monotonic() - last_change < STALL_SECONDS:
                    if posted() != last:
                        last, last_change = posted(), time.monotonic()
                    await asyncio.sleep(0.2)
                elapsed = time.monotonic() - started
                delivered = posted()
                outcomes = await job_outcomes(database_url, Path(folder) / "data")
                print(f"  {name}: {delivered} of {args.jobs} posted; {outcomes}", file=sys.stderr)
                rss = [peak_rss_mb(bot.pid) for bot in bots]
            finally:
                for bot in bots:
                    if bot.running:
                        await bot.interrupt(timeout=60)
        refused = Counter(
            (rec.original.content if rec.original is not None else "(no answer)")[:70]
            for rec in records
            if rec.original is None or "Selfie accepted" not in rec.original.content
        )
        if refused:
            print(f"  {name}: commands not accepted: {dict(refused)}", file=sys.stderr)
        acks = [min(c.at for c in rec.callbacks) - rec.sent_at for rec in records if rec.callbacks]
    return {
        "setup": name,
        "jobs/min": delivered / elapsed * 60,
        "posted": f"{delivered}/{args.jobs}",
        "ack p50 ms": statistics.median(acks) * 1000,
        "ack p95 ms": percentile(acks, 95) * 1000,
        "late acks": args.jobs - len(acks),
        "peak RSS MB": " / ".join(f"{value:.0f}" for value in rss),
    }


async def main(args: argparse.Namespace) -> None:
    rows = [await run_setup("1 process, SQLite", 1, "", args)]
    database = f"portrait_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{database}"')
    try:
        url = ADMIN_URL.rsplit("/", 1)[0] + f"/{database}"
        rows.append(await run_setup("3 processes, PostgreSQL", SHARDS, url, args))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
    print(
        f"\n{args.jobs} jobs from {MEMBERS} members, fake task {args.task_seconds:g} s, "
        f"MAX_RUNNING_TASKS={args.slots}"
    )
    columns = list(rows[0])
    widths = [max(len(c), *(len(_cell(r[c])) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in rows:
        print("  ".join(_cell(row[c]).ljust(w) for c, w in zip(columns, widths, strict=True)))


def _cell(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--task-seconds", type=float, default=2.0)
    parser.add_argument("--slots", type=int, default=50)
    asyncio.run(main(parser.parse_args()))
