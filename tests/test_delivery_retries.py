"""A paid result's delivery in the dispatcher: "later" answers keep the job DELIVERING (across a
restart too) with a copy of the images on disk, the bounded retry time ends in a last try, a
result no way took is kept owner-only until pruned, and Wiro's copy goes only after that."""

from __future__ import annotations

import os
import stat
from datetime import timedelta

from bot.core.jobs import FailureReason, PortraitFailed
from bot.core.jobs.delivery import DeliveryDeferred
from bot.core.jobs.ledger import JobState
from bot.core.result.store import ResultStore
from tests import test_dispatcher as base
from tests.test_dispatcher import IO_DELETE, Recorder, delivering_job, eventually

harness, wiro = base.harness, base.wiro  # the dispatcher tests' fixtures

NOWHERE = PortraitFailed(
    FailureReason.UNDELIVERED, "I couldn't deliver it (the channel no longer exists).", "10003"
)


def later(retry_after: float | None = None) -> DeliveryDeferred:
    return DeliveryDeferred("the channel: HTTP 503", retry_after)


async def test_later_answers_are_retried_until_the_post_goes_through(harness, wiro, tmp_path):
    job = await delivering_job(harness)
    events = Recorder()
    events.answers = [later(0.01), later()]
    results = ResultStore(tmp_path / "results")
    dispatcher = harness.dispatcher(events, results=results, delivery_first_pause=0.01)
    await dispatcher.start()
    done = await harness.reaches(job, JobState.DELIVERED)
    assert events.tries == [(job.id, False)] * 3
    assert [job_id for job_id, _ in events.delivered] == [job.id]
    assert done.delivery_nonce == f"portrait-{job.id}"
    assert not results.has(job.id)  # the copy kept while waiting is gone once delivered
    await eventually(lambda: wiro.calls[IO_DELETE] == 1)


async def test_a_restart_while_discord_says_later_resumes_from_the_kept_copy(
    harness, wiro, tmp_path
):
    job = await delivering_job(harness)
    results = ResultStore(tmp_path / "results")
    first = Recorder()
    first.answers = [later(retry_after=3600)]  # longer than the test: the restart comes first
    dispatcher = harness.dispatcher(first, results=results)
    await dispatcher.start()
    await eventually(lambda: results.has(job.id), what="a copy kept while waiting")
    saved = results.load(job.id)
    await dispatcher.stop()
    assert await harness.state_of(job) is JobState.DELIVERING
    assert wiro.calls[IO_DELETE] == 0  # Wiro's copy stays until delivered or kept

    second = Recorder()
    restarted = harness.dispatcher(second, results=results)
    await restarted.start()
    await harness.reaches(job, JobState.DELIVERED)
    ((job_id, images),) = second.delivered
    assert job_id == job.id and images == saved
    assert not results.has(job.id)
    await eventually(lambda: wiro.calls[IO_DELETE] == 1)


async def test_when_the_retry_time_is_over_the_last_try_falls_back(harness, tmp_path):
    job = await delivering_job(harness)
    events = Recorder()
    events.answers = [later(0.01) for _ in range(1000)]
    dispatcher = harness.dispatcher(
        events,
        results=ResultStore(tmp_path / "results"),
        delivery_retry=timedelta(seconds=0.3),
        delivery_first_pause=0.05,
    )
    await dispatcher.start()
    await harness.reaches(job, JobState.DELIVERED)
    assert events.tries[-1] == (job.id, True)
    assert all(not last for _, last in events.tries[:-1])


async def test_a_result_no_way_took_is_kept_owner_only_and_pruned_with_the_job(
    harness, wiro, tmp_path
):
    job = await delivering_job(harness)
    events = Recorder()
    events.answers = [NOWHERE]
    results = ResultStore(tmp_path / "results")
    dispatcher = harness.dispatcher(events, results=results, retention=timedelta(days=30))
    await dispatcher.start()
    kept = await harness.reaches(job, JobState.KEPT)
    assert kept.failure_reason == FailureReason.UNDELIVERED
    assert "couldn't deliver" in kept.failure_message
    await eventually(lambda: [job_id for job_id, _ in events.failures] == [job.id])
    folder = tmp_path / "results" / str(job.id)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    (image,) = list(folder.iterdir())
    assert stat.S_IMODE(os.stat(image).st_mode) == 0o600
    loaded = results.load(job.id)
    assert loaded is not None and loaded[0].data.startswith(b"\x89PNG")
    await eventually(lambda: wiro.calls[IO_DELETE] == 1)  # kept: Wiro's copy may go

    harness.clock.shift(days=31)
    await harness.scheduling_passes(dispatcher, 2)
    await eventually(lambda: not folder.exists(), what="the kept result pruned")
