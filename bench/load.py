"""Many concurrent jobs in one bot process: loop lag, peak memory, jobs lost (must be 0).

Every job comes from a distinct member and all commands are sent at once. The bot runs at most
MAX_RUNNING_TASKS (100, the setting's maximum) tasks at Wiro at a time and keeps the rest in
its queue, so "concurrent" means: all of them accepted and in the bot at once.
"""

from __future__ import annotations

import random
import time
from collections import Counter

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
from bench.stats import ms, secs, summary

NAME = "load"
MIB = 1024 * 1024


async def run(report: Report, profile: Profile) -> None:
    count = profile.load_jobs
    low, high = profile.load_durations
    rng = random.Random(11)
    log(f"load: {count} jobs at once, tasks {low:g}-{high:g} s")
    async with (
        stage(
            count, durations=lambda: rng.uniform(low, high), nonce_window_ms=profile.nonce_window_ms
        ) as where,
        bot_process(where, POLLING) as bot,
    ):
        requests_before = len(where.discord.requests)
        start = time.monotonic()
        recs = await fire(where, where.take_members(count))
        sent = time.monotonic()
        state = await wait_for_jobs(where, recs, give_up_after=900, stall=60, settle=2.0)
        posted = [m.created_at for outcome in state for m in outcome.results]
        end = max(posted) if posted else time.monotonic()
    scope = f"{count:,} jobs at once"
    jobs = tally(state)
    lag = summary(bot.lag_between(start, end), 50, 99)
    acks = summary([x for rec in recs if (x := ack_latency(rec)) is not None], 50, 99)
    idle_rss = bot.rss_before(start)
    window = [r for r in where.discord.requests[requests_before:] if start <= r.started_at <= end]
    per_second = Counter(int(r.started_at - start) for r in window)
    report.add(
        "load",
        f"{scope}: jobs lost (not exactly 1 result)",
        f"{jobs.lost} of {jobs.jobs} (duplicates {jobs.duplicates}, no result {jobs.no_result})",
        lost=jobs.lost,
        duplicates=jobs.duplicates,
        no_result=jobs.no_result,
        reasons=dict(jobs.reasons),
    )
    report.add(
        "load",
        f"{scope}: event-loop lag (50 ms sleeps)",
        f"p99 {ms(lag['p99'])}  (p50 {ms(lag['p50'])}, max {ms(lag['max'])}, n={lag['n']:.0f})",
        seconds=lag,
    )
    report.add(
        "load",
        f"{scope}: peak RSS of the bot process",
        f"{bot.ru_maxrss_bytes / MIB:,.0f} MiB  (idle before the burst: {idle_rss / MIB:,.0f} MiB)",
        peak_bytes=bot.ru_maxrss_bytes,
        idle_bytes=idle_rss,
    )
    report.add(
        "load",
        f"{scope}: acknowledgement latency",
        f"p50 {ms(acks['p50'])}  p99 {ms(acks['p99'])}  (max {ms(acks['max'])}; "
        f"refused/none: {late_acks(recs)})",
        seconds=acks,
        refused_or_missing=late_acks(recs),
    )
    report.add(
        "load",
        f"{scope}: first command -> last result",
        f"{secs(end - start)}  (sending took {secs(sent - start)}; "
        f"bot CPU {bot.cpu_seconds:.0f} s)",
        seconds=end - start,
        bot_cpu_seconds=bot.cpu_seconds,
    )
    report.add(
        "load",
        f"{scope}: Discord REST requests by the bot",
        f"{len(window):,} ({len(window) / max(jobs.jobs, 1):.1f} per job; "
        f"peak {max(per_second.values(), default=0)}/s)",
        requests=len(window),
        peak_per_second=max(per_second.values(), default=0),
    )
    wiro = where.wiro
    wiro_calls = sum(wiro.calls.values())
    report.add(
        "load",
        f"{scope}: Wiro calls",
        f"{wiro_calls:,} ({wiro_calls / max(jobs.jobs, 1):.1f} per job)",
        calls=dict(wiro.calls),
    )
    add_nonce_row(report, "load", wiro)
    if jobs.reasons:
        report.note(f"load: what members without a result were told: {dict(jobs.reasons)}")
    warnings = bot.warnings()
    if warnings:
        top = "; ".join(f"{n}x {text}" for text, n in warnings.most_common(4))
        report.note(f"load: bot log warnings: {top}")
