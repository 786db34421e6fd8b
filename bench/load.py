"""Many concurrent jobs in one bot process: loop lag, peak memory, jobs lost (must be 0).

Every job comes from a distinct member; the commands arrive at ``load_rate`` per second (1,000
in 5 s), faster than the jobs finish, so they are all in the bot at once ("peak in flight"
shows it). Sending all of them in the same instant is the ack scenario's stress burst. The bot
runs at most MAX_RUNNING_TASKS (100, the setting's maximum) tasks at Wiro at a time and keeps
the rest in its queue.

While the load runs, a new member sends a /portrait every ``PROBE_EVERY`` seconds (members
of their own, at most ``load_probes``): the acknowledgement a newcomer gets while the bot is
busy with all the others. Every REST request the bot makes to the stand-in from the first
command until the last job is answered is counted, per job and by kind (route).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
from collections import Counter

from bench.harness import (
    Stage,
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
from tests.discord_standin import InteractionRecord

NAME = "load"
MIB = 1024 * 1024
PROBE_EVERY = 0.5  # seconds between two newcomers' commands during the load
KINDS_LISTED = 6  # request kinds named in the report
CDN_ROUTE = "GET /<cdn>"  # the stand-in's name for an attachment download


async def probe(where: Stage, count: int, stop: asyncio.Event) -> list[InteractionRecord]:
    """A new member's /portrait every PROBE_EVERY seconds until ``stop`` (or ``count`` sent)."""
    recs: list[InteractionRecord] = []
    for member in where.take_members(count):
        recs.append(await where.portrait(member))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PROBE_EVERY)
        if stop.is_set():
            break
    return recs


def request_kind(route: str | None) -> str:
    """A readable kind for a stand-in route, e.g. ``PATCH webhook message`` for a status edit."""
    if route is None:
        return "unknown route"
    method, _, template = route.partition(" ")
    words = [w for w in re.split(r"/", template) if w and not w.startswith("{")]
    return f"{method} {'/'.join(words)}"


async def run(report: Report, profile: Profile) -> None:
    count = profile.load_jobs
    low, high = profile.load_durations
    rng = random.Random(11)
    rate = profile.load_rate
    log(f"load: {count} jobs, {rate:g} commands/s, tasks {low:g}-{high:g} s")
    async with (
        stage(
            count + profile.load_probes,
            durations=lambda: rng.uniform(low, high),
            nonce_window_ms=profile.nonce_window_ms,
        ) as where,
        bot_process(where, SOCKET) as bot,
    ):
        requests_before = len(where.discord.requests)
        start = time.monotonic()
        members = where.take_members(count)
        stop_probing = asyncio.Event()
        probing = asyncio.create_task(probe(where, profile.load_probes, stop_probing))
        recs = await fire(where, members, per_second=rate)
        sent = time.monotonic()
        state = await wait_for_jobs(where, recs, give_up_after=900, stall=60, settle=0)
        stop_probing.set()
        probes = await probing
        await wait_for_jobs(where, probes, give_up_after=120, stall=30, settle=2.0)
        posted = [m.created_at for outcome in state for m in outcome.results]
        end = max(posted) if posted else time.monotonic()
        every_request = where.discord.requests[requests_before:]
    jobs = tally(state)
    lag = summary(bot.lag_between(start, end), 50, 99)
    bench_lag = summary(where.lag_between(start, end), 50, 99)
    acks = summary([x for rec in recs if (x := ack_latency(rec)) is not None], 50, 99)
    idle_rss = bot.rss_before(start)
    window = [r for r in where.discord.requests[requests_before:] if start <= r.started_at <= end]
    per_second = Counter(int(r.started_at - start) for r in window)
    in_flight = peak_in_flight(state)
    probe_acks = summary([x for rec in probes if (x := ack_latency(rec)) is not None], 50, 99)
    all_jobs = jobs.jobs + len(probes)
    # Discord's API only: fetching the selfie from the CDN is not an API request.
    api_requests = [r for r in every_request if r.route != CDN_ROUTE]
    cdn_gets = len(every_request) - len(api_requests)
    kinds = Counter(request_kind(r.route) for r in api_requests)
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
        f"  a new member's acknowledgement meanwhile (every {PROBE_EVERY:g} s)",
        f"p50 {ms(probe_acks['p50'])}  p99 {ms(probe_acks['p99'])}  (max {ms(probe_acks['max'])}, "
        f"n={len(probes)}; {late_acks(probes)} refused as past 3 s)",
        seconds=probe_acks,
        refused_or_missing=late_acks(probes),
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
    biggest = ", ".join(
        f"{kind} {n / max(all_jobs, 1):.1f}" for kind, n in kinds.most_common(KINDS_LISTED)
    )
    report.add(
        "load",
        "  Discord API requests per job, all of the load (by kind)",
        f"{len(api_requests) / max(all_jobs, 1):.1f} ({biggest}; "
        f"selfie downloads from the CDN besides: {cdn_gets / max(all_jobs, 1):.1f})",
        requests=len(api_requests),
        cdn_gets=cdn_gets,
        jobs=all_jobs,
        kinds=dict(kinds),
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
