"""Wiro HTTP calls per job, for tasks of given lengths (10 s and 60 s), per waiting method.

Calls are attributed to a job from what the fake recorded: the upload whose URL the run used,
the run, /Task/Detail bodies naming the task, GETs of its outputs on the fake CDN, and
/Task/InputOutputDelete, /Task/Kill, /Task/Cancel naming it. Discord REST calls that carry the
job's interaction token are counted too (callback, follow-ups, status edits, deletion).
"""

from __future__ import annotations

import itertools
from collections import Counter

from bench.harness import SUCCESS, BenchWiro, bot_process, fire, log, stage, tally, wait_for_jobs
from bench.methods import WAITING_METHODS
from bench.profile import Profile
from bench.report import Report
from tests.fakewiro import RUN_PATH, FakeTask

NAME = "calls"


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
    for method in WAITING_METHODS:
        order = itertools.cycle(lengths)
        log(f"calls: one job per task length {', '.join(f'{x:g} s' for x in lengths)}")
        async with (
            stage(
                len(lengths), durations=order.__next__, nonce_window_ms=profile.nonce_window_ms
            ) as where,
            bot_process(where, method),
        ):
            recs = await fire(where, where.take_members(len(lengths)), per_second=5)
            state = await wait_for_jobs(where, recs, give_up_after=max(lengths) + 90, stall=90)
        wiro = where.wiro
        attributed = 0
        for task in sorted(wiro.tasks.values(), key=lambda t: t.duration or 0):
            calls = calls_for(wiro, task)
            attributed += sum(calls.values())
            total = sum(calls.values())
            done = task.status == SUCCESS
            parts = ", ".join(f"{label} {count}" for label, count in calls.items() if count)
            report.add(
                "Wiro calls",
                f"per job, {task.duration:g} s task, {method.name}",
                f"{total} ({parts})" + ("" if done else " [task did not finish]"),
                method=method.name,
                task_seconds=task.duration,
                calls=dict(calls),
                total=total,
            )
        per_token = Counter()
        for rec in recs:
            per_token[rec.user_id] = sum(
                1 for request in where.discord.requests if rec.token in request.path
            )
        others = sum(wiro.calls.values()) - attributed
        report.add(
            "Wiro calls",
            "  Discord REST calls with the job's token, per job",
            ", ".join(str(count) for count in per_token.values())
            + f"  (Wiro calls of no job: {others}, e.g. /Tool/Detail at start-up)",
            discord_calls=list(per_token.values()),
            wiro_calls_of_no_job=others,
            runs=wiro.calls[RUN_PATH],
        )
        jobs = tally(state)
        if jobs.lost:
            report.note(f"calls ({method.name}): {jobs.lost} job(s) lost: {dict(jobs.reasons)}")
