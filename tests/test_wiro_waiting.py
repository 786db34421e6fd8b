"""wait() and watch() against the fake Wiro's task life cycle."""

import time

import pytest

from bot.core.wiro import (
    PollSchedule,
    Stage,
    Task,
    TaskForecast,
    TaskRef,
    WiroClient,
    WiroNotFound,
    WiroServerError,
    WiroTaskCancelled,
    WiroTaskFailed,
    WiroTimeout,
)
from bot.core.wiro.waiting import wait_for_task
from tests.fakewiro import SUCCESS_TIMELINE

FIELDS = {"prompt": "a portrait", "inputImageUrl": "https://example.com/me.jpg"}


@pytest.fixture
async def client(fake_wiro):
    fake_wiro.scenario.duration = 0.12
    async with WiroClient(
        api_key=fake_wiro.api_key,
        api_secret=fake_wiro.api_secret,
        base_url=fake_wiro.base_url,
        poll_schedule=PollSchedule.constant(0.005),
        retry_attempts=1,
        request_timeout=5.0,
    ) as client:
        yield client


def in_timeline_order(statuses: list[str]) -> bool:
    positions = [SUCCESS_TIMELINE.index(status) for status in statuses]
    return positions == sorted(positions)


async def test_wait_returns_the_finished_task_and_reports_changes_in_order(fake_wiro, client):
    ref = await client.run({**FIELDS, "samples": 3})
    seen: list[Task] = []

    async def on_change(task: Task) -> None:
        seen.append(task)

    task = await client.wait(ref, timeout=5, on_change=on_change)

    assert task.succeeded and task.pexit == "0"
    assert [o.name for o in task.outputs] == ["0.png", "1.png", "2.png"]
    assert all(o.content_type == "image/png" and o.size > 0 for o in task.outputs)
    assert seen[-1] == task
    statuses = [t.status for t in seen]
    assert in_timeline_order(statuses)
    keys = [(t.status, t.progress) for t in seen]
    assert len(keys) == len(set(keys))  # one call per change
    assert statuses[-1] == "task_postprocess_end"


async def test_progress_changes_during_output_are_reported(fake_wiro, client):
    fake_wiro.scenario.duration = None
    ref = await client.run(FIELDS)
    seen: list[Task] = []
    fake_wiro.step(ref.task_id, 6)  # first task_output

    def on_change(task: Task) -> None:  # a plain function works too
        seen.append(task)
        fake_wiro.step(ref.task_id)

    await client.wait(ref, timeout=5, on_change=on_change)
    outputs = [t.progress for t in seen if t.status == "task_output"]
    assert outputs == [50.0, 100.0]
    assert [t.stage for t in seen][:3] == [Stage.GENERATING] * 3


async def test_a_failing_callback_does_not_stop_the_wait(fake_wiro, client, caplog):
    def on_change(task: Task) -> None:
        raise RuntimeError("discord is down")

    task = await client.wait(await client.run(FIELDS), timeout=5, on_change=on_change)
    assert task.succeeded
    assert "on_change callback failed" in caplog.text


async def test_watch_yields_each_change_and_ends_with_success(fake_wiro, client):
    ref = await client.run(FIELDS)
    seen = [task async for task in client.watch(ref, timeout=5)]
    assert seen[-1].succeeded
    assert not any(t.is_terminal for t in seen[:-1])
    assert in_timeline_order([t.status for t in seen])


async def test_watch_can_be_left_early(fake_wiro, client):
    fake_wiro.scenario.duration = None
    ref = await client.run(FIELDS)
    updates = client.watch(ref, timeout=5)
    async for task in updates:
        assert task.status == "task_queue"
        break
    await updates.aclose()


async def test_a_failed_task_raises_with_wiros_error_text(fake_wiro, client):
    fake_wiro.scenario.outcome = "fail"
    seen: list[str] = []
    with pytest.raises(WiroTaskFailed) as caught:
        await client.wait(
            await client.run(FIELDS), timeout=5, on_change=lambda t: seen.append(t.status)
        )
    error = caught.value
    assert error.message.splitlines()[-1] == (
        "Exception: Cannot find any face in the image! Please upload another person image"
    )
    assert "^^^" not in error.message
    assert len(error.message) <= 1500
    assert error.task.pexit == "1" and error.task.outputs == ()
    assert "task_postprocess_end" not in seen  # the end state rides on the exception


