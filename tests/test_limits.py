"""Fair use on a real SQLite ledger with a clock the test moves: which limit a member hits first,
what the refusal says, and when (as a Discord `<t:UNIX:R>` timestamp) the limit frees up; and
the cooldown, which is a wait (when the new job may start), not a refusal."""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.core.jobs.ledger import Job, JobState
from bot.core.jobs.limits import FairUse, LimitReached, check_fair_use
from bot.core.jobs.sqlite_ledger import LEDGER_FILENAME, SqliteLedger
from bot.frontends.discord_bot.address import DiscordAddress, quota_scope, requester
from bot.frontends.discord_bot.wording import limit_message, relative_time

# A quarter of a second past a whole second: a realistic `created_at`, so "rounded up to the
# next whole second" and "the exact moment" never coincide by accident.
START = datetime(2025, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)
ALICE, BOB, CAROL = 1001, 1002, 1003
GUILD, OTHER_GUILD = 2002, 2003
DAY = timedelta(hours=24)
# Only the rule under test is on: everything else allows as much as possible.
OFF = FairUse(member_max_active=1000, member_cooldown=0, member_daily_quota=0, guild_daily_quota=0)


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def ledger(tmp_path, clock) -> AsyncIterator[SqliteLedger]:
    async with await SqliteLedger.open(tmp_path / LEDGER_FILENAME, clock=clock) as opened:
        yield opened


async def ask(
    ledger: SqliteLedger, user_id: int = ALICE, guild_id: int | None = GUILD, **overrides: Any
) -> Job:
    """A new QUEUED job, as `/portrait` creates it once the member passed every limit."""
    address = DiscordAddress(
        user_id=user_id,
        guild_id=guild_id,
        channel_id=3003,
        interaction_id=4004,
        token_expires_at=START + timedelta(minutes=15),
    )
    values: dict[str, Any] = {
        **address.job_fields("token"),
        "params": {"options": {"prompt": "a portrait"}},
    }
    values.update(overrides)
    return await ledger.create(**values)


async def finish(ledger: SqliteLedger, job: Job) -> Job:
    """Run a job all the way to DELIVERED (it reached Wiro: it counts against quotas)."""
    job = await ledger.transition(job.id, JobState.SUBMITTING)
    job = await ledger.transition(job.id, JobState.RUNNING, wiro_task_id=f"task-{job.id}")
    job = await ledger.transition(job.id, JobState.DELIVERING)
    return await ledger.transition(
        job.id, JobState.DELIVERED, result_message_ref=str(9000 + job.id)
    )


async def refusal(
    ledger: SqliteLedger,
    rules: FairUse,
    clock: Clock,
    user_id: int = ALICE,
    guild_id: int | None = GUILD,
) -> str | None:
    """The refusal text the member reads now, or None when the request may go ahead."""
    try:
        await check_fair_use(
            ledger,
            rules,
            requester=requester(user_id),
            quota_scope=quota_scope(guild_id),
            now=clock(),
        )
    except LimitReached as limit:
        return limit_message(limit)
    return None


async def start_time(
    ledger: SqliteLedger, rules: FairUse, clock: Clock, user_id: int = ALICE
) -> datetime | None:
    """When a request made now may start (None: at once); the request must be accepted."""
    return await check_fair_use(
        ledger, rules, requester=requester(user_id), quota_scope=quota_scope(GUILD), now=clock()
    )


def timestamps(message: str) -> list[int]:
    return [int(value) for value in re.findall(r"<t:(\d+):R>", message)]


def first_whole_second_at_or_after(moment: datetime) -> int:
    return math.ceil(moment.timestamp())


# ====================================================================== one limit at a time


async def test_nothing_asked_yet_is_allowed(ledger, clock):
    assert await refusal(ledger, FairUse(), clock) is None


