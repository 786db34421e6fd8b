"""Following tasks over the WebSocket: real sockets on 127.0.0.1 against the fake Wiro.

The socket is a hint: these tests check that it makes waits prompt and cheap, that
polling takes over whenever it fails, and that the end state always comes from
/Task/Detail.
"""

import asyncio
import logging
import time
from collections.abc import Callable

import pytest

from bot.core.wiro import (
    PollSchedule,
    SocketEvent,
    Stage,
    Task,
    TaskForecast,
    TaskProgress,
    TaskRef,
    WiroClient,
    WiroSocket,
    WiroTaskFailed,
    WiroTimeout,
)
from tests.fakewiro import SOCKET_PATH, SUCCESS_TIMELINE, FakeWiro

FIELDS = {"prompt": "a portrait", "inputImageUrl": "https://example.com/me.jpg"}
SLOW = PollSchedule.constant(5.0)  # polling alone would take seconds
END = len(SUCCESS_TIMELINE)


def make_client(wiro: FakeWiro, schedule: PollSchedule) -> WiroClient:
    return WiroClient(
        api_key=wiro.api_key,
        api_secret=wiro.api_secret,
        base_url=wiro.base_url,
        poll_schedule=schedule,
        retry_attempts=1,
        request_timeout=5.0,
    )


@pytest.fixture
async def socket(fake_wiro):
    async with WiroSocket(
        fake_wiro.socket_url, min_backoff=0.02, max_backoff=0.1, connect_timeout=2.0
    ) as socket:
        yield socket


async def until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - the condition lives in the fake
            await asyncio.sleep(0.005)


def in_timeline_order(statuses: list[str]) -> bool:
    positions = [SUCCESS_TIMELINE.index(status) for status in statuses]
    return positions == sorted(positions)


# --- parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            {
                "type": "progressGenerate",
                "task": "Generate",
                "percentage": "45",
                "stepCurrent": "9",
                "stepTotal": "20",
                "speed": "2.10",
                "speedType": "it/s",
                "elapsedTime": "00:04",
                "remainingTime": "00:12",
            },
            TaskProgress(45.0, 9, 20, 12.0),
        ),
        (
            {"percentage": 45.5, "stepCurrent": 9, "stepTotal": 20, "remainingTime": 5.5},
            TaskProgress(45.5, 9, 20, 5.5),
        ),
        (
            {"stepCurrent": "5", "stepTotal": "20", "remainingTime": "1:02:03"},
            TaskProgress(25.0, 5, 20, 3723.0),
        ),
        ({"percentage": "80%", "remainingTime": "12s"}, TaskProgress(80.0, None, None, 12.0)),
        ({"percentage": "250", "remainingTime": "?"}, TaskProgress(100.0, None, None, None)),
        ({"percentage": "soon", "stepTotal": "0"}, None),
        ({"type": "progressGenerate"}, None),
        (
            "45%|####5     | 9/20 [00:04<00:05,  2.10it/s]",
            TaskProgress(45.0, 9, 20, 5.0),
        ),
        (
            "Loading pipeline components...: 100%|██████████| 7/7 [00:01<00:00]",
            TaskProgress(100.0, 7, 7, 0.0),
        ),
        ("  0%|          | 0/20 [00:00<?, ?it/s]", TaskProgress(0.0, 0, 20, None)),
        ('{"percentage": "30", "remainingTime": "00:07"}', TaskProgress(30.0, None, None, 7.0)),
        ("warming up the model", None),
        (None, None),
        ([1, 2], None),
    ],
)
def test_progress_is_parsed_defensively(message, expected):
    assert TaskProgress.from_message(message) == expected


def test_the_last_progress_line_wins():
    text = "10%|#| 2/20 [00:01<00:09]\n55%|#####| 11/20 [00:05<00:04]\nsaving"
    assert TaskProgress.from_text(text) == TaskProgress(55.0, 11, 20, 4.0)


