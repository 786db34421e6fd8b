"""Acknowledgement latency: interaction sent by the stand-in -> the bot's callback received by
it, for commands one at a time and for a burst sent at once (``asyncio.gather``)."""

from __future__ import annotations

import asyncio
import contextlib

from bench.harness import (
    ack_latency,
    add_nonce_row,
    bot_process,
    fire,
    late_acks,
    log,
    stage,
    tally,
    wait_for_jobs,
)
from bench.methods import POLLING
from bench.profile import Profile
from bench.report import Report
from bench.stats import ms, summary

NAME = "ack"
FAKE_DURATION = 0.3  # the jobs behind the commands finish quickly


async def run(report: Report, profile: Profile) -> None:
    members = profile.ack_single + profile.ack_burst
    async with (
        stage(
            members, durations=lambda: FAKE_DURATION, nonce_window_ms=profile.nonce_window_ms
        ) as where,
        bot_process(where, POLLING),
    ):
        log(f"ack: {profile.ack_single} commands one at a time")
        singles = []
        for member in where.take_members(profile.ack_single):
            rec = await where.portrait(member)
            # The next command waits until this one is answered and its selfie taken in.
            with contextlib.suppress(TimeoutError):
                await rec.wait_for(lambda r: r.callbacks, timeout=10)
                await rec.wait_for(
                    lambda r: r.original is not None and not r.original.loading, timeout=30
                )
            singles.append(rec)
        log(f"ack: {profile.ack_burst} commands at once")
        burst = await fire(where, where.take_members(profile.ack_burst))
        with contextlib.suppress(TimeoutError):
            await asyncio.gather(
                *(rec.wait_for(lambda r: r.callbacks, timeout=30) for rec in burst)
            )
        log("ack: waiting for those jobs to finish")
        state = await wait_for_jobs(where, [*singles, *burst], give_up_after=300)

    for label, recs in (("1 at a time", singles), (f"{len(burst)} at once", burst)):
        latencies = [x for rec in recs if (x := ack_latency(rec)) is not None]
        stats = summary(latencies, 50, 95, 99)
        late = late_acks(recs)
        value = f"p50 {ms(stats['p50'])}  p95 {ms(stats['p95'])}  p99 {ms(stats['p99'])}"
        value += f"  (max {ms(stats['max'])}; refused/none: {late})"
        report.add(
            "acknowledgement",
            f"interaction -> callback, {label} (n={len(recs)})",
            value,
            seconds=stats,
            refused_or_missing=late,
        )
    add_nonce_row(report, "acknowledgement", where.wiro)
    jobs = tally(state)
    report.add(
        "acknowledgement",
        "jobs behind those commands lost",
        f"{jobs.lost} of {jobs.jobs}",
        lost=jobs.lost,
        duplicates=jobs.duplicates,
        reasons=dict(jobs.reasons),
    )