async def test_an_active_job_blocks_a_second_one_and_says_so(ledger, clock):
    rules = replace(OFF, member_max_active=1)
    job = await ask(ledger)
    for state in (JobState.QUEUED, JobState.SUBMITTING, JobState.RUNNING, JobState.DELIVERING):
        if state is not JobState.QUEUED:
            extra = {"wiro_task_id": "t-1"} if state is JobState.RUNNING else {}
            job = await ledger.transition(job.id, state, **extra)
        message = await refusal(ledger, rules, clock)
        assert message is not None, state
        assert "already have a portrait in progress" in message
        assert "once it is finished" in message
    await ledger.transition(job.id, JobState.DELIVERED, result_message_ref="1")
    assert await refusal(ledger, rules, clock) is None
    assert await refusal(ledger, rules, clock, user_id=BOB) is None  # per member


async def test_an_active_limit_above_one_counts_the_portraits(ledger, clock):
    rules = FairUse(member_max_active=2, member_cooldown=0, member_daily_quota=0)
    await ask(ledger)
    assert await refusal(ledger, rules, clock) is None
    await ask(ledger)
    message = await refusal(ledger, rules, clock)
    assert message is not None
    assert "2 portraits in progress" in message and "once one is finished" in message


async def test_a_request_inside_the_cooldown_is_accepted_and_starts_when_it_ends(ledger, clock):
    rules = FairUse(member_max_active=100, member_cooldown=90, member_daily_quota=0)
    assert await start_time(ledger, rules, clock) is None  # nothing asked yet: at once
    job = await finish(ledger, await ask(ledger))
    ends = job.created_at + timedelta(seconds=90)

    clock.advance(seconds=30)
    assert await refusal(ledger, rules, clock) is None  # accepted...
    assert await start_time(ledger, rules, clock) == ends  # ...and it waits until then
    clock.now = ends - timedelta(microseconds=1)
    assert await start_time(ledger, rules, clock) == ends
    clock.now = ends
    assert await start_time(ledger, rules, clock) is None
    clock.now = ends - timedelta(seconds=1)
    assert await start_time(ledger, rules, clock, user_id=BOB) is None  # per member


async def test_the_cooldown_counts_from_the_latest_request_even_one_that_cost_nothing(
    ledger, clock
):
    rules = FairUse(member_max_active=100, member_cooldown=60, member_daily_quota=0)
    await finish(ledger, await ask(ledger))
    clock.advance(seconds=50)
    cancelled = await ask(ledger)
    await ledger.transition(cancelled.id, JobState.CANCELLED)
    clock.advance(seconds=20)  # 70 s after the first, 20 s after the cancelled one
    assert await start_time(ledger, rules, clock) == cancelled.created_at + timedelta(seconds=60)


async def test_quick_requests_become_jobs_spaced_by_the_cooldown(ledger, clock):
    rules = FairUse(member_max_active=100, member_cooldown=30, member_daily_quota=0)
    first = await ask(ledger)
    starts = []
    for _ in range(3):
        clock.advance(seconds=1)
        not_before = await start_time(ledger, rules, clock)
        assert not_before is not None
        starts.append(not_before)
        await ask(ledger, not_before=not_before)
    assert starts == [first.created_at + timedelta(seconds=30 * n) for n in (1, 2, 3)]


async def test_a_cooldown_ending_on_a_whole_second_shows_that_second(tmp_path):
    clock = Clock(datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC))
    async with await SqliteLedger.open(tmp_path / "whole.sqlite3", clock=clock) as ledger:
        rules = FairUse(member_max_active=100, member_cooldown=30, member_daily_quota=0)
        job = await ask(ledger)
        ends = job.created_at + timedelta(seconds=30)
        starts = await start_time(ledger, rules, clock)
        assert starts == ends
        (shown,) = timestamps(relative_time(starts))
        assert shown == int(ends.timestamp())
        clock.now = datetime.fromtimestamp(shown - 1, UTC)
        assert await start_time(ledger, rules, clock) is not None, "due before the time shown"
        clock.now = datetime.fromtimestamp(shown, UTC)
        assert await start_time(ledger, rules, clock) is None


