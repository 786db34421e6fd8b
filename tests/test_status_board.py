"""The status board edits each job's message on its own schedule (unit level, fake replies)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import discord

from bot.core.jobs import Phase
from bot.frontends.discord_bot.status import OLD_MESSAGE_INTERVAL, StatusBoard, _Live


class FakeReply:
    """Stands in for `Reply`: counts edits; `stuck` edits hang like a long rate-limit wait."""

    def __init__(self, *, stuck: bool = False, refuse: BaseException | None = None) -> None:
        self.mention = "<@1>"
        self.edits: list[str] = []
        self.stuck = stuck
        self.refuse = refuse

    async def edit(self, message_id: int, **kwargs: Any) -> None:
        if self.stuck:
            await asyncio.Event().wait()
        if self.refuse is not None:
            raise self.refuse
        self.edits.append(kwargs["content"])


async def until(predicate: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "not reached in time"
        await asyncio.sleep(0.005)


def message_id_posted(ago: dt.timedelta) -> int:
    return discord.utils.time_snowflake(discord.utils.utcnow() - ago)


async def test_a_hanging_edit_of_one_message_does_not_hold_the_others() -> None:
    board = StatusBoard(interval=0.01)
    stuck, moving = FakeReply(stuck=True), FakeReply()
    fresh = message_id_posted(dt.timedelta())
    board.show(1, stuck, fresh, started=0.0, phase=Phase.GENERATING)  # type: ignore[arg-type]
    board.show(2, moving, fresh, started=0.0, phase=Phase.GENERATING)  # type: ignore[arg-type]
    board.show(2, moving, fresh, started=0.0, phase=Phase.FINISHING)  # type: ignore[arg-type]
    await until(lambda: any("Finishing" in text for text in moving.edits))
    await board.close()
    assert stuck.edits == []


async def test_a_rate_limited_message_waits_as_long_as_discord_asks() -> None:
    board = StatusBoard(interval=0.01)
    limited = FakeReply(refuse=discord.RateLimited(90.0))
    board.show(1, limited, message_id_posted(dt.timedelta()), started=0.0, phase=Phase.QUEUED)  # type: ignore[arg-type]
    live = board._live[1]
    await until(lambda: live.pause == 90.0)
    await board.close()


def test_messages_older_than_an_hour_are_edited_sparingly() -> None:
    board = StatusBoard(interval=3)
    now = discord.utils.utcnow().timestamp()
    young = _Live(FakeReply(), message_id_posted(dt.timedelta(minutes=59)), 0.0)  # type: ignore[arg-type]
    old = _Live(FakeReply(), message_id_posted(dt.timedelta(minutes=61)), 0.0)  # type: ignore[arg-type]
    assert board._pause(young, now) == 3
    assert board._pause(old, now) == OLD_MESSAGE_INTERVAL
