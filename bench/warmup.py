"""A bot with a history: jobs run to the end before the measured ones, so the bot has learned
its task length (``bot.core.jobs.lengths`` needs three finished jobs of a shape), as any bot that
has served a few portraits has. A fresh install polls on its prior instead (see README)."""

from __future__ import annotations

from bench.harness import Stage, fire, wait_for_jobs

WARM_UP_JOBS = 3


async def warm_up(where: Stage, longest: float) -> set[str]:
    """Run ``WARM_UP_JOBS`` jobs to the end; returns their Wiro task ids (not measured)."""
    recs = await fire(where, where.take_members(WARM_UP_JOBS), per_second=5)
    await wait_for_jobs(where, recs, give_up_after=longest + 90, stall=90)
    return set(where.wiro.tasks)