async def test_a_quota_freeing_up_on_a_whole_second_shows_that_second(tmp_path):
    clock = Clock(datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC))
    async with await SqliteLedger.open(tmp_path / "whole.sqlite3", clock=clock) as ledger:
        rules = FairUse(member_max_active=100, member_cooldown=0, member_daily_quota=1)
        job = await finish(ledger, await ask(ledger))
        clock.advance(hours=1)
        message = await refusal(ledger, rules, clock)
        assert message is not None
        (shown,) = timestamps(message)
        assert shown == int((job.created_at + DAY).timestamp())
        clock.now = datetime.fromtimestamp(shown - 1, UTC)
        assert await refusal(ledger, rules, clock) is not None, "allowed before the time shown"
        clock.now = datetime.fromtimestamp(shown, UTC)
        assert await refusal(ledger, rules, clock) is None, "still refused at the time shown"


async def test_the_member_daily_quota_names_when_the_oldest_counted_job_frees_up(ledger, clock):
    rules = FairUse(member_max_active=100, member_cooldown=0, member_daily_quota=3)
    oldest = await finish(ledger, await ask(ledger))
    clock.advance(hours=2)
    await finish(ledger, await ask(ledger))
    clock.advance(hours=3)
    assert await refusal(ledger, rules, clock) is None
    await ask(ledger)  # still queued: it counts, so a member cannot queue past the quota
    assert await refusal(ledger, rules, clock, user_id=BOB) is None  # per member
    clock.advance(hours=1)

    message = await refusal(ledger, rules, clock)
    assert message is not None
    assert "reached your limit of 3 portraits for the last 24 hours" in message
    assert timestamps(message) == [first_whole_second_at_or_after(oldest.created_at + DAY)]


async def test_the_guild_daily_quota_counts_every_member_of_that_server(ledger, clock):
    rules = FairUse(
        member_max_active=100, member_cooldown=0, member_daily_quota=0, guild_daily_quota=3
    )
    oldest = await finish(ledger, await ask(ledger, user_id=ALICE))
    clock.advance(minutes=10)
    await finish(ledger, await ask(ledger, user_id=BOB))
    await finish(ledger, await ask(ledger, user_id=BOB, guild_id=OTHER_GUILD))
    await finish(ledger, await ask(ledger, user_id=BOB, guild_id=None))  # a DM: no server
    clock.advance(minutes=10)
    assert await refusal(ledger, rules, clock, user_id=CAROL) is None
    await finish(ledger, await ask(ledger, user_id=ALICE))

    message = await refusal(ledger, rules, clock, user_id=CAROL)
    assert message is not None
    assert "server has used its 3 portraits for the last 24 hours" in message
    assert timestamps(message) == [first_whole_second_at_or_after(oldest.created_at + DAY)]
    # Other servers, and requests outside any server, are not held back.
    assert await refusal(ledger, rules, clock, user_id=CAROL, guild_id=OTHER_GUILD) is None
    assert await refusal(ledger, rules, clock, user_id=CAROL, guild_id=None) is None


# ====================================================================== the order of the limits


async def test_limits_are_checked_in_order_active_member_quota_guild_quota(ledger, clock):
    rules = FairUse(
        member_max_active=1, member_cooldown=600, member_daily_quota=2, guild_daily_quota=3
    )
    await finish(ledger, await ask(ledger, user_id=BOB))  # the server's 1st
    clock.advance(minutes=1)
    await finish(ledger, await ask(ledger))  # 2nd, Alice's 1st
    clock.advance(minutes=1)
    active = await ask(ledger)  # 3rd, Alice's 2nd, still in line: every limit is hit now

    def kind(message: str | None) -> str | None:
        if message is None:
            return None
        for needle, name in (
            ("in progress", "active"),
            ("reached your", "member quota"),
            ("server has used", "guild quota"),
        ):
            if needle in message:
                return name
        raise AssertionError(f"a refusal that names no limit: {message!r}")

    assert kind(await refusal(ledger, rules, clock)) == "active"
    await ledger.transition(active.id, JobState.SUBMITTING)
    await ledger.transition(active.id, JobState.FAILED)  # reached Wiro: still counts
    # Inside the cooldown too: a quota refuses at once rather than letting the member wait.
    assert kind(await refusal(ledger, rules, clock)) == "member quota"
    # Carol has nothing of her own: only the server's quota stands in her way.
    assert kind(await refusal(ledger, rules, clock, user_id=CAROL)) == "guild quota"
    assert kind(await refusal(ledger, rules, clock, user_id=CAROL, guild_id=None)) is None


# ====================================================================== what counts, and when


