"""Many concurrent jobs in one bot process: loop lag, peak memory, jobs lost (must be 0).

Every job comes from a distinct member; the commands arrive at ``load_rate`` per second (1,000
in 5 s), faster than the jobs finish, so they are all in the bot at once ("peak in flight"
shows it). Sending all of them in the same instant is the ack scenario's stress burst. The bot
runs at most MAX_RUNNING_TASKS (100, the setting's maximum) tasks at Wiro at a time and keeps
the rest in its queue.
"""

from __future__ import annotations

import random
import time
from collections import Counter

from bench.harness import (
    ack_latency,
    add_nonce_row,
    add_warnings_note,
    bot_process,
    fire,
    late_acks,
    log,
    peak_in_flight,
    stage,
    tally,
    wait_for_jobs,
)
from bench.methods import SOCKET
from bench.profile import Profile
from bench.report import Report
from bench.stats import ms, secs, summary

NAME = "load"
MIB = 1024 * 1024


async def run(report: Report, profile: Profile) -> None:
    count = profile.load_jobs
    low, high = profile.load_durations
    rng = random.Random(11)
    rate = profile.load_rate
    log(f"load: {count} jobs, {rate:g} commands/s, tasks {low:g}-{high:g} s")
    async with (
        stage(
            count, durations=lambda: rng.uniform(low, high), nonce_window_ms=profile.nonce_window_ms
        ) as where,
        bot_process(where, SOCKET) as bot,
    ):
        requests_before = len(where.discord.requests)
        start = time.monotonic()
        recs = await fire(where, where.take_members(count), per_second=rate)
        sent = time.monotonic()
        state = await wait_for_jobs(where, recs, give_up_after=900, stall=60, settle=2.0)
        posted = [m.created_at for outcome in state for m in outcome.results]
        end = max(posted) if posted else time.monotonic()
    jobs = tally(state)
    lag = summary(bot.lag_between(start, end), 50, 99)
    bench_lag = summary(where.lag_between(start, end), 50, 99)
    acks = summary([x for rec in recs if (x := ack_latency(rec)) is not None], 50, 99)
    idle_rss = bot.rss_before(start)
    window = [r for r in where.discord.requests[requests_before:] if start <= r.started_at <= end]
    per_second = Counter(int(r.started_at - start) for r in window)
    in_flight = peak_in_flight(state)
    report.add(
        "load",
        f"{count:,} jobs ({rate:g} commands/s, tasks {low:g}-{high:g} s): jobs lost",
        f"{jobs.lost} of {jobs.jobs:,} (duplicates {jobs.duplicates}, no result {jobs.no_result})",
        lost=jobs.lost,
        duplicates=jobs.duplicates,
        no_result=jobs.no_result,
        reasons=dict(jobs.reasons),
    )
    report.add(
        "load",
        "  jobs in the bot at once (peak); first command -> last result",
        f"{in_flight:,}; {secs(end - start)} (commands sent over {secs(sent - start)})",
        peak_in_flight=in_flight,
        seconds=end - start,
        sending_seconds=sent - start,
    )
    report.add(
        "load",
        "  bot event-loop lag (50 ms sleeps)",
        f"p99 {ms(lag['p99'])}  (p50 {ms(lag['p50'])}, max {ms(lag['max'])}, n={lag['n']:,.0f})",
        seconds=lag,
    )
    report.add(
        "load",
        "  bot peak RSS (ru_maxrss)",
        f"{bot.ru_maxrss_bytes / MIB:,.0f} MiB  (idle before the commands: "
        f"{idle_rss / MIB:,.0f} MiB; bot CPU {bot.cpu_seconds:.0f} s)",
        peak_bytes=bot.ru_maxrss_bytes,
        idle_bytes=idle_rss,
        bot_cpu_seconds=bot.cpu_seconds,
    )
    report.add(
        "load",
        "  acknowledgement latency",
        f"p50 {ms(acks['p50'])}  p99 {ms(acks['p99'])}  (max {ms(acks['max'])}; "
        f"{late_acks(recs)} refused as past 3 s)",
        seconds=acks,
        refused_or_missing=late_acks(recs),
    )
    report.add(
        "load",
        "  stand-in + fake Wiro loop lag",
        f"p99 {ms(bench_lag['p99'])}  (max {ms(bench_lag['max'])})",
        seconds=bench_lag,
    )
    report.add(
        "load",
        "  Discord REST requests by the bot",
        f"{len(window):,} ({len(window) / max(jobs.jobs, 1):.1f} per job; "
        f"peak {max(per_second.values(), default=0)}/s)",
        requests=len(window),
        peak_per_second=max(per_second.values(), default=0),
    )
    wiro = where.wiro
    wiro_calls = sum(wiro.calls.values())
    report.add(
        "load",
        "  Wiro HTTP calls",
        f"{wiro_calls:,} ({wiro_calls / max(jobs.jobs, 1):.1f} per job)",
        calls=dict(wiro.calls),
    )
    add_nonce_row(report, "load", wiro)
    if jobs.reasons:
        report.note(f"load: what members without a result were told: {dict(jobs.reasons)}")
    add_warnings_note(report, "load", bot)
