"""Three bot processes on one PostgreSQL database (issue 14): `python -m bot` three times, each
running one of three Discord shards (`DISCORD_SHARD_COUNT=3`, `DISCORD_SHARD_IDS`), against the
Discord stand-in and the fake Wiro. 300 portraits from 60 members in three servers; one process
is killed with SIGKILL while jobs run and started again. Afterwards: no job lost, no task run
twice at Wiro, no result posted twice, and never more than `MAX_RUNNING_TASKS` tasks at Wiro at
once, across the three processes."""

from __future__ import annotations

import asyncio
from collections import Counter

import asyncpg

from tests.discord_standin import DiscordStandIn
from tests.fakewiro import FakeWiro
from tests.support.bot_process import BotProcess, bot_env, eventually
from tests.support.images import selfie_jpeg
from tests.support.shards import add_members, servers_on_every_shard

PROCESSES = 3
MEMBERS = 60
PER_MEMBER = 5  # 300 jobs
SLOTS = 4  # MAX_RUNNING_TASKS
TASK_SECONDS = 0.3  # the fake Wiro's task length
SELFIE = selfie_jpeg()


async def states(url: str) -> Counter[str]:
    conn = await asyncpg.connect(url)
    try:
        return Counter(row[0] for row in await conn.fetch("SELECT state FROM jobs"))
    finally:
        await conn.close()


def most_at_once(wiro: FakeWiro) -> int:
    """The most tasks running at Wiro at one moment (each lasts TASK_SECONDS)."""
    edges = sorted(
        [(task.created, 1) for task in wiro.tasks.values()]
        + [(task.created + TASK_SECONDS, -1) for task in wiro.tasks.values()]
    )
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


async def started_by(url: str, pid: int) -> list[int]:
    """The jobs the process ``pid`` claimed that are at Wiro or being posted."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT id FROM jobs WHERE state IN ('submitting', 'running', 'delivering') "
            "AND claimed_by LIKE $1",
            f"%:{pid}:%",
        )
    finally:
        await conn.close()
    return [int(row[0]) for row in rows]


def results(discord_server: DiscordStandIn) -> list:
    return [m for m in discord_server.messages.values() if m.attachments and not m.ephemeral]


async def test_three_processes_one_killed_lose_nothing_and_do_nothing_twice(
    discord_server, fake_wiro, tmp_path, postgres_database
) -> None:
    database = postgres_database
    guilds = servers_on_every_shard(discord_server, PROCESSES)
    members = add_members(discord_server, guilds, MEMBERS)
    fake_wiro.scenario.duration = TASK_SECONDS
    # Three processes sign with one key: their millisecond nonces interleave. Wiro publishes
    # no nonce rule (its own n8n node reuses one nonce for ten minutes); the fake stays strict
    # about reuse and accepts a lower nonce within a second, and the client sends a refused
    # signature again with a fresh nonce (bot/core/wiro/client.py).
    fake_wiro.nonce_reorder_window_ms = 1000
    settings = {
        "DATABASE_URL": database,
        "DISCORD_SHARD_COUNT": str(PROCESSES),
        "MAX_RUNNING_TASKS": str(SLOTS),
        "MEMBER_MAX_ACTIVE_JOBS": str(PER_MEMBER),
        "MEMBER_COOLDOWN_SECONDS": "0",
        "MEMBER_DAILY_QUOTA": "100",
        "GUILD_DAILY_QUOTA": "1000",
        "PROCESS_LEASE_SECONDS": "3",
        "STATUS_EDIT_INTERVAL": "5",
        "LOG_LEVEL": "WARNING",
    }

    def process(shard: int) -> BotProcess:
        env = bot_env(
            discord_server, fake_wiro, tmp_path / "data", DISCORD_SHARD_IDS=str(shard), **settings
        )
        return BotProcess(env, cwd=tmp_path)

    bots = [await process(shard).start() for shard in range(PROCESSES)]
    try:
        await eventually(
            lambda: (
                {s.shard[0] for s in discord_server.gateway.sessions.values()}
                == set(range(PROCESSES))
            ),
            timeout=60,
            what="every shard identified",
        )
        await asyncio.sleep(1.0)  # each shard's guild is ready in its process

        async def ask(number: int) -> None:
            member, channel = members[number % MEMBERS]
            rec = await discord_server.slash(
                "portrait",
                {"prompt": f"portrait number {number}", "seed": number + 1},
                attachments={"selfie": ("me.jpg", SELFIE, "image/jpeg")},
                user=member,
                channel=channel,
            )
            await rec.wait_original(lambda m: "Selfie accepted" in m.content, timeout=30)

        for start in range(0, MEMBERS * PER_MEMBER, 30):
            await asyncio.gather(*(ask(n) for n in range(start, start + 30)))

        # Kill one process while it works on jobs at Wiro, then start it again.
        await eventually(lambda: len(results(discord_server)) >= 60, timeout=120, what="60 posted")
        pid = bots[1].pid
        deadline = asyncio.get_running_loop().time() + 60
        while not (orphans := await started_by(database, pid)):
            assert asyncio.get_running_loop().time() < deadline, "process 1 never ran a job"
            await asyncio.sleep(0.01)
        await bots[1].kill()
        await asyncio.sleep(1.0)
        bots[1] = await process(1).start()

        async def all_ended() -> bool:
            found = await states(database)
            return sum(found.values()) == 300 and set(found) <= {"delivered", "unconfirmed"}

        deadline = asyncio.get_running_loop().time() + 300
        while not await all_ended():
            assert asyncio.get_running_loop().time() < deadline, await states(database)
            await asyncio.sleep(0.5)
    finally:
        for bot in bots:
            if bot.running:
                await bot.interrupt(timeout=30)
        output = "".join(bot.output for bot in bots)
    assert "Traceback" not in output, output[-3000:]

    found = await states(database)
    # A run call cut off by the kill before Wiro took it is told to its member (UNCONFIRMED,
    # nothing to follow); every other job is delivered.
    assert found["delivered"] + found["unconfirmed"] == 300 and found["unconfirmed"] <= SLOTS
    # No task run twice: one run per delivered job's selfie.
    runs = Counter(str(run.get("inputImageUrl")) for run in fake_wiro.runs)
    assert max(runs.values()) == 1 and len(runs) >= found["delivered"]
    # No result posted twice: each prompt's portrait once.
    posted = Counter(m.embeds[0]["description"] for m in results(discord_server))
    assert max(posted.values()) == 1 and len(posted) == found["delivered"]
    assert most_at_once(fake_wiro) <= SLOTS
    # The killed process's started jobs were taken over and finished by the others.
    conn = await asyncpg.connect(database)
    try:
        rows = await conn.fetch(
            "SELECT id, state, claimed_by FROM jobs WHERE id = ANY($1::bigint[])", orphans
        )
    finally:
        await conn.close()
    assert len(rows) == len(orphans) and all(f":{pid}:" not in row[2] for row in rows)
    assert {row[1] for row in rows} <= {"delivered", "unconfirmed"}