async def test_watch_raises_like_wait(fake_wiro, client):
    fake_wiro.scenario.outcome = "fail"
    ref = await client.run(FIELDS)
    with pytest.raises(WiroTaskFailed):
        async for _task in client.watch(ref, timeout=5):
            pass


async def test_a_cancelled_task_raises_cancelled(fake_wiro, client):
    fake_wiro.scenario.outcome = "cancel"
    with pytest.raises(WiroTaskCancelled) as caught:
        await client.wait(await client.run(FIELDS), timeout=5)
    assert caught.value.task.status == "task_cancel"


async def test_a_task_killed_while_waiting_raises_cancelled(fake_wiro, client):
    fake_wiro.scenario.outcome = "hang"
    ref = await client.run(FIELDS)

    async def kill_when_started(task: Task) -> None:
        if task.status == "task_start":
            await client.kill(ref.socket_token)

    with pytest.raises(WiroTaskCancelled):
        await client.wait(ref, timeout=5, on_change=kill_when_started)


async def test_a_hanging_task_times_out_and_is_left_running(fake_wiro, client):
    fake_wiro.scenario.outcome = "hang"
    ref = await client.run(FIELDS)
    started = time.monotonic()
    with pytest.raises(WiroTimeout) as caught:
        await client.wait(ref, timeout=0.3)
    assert 0.25 <= time.monotonic() - started < 3
    assert caught.value.task is not None and caught.value.task.status == "task_start"
    assert fake_wiro.task(ref.task_id).status == "task_start"
    assert fake_wiro.calls["/Task/Kill"] == 0 and fake_wiro.calls["/Task/Cancel"] == 0


async def test_the_timeout_also_bounds_a_slow_poll(fake_wiro, client):
    ref = await client.run(FIELDS)
    fake_wiro.fail("/Task/Detail", delay=3.0, times=1)
    started = time.monotonic()
    with pytest.raises(WiroTimeout):
        await client.wait(ref, timeout=0.3)
    assert time.monotonic() - started < 2


async def test_a_persisting_task_error_fails_after_the_grace_period(fake_wiro, client):
    fake_wiro.scenario.outcome = "error"
    ref = await client.run(FIELDS)
    started = time.monotonic()
    with pytest.raises(WiroTaskFailed) as caught:
        await client.wait(ref, timeout=5, error_grace=0.25)
    assert 0.25 <= time.monotonic() - started < 3
    assert caught.value.message == "Output folder creation failed"
    assert caught.value.task.status == "task_error"


async def test_a_task_error_that_recovers_is_not_a_failure(fake_wiro, client):
    fake_wiro.scenario.timeline = (
        "task_queue",
        "task_error",
        "task_error",
        "task_queue",
        *SUCCESS_TIMELINE[1:],
    )
    fake_wiro.scenario.duration = 0.3
    seen: list[Stage] = []
    task = await client.wait(
        await client.run(FIELDS), timeout=5, error_grace=2, on_change=lambda t: seen.append(t.stage)
    )
    assert task.succeeded
    assert Stage.ERROR in seen


async def test_a_task_error_longer_than_the_timeout_is_a_timeout(fake_wiro, client):
    fake_wiro.scenario.outcome = "error"
    with pytest.raises(WiroTimeout):
        await client.wait(await client.run(FIELDS), timeout=0.2, error_grace=10)


async def test_unknown_statuses_count_as_running(fake_wiro, client):
    fake_wiro.scenario.duration = None
    ref = await client.run(FIELDS)
    fake_wiro.set_status(ref.task_id, "task_stream_ready")
    seen: list[str] = []

    def on_change(task: Task) -> None:
        seen.append(task.status)
        if task.status == "task_stream_ready":
            fake_wiro.set_status(ref.task_id, None)
            fake_wiro.step(ref.task_id, len(SUCCESS_TIMELINE))

    task = await client.wait(ref, timeout=5, on_change=on_change)
    assert task.succeeded
    assert seen == ["task_stream_ready", "task_postprocess_end"]


