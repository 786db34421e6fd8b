"""Both front ends under load in one bot process: ``mixed_jobs`` Discord commands and as many
Telegram ``/portrait`` photos, each platform at ``mixed_rate`` per second at the same time, on
one dispatcher (MAX_RUNNING_TASKS=100), one Wiro client and one socket; fake tasks 5-10 s.

Counted exactly: jobs lost (not exactly one result), duplicate results, duplicate Wiro runs
(a request's tag in more than one ``/Run`` prompt; see `bench.tgstage`). Measured: the bot's
event-loop lag and peak RSS, each beside the Discord-only load's figure when ``load`` ran in
the same bench run (1,000 Discord jobs: the same number of jobs).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from bench.harness import (
    Stage,
    ack_latency,
    add_nonce_row,
    add_warnings_note,
    bot_process,
    log,
    outcomes,
    stage,
    tally,
)
from bench.load import CDN_ROUTE, MIB, request_kind
from bench.methods import SOCKET
from bench.profile import Profile
from bench.report import Report
from bench.stats import ms, secs, summary
from bench.tgstage import (
    TgAsk,
    TgStage,
    discord_portrait,
    first_reply_latency,
    tasks_by_tag,
    telegram_stage,
    tg_outcomes,
    tg_tally,
    wait_until,
)
from tests.discord_standin import InteractionRecord
from tests.fakewiro import RUN_PATH

NAME = "mixed"
ROW = "mixed"


async def _send_discord(where: Stage, count: int, rate: float) -> list[InteractionRecord]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    recs = []
    for index, member in enumerate(where.take_members(count)):
        await asyncio.sleep(max(0.0, start + index / rate - loop.time()))
        recs.append(await discord_portrait(where, member, f"dc-{index}"))
    return recs


async def _send_telegram(tg: TgStage, count: int, rate: float) -> list[TgAsk]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    asks = []
    for index, member in enumerate(tg.take_members(count)):
        await asyncio.sleep(max(0.0, start + index / rate - loop.time()))
        asks.append(tg.ask(member))
    return asks


def _earlier(report: Report, scenario: str, words: str) -> dict[str, Any] | None:
    """The data of a row of an earlier scenario in this bench run, if it ran."""
    for row in report.rows:
        if row.scenario == scenario and words in row.figure:
            return row.data
    return None


async def run(report: Report, profile: Profile) -> None:
    count, rate = profile.mixed_jobs, profile.mixed_rate
    low, high = profile.mixed_durations
    rng = random.Random(13)
    log(
        f"mixed: {count} Discord + {count} Telegram jobs, {rate:g}/s each, "
        f"tasks {low:g}-{high:g} s, one bot process"
    )
    async with (
        stage(
            count,
            durations=lambda: rng.uniform(low, high),
            nonce_window_ms=profile.nonce_window_ms,
        ) as where,
        telegram_stage(count, where.selfie) as tg,
        bot_process(where, SOCKET, **tg.env) as bot,
    ):
        await tg.ready()
        dc_mark, tg_mark = len(where.discord.requests), len(tg.telegram.requests)
        start = time.monotonic()
        sending = asyncio.create_task(_send_telegram(tg, count, rate))
        recs = await _send_discord(where, count, rate)
        asks = await sending
        sent = time.monotonic()
        await wait_until(
            lambda: (
                all(o.done for o in tg_outcomes(tg.telegram, asks))
                and all(o.done for o in outcomes(where.discord, recs))
            ),
            lambda: (
                len(tg.telegram.requests),
                len(where.discord.requests),
                len(where.wiro.requests),
            ),
            give_up_after=900,
            stall=60,
            settle=2.0,
        )
        tg_state = tg_outcomes(tg.telegram, asks)
        dc_state = outcomes(where.discord, recs)
        posted = [m.created_at for o in tg_state for m in o.results]
        posted += [m.created_at for o in dc_state for m in o.results]
        end = max(posted) if posted else time.monotonic()
        dc_requests = where.discord.requests[dc_mark:]
        tg_requests = tg.telegram.requests[tg_mark:]

    tg_jobs, dc_jobs = tg_tally(tg_state), tally(dc_state)
    report.add(
        ROW,
        f"{count:,} Discord + {count:,} Telegram jobs ({rate:g}/s each, tasks {low:g}-{high:g} s): "
        "jobs lost",
        f"Telegram {tg_jobs.lost} of {tg_jobs.jobs:,} (duplicates {tg_jobs.duplicates}, no result "
        f"{tg_jobs.no_result}); Discord {dc_jobs.lost} of {dc_jobs.jobs:,} (duplicates "
        f"{dc_jobs.duplicates}, no result {dc_jobs.no_result})",
        telegram_lost=tg_jobs.lost,
        telegram_duplicates=tg_jobs.duplicates,
        discord_lost=dc_jobs.lost,
        discord_duplicates=dc_jobs.duplicates,
    )
    _add_runs(report, where, [a.member.tag for a in asks], count)
    in_flight = _peak(
        [(o.ask.sent_at, o.results[0].created_at) for o in tg_state if o.results]
        + [(o.rec.sent_at, o.results[0].created_at) for o in dc_state if o.results]
    )
    report.add(
        ROW,
        "  jobs in the bot at once (peak); first request -> last result",
        f"{in_flight:,}; {secs(end - start)} (requests sent over {secs(sent - start)})",
        peak_in_flight=in_flight,
        seconds=end - start,
    )
    lag = summary(bot.lag_between(start, end), 50, 99)
    load_lag = _earlier(report, "load", "event-loop lag")
    beside = ""
    if load_lag is not None:
        earlier = load_lag["seconds"]
        beside = f"; Discord-only load this run: p50 {ms(earlier['p50'])}, p99 {ms(earlier['p99'])}"
    report.add(
        ROW,
        "  bot event-loop lag (50 ms sleeps)",
        f"p50 {ms(lag['p50'])}  p99 {ms(lag['p99'])}  max {ms(lag['max'])} (n={lag['n']:,.0f})"
        + beside,
        seconds=lag,
    )
    rss = _earlier(report, "load", "peak RSS")
    beside = f"; Discord-only load this run: {rss['peak_bytes'] / MIB:,.0f} MiB" if rss else ""
    report.add(
        ROW,
        "  bot peak RSS (ru_maxrss)",
        f"{bot.ru_maxrss_bytes / MIB:,.0f} MiB (idle before: {bot.rss_before(start) / MIB:,.0f} "
        f"MiB; bot CPU {bot.cpu_seconds:.0f} s){beside}",
        peak_bytes=bot.ru_maxrss_bytes,
    )
    firsts = summary([x for o in tg_state if (x := first_reply_latency(o)) is not None], 50, 99)
    acks = summary([x for r in recs if (x := ack_latency(r)) is not None], 50, 99)
    report.add(
        ROW,
        "  Telegram first reply; Discord acknowledgement",
        f"p50 {ms(firsts['p50'])} p99 {ms(firsts['p99'])} (max {ms(firsts['max'])}); "
        f"p50 {ms(acks['p50'])} p99 {ms(acks['p99'])} (max {ms(acks['max'])})",
        telegram_seconds=firsts,
        discord_seconds=acks,
    )
    _add_requests(report, tg_requests, dc_requests, count)
    bench_lag = summary(where.lag_between(start, end), 50, 99)
    report.add(
        ROW,
        "  stand-ins + fake Wiro loop lag",
        f"p99 {ms(bench_lag['p99'])}  (max {ms(bench_lag['max'])})",
        seconds=bench_lag,
    )
    add_nonce_row(report, ROW, where.wiro)
    for name, jobs in (("Telegram", tg_jobs), ("Discord", dc_jobs)):
        if jobs.reasons:
            report.note(f"mixed: {name} members without a result were told: {dict(jobs.reasons)}")
    add_warnings_note(report, "mixed", bot)


def _add_runs(report: Report, where: Stage, tg_tags: Sequence[str], count: int) -> None:
    runs = tasks_by_tag(where.wiro)
    tags = {"Telegram": list(tg_tags), "Discord": [f"dc-{i}" for i in range(count)]}
    parts, data = [], {}
    for name, wanted in tags.items():
        extra = sum(len(runs.get(tag, [])) - 1 for tag in wanted if len(runs.get(tag, [])) > 1)
        none = sum(1 for tag in wanted if not runs.get(tag))
        parts.append(f"{name} {extra} (jobs never run {none})")
        data[name] = {"duplicate_runs": extra, "never_run": none}
    report.add(
        ROW,
        "  duplicate Wiro runs",
        f"{'; '.join(parts)}; /Run calls {where.wiro.calls.get(RUN_PATH, 0):,} "
        f"for {2 * count:,} jobs, Wiro HTTP calls {sum(where.wiro.calls.values()):,}",
        **data,
    )


def _add_requests(report: Report, tg_requests: list, dc_requests: list, count: int) -> None:
    per = max(count, 1)
    methods = Counter(
        "file download" if r.method == "file" else r.method
        for r in tg_requests
        if r.method != "getUpdates"
    )
    polls = sum(1 for r in tg_requests if r.method == "getUpdates")
    report.add(
        ROW,
        "  Telegram Bot API requests per job (by method)",
        f"{sum(methods.values()) / per:.1f} ("
        + ", ".join(f"{m} {n / per:.1f}" for m, n in methods.most_common(7))
        + f"; getUpdates besides: {polls:,} in all)",
        methods=dict(methods),
        get_updates=polls,
    )
    api = [r for r in dc_requests if r.route != CDN_ROUTE]
    kinds = Counter(request_kind(r.route) for r in api)
    report.add(
        ROW,
        "  beside: Discord API requests per job (by kind)",
        f"{len(api) / per:.1f} ("
        + ", ".join(f"{k} {n / per:.1f}" for k, n in kinds.most_common(5))
        + ")",
        kinds=dict(kinds),
    )


def _peak(spans: list[tuple[float, float]]) -> int:
    edges = [(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans]
    running = peak = 0
    for _, step in sorted(edges):
        running += step
        peak = max(peak, running)
    return peak