def test_events_know_what_is_terminal():
    old = {"type": "task_postprocess_end", "id": "1", "tasktoken": "t", "message": []}
    assert SocketEvent.from_message(old, task_id="1").terminal
    new = {"type": "task_end", "id": "1", "terminal": True, "success": None}
    assert SocketEvent.from_message(new, task_id="1").terminal
    output = {"type": "task_output", "id": "1", "message": {"percentage": "12"}}
    event = SocketEvent.from_message(output, task_id="1")
    assert not event.terminal and event.progress == TaskProgress(12.0)
    assert "tasktoken" not in repr(SocketEvent.from_message(old, task_id="1"))


# --- sharing and progress -------------------------------------------------------------------


@pytest.mark.parametrize("socket_format", ["old", "new"])
async def test_many_tasks_share_one_connection(fake_wiro, socket, socket_format):
    fake_wiro.scenario.socket_format = socket_format
    fake_wiro.scenario.duration = 0.4
    async with make_client(fake_wiro, SLOW) as client:
        refs = [await client.run(FIELDS) for _ in range(6)]
        started = time.monotonic()
        tasks = await asyncio.gather(*(client.wait(ref, socket=socket, timeout=10) for ref in refs))
    assert all(task.succeeded for task in tasks)
    assert time.monotonic() - started < 3  # each ended on its socket message, not a 5 s poll
    assert fake_wiro.socket_connections == 1
    assert fake_wiro.socket_subscriptions == 6
    assert socket.subscriptions == 0


@pytest.mark.parametrize(
    ("socket_format", "socket_progress"),
    [("old", "object"), ("new", "object"), ("old", "text")],
)
async def test_progress_reaches_on_progress_in_increasing_order(
    fake_wiro, socket, socket_format, socket_progress
):
    fake_wiro.scenario.socket_format = socket_format
    fake_wiro.scenario.socket_progress = socket_progress
    fake_wiro.scenario.duration = 0.5
    seen: list[TaskProgress] = []
    async with make_client(fake_wiro, SLOW) as client:
        ref = await client.run({**FIELDS, "steps": 30})
        task = await client.wait(ref, socket=socket, on_progress=seen.append, timeout=10)
    assert task.succeeded
    percentages = [p.percentage for p in seen]
    assert len(seen) >= 4
    assert percentages == sorted(percentages) and len(set(percentages)) == len(percentages)
    assert percentages[-1] == 100.0
    assert all(p.steps == 30 for p in seen)
    remaining = [p.remaining_seconds for p in seen]
    assert remaining == sorted(remaining, reverse=True) and remaining[-1] == 0


async def test_progress_comes_from_task_detail_without_a_socket(fake_wiro):
    fake_wiro.scenario.duration = None
    seen: list[TaskProgress] = []
    async with make_client(fake_wiro, PollSchedule.constant(0.005)) as client:
        ref = await client.run(FIELDS)

        def on_change(task: Task) -> None:
            fake_wiro.step(ref.task_id)

        task = await client.wait(ref, on_change=on_change, on_progress=seen.append, timeout=5)
    assert task.succeeded
    assert [(p.percentage, p.step, p.steps) for p in seen] == [(50.0, 10, 20), (100.0, 20, 20)]


async def test_a_failing_progress_callback_does_not_stop_the_wait(fake_wiro, socket, caplog):
    fake_wiro.scenario.duration = 0.3

    async def on_progress(progress: TaskProgress) -> None:
        raise RuntimeError("discord is down")

    async with make_client(fake_wiro, SLOW) as client:
        ref = await client.run(FIELDS)
        task = await client.wait(ref, socket=socket, on_progress=on_progress, timeout=10)
    assert task.succeeded
    assert "on_progress callback failed" in caplog.text


# --- promptness and polling -----------------------------------------------------------------


async def test_the_wait_ends_when_the_task_ends_not_at_the_next_poll(fake_wiro, socket):
    fake_wiro.scenario.duration = 0.5
    async with make_client(fake_wiro, SLOW) as client:
        ref = await client.run(FIELDS)
        started = time.monotonic()
        task = await client.wait(ref, socket=socket, timeout=30)
    assert task.succeeded
    assert time.monotonic() - started < 3  # the schedule alone would poll again at 5 s
    assert 2 <= fake_wiro.calls["/Task/Detail"] <= len(SUCCESS_TIMELINE) + 2


