"""The figures of `stats` against a ledger with known jobs and costs (exact numbers), the
chart as a PNG, and `python -m bot stats` for the bot's owner."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from bot.core.insight.audit import AuditLog
from bot.core.insight.chart import render_chart
from bot.core.insight.stats import DayCount, Insight, MemberUse, scope_stats
from bot.core.jobs.admission import Requester
from bot.core.jobs.ledger import JobState
from bot.core.jobs.sql_ledger import SqlLedger
from tests.support.insight import (
    CHAT,
    GUILD,
    START,
    Clock,
    create,
    discord_member,
    end_job,
    telegram_member,
)
from tests.support.ledgers import OpenLedger

ROOT = Path(__file__).resolve().parents[1]
NOW = START + timedelta(days=10)  # 2026-03-20 12:00:00.25 UTC
ANN, BOB, DAN, OLD = (discord_member(n) for n in (1, 2, 4, 5))
CID = telegram_member(3)


async def job_at(
    ledger: SqlLedger,
    clock: Clock,
    at: datetime,
    who: Requester,
    name: str,
    end: JobState,
    **how: float | str | None,
) -> None:
    clock.now = at
    job = await create(ledger, who, name)
    await end_job(ledger, clock, job, end, **how)  # type: ignore[arg-type]


@pytest.fixture
async def ledger(open_ledger: OpenLedger) -> AsyncIterator[SqlLedger]:
    """Known jobs in a server and a chat over the last 40 days (see each line), on each
    database in turn (tests/support/ledgers.py)."""
    clock = Clock()
    async with await open_ledger(clock=clock) as opened:
        day = timedelta(days=1)
        d, f, c, k = JobState.DELIVERED, JobState.FAILED, JobState.CANCELLED, JobState.KEPT
        await job_at(opened, clock, NOW - 40 * day, OLD, "Old", d, cost=1.0)  # outside
        await job_at(opened, clock, NOW - 20 * day, ANN, "Ann", d, generation=10, cost=0.10)
        await job_at(opened, clock, NOW - 9 * day, ANN, "Ann", d, wait=4, generation=10,
                     cost=0.02, task_seconds=8.0)  # fmt: skip
        await job_at(opened, clock, NOW - 9 * day, ANN, "Ann", f, wait=2, generation=3,
                     reason="no_face")  # fmt: skip
        await job_at(opened, clock, NOW - 5 * day, BOB, "Bob", d, wait=6, generation=12,
                     cost=0.03)  # fmt: skip
        await job_at(opened, clock, NOW - 3 * day, CID, "Cid", d, wait=1, generation=20,
                     cost=0.05, task_seconds=18.0)  # fmt: skip
        await job_at(opened, clock, NOW - day - timedelta(hours=1), CID, "Cid", k, wait=2,
                     generation=6, cost=0.04)  # fmt: skip
        await job_at(opened, clock, NOW - timedelta(hours=3), DAN, "Dan", d, wait=1,
                     generation=9, cost=0.01, task_seconds=9.0)  # fmt: skip
        await job_at(opened, clock, NOW - timedelta(hours=2), BOB, "Bob", f, reason="balance")
        await job_at(opened, clock, NOW - timedelta(hours=1), ANN, "Annie", c, wait=30)
        audit = AuditLog(opened, clock=clock)
        for at, who in [(NOW - 40 * day, ANN), (NOW, ANN), (NOW, BOB), (NOW, CID)]:
            clock.now = at
            await audit.request(
                who, member_name="x", place=None, prompt="", style="", outcome="refused"
            )
        yield opened


async def test_the_figures_of_one_server(ledger):
    stats = await scope_stats(ledger, GUILD, now=NOW)

    assert (stats.scope, stats.generated_at) == (GUILD, NOW)
    assert (stats.delivered, stats.failed, stats.cancelled, stats.refused) == (4, 2, 1, 2)
    assert stats.failures_by_reason == {"balance": 1, "no_face": 1}
    assert stats.median_wait_seconds == 1.5  # 0, 0, 1, 2, 4, 6 (the cancelled one never ran)
    assert stats.median_generation_seconds == 9.5  # 8 (measured), 9, 10, 12
    assert (stats.spend_day, stats.spend_week, stats.spend_month) == (0.01, 0.04, 0.16)
    assert stats.top_members == [
        MemberUse("discord:1", "Annie", 4),  # the latest name
        MemberUse("discord:2", "Bob", 2),
        MemberUse("discord:4", "Dan", 1),
    ]
    assert len(stats.days) == 30
    assert stats.days[0].day == date(2026, 2, 19) and stats.days[-1].day == date(2026, 3, 20)
    busy = [day for day in stats.days if day.delivered or day.failed or day.cost]
    assert busy == [
        DayCount(date(2026, 2, 28), 1, 0, 0.10),
        DayCount(date(2026, 3, 11), 1, 1, 0.02),
        DayCount(date(2026, 3, 15), 1, 0, 0.03),
        DayCount(date(2026, 3, 20), 1, 1, 0.01),
    ]


async def test_the_figures_of_every_scope_together(ledger):
    stats = await Insight(ledger).stats(None, now=NOW)

    assert (stats.delivered, stats.failed, stats.cancelled, stats.refused) == (5, 3, 1, 3)
    assert stats.failures_by_reason == {"balance": 1, "no_face": 1, "undelivered": 1}
    assert stats.median_wait_seconds == 1.5  # 0, 0, 1, 1, 2, 2, 4, 6
    assert stats.median_generation_seconds == 9.5  # 6, 8, 9, 10, 12, 18
    assert (stats.spend_day, stats.spend_week, stats.spend_month) == (0.01, 0.13, 0.25)
    assert [(m.requester, m.portraits) for m in stats.top_members] == [
        ("discord:1", 4),
        ("discord:2", 2),
        ("telegram:3", 2),
        ("discord:4", 1),
    ]
    assert await Insight(ledger).scopes(now=NOW) == [GUILD, CHAT]


async def test_a_scope_without_jobs_has_empty_figures(ledger):
    stats = await scope_stats(ledger, "telegram:chat:404", now=NOW, days=7)

    assert (stats.delivered, stats.failed, stats.cancelled, stats.refused) == (0, 0, 0, 0)
    assert stats.median_wait_seconds is None and stats.median_generation_seconds is None
    assert (stats.spend_day, stats.spend_month, stats.top_members) == (0.0, 0.0, [])
    assert [day.day for day in stats.days] == [date(2026, 3, 14 + n) for n in range(7)]


async def test_the_chart_is_a_png_of_the_days(ledger):
    stats = await scope_stats(ledger, GUILD, now=NOW)
    png = await asyncio.to_thread(render_chart, stats, title="Cash $$ server $x$")

    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (1000, 480)
    # Something was drawn in the delivered bars' green.
    colours = image.convert("RGB").getcolors(maxcolors=1_000_000) or []
    assert (58, 165, 93) in {colour for _, colour in colours}


async def stats_command(data_dir: Path, *args: str, database_url: str = "") -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "WIRO_"))}
    env.update(PYTHONPATH=str(ROOT), BOT_DATA_DIR=str(data_dir))  # no Wiro key at all
    env.update(DATABASE_URL=database_url)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "stats", *args,
        cwd=data_dir.parent, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, stdout.decode(), stderr.decode()


async def test_the_stats_command_prints_every_scope_then_each(
    tmp_path, backend, open_ledger, request
):
    now = datetime.now(UTC)
    clock = Clock(now - timedelta(hours=2))
    data = tmp_path / "data"  # the SQLite file is data/jobs.sqlite3, as open_ledger makes it
    database_url = ""
    if backend == "postgresql":
        database_url = request.getfixturevalue("postgres_url")
    async with await open_ledger(clock=clock) as ledger:
        job = await create(ledger, ANN, "Ann\x1b[31m")  # a terminal escape in a name
        await end_job(ledger, clock, job, JobState.DELIVERED, wait=3, generation=7, cost=0.05)
        job = await create(ledger, CID, "Cid")
        await end_job(ledger, clock, job, JobState.FAILED, wait=1, generation=2, reason="no_face")

    code, out, err = await stats_command(data, "--chart", "chart.png", database_url=database_url)

    assert code == 0, err
    everything, guild, chat = out.split("\n\n")[1:4]
    assert everything.splitlines()[:5] == [
        "All servers and chats",
        "  Portraits: 1 delivered, 1 failed, 0 cancelled; 0 requests refused",
        "  Failures by reason: no_face 1",
        "  Median wait 2.0 s, median generation 7.0 s",
        "  Spend: $0.05 last 24 h, $0.05 last 7 days, $0.05 last 30 days",
    ]
    assert "Top members: Ann?[31m (discord:1) 1, Cid (telegram:3) 1" in everything
    assert "\x1b" not in out
    assert guild.startswith(f"{GUILD}\n  Portraits: 1 delivered, 0 failed")
    assert chat.startswith(f"{CHAT}\n  Portraits: 0 delivered, 1 failed")
    assert Image.open(tmp_path / "chart.png").format == "PNG"

    code, out, err = await stats_command(data, "--scope", CHAT, database_url=database_url)
    assert code == 0, err
    assert "All servers and chats" not in out and f"\n{CHAT}\n" in out


async def test_the_stats_command_without_a_ledger_says_so(tmp_path):
    code, _, err = await stats_command(tmp_path / "nothing")
    assert code == 1
    assert "no job database" in err and not (tmp_path / "nothing").exists()
