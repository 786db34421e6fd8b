"""Delivery overhead: fake Wiro task finished -> the result message created on the stand-in, per
waiting method, split into "until the bot saw it" and "from seeing it to the post"."""

from __future__ import annotations

import random
from functools import partial

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
from bench.methods import WAITING_METHODS
from bench.profile import Profile
from bench.report import Report
from bench.stats import ms, summary

NAME = "delivery"


async def run(report: Report, profile: Profile) -> None:
    low, high = profile.delivery_durations
    for method in WAITING_METHODS:
        draw = random.Random(7)
        log(f"delivery: {profile.delivery_jobs} jobs, {method.name}, tasks {low:g}-{high:g} s")
        async with (
            stage(
                profile.delivery_jobs,
                durations=partial(draw.uniform, low, high),
                nonce_window_ms=profile.nonce_window_ms,
            ) as where,
            bot_process(where, method),
        ):
            recs = await fire(where, where.take_members(profile.delivery_jobs), per_second=20)
            state = await wait_for_jobs(where, recs, give_up_after=high + 120)
        seen = first_seen(where.wiro)
        total, waiting, posting = [], [], []
        for outcome in state:
            if len(outcome.results) != 1:
                continue
            message = outcome.results[0]
            task_id = result_task_id(message)
            task = where.wiro.tasks.get(task_id or "")
            if task is None:
                continue
            done = finished_at(task)
            total.append(message.created_at - done)
            if task.id in seen:
                waiting.append(seen[task.id] - done)
                posting.append(message.created_at - seen[task.id])
        jobs = tally(state)
        overall = summary(total, 50, 95)
        report.add(
            "delivery",
            f"task finished -> result posted, {method.name} (n={len(total)}, "
            f"tasks {low:g}-{high:g} s)",
            f"p50 {ms(overall['p50'])}  p95 {ms(overall['p95'])}  (max {ms(overall['max'])})",
            method=method.name,
            seconds=overall,
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
