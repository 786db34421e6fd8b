"""Telegram rows, each beside the Discord figure of the same bot process (both front ends run
in it, as ``python -m bot`` runs them when both tokens are set):

* update queued by the Telegram stand-in -> the bot's first message in that chat (the status
  message, or a refusal), one at a time and a burst; beside it Discord's acknowledgement and
  its first words (the "accepted" edit or the status follow-up), measured in the same bot;
* delivery overhead with the socket working: the fake task's end -> the result photo stored on
  the stand-in (Discord: the result message), after the warm-up (`bench.warmup`);
* calls for one job with a 30 s task, run alone: Wiro calls by endpoint, Telegram Bot API
  calls by method (``getUpdates`` apart), Discord API requests by kind.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Sequence

from bench.ack import at_once, one_at_a_time
from bench.calls import BESIDES, calls_for
from bench.harness import (
    Stage,
    ack_latency,
    bot_process,
    finished_at,
    first_seen,
    log,
    outcomes,
    result_task_id,
    stage,
    tally,
    wait_for_jobs,
)
from bench.load import CDN_ROUTE, request_kind
from bench.methods import DELIVERY_GOAL, SOCKET
from bench.profile import Profile
from bench.report import Report
from bench.stats import ms, percentile, summary
from bench.tgstage import (
    RESULT_METHODS,
    TgAsk,
    TgOutcome,
    TgStage,
    discord_first_words,
    discord_portrait,
    first_reply_latency,
    tasks_by_tag,
    telegram_stage,
    tg_outcomes,
    tg_tally,
    wait_until,
)
from bench.warmup import WARM_UP_JOBS, warm_up
from tests.discord_standin import InteractionRecord

NAME = "telegram"
FAKE_DURATION = 0.3  # the jobs behind the first-reply requests finish quickly
ROW = "telegram"


def _pct(values: Sequence[float], *qs: float) -> str:
    stats = summary(values, *qs)
    return "  ".join(f"p{q:g} {ms(stats[f'p{q:g}'])}" for q in qs) + f"  (max {ms(stats['max'])})"


async def run(report: Report, profile: Profile) -> None:
    await _first_replies(report, profile)
    await _delivery_and_calls(report, profile)


# --- update received -> first reply ------------------------------------------------------------


async def _tg_one_at_a_time(tg: TgStage, count: int) -> list[TgAsk]:
    asks = []
    for member in tg.take_members(count):
        ask = tg.ask(member)
        chat_id = member.chat.id
        await tg.telegram.wait_for(
            lambda t, c=chat_id: any(m.from_bot for m in t.sent(c, include_deleted=True)), 30
        )
        asks.append(ask)
    return asks


async def _first_replies(report: Report, profile: Profile) -> None:
    single, burst = profile.tg_single, profile.tg_burst
    async with (
        stage(
            single + burst,
            durations=lambda: FAKE_DURATION,
            nonce_window_ms=profile.nonce_window_ms,
        ) as where,
        telegram_stage(single + burst, where.selfie) as tg,
        bot_process(where, SOCKET, **tg.env) as bot,
    ):
        await tg.ready()
        log(f"telegram: {single} /portrait photos one at a time, then {single} Discord commands")
        tg_single = await _tg_one_at_a_time(tg, single)
        dc_single = await one_at_a_time(where, single)
        log(f"telegram: {burst} /portrait photos at once")
        asks = [tg.ask(member) for member in tg.take_members(burst)]
        started = asks[0].sent_at
        await wait_until(
            lambda: all(o.first_reply_at for o in tg_outcomes(tg.telegram, asks)),
            lambda: len(tg.telegram.requests),
            give_up_after=60,
            stall=30,
            settle=0,
            what="first replies",
        )
        replied = max((o.first_reply_at or 0.0) for o in tg_outcomes(tg.telegram, asks))
        tg_window = (started, replied)
        every_ask = tg_single + asks
        await _wait_tg(where, tg, every_ask, give_up_after=120, settle=0)
        log(f"telegram: {burst} Discord commands at once (same bot)")
        recs, dc_started, dc_answered = await at_once(where, burst)
        every_rec = dc_single + recs
        await wait_for_jobs(where, every_rec, give_up_after=120, stall=30)
        tg_state = tg_outcomes(tg.telegram, every_ask)
        dc_state = outcomes(where.discord, every_rec)

    for label, group, dc_group, window, dc_window in (
        ("1 at a time", tg_single, dc_single, None, None),
        (f"{burst:,} at once", asks, recs, tg_window, (dc_started, dc_answered)),
    ):
        state = tg_outcomes_of(tg_state, group)
        latencies = [x for o in state if (x := first_reply_latency(o)) is not None]
        stats = summary(latencies, 50, 95, 99)
        report.add(
            ROW,
            f"update queued -> first reply, {label} (n={len(group):,})",
            _pct(latencies, 50, 95, 99) + f"; no reply {len(group) - len(latencies)}",
            seconds=stats,
        )
        acks = [x for rec in dc_group if (x := ack_latency(rec)) is not None]
        words = [x for rec in dc_group if (x := discord_first_words(rec)) is not None]
        report.add(
            ROW,
            f"  beside: Discord, same bot, {label} (n={len(dc_group):,})",
            f"acknowledgement p50 {ms(percentile(acks, 50))} p99 {ms(percentile(acks, 99))}; "
            f"first words p50 {ms(percentile(words, 50))} p99 {ms(percentile(words, 99))}",
            ack_seconds=summary(acks, 50, 95, 99),
            first_words_seconds=summary(words, 50, 95, 99),
        )
        if window is not None and dc_window is not None:
            report.add(
                ROW,
                "  loop lag p99 meanwhile (bot; stand-ins + fake Wiro)",
                f"Telegram burst {ms(percentile(bot.lag_between(*window), 99))}; "
                f"{ms(percentile(where.lag_between(*window), 99))} "
                f"(over {window[1] - window[0]:.1f} s); Discord burst "
                f"{ms(percentile(bot.lag_between(*dc_window), 99))}; "
                f"{ms(percentile(where.lag_between(*dc_window), 99))}",
            )
    jobs, dc_jobs = tg_tally(tg_state), tally(dc_state)
    report.add(
        ROW,
        "jobs behind those requests lost",
        f"Telegram {jobs.lost} of {jobs.jobs:,} (duplicates {jobs.duplicates}); "
        f"Discord, same bot: {dc_jobs.lost} of {dc_jobs.jobs:,}",
        lost=jobs.lost,
        duplicates=jobs.duplicates,
        discord_lost=dc_jobs.lost,
        reasons=dict(jobs.reasons),
    )
    if jobs.reasons:
        report.note(f"telegram: what members without a result were told: {dict(jobs.reasons)}")


def tg_outcomes_of(state: Sequence[TgOutcome], group: Sequence[TgAsk]) -> list[TgOutcome]:
    wanted = {id(ask) for ask in group}
    return [o for o in state if id(o.ask) in wanted]


async def _wait_tg(
    where: Stage, tg: TgStage, asks: Sequence[TgAsk], *, give_up_after: float, settle: float = 1.0
) -> None:
    await wait_until(
        lambda: all(o.done for o in tg_outcomes(tg.telegram, asks)),
        lambda: (len(tg.telegram.requests), len(where.wiro.requests)),
        give_up_after=give_up_after,
        stall=45,
        settle=settle,
        what="Telegram jobs",
    )


# --- delivery overhead and calls per job --------------------------------------------------------


async def _delivery_and_calls(report: Report, profile: Profile) -> None:
    length, jitter = profile.delivery_length, profile.delivery_jitter
    count = profile.tg_delivery_jobs
    calls_length = profile.tg_calls_length
    draw = random.Random(7)
    shown = f"tasks {length:g} s ± {100 * jitter:g} %"
    log(
        f"telegram: {WARM_UP_JOBS} warm-up jobs, then {count} Telegram and {count} Discord "
        f"jobs ({shown}), then one of each with a {calls_length:g} s task"
    )
    async with (
        stage(
            WARM_UP_JOBS + count + 1,
            durations=lambda: length * draw.uniform(1 - jitter, 1 + jitter),
            nonce_window_ms=profile.nonce_window_ms,
        ) as where,
        telegram_stage(count + 1, where.selfie) as tg,
        bot_process(where, SOCKET, **tg.env),
    ):
        await tg.ready()
        await warm_up(where, length * (1 + jitter))
        asks: list[TgAsk] = []
        recs: list[InteractionRecord] = []
        members = where.take_members(count)
        for index, member in enumerate(tg.take_members(count)):  # 10 of each a second
            asks.append(tg.ask(member))
            recs.append(await discord_portrait(where, members[index], f"dc-{index}"))
            await asyncio.sleep(0.1)
        await _wait_tg(where, tg, asks, give_up_after=length * (1 + jitter) + 120)
        dc_state = await wait_for_jobs(where, recs, give_up_after=60, stall=30)
        tg_state = tg_outcomes(tg.telegram, asks)

        where.wiro.durations = lambda: calls_length
        log(f"telegram: one Telegram and one Discord job with a {calls_length:g} s task")
        mark_tg, mark_dc = len(tg.telegram.requests), len(where.discord.requests)
        lone = tg.ask(tg.take_members(1)[0])
        lone_rec = await discord_portrait(where, where.take_members(1)[0], f"dc-{count}")
        await _wait_tg(where, tg, [lone], give_up_after=calls_length + 90, settle=3.0)
        lone_state = await wait_for_jobs(where, [lone_rec], give_up_after=30, stall=30)
        tg_requests = tg.telegram.requests[mark_tg:]
        dc_requests = where.discord.requests[mark_dc:]

    _add_delivery(report, where, tg_state, dc_state, shown)
    _add_calls(
        report,
        where,
        lone,
        tg_outcomes(tg.telegram, [lone])[0],
        lone_state[0].results,
        tg_requests,
        dc_requests,
        calls_length,
    )


def _add_delivery(report: Report, where: Stage, tg_state, dc_state, shown: str) -> None:
    tags = tasks_by_tag(where.wiro)
    seen = first_seen(where.wiro)
    total, waiting, posting = [], [], []
    for outcome in tg_state:
        tasks = tags.get(outcome.ask.member.tag, [])
        if len(outcome.results) != 1 or len(tasks) != 1:
            continue
        done = finished_at(tasks[0])
        posted = outcome.results[0].created_at
        total.append(posted - done)
        if tasks[0].id in seen:
            waiting.append(seen[tasks[0].id] - done)
            posting.append(posted - seen[tasks[0].id])
    dc_total = []
    for outcome in dc_state:
        if len(outcome.results) != 1:
            continue
        task = where.wiro.tasks.get(result_task_id(outcome.results[0]) or "")
        if task is not None:
            dc_total.append(outcome.results[0].created_at - finished_at(task))
    goal = DELIVERY_GOAL[SOCKET.name]
    stats = summary(total, 50, 95)
    dc_stats = summary(dc_total, 50, 95)
    verdict = lambda s: "met" if s["p95"] < goal else "NOT met"  # noqa: E731
    report.add(
        ROW,
        f"task finished -> result photo on the stand-in, socket working (n={len(total)}, {shown})",
        f"p50 {ms(stats['p50'])}  p95 {ms(stats['p95'])}  (max {ms(stats['max'])}); "
        f"Discord's goal p95 < {ms(goal)}: {verdict(stats)}",
        seconds=stats,
    )
    for label, values in (
        ("  of which: until a Task/Detail answer showed it", waiting),
        ("  of which: that answer -> result photo stored", posting),
    ):
        part = summary(values, 50, 95)
        report.add(
            ROW,
            label,
            f"p50 {ms(part['p50'])}  p95 {ms(part['p95'])}  (max {ms(part['max'])})",
            seconds=part,
        )
    report.add(
        ROW,
        f"  beside: Discord, same bot, same tasks (n={len(dc_total)})",
        f"p50 {ms(dc_stats['p50'])}  p95 {ms(dc_stats['p95'])}  (max {ms(dc_stats['max'])}); "
        f"goal p95 < {ms(goal)}: {verdict(dc_stats)}",
        seconds=dc_stats,
    )
    jobs, dc_jobs = tg_tally(tg_state), tally(dc_state)
    if jobs.lost or dc_jobs.lost:
        report.note(
            f"telegram delivery: lost Telegram {jobs.lost} {dict(jobs.reasons)}, "
            f"Discord {dc_jobs.lost} {dict(dc_jobs.reasons)}"
        )


def _wiro_parts(calls: Counter[str]) -> tuple[int, str]:
    besides = sum(calls[label] for label in BESIDES)
    return besides, ", ".join(f"{label} {n}" for label, n in calls.items() if n)


def _add_calls(
    report: Report,
    where: Stage,
    ask: TgAsk,
    outcome,
    dc_results,
    tg_requests,
    dc_requests,
    length: float,
) -> None:
    tasks = tasks_by_tag(where.wiro)
    tg_tasks = tasks.get(ask.member.tag, [])
    dc_task = where.wiro.tasks.get(result_task_id(dc_results[0]) or "") if dc_results else None
    label = f"per job, {length:g} s task, socket working"
    if len(tg_tasks) == 1:
        besides, parts = _wiro_parts(calls_for(where.wiro, tg_tasks[0]))
        value = f"Telegram: {besides} besides upload and run ({parts})"
    else:
        value = f"Telegram: {len(tg_tasks)} Wiro runs for the job (expected 1)"
    if dc_task is not None:
        dc_besides, _ = _wiro_parts(calls_for(where.wiro, dc_task))
        value += f"; Discord, same bot: {dc_besides}"
    report.add(ROW, f"Wiro calls {label}", value, runs=len(tg_tasks))
    chat = str(ask.member.chat.id)
    by_method: Counter[str] = Counter()
    polls = 0
    for request in tg_requests:
        if request.method == "getUpdates":
            polls += 1
        elif request.method in ("getFile", "file") or request.chat_id == chat:
            by_method["file download" if request.method == "file" else request.method] += 1
    order = ["sendMessage", "editMessageText", *RESULT_METHODS, "deleteMessage", "getFile"]
    ordered = sorted(by_method.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99)
    report.add(
        ROW,
        "  Telegram Bot API calls for that job (by method)",
        f"{sum(by_method.values())} ({', '.join(f'{k} {n}' for k, n in ordered)}); "
        f"getUpdates meanwhile, not counted: {polls}",
        methods=dict(by_method),
        get_updates=polls,
        result_posts=len(outcome.results),
    )
    api = [r for r in dc_requests if r.route != CDN_ROUTE]
    kinds = Counter(request_kind(r.route) for r in api)
    report.add(
        ROW,
        "  beside: Discord API requests for its job, same bot (by kind)",
        f"{len(api)} ({', '.join(f'{k} {n}' for k, n in kinds.most_common())}; "
        f"selfie download from the CDN besides: {len(dc_requests) - len(api)})",
        kinds=dict(kinds),
    )