async def test_a_talking_socket_relaxes_polling(fake_wiro, socket):
    fake_wiro.scenario.duration = None
    async with make_client(fake_wiro, PollSchedule.constant(0.01, watchdog=30)) as client:
        ref = await client.run(FIELDS)
        waiting = asyncio.create_task(client.wait(ref, socket=socket, timeout=10))
        await until(lambda: fake_wiro.socket_subscriptions == 1)
        fake_wiro.step(ref.task_id, 5)  # task_start, heard on the socket
        await until(lambda: fake_wiro.bodies["/Task/Detail"] and socket.subscriptions == 1)
        await asyncio.sleep(0.1)
        before = fake_wiro.calls["/Task/Detail"]
        await asyncio.sleep(0.5)
        assert fake_wiro.calls["/Task/Detail"] - before <= 2  # polling alone: ~50
        fake_wiro.step(ref.task_id, END)
        assert (await asyncio.wait_for(waiting, 3)).succeeded


async def test_stderr_between_progress_lines_does_not_flood_task_detail(fake_wiro, socket):
    fake_wiro.scenario.duration = None
    seen: list[TaskProgress] = []
    async with make_client(fake_wiro, PollSchedule.constant(2.0)) as client:
        ref = await client.run(FIELDS)
        waiting = asyncio.create_task(
            client.wait(ref, socket=socket, on_progress=seen.append, timeout=10)
        )
        await until(lambda: fake_wiro.socket_subscriptions == 1)
        fake_wiro.step(ref.task_id, 6)  # task_output, with its first progress message
        await until(lambda: bool(seen))
        await asyncio.sleep(0.05)
        before = fake_wiro.calls["/Task/Detail"]
        for percent in range(20, 40):
            stderr = {"type": "task_error", "id": ref.task_id, "message": "FutureWarning: ..."}
            output = {"type": "task_output", "id": ref.task_id, "message": f"{percent}%|##"}
            await fake_wiro.socket_push(stderr)
            await fake_wiro.socket_push(output)
        await until(lambda: seen[-1].percentage == 39)
        assert fake_wiro.calls["/Task/Detail"] - before <= 2
        fake_wiro.step(ref.task_id, END)
        assert (await asyncio.wait_for(waiting, 3)).succeeded


async def test_a_silent_socket_hands_over_to_the_schedule_after_the_watchdog(fake_wiro, socket):
    fake_wiro.scenario.duration = None
    async with make_client(fake_wiro, PollSchedule.constant(0.01, watchdog=0.2)) as client:
        ref = await client.run(FIELDS)
        seen: list[str] = []
        waiting = asyncio.create_task(
            client.wait(ref, socket=socket, timeout=10, on_change=lambda t: seen.append(t.status))
        )
        await until(lambda: fake_wiro.socket_subscriptions == 1)
        fake_wiro.step(ref.task_id, 5)
        await until(lambda: "task_start" in seen)
        fake_wiro.scenario.socket = "silent"
        before = fake_wiro.calls["/Task/Detail"]
        await asyncio.sleep(0.6)
        assert fake_wiro.calls["/Task/Detail"] - before >= 5  # back to polling every 10 ms
        fake_wiro.step(ref.task_id, END)
        assert (await asyncio.wait_for(waiting, 3)).succeeded


async def test_a_socket_that_never_speaks_hands_over_to_polling(fake_wiro, socket):
    fake_wiro.scenario.socket = "silent"
    fake_wiro.scenario.duration = 0.4
    async with make_client(fake_wiro, PollSchedule.constant(0.02, watchdog=0.1)) as client:
        ref = await client.run(FIELDS)
        task = await client.wait(ref, socket=socket, timeout=5)
    assert task.succeeded
    assert fake_wiro.socket_subscriptions == 1
    assert fake_wiro.calls["/Task/Detail"] >= 5