@pytest.mark.parametrize("quota", ["member", "guild"])
async def test_zero_turns_a_quota_off(ledger, clock, quota):
    rules = FairUse(
        member_max_active=1000,
        member_cooldown=0,
        member_daily_quota=0 if quota == "member" else 1000,
        guild_daily_quota=0 if quota == "guild" else 1000,
    )
    for _ in range(25):
        await finish(ledger, await ask(ledger))
    assert await refusal(ledger, rules, clock) is None


async def test_zero_turns_the_cooldown_off(ledger, clock):
    rules = FairUse(member_max_active=1000, member_cooldown=0, member_daily_quota=0)
    await finish(ledger, await ask(ledger))
    assert await start_time(ledger, rules, clock) is None


@pytest.mark.parametrize("scope", ["member", "guild"])
async def test_jobs_that_ended_before_reaching_wiro_do_not_count(ledger, clock, scope):
    rules = FairUse(
        member_max_active=1000,
        member_cooldown=0,
        member_daily_quota=2 if scope == "member" else 0,
        guild_daily_quota=2 if scope == "guild" else 0,
    )
    # Cancelled while waiting in line, failed before the run call, and refused by Wiro's
    # concurrency limit (96) and then cancelled: none of them started anything at Wiro.
    cancelled = await ask(ledger)
    await ledger.transition(cancelled.id, JobState.CANCELLED)
    failed = await ask(ledger)
    await ledger.transition(failed.id, JobState.FAILED)
    requeued = await ask(ledger)
    await ledger.transition(requeued.id, JobState.SUBMITTING)
    await ledger.transition(requeued.id, JobState.QUEUED)
    await ledger.transition(requeued.id, JobState.CANCELLED)
    clock.advance(minutes=5)
    assert await refusal(ledger, rules, clock) is None

    counted = await finish(ledger, await ask(ledger))
    clock.advance(minutes=5)
    assert await refusal(ledger, rules, clock) is None
    # A run call that was begun counts, whatever came of it.
    began = await ask(ledger)
    await ledger.transition(began.id, JobState.SUBMITTING)
    await ledger.transition(began.id, JobState.FAILED)
    message = await refusal(ledger, rules, clock)
    assert message is not None
    # The uncounted jobs are older, but the time shown is when the oldest *counted* one frees up.
    assert timestamps(message) == [first_whole_second_at_or_after(counted.created_at + DAY)]


async def test_the_rolling_window_frees_a_portrait_24_hours_after_it_was_asked(ledger, clock):
    rules = FairUse(
        member_max_active=1000, member_cooldown=0, member_daily_quota=2, guild_daily_quota=0
    )
    first = await finish(ledger, await ask(ledger))
    clock.advance(hours=5)
    second = await finish(ledger, await ask(ledger))
    clock.advance(hours=1)
    message = await refusal(ledger, rules, clock)
    assert message is not None
    (shown,) = timestamps(message)
    assert shown == first_whole_second_at_or_after(first.created_at + DAY)

    # Still refused just before the time shown, allowed from the time shown on.
    clock.now = datetime.fromtimestamp(shown - 1, UTC)
    assert await refusal(ledger, rules, clock) is not None
    clock.now = datetime.fromtimestamp(shown, UTC)
    assert await refusal(ledger, rules, clock) is None

    # One slot was freed: using it closes the window again until the second job ages out.
    third = await finish(ledger, await ask(ledger))
    message = await refusal(ledger, rules, clock)
    assert message is not None
    assert timestamps(message) == [first_whole_second_at_or_after(second.created_at + DAY)]
    clock.now = second.created_at + DAY + timedelta(seconds=1)
    assert await refusal(ledger, rules, clock) is None
    clock.now = third.created_at + DAY + timedelta(seconds=1)
    assert await ledger.count_since(since=clock.now - DAY, requester=requester(ALICE)) == 0


async def test_a_quota_of_one_reads_naturally(ledger, clock):
    rules = FairUse(member_max_active=100, member_cooldown=0, member_daily_quota=1)
    await finish(ledger, await ask(ledger))
    message = await refusal(ledger, rules, clock)
    assert message is not None and "your limit of 1 portrait for" in message
