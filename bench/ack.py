"""Acknowledgement latency: interaction sent by the stand-in -> the bot's callback received by
it, for commands one at a time and for bursts sent at once (``asyncio.gather``).

Discord wants the callback within 3 s; the stand-in refuses a later one (10062 Unknown
interaction), as Discord does, and such a member never hears from the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from bench.harness import (
    Stage,
    ack_latency,
    add_nonce_row,
    add_warnings_note,
    bot_process,
    fire,
    late_acks,
    log,
    stage,
    tally,
    wait_for_jobs,
)
from bench.methods import SOCKET
from bench.profile import Profile
from bench.report import Report
from bench.stats import ms, percentile, summary
from tests.discord_standin import InteractionRecord

NAME = "ack"
FAKE_DURATION = 0.3  # the jobs behind the commands finish quickly


async def one_at_a_time(where: Stage, count: int) -> list[InteractionRecord]:
    recs = []
    for member in where.take_members(count):
        rec = await where.portrait(member)
        # The next command waits until this one is answered and its selfie taken in.
        with contextlib.suppress(TimeoutError):
            await rec.wait_for(lambda r: r.callbacks, timeout=10)
            await rec.wait_for(
                lambda r: r.original is not None and not r.original.loading, timeout=30
            )
        recs.append(rec)
    return recs


async def at_once(where: Stage, count: int) -> tuple[list[InteractionRecord], float, float]:
    """A burst; returns the records and the time window in which it was answered."""
    started = time.monotonic()
    recs = await fire(where, where.take_members(count))
    with contextlib.suppress(TimeoutError):
        await asyncio.gather(*(rec.wait_for(lambda r: r.callbacks, timeout=30) for rec in recs))
    return recs, started, time.monotonic()


async def run(report: Report, profile: Profile) -> None:
    bursts = [n for n in (profile.ack_burst, profile.ack_stress) if n]
    members = profile.ack_single + sum(bursts)
    groups: list[tuple[str, list[InteractionRecord], tuple[float, float] | None]] = []
    all_recs: list[InteractionRecord] = []
    async with (
        stage(
            members, durations=lambda: FAKE_DURATION, nonce_window_ms=profile.nonce_window_ms
        ) as where,
        bot_process(where, SOCKET) as bot,
    ):
        log(f"ack: {profile.ack_single} commands one at a time")
        singles = await one_at_a_time(where, profile.ack_single)
        groups.append(("1 command at a time", singles, None))
        all_recs += singles
        for count in bursts:
            log(f"ack: {count} commands at once")
            recs, started, answered = await at_once(where, count)
            groups.append((f"{count:,} commands at once", recs, (started, answered)))
            all_recs += recs
            log("ack: waiting for those jobs to finish")
            await wait_for_jobs(where, all_recs, give_up_after=300, stall=30, settle=0)
        state = await wait_for_jobs(where, all_recs, give_up_after=60, stall=30)

    for label, recs, window in groups:
        latencies = [x for rec in recs if (x := ack_latency(rec)) is not None]
        stats = summary(latencies, 50, 95, 99)
        late = late_acks(recs)
        report.add(
            "acknowledgement",
            f"{label} (n={len(recs):,})",
            f"p50 {ms(stats['p50'])}  p95 {ms(stats['p95'])}  p99 {ms(stats['p99'])}  "
            f"(max {ms(stats['max'])}; {late} refused as past 3 s)",
            seconds=stats,
            refused_or_missing=late,
        )
        if window is not None:
            bot_lag = percentile(bot.lag_between(*window), 99)
            bench_lag = percentile(where.lag_between(*window), 99)
            report.add(
                "acknowledgement",
                "  loop lag p99 meanwhile",
                f"bot {ms(bot_lag)}, stand-in + fake Wiro {ms(bench_lag)} "
                f"(over {window[1] - window[0]:.1f} s)",
                bot_seconds=bot_lag,
                stand_in_seconds=bench_lag,
            )
    jobs = tally(state)
    acknowledged = tally(outcome for outcome in state if outcome.rec.ack_at is not None)
    report.add(
        "acknowledgement",
        "jobs behind those commands lost",
        f"{jobs.lost} of {jobs.jobs:,}; of the acknowledged ones: "
        f"{acknowledged.lost} of {acknowledged.jobs:,}",
        lost=jobs.lost,
        lost_acknowledged=acknowledged.lost,
        duplicates=jobs.duplicates,
        reasons=dict(jobs.reasons),
    )
    add_nonce_row(report, "acknowledgement", where.wiro)
    if jobs.reasons:
        report.note(f"ack: what members without a result were told: {dict(jobs.reasons)}")
    add_warnings_note(report, "ack", bot)