async def test_a_refused_socket_falls_back_to_polling(fake_wiro, socket, caplog):
    fake_wiro.scenario.socket = "refuse"
    fake_wiro.scenario.duration = 0.2
    async with make_client(fake_wiro, PollSchedule.constant(0.02)) as client:
        ref = await client.run(FIELDS)
        seen: list[TaskProgress] = []
        task = await client.wait(ref, socket=socket, on_progress=seen.append, timeout=5)
    assert task.succeeded
    assert fake_wiro.calls[SOCKET_PATH] >= 1 and fake_wiro.socket_connections == 0
    assert seen and seen[-1].percentage == 100.0  # the bar still moves, from /Task/Detail
    assert "Cannot open the Wiro socket" in caplog.text


async def test_polling_takes_over_when_the_socket_dies_mid_task(fake_wiro, socket):
    fake_wiro.scenario.duration = None
    async with make_client(fake_wiro, PollSchedule.constant(0.02, watchdog=30)) as client:
        ref = await client.run(FIELDS)
        seen: list[str] = []
        waiting = asyncio.create_task(
            client.wait(ref, socket=socket, timeout=10, on_change=lambda t: seen.append(t.status))
        )
        await until(lambda: fake_wiro.socket_subscriptions == 1)
        fake_wiro.step(ref.task_id, 5)
        await until(lambda: "task_start" in seen)  # now relaxed to 30 s polls
        fake_wiro.scenario.socket = "refuse"
        assert fake_wiro.socket_drop() == 1
        fake_wiro.step(ref.task_id, END)  # only a poll can tell
        task = await asyncio.wait_for(waiting, 3)
    assert task.succeeded
    assert fake_wiro.socket_connections == 1


async def test_a_reconnect_subscribes_every_task_again(fake_wiro, socket):
    fake_wiro.scenario.duration = None
    async with make_client(fake_wiro, SLOW) as client:
        refs = [await client.run(FIELDS), await client.run(FIELDS)]
        waits = [asyncio.create_task(client.wait(r, socket=socket, timeout=10)) for r in refs]
        await until(lambda: fake_wiro.socket_subscriptions == 2)
        subscription_frames = list(fake_wiro.socket_received)
        fake_wiro.socket_drop()
        await until(lambda: fake_wiro.socket_subscriptions == 4)
        assert fake_wiro.socket_connections == 2
        assert sorted(fake_wiro.socket_received[2:]) == sorted(subscription_frames)
        started = time.monotonic()
        for ref in refs:
            fake_wiro.step(ref.task_id, END)
        tasks = await asyncio.wait_for(asyncio.gather(*waits), 5)
    assert all(task.succeeded for task in tasks)
    assert time.monotonic() - started < 3  # told by the new connection, not a 5 s poll


async def test_the_connection_closes_when_idle_and_reopens_on_demand(fake_wiro):
    fake_wiro.scenario.duration = 0.2
    async with (
        WiroSocket(fake_wiro.socket_url, idle_timeout=0.1, min_backoff=0.02) as socket,
        make_client(fake_wiro, SLOW) as client,
    ):
        assert (await client.wait(await client.run(FIELDS), socket=socket, timeout=5)).succeeded
        await until(lambda: not socket.connected)
        assert (await client.wait(await client.run(FIELDS), socket=socket, timeout=5)).succeeded
    assert fake_wiro.socket_connections == 2


# --- the socket is not the truth ------------------------------------------------------------


async def test_a_socket_end_is_confirmed_by_task_detail(fake_wiro, socket):
    fake_wiro.scenario.outcome = "fail"
    fake_wiro.scenario.socket_format = "new"
    fake_wiro.scenario.duration = 0.3
    async with make_client(fake_wiro, SLOW) as client:
        ref = await client.run(FIELDS)
        started = time.monotonic()
        with pytest.raises(WiroTaskFailed) as caught:
            await client.wait(ref, socket=socket, timeout=10)
    assert time.monotonic() - started < 3
    assert caught.value.task.pexit == "1"


