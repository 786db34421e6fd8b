"""Wiro HTTP calls per job for a 30 s task, per waiting method, beside Wiro's own clients.

Calls are attributed to a job from what the fake recorded: the upload whose URL the run used,
the run, /Task/Detail bodies naming the task, GETs of its outputs on the fake CDN, and
/Task/InputOutputDelete, /Task/Kill, /Task/Cancel naming it. Discord REST calls that carry the
job's interaction token are counted too (callback, follow-ups, status edits, deletion). The
methods run side by side (one bot process and one fake each), after a warm-up (`bench.warmup`).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from dataclasses import dataclass

from bench.harness import (
    SUCCESS,
    BenchWiro,
    Outcome,
    Stage,
    bot_process,
    fire,
    log,
    stage,
    tally,
    wait_for_jobs,
)
from bench.methods import CALLS_GOAL, WAITING_METHODS, WaitingMethod
from bench.peers import PEERS
from bench.profile import Profile
from bench.report import Report
from bench.warmup import WARM_UP_JOBS, warm_up
from tests.discord_standin import InteractionRecord
from tests.fakewiro import RUN_PATH, FakeTask

NAME = "calls"
BESIDES = ("Task/Detail", "output GET", "InputOutputDelete", "Task/Kill", "Task/Cancel")


def calls_for(wiro: BenchWiro, task: FakeTask) -> Counter[str]:
    calls: Counter[str] = Counter()
    image_url = task.fields.get("inputImageUrl")
    calls["upload"] = sum(1 for item in wiro.uploads if item["url"] == image_url)
    calls["run"] = 1
    for path, label in (
        ("/Task/Detail", "Task/Detail"),
        ("/Task/InputOutputDelete", "InputOutputDelete"),
        ("/Task/Kill", "Task/Kill"),
        ("/Task/Cancel", "Task/Cancel"),
    ):
        calls[label] = sum(
            1
            for body in wiro.bodies.get(path, [])
            if task.token in (body.get("tasktoken"), body.get("socketaccesstoken"))
            or str(body.get("taskid", "")) == task.id
        )
    calls["output GET"] = sum(
        1
        for method, path, _ in wiro.requests
        if method == "GET" and path.startswith(f"/cdn/{task.uuid}/")
    )
    return calls


async def run(report: Report, profile: Profile) -> None:
    lengths = profile.calls_durations
    log(
        f"calls: {WARM_UP_JOBS} warm-up jobs, then one job per task length "
        f"{', '.join(f'{x:g} s' for x in lengths)}; {len(WAITING_METHODS)} methods side by side"
    )
    results = await asyncio.gather(
        *(_measure(method, profile) for method in WAITING_METHODS), return_exceptions=True
    )
    for method, result in zip(WAITING_METHODS, results, strict=True):
        if isinstance(result, BaseException):
            raise result
        _add_rows(report, method, result)


@dataclass
class _Measured:
    stage: Stage
    warm_up_tasks: set[str]
    recs: list[InteractionRecord]
    state: list[Outcome]


async def _measure(method: WaitingMethod, profile: Profile) -> _Measured:
    lengths = profile.calls_durations
    order = itertools.cycle(lengths)
    members = WARM_UP_JOBS + len(lengths)
    async with (
        stage(members, durations=order.__next__, nonce_window_ms=profile.nonce_window_ms) as where,
        bot_process(where, method),
    ):
        where.wiro.scenario.socket = method.fake_socket  # type: ignore[assignment]
        warm = await warm_up(where, max(lengths))
        recs = await fire(where, where.take_members(len(lengths)), per_second=5)
        state = await wait_for_jobs(where, recs, give_up_after=max(lengths) + 90, stall=90)
    return _Measured(where, warm, recs, state)


def _add_rows(report: Report, method: WaitingMethod, measured_run: _Measured) -> None:
    where, recs, state = measured_run.stage, measured_run.recs, measured_run.state
    wiro, warm = where.wiro, measured_run.warm_up_tasks
    goal = CALLS_GOAL[method.name]
    measured = [t for t in wiro.tasks.values() if t.id not in warm]
    for task in sorted(measured, key=lambda t: t.duration or 0):
        calls = calls_for(wiro, task)
        besides = sum(calls[label] for label in BESIDES)
        done = task.status == SUCCESS
        parts = ", ".join(f"{label} {count}" for label, count in calls.items() if count)
        peers = "; ".join(
            f"{peer.name} {peer.polls_until(task.duration or 0) + calls['output GET']}"
            for peer in PEERS
        )
        verdict = "met" if besides <= goal and done else "NOT met"
        report.add(
            "Wiro calls",
            f"per job, {task.duration:g} s task, {method.name}",
            f"{besides} besides upload and run ({parts})" + ("" if done else " [unfinished]"),
            method=method.name,
            task_seconds=task.duration,
            calls=dict(calls),
            besides_upload_and_run=besides,
        )
        report.add(
            "Wiro calls",
            "  Wiro's clients, same task (Task/Detail polls + output GET); goal",
            f"{peers}; goal <= {goal}: {verdict}",
            peers={
                peer.name: peer.polls_until(task.duration or 0) + calls["output GET"]
                for peer in PEERS
            },
            goal=goal,
            goal_met=verdict == "met",
        )
    per_token = Counter()
    for rec in recs:
        per_token[rec.user_id] = sum(
            1 for request in where.discord.requests if rec.token in request.path
        )
    report.add(
        "Wiro calls",
        "  Discord REST calls with the job's token, per job",
        ", ".join(str(count) for count in per_token.values()),
        discord_calls=list(per_token.values()),
        runs=wiro.calls[RUN_PATH],
    )
    jobs = tally(state)
    if jobs.lost:
        report.note(f"calls ({method.name}): {jobs.lost} job(s) lost: {dict(jobs.reasons)}")