async def test_transient_poll_errors_do_not_end_the_wait(fake_wiro, client):
    ref = await client.run(FIELDS)
    fake_wiro.fail("/Task/Detail", status=503, times=2)
    fake_wiro.fail("/Task/Detail", drop=True, times=1)
    fake_wiro.fail("/Task/Detail", status=429, retry_after="0", times=1)
    task = await client.wait(ref, timeout=5)
    assert task.succeeded


async def test_a_rate_limited_poll_waits_for_retry_after(fake_wiro, client):
    fake_wiro.scenario.duration = None
    ref = await client.run(FIELDS)
    fake_wiro.step(ref.task_id, len(SUCCESS_TIMELINE))
    fake_wiro.fail("/Task/Detail", status=429, retry_after="0.3", times=1)
    started = time.monotonic()
    assert (await client.wait(ref, timeout=5)).succeeded
    assert time.monotonic() - started >= 0.3
    assert fake_wiro.calls["/Task/Detail"] == 2


async def test_polls_failing_for_the_whole_budget_give_up_with_the_last_error(fake_wiro, client):
    ref = await client.run(FIELDS)
    fake_wiro.fail("/Task/Detail", status=503, times=1000)
    with pytest.raises(WiroServerError) as caught:
        await client.wait(ref, timeout=5, failure_budget=0.2)
    assert caught.value.http_status == 503
    # Backing off from 5 ms to 40 ms: a handful of polls in 0.2 s, not one per millisecond.
    assert 2 <= fake_wiro.calls["/Task/Detail"] <= 15


async def test_garbage_answers_for_a_while_do_not_end_the_wait(fake_wiro, client):
    ref = await client.run(FIELDS)
    fake_wiro.fail("/Task/Detail", status=200, body="<html>Bad gateway</html>", times=3)
    fake_wiro.fail("/Task/Detail", status=200, body='{"result": true}', times=1)
    fake_wiro.fail("/Task/Detail", status=200, body="[1, 2]", times=1)
    task = await client.wait(ref, timeout=5, failure_budget=2)
    assert task.succeeded


def test_failed_polls_back_off_exponentially_to_a_cap():
    schedule = PollSchedule(failure_backoff=1.0, failure_backoff_max=15.0)
    pauses = [schedule.backoff(n) for n in range(1, 8)]
    assert 0.8 <= pauses[0] <= 1.2 and 1.6 <= pauses[1] <= 2.4 and 3.2 <= pauses[2] <= 4.8
    assert all(12.0 <= pause <= 18.0 for pause in pauses[4:])


async def test_a_vanished_task_ends_the_wait_at_once(fake_wiro, client):
    with pytest.raises(WiroNotFound):
        await client.wait(TaskRef(task_id="404", socket_token="gone"), timeout=5)
    assert fake_wiro.calls["/Task/Detail"] == 1


async def test_a_resumed_wait_polls_at_once_whatever_the_plan(fake_wiro, client):
    fake_wiro.scenario.duration = None
    ref = await client.run(FIELDS)
    fake_wiro.step(ref.task_id, len(SUCCESS_TIMELINE))
    late = PollSchedule(early=60.0)  # a fresh task would first be asked about after a minute
    task = await wait_for_task(client.task_detail, ref, schedule=late, timeout=5, started_ago=30.0)
    assert task.succeeded
    assert fake_wiro.calls["/Task/Detail"] == 1


async def test_polling_alone_follows_the_plan_and_stops_at_the_end(fake_wiro, client):
    fake_wiro.scenario.duration = 0.3
    plan = PollSchedule(early=0.05, sparse=0.1, dense=0.05, min_spread=0.05)
    forecast = TaskForecast(expected=0.3, spread=0.05, basis="learned")
    ref = await client.run(FIELDS)
    task = await wait_for_task(client.task_detail, ref, schedule=plan, forecast=forecast, timeout=5)
    assert task.succeeded
    # 0.05 (early), 0.15 (sparse), then 0.25, 0.3, 0.35 (the window), then overrun polls;
    # a 5 ms constant schedule makes about 60
    assert 3 <= fake_wiro.calls["/Task/Detail"] <= 7