async def test_a_socket_claiming_success_is_not_believed(fake_wiro, socket):
    fake_wiro.scenario.duration = None  # stays in task_queue
    async with make_client(fake_wiro, PollSchedule.constant(0.2)) as client:
        ref = await client.run(FIELDS)
        waiting = asyncio.create_task(client.wait(ref, socket=socket, timeout=1.0))
        await until(lambda: fake_wiro.socket_subscriptions == 1)
        await fake_wiro.socket_push(
            {
                "type": "task_postprocess_end",
                "id": ref.task_id,
                "message": [{"name": "0.png", "contenttype": "image/png", "url": "http://x/0.png"}],
                "result": True,
                "success": True,
                "terminal": True,
                "exitCode": 0,
            }
        )
        with pytest.raises(WiroTimeout) as caught:
            await waiting
    assert caught.value.task is not None and caught.value.task.status == "task_queue"


async def test_junk_on_the_socket_is_ignored(fake_wiro, socket, caplog):
    caplog.set_level(logging.DEBUG, logger="bot.core.wiro")
    fake_wiro.scenario.duration = None
    async with make_client(fake_wiro, SLOW) as client:
        ref = await client.run(FIELDS)
        other = socket.subscribe(TaskRef(task_id="999", socket_token="no-such-token"))
        waiting = asyncio.create_task(client.wait(ref, socket=socket, timeout=10))
        await until(
            lambda: fake_wiro.socket_subscriptions == 1 and len(fake_wiro.socket_received) == 2
        )
        for junk in (
            "not json",
            "[1, 2, 3]",
            b"\xff\xfe",
            {"type": 7, "id": ref.task_id},
            {"id": ref.task_id},
            {"type": "task_output", "id": "31337", "message": {"percentage": "50"}},
            {"type": "task_output", "id": ref.task_id, "message": {"percentage": "soon"}},
            {"type": "task_output", "id": ref.task_id, "message": 42},
        ):
            await fake_wiro.socket_push(junk)
        started = time.monotonic()
        fake_wiro.step(ref.task_id, END)
        task = await asyncio.wait_for(waiting, 5)
        other.close()
    assert task.succeeded
    assert time.monotonic() - started < 3  # the socket still works after all that
    assert "Ignoring a socket message that is not JSON" in caplog.text
    assert "not followed" in caplog.text  # the fake's answer to the unknown token, and 31337


async def test_no_token_reaches_the_logs(fake_wiro, socket, caplog):
    caplog.set_level(logging.DEBUG, logger="bot.core.wiro")
    fake_wiro.scenario.duration = 0.3
    async with make_client(fake_wiro, PollSchedule.constant(0.05)) as client:
        ref = await client.run(FIELDS)
        waiting = asyncio.create_task(client.wait(ref, socket=socket, timeout=10))
        await until(lambda: fake_wiro.socket_subscriptions == 1)
        fake_wiro.scenario.socket = "refuse"
        fake_wiro.socket_drop()
        await asyncio.sleep(0.1)
        fake_wiro.scenario.socket = "ok"
        assert (await waiting).succeeded
    assert ref.task_id in caplog.text
    assert not [r for r in caplog.records if ref.socket_token in r.getMessage()]
    assert any(
        r.levelno >= logging.INFO and r.name == "bot.core.wiro.socket" for r in caplog.records
    )


# --- the subscription API -------------------------------------------------------------------


async def test_a_subscription_iterates_until_the_end(fake_wiro, socket):
    fake_wiro.scenario.duration = None
    async with make_client(fake_wiro, SLOW) as client:
        ref = await client.run(FIELDS)
        async with socket.subscribe(ref) as events:
            assert events.last_event_at is None
            await until(lambda: events.connected)
            fake_wiro.step(ref.task_id, END)
            received = [event async for event in events]
        assert not events.connected and events.closed
    statuses = [event.status for event in received]
    assert statuses[0] == "task_accept" and statuses[-1] == "task_postprocess_end"
    assert in_timeline_order(statuses)
    assert received[-1].terminal and received[-1].task_id == ref.task_id
    assert [e.progress.percentage for e in received if e.progress] == [17, 33, 50, 67, 83, 100]
    assert events.last_event_at is not None


