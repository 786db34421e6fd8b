"""A status message changes at a steady pace: a waiting member's place in line (exact near the
front, rough further back) and the clock are refreshed every few intervals, not at every move
of the queue; a new phase or progress goes out at once (unit level, a controlled clock)."""

from __future__ import annotations

import asyncio
import datetime as dt

import discord

from bot.core.jobs import Phase
from bot.core.wiro import TaskProgress
from bot.frontends.discord_bot.status import (
    StatusBoard,
    at_least,
    edit_due,
    render_status,
    substance,
)
from tests.test_status_board import FakeReply, until

START = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


def waiting_text(position: int) -> str:
    return render_status("<@1>", Phase.WAITING, 0.0, position)


def test_near_places_are_exact_and_far_ones_rough() -> None:
    assert waiting_text(1).endswith("You're next.")
    assert waiting_text(2).endswith(" 1 ahead of you.")
    assert waiting_text(11).endswith(" 10 ahead of you.")
    assert waiting_text(13).endswith("More than 10 ahead of you.")
    assert waiting_text(38).endswith("More than 20 ahead of you.")
    assert waiting_text(913).endswith("More than 500 ahead of you.")
    assert [at_least(n) for n in (11, 20, 21, 50, 51, 100, 101, 499, 501, 1_001, 25_000)] == [
        10, 10, 20, 20, 50, 50, 100, 200, 500, 1_000, 20_000,
    ]  # fmt: skip


def test_a_long_wait_shows_few_different_places() -> None:
    texts = {waiting_text(position) for position in range(1, 1_001)}
    # 1,000 moves to the front; the member sees a handful of bounds, then the last ten places.
    assert len(texts) <= 20


def test_only_the_clock_or_the_place_waits_for_the_slow_interval() -> None:
    shown_at = START.timestamp()
    waiting = substance(Phase.WAITING)
    assert not edit_due(waiting, waiting, shown_at, shown_at + 14.9, 15.0)
    assert edit_due(waiting, waiting, shown_at, shown_at + 15.0, 15.0)
    assert edit_due(waiting, substance(Phase.QUEUED), shown_at, shown_at + 0.1, 15.0)  # left line
    assert edit_due(None, waiting, shown_at, shown_at, 15.0)  # nothing shown yet
    at_40 = substance(Phase.GENERATING, TaskProgress(percentage=40.2, remaining_seconds=12))
    at_55 = substance(Phase.GENERATING, TaskProgress(percentage=55.0, remaining_seconds=9))
    assert edit_due(at_40, at_55, shown_at, shown_at + 0.1, 15.0)  # Wiro's progress moved
    generating = substance(Phase.GENERATING)
    assert not edit_due(generating, generating, shown_at, shown_at + 3.0, 15.0)  # the clock only
    assert not edit_due(at_40, at_40, shown_at, shown_at + 3.0, 15.0)  # only "… s left"


def _posted_now() -> int:
    return discord.utils.time_snowflake(discord.utils.utcnow())


async def test_a_queue_move_does_not_edit_every_waiting_status_at_once() -> None:
    clock = Clock()
    board = StatusBoard(interval=0.005, clock=clock, slow_interval=15.0)
    replies = {job_id: FakeReply() for job_id in range(1, 52)}
    # Job 1 is at the front; 50 members wait behind it, each status posted with its place.
    for job_id, reply in replies.items():
        board.show(
            job_id,
            reply,  # type: ignore[arg-type]
            _posted_now(),
            started=0.0,
            phase=Phase.WAITING,
            position=job_id,
            shown=waiting_text(job_id),
        )
    # Job 1 leaves the line and every other member moves up one place.
    board.show(1, replies[1], _posted_now(), started=0.0, phase=Phase.QUEUED)  # type: ignore[arg-type]
    for job_id in range(2, 52):
        assert board.move(job_id, job_id - 1)
    await until(lambda: any("Queued at Wiro" in text for text in replies[1].edits))
    await asyncio.sleep(0.05)  # every status task looks a few more times
    assert [job_id for job_id in range(2, 52) if replies[job_id].edits] == []

    clock.now += dt.timedelta(seconds=15)  # the waiting interval has passed
    behind = range(2, 52)
    changed = {job_id for job_id in behind if waiting_text(job_id - 1) != waiting_text(job_id)}
    await until(lambda: {job_id for job_id in behind if replies[job_id].edits} == changed)
    assert len(changed) < 25  # far places kept their rough text: not edited at all
    for job_id in changed:
        assert replies[job_id].edits == [waiting_text(job_id - 1)]
    await board.close()


async def test_a_posted_status_is_not_edited_to_the_same_text() -> None:
    board = StatusBoard(interval=0.005, clock=Clock())
    reply, other = FakeReply(), FakeReply()
    text = waiting_text(3)
    board.show(1, reply, _posted_now(), started=0.0, phase=Phase.WAITING, position=3, shown=text)  # type: ignore[arg-type]
    board.show(2, other, _posted_now(), started=0.0, phase=Phase.QUEUED)  # type: ignore[arg-type]
    await until(lambda: bool(other.edits))  # the board's tasks have looked
    await asyncio.sleep(0.02)
    assert reply.edits == []
    await board.close()
