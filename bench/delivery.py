"""Delivery overhead: fake Wiro task finished -> the result message created on the stand-in, per
waiting method, split into "until the bot saw it" and "from seeing it to the post", beside the
detection delay of Wiro's own clients' schedules for the same task lengths (`bench.peers`)."""

from __future__ import annotations

import random

from bench.harness import (
    bot_process,
    finished_at,
    fire,
    first_seen,
    log,
    result_task_id,
    stage,
    tally,
    wait_for_jobs,
)
from bench.methods import DELIVERY_GOAL, WAITING_METHODS
from bench.peers import PEERS
from bench.profile import Profile
from bench.report import Report
from bench.stats import ms, summary
from bench.warmup import WARM_UP_JOBS, warm_up

NAME = "delivery"


async def run(report: Report, profile: Profile) -> None:
    length, jitter = profile.delivery_length, profile.delivery_jitter
    shown = f"tasks {length:g} s ± {100 * jitter:g} %"
    for method in WAITING_METHODS:
        draw = random.Random(7)

        def duration(draw: random.Random = draw) -> float:
            return length * draw.uniform(1 - jitter, 1 + jitter)

        jobs_count = profile.delivery_jobs
        log(f"delivery: {WARM_UP_JOBS} warm-up + {jobs_count} jobs, {method.name}, {shown}")
        async with (
            stage(
                WARM_UP_JOBS + jobs_count,
                durations=duration,
                nonce_window_ms=profile.nonce_window_ms,
            ) as where,
            bot_process(where, method),
        ):
            where.wiro.scenario.socket = method.fake_socket  # type: ignore[assignment]
            warm = await warm_up(where, length * (1 + jitter))
            recs = await fire(where, where.take_members(jobs_count), per_second=20)
            state = await wait_for_jobs(where, recs, give_up_after=length * (1 + jitter) + 120)
        seen = first_seen(where.wiro)
        total, waiting, posting, lengths = [], [], [], []
        for outcome in state:
            if len(outcome.results) != 1:
                continue
            message = outcome.results[0]
            task_id = result_task_id(message)
            task = where.wiro.tasks.get(task_id or "")
            if task is None or task.id in warm:
                continue
            done = finished_at(task)
            lengths.append(task.duration or 0.0)
            total.append(message.created_at - done)
            if task.id in seen:
                waiting.append(seen[task.id] - done)
                posting.append(message.created_at - seen[task.id])
        jobs = tally(state)
        overall = summary(total, 50, 95)
        goal = DELIVERY_GOAL[method.name]
        verdict = "met" if overall["p95"] < goal else "NOT met"
        report.add(
            "delivery",
            f"task finished -> result posted, {method.name} (n={len(total)}, {shown})",
            f"p50 {ms(overall['p50'])}  p95 {ms(overall['p95'])}  (max {ms(overall['max'])}); "
            f"goal p95 < {ms(goal)}: {verdict}",
            method=method.name,
            seconds=overall,
            goal_seconds=goal,
            goal_met=verdict == "met",
            lost=jobs.lost,
        )
        for label, values in (
            ("  of which: until a Task/Detail answer showed it", waiting),
            ("  of which: that answer -> result posted", posting),
        ):
            stats = summary(values, 50, 95)
            report.add(
                "delivery",
                label,
                f"p50 {ms(stats['p50'])}  p95 {ms(stats['p95'])}  (max {ms(stats['max'])})",
                method=method.name,
                seconds=stats,
            )
        if jobs.lost:
            report.note(f"delivery ({method.name}): {jobs.lost} job(s) lost: {dict(jobs.reasons)}")
    _add_peers(report, lengths, shown)


def _add_peers(report: Report, lengths: list[float], shown: str) -> None:
    """Detection alone (the end -> the poll that sees it) for Wiro's clients, same lengths."""
    parts, data = [], {}
    for peer in PEERS:
        stats = summary([peer.detection_delay(length) for length in lengths], 50, 95)
        parts.append(f"{peer.name} p50 {ms(stats['p50'])} p95 {ms(stats['p95'])}")
        data[peer.name] = stats
    report.add(
        "delivery",
        f"  Wiro's clients, detection alone, polling ({shown})",
        "; ".join(parts),
        peers=data,
    )