async def test_watch_follows_the_socket_too(fake_wiro, socket):
    fake_wiro.scenario.duration = 0.3
    async with make_client(fake_wiro, SLOW) as client:
        ref = await client.run(FIELDS)
        seen = [task async for task in client.watch(ref, socket=socket, timeout=10)]
    assert seen[-1].succeeded
    assert in_timeline_order([t.status for t in seen])
    assert socket.subscriptions == 0


async def test_a_closed_socket_ends_subscriptions_and_leaves_polling(fake_wiro):
    fake_wiro.scenario.duration = 0.1
    socket = WiroSocket(fake_wiro.socket_url)
    async with make_client(fake_wiro, PollSchedule.constant(0.01)) as client:
        ref = await client.run(FIELDS)
        subscription = socket.subscribe(ref)
        await socket.close()
        assert [event async for event in subscription] == []
        assert socket.subscribe(ref).closed
        assert (await client.wait(ref, socket=socket, timeout=5)).succeeded


# --- the adaptive plan with the socket: how many /Task/Detail calls ------------------------

# The production plan on a small time scale, for a task expected in a minute: a poll every
# 0.1 s (REGULAR) or none for 20 s (QUIET), while a connected socket may stay silent 0.5 s.
REGULAR = PollSchedule(early=0.05, sparse=0.1, dense=0.01, watchdog=0.5, silence_min=0.05)
QUIET = PollSchedule(early=20.0, dense=0.01, watchdog=0.5, silence_min=0.05)
FAR = TaskForecast(expected=60.0, spread=1.0, basis="learned")


async def test_a_socket_announced_success_costs_one_task_detail(fake_wiro, socket):
    fake_wiro.scenario.duration = None
    async with make_client(fake_wiro, REGULAR) as client:
        ref = await client.run(FIELDS)
        seen: list[str] = []
        waiting = asyncio.create_task(
            client.wait(
                ref,
                socket=socket,
                forecast=FAR,
                timeout=10,
                on_change=lambda t: seen.append(t.status),
            )
        )
        await until(lambda: fake_wiro.socket_subscriptions == 1)
        for _ in range(END):  # the whole life, one status at a time, each heard on the socket
            fake_wiro.step(ref.task_id)
            await asyncio.sleep(0.01)
        task = await asyncio.wait_for(waiting, 3)
    assert task.succeeded
    assert fake_wiro.calls["/Task/Detail"] == 1  # the confirmation of the end, nothing else
    # The member's phase still follows the socket: queued, generating, finishing, done.
    stages = [Task.from_api({"status": status}).stage for status in seen]
    assert stages == [Stage.QUEUED, Stage.GENERATING, Stage.FINISHING, Stage.DONE]


async def test_the_watchdog_polls_once_the_socket_falls_silent(fake_wiro, socket):
    fake_wiro.scenario.duration = None
    async with make_client(fake_wiro, REGULAR) as client:
        ref = await client.run(FIELDS)
        waiting = asyncio.create_task(client.wait(ref, socket=socket, forecast=FAR, timeout=10))
        await until(lambda: fake_wiro.socket_subscriptions == 1)
        fake_wiro.step(ref.task_id, 5)
        await until(lambda: socket_heard(socket, ref.task_id))
        fake_wiro.scenario.socket = "silent"
        fake_wiro.step(ref.task_id, END)  # the end is never announced
        task = await asyncio.wait_for(waiting, 3)
    assert task.succeeded
    assert fake_wiro.calls["/Task/Detail"] == 1  # after 0.5 s of silence, the plan's


async def test_a_task_that_ended_before_the_subscription_is_found_by_the_watchdog(
    fake_wiro, socket
):
    fake_wiro.scenario.duration = None
    async with make_client(fake_wiro, REGULAR) as client:
        ref = await client.run(FIELDS)
        fake_wiro.step(ref.task_id, END)  # whether Wiro would replay this is unknown
        task = await asyncio.wait_for(client.wait(ref, socket=socket, forecast=FAR), 3)
    assert task.succeeded
    assert fake_wiro.calls["/Task/Detail"] == 1


