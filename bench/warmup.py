"""A bot with a history: jobs run to the end, one after another, before the measured ones, so
the bot has learned its task length (``bot.core.jobs.lengths`` needs three finished jobs of a
shape), as any bot that has served a few portraits has. One after another, as members come: the
first is measured against the prior's wide window, and each later one against what the earlier
ones taught, so the history ends with lengths seen in a narrow window. A fresh install polls on
its prior instead (see README)."""

from __future__ import annotations

from bench.harness import Stage, fire, wait_for_jobs

WARM_UP_JOBS = 5


async def warm_up(where: Stage, longest: float) -> set[str]:
    """Run ``WARM_UP_JOBS`` jobs to the end; returns their Wiro task ids (not measured)."""
    for member in where.take_members(WARM_UP_JOBS):
        recs = await fire(where, [member], per_second=5)
        await wait_for_jobs(where, recs, give_up_after=longest + 90, stall=90)
    return set(where.wiro.tasks)