async def test_a_reconnect_polls_once_for_what_was_missed(fake_wiro, socket):
    fake_wiro.scenario.duration = None
    async with make_client(fake_wiro, QUIET) as client:
        ref = await client.run(FIELDS)
        waiting = asyncio.create_task(client.wait(ref, socket=socket, forecast=FAR, timeout=10))
        await until(lambda: fake_wiro.socket_subscriptions == 1)
        fake_wiro.step(ref.task_id, 5)
        await until(lambda: socket_heard(socket, ref.task_id))
        assert fake_wiro.socket_drop() == 1
        fake_wiro.step(ref.task_id, END)  # while the socket is down: never sent
        task = await asyncio.wait_for(waiting, 3)
    assert task.succeeded
    assert fake_wiro.socket_connections == 2
    assert fake_wiro.calls["/Task/Detail"] == 1  # the catch-up poll after the reconnect


async def test_after_a_drop_the_plan_polls_until_the_socket_is_back(fake_wiro, socket):
    fake_wiro.scenario.duration = None
    schedule = PollSchedule(early=0.01, sparse=0.05, dense=0.01, watchdog=30, silence_min=30)
    soon = TaskForecast(expected=0.3, spread=0.05, basis="learned")
    async with make_client(fake_wiro, schedule) as client:
        ref = await client.run(FIELDS)
        waiting = asyncio.create_task(client.wait(ref, socket=socket, forecast=soon, timeout=10))
        await until(lambda: fake_wiro.socket_subscriptions == 1)
        fake_wiro.step(ref.task_id, 5)
        await until(lambda: socket_heard(socket, ref.task_id))
        before = fake_wiro.calls["/Task/Detail"]
        fake_wiro.scenario.socket = "refuse"
        fake_wiro.socket_drop()
        await until(lambda: fake_wiro.calls["/Task/Detail"] >= before + 3)  # the plan's polls
        fake_wiro.step(ref.task_id, END)
        task = await asyncio.wait_for(waiting, 3)
    assert task.succeeded


def socket_heard(socket: WiroSocket, task_id: str) -> bool:
    """Whether the socket has delivered anything for the task (its subscription spoke)."""
    return any(sub.ref.task_id == task_id and sub.last_event_at is not None for sub in socket._subs)


async def test_a_task_error_before_generation_is_looked_up_and_fails_after_its_grace(
    fake_wiro, socket
):
    fake_wiro.scenario.duration = None
    async with make_client(fake_wiro, QUIET) as client:
        ref = await client.run(FIELDS)
        waiting = asyncio.create_task(
            client.wait(ref, socket=socket, forecast=FAR, timeout=10, error_grace=0.3)
        )
        await until(lambda: fake_wiro.socket_subscriptions == 1)
        fake_wiro.set_status(ref.task_id, "task_error")  # persisted, and pushed on the socket
        with pytest.raises(WiroTaskFailed):
            await asyncio.wait_for(waiting, 3)
    # One poll to learn it is a state, not a stderr line; one when its grace ran out.
    assert fake_wiro.calls["/Task/Detail"] == 2


async def test_close_gives_up_on_a_connection_that_never_ends(monkeypatch, caplog):
    """A peer that never finishes the closing handshake cannot hang close() (the full suite
    once stalled in a socket test's teardown): it is abandoned after the grace, with a warning."""

    class StuckConnection:
        closed = False

        async def close(self) -> bool:
            await asyncio.Event().wait()  # never answered
            return True

    monkeypatch.setattr("bot.core.wiro.socket._CLOSE_GRACE", 0.05, raising=False)
    socket = WiroSocket("ws://127.0.0.1:9/never")
    socket._ws = StuckConnection()  # type: ignore[assignment]
    async with asyncio.timeout(5):
        await socket.close()
    assert socket._ws is None
    assert "did not close" in caplog.text
