"""Jobs as members see them, through the Discord stand-in and the real bot: the Cancel button on
the status message, queue positions, fair-use refusals, the cooldown's wait and
`/portrait-history`."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest

from bot.core.jobs.ledger import Job, JobState
from bot.frontends.discord_bot.address import requester
from bot.frontends.discord_bot.app import PortraitBot
from tests.discord_standin import DiscordStandIn, InteractionRecord, Member, StoredMessage, User
from tests.fakewiro import FakeTask, FakeWiro
from tests.support.images import selfie_jpeg
from tests.support.portrait_bot import portrait_bot

RUN = "/Run/wiro/instant-id-lora"
UPLOAD = "/File/Upload"
WAIT = 15.0  # the bound on every wait; a healthy run takes a fraction of it
# Only what a test is about limits the members; everything else is let through.
OPEN = {"MEMBER_COOLDOWN_SECONDS": "0", "MEMBER_MAX_ACTIVE_JOBS": "3"}
SELFIE = selfie_jpeg()

T = TypeVar("T")


# ====================================================================== helpers


@pytest.fixture
def wiro(fake_wiro: FakeWiro) -> FakeWiro:
    return fake_wiro


@pytest.fixture
def bob(discord_server: DiscordStandIn) -> Member:
    """A plain member of the server, without Manage Messages (added before the bot connects)."""
    user = discord_server.world.add_user(
        User(id=discord_server.new_id(), username="bob", global_name="Bob")
    )
    member = Member(user=user, guild_id=discord_server.guild.id)
    discord_server.guild.members.append(member)
    return member


@contextlib.asynccontextmanager
async def started(
    discord_server: DiscordStandIn, wiro: FakeWiro, data_dir: Any, **env: str
) -> AsyncIterator[PortraitBot]:
    async with portrait_bot(discord_server, wiro, data_dir, **{**OPEN, **env}) as bot:
        yield bot


async def eventually(
    predicate: Callable[[], Awaitable[T] | T], timeout: float = WAIT, what: str = ""
) -> T:
    """Re-check `predicate` (sync or async) until it is truthy; fail after `timeout` seconds.
    For state outside Discord (the fake Wiro, the ledger), which the stand-in cannot signal."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if loop.time() >= deadline:
            raise AssertionError(f"not reached within {timeout}s: {what or predicate}")
        await asyncio.sleep(0.01)


async def ask(server: DiscordStandIn, user: Member, **options: Any) -> InteractionRecord:
    return await server.slash(
        "portrait",
        {"prompt": f"portrait of {user.user.username}", **options},
        attachments={"selfie": ("me.jpg", SELFIE, "image/jpeg")},
        user=user,
    )


async def status_message(rec: InteractionRecord) -> StoredMessage:
    """The public status message of a request (it carries the Cancel button)."""
    return await rec.wait_for(
        lambda r: next((m for m in r.followups if "Making a portrait" in m.content), None),
        timeout=WAIT,
    )


def cancel_button(message: StoredMessage) -> str:
    (custom_id,) = [c for c in message.custom_ids() if c.startswith("portrait:cancel:")]
    return custom_id


def job_id_of(message: StoredMessage) -> int:
    return int(cancel_button(message).rsplit(":", 1)[1])


async def answer(rec: InteractionRecord) -> StoredMessage:
    """The bot's (final) reply to an interaction, once it is no longer "thinking"."""
    return await rec.wait_original(lambda m: not m.loading, timeout=WAIT)


def results(server: DiscordStandIn) -> list[StoredMessage]:
    return [m for m in server.messages.values() if m.attachments and not m.deleted]


async def job_of(bot: PortraitBot, job_id: int) -> Job:
    job = await bot.services.ledger.get(job_id)
    assert job is not None
    return job


async def reaches(bot: PortraitBot, job_id: int, state: JobState) -> Job:
    async def check() -> Job | None:
        job = await job_of(bot, job_id)
        return job if job.state is state else None

    return await eventually(check, what=f"job {job_id} {state}")


def task_for(wiro: FakeWiro, job: Job) -> FakeTask | None:
    return next(
        (t for t in wiro.tasks.values() if t.fields.get("inputImageUrl") == job.input_url), None
    )


async def running(server: DiscordStandIn, bot: PortraitBot, wiro: FakeWiro, user: Member):
    """`user` asks; returns (status message, job, its Wiro task) once the task is at Wiro."""
    status = await status_message(await ask(server, user))
    job_id = job_id_of(status)
    job = await reaches(bot, job_id, JobState.RUNNING)
    task = await eventually(lambda: task_for(wiro, job), what=f"task of job {job_id}")
    return status, job, task


# ====================================================================== the Cancel button


async def test_a_member_cancels_their_queued_portrait(discord_server, wiro, tmp_path, bob):
    wiro.scenario.duration = None  # tasks wait for the test to move them on
    async with started(discord_server, wiro, tmp_path, MAX_RUNNING_TASKS="1") as bot:
        mod = discord_server.moderator
        _, ahead, ahead_task = await running(discord_server, bot, wiro, mod)
        status = await status_message(await ask(discord_server, discord_server.member))
        assert "You're next." in status.content
        behind = await status_message(await ask(discord_server, bob))
        assert behind.content.endswith("1 ahead of you.")
        job_id, bobs_id = job_id_of(status), job_id_of(behind)
        assert (await job_of(bot, job_id)).state is JobState.QUEUED

        click = await discord_server.click(
            status, cancel_button(status), user=discord_server.member
        )
        reply = await answer(click)
        assert reply.ephemeral
        assert "Cancelled" in reply.content and "nothing was spent" in reply.content
        await discord_server.wait_for(lambda s: "was cancelled" in status.content)
        assert f"<@{discord_server.member.id}>" in status.content
        assert status.components == []  # the button is gone with the job
        cancelled = await job_of(bot, job_id)
        assert cancelled.state is JobState.CANCELLED
        # Bob moves up in line.
        await discord_server.wait_for(lambda s: behind.content.endswith("You're next."), WAIT)

        # The portrait ahead finishes and Bob's runs; the cancelled one is never sent to Wiro.
        wiro.scenario.duration = 0.2
        wiro.step(ahead_task.id, 100)
        await reaches(bot, ahead.id, JobState.DELIVERED)
        bobs = await reaches(bot, bobs_id, JobState.DELIVERED)
        await bot.dispatcher.stop()  # nothing left that could still start it
        assert [run["inputImageUrl"] for run in wiro.runs] == [ahead.input_url, bobs.input_url]
        assert task_for(wiro, cancelled) is None
        assert (await job_of(bot, job_id)).state is JobState.CANCELLED


async def test_only_the_member_or_a_moderator_may_cancel(discord_server, wiro, tmp_path, bob):
    wiro.scenario.duration = None
    async with started(discord_server, wiro, tmp_path, MAX_RUNNING_TASKS="1") as bot:
        await running(discord_server, bot, wiro, bob)
        member = discord_server.member
        status = await status_message(await ask(discord_server, member))
        job_id = job_id_of(status)
        before = status.content

        refused = await answer(await discord_server.click(status, cancel_button(status), user=bob))
        assert refused.ephemeral
        assert refused.content == f"Only <@{member.id}> or a moderator can cancel this portrait."
        assert (await job_of(bot, job_id)).state is JobState.QUEUED
        assert status.content == before and cancel_button(status)
        assert not status.deleted

        moderator = discord_server.moderator
        click = await discord_server.click(status, cancel_button(status), user=moderator)
        reply = await answer(click)
        assert reply.ephemeral and "Cancelled" in reply.content
        await discord_server.wait_for(lambda s: "was cancelled" in status.content)
        assert (await job_of(bot, job_id)).state is JobState.CANCELLED
        assert len(wiro.runs) == 1  # only Bob's


async def test_cancelling_a_running_portrait_stops_it_at_wiro(discord_server, wiro, tmp_path):
    wiro.scenario.duration = None
    async with started(discord_server, wiro, tmp_path) as bot:
        member = discord_server.member
        status, job, task = await running(discord_server, bot, wiro, member)
        wiro.step(task.id, 5)  # task_start: generating, too late for Task/Cancel

        reply = await answer(await discord_server.click(status, cancel_button(status), user=member))
        assert reply.ephemeral and "Stopping it at Wiro" in reply.content
        await reaches(bot, job.id, JobState.CANCELLED)
        await discord_server.wait_for(lambda s: "was cancelled" in status.content, timeout=WAIT)
        assert task.status == "task_cancel"
        assert wiro.calls["/Task/Kill"] == 1
        assert not results(discord_server)


# ====================================================================== queue positions


async def test_status_messages_show_the_place_in_line(discord_server, wiro, tmp_path, bob):
    wiro.scenario.duration = None
    async with started(discord_server, wiro, tmp_path, MAX_RUNNING_TASKS="1") as bot:
        first_status, _, first_task = await running(
            discord_server, bot, wiro, discord_server.member
        )
        bob_status = await status_message(await ask(discord_server, bob))
        mod_status = await status_message(await ask(discord_server, discord_server.moderator))
        assert "Waiting in line" in bob_status.content
        assert bob_status.content.endswith("You're next.")
        assert mod_status.content.endswith("1 ahead of you.")
        # The first one is past the line: its status follows the task at Wiro.
        await discord_server.wait_for(lambda s: "Queued at Wiro" in first_status.content, WAIT)

        # The first portrait ends: Bob's goes to Wiro, the moderator moves up.
        wiro.step(first_task.id, 100)
        await discord_server.wait_for(
            lambda s: (
                mod_status.content.endswith("You're next.")
                and "Queued at Wiro" in bob_status.content
            ),
            timeout=WAIT,
        )
        assert wiro.calls[RUN] == 2


# ====================================================================== fair use


def stamps(text: str) -> list[int]:
    return [int(value) for value in re.findall(r"<t:(\d+):R>", text)]


async def refused_before_any_wiro_call(
    server: DiscordStandIn, bot: PortraitBot, wiro: FakeWiro, user: Member
) -> str:
    """`user` asks and is refused: privately, with no upload, run or job. Returns the text."""
    calls = dict(wiro.calls)
    jobs = await bot.services.ledger.recent_for(requester(user.id), limit=100)
    rec = await ask(server, user)
    reply = await answer(rec)
    assert reply.ephemeral
    assert wiro.calls[UPLOAD] == calls.get(UPLOAD, 0)
    assert wiro.calls[RUN] == calls.get(RUN, 0)
    assert await bot.services.ledger.recent_for(requester(user.id), limit=100) == jobs
    assert not [m for m in rec.followups if "Making a portrait" in m.content]
    return reply.content


async def delivered(server: DiscordStandIn, bot: PortraitBot, user: Member) -> Job:
    status = await status_message(await ask(server, user))
    return await reaches(bot, job_id_of(status), JobState.DELIVERED)


def frees_up(text: str, job: Job, after: timedelta) -> bool:
    """The refusal shows when `job` stops counting, rounded up to a whole second."""
    (shown,) = stamps(text)
    return 0 <= shown - (job.created_at + after).timestamp() <= 1


async def test_a_second_portrait_while_one_is_in_progress_is_refused(
    discord_server, wiro, tmp_path
):
    wiro.scenario.duration = None
    async with started(discord_server, wiro, tmp_path, MEMBER_MAX_ACTIVE_JOBS="1") as bot:
        await running(discord_server, bot, wiro, discord_server.member)
        text = await refused_before_any_wiro_call(discord_server, bot, wiro, discord_server.member)
        assert "already have a portrait in progress" in text
        assert wiro.calls[UPLOAD] == 1


async def test_a_portrait_asked_inside_the_cooldown_waits_for_it_and_says_when(
    discord_server, wiro, tmp_path
):
    async with started(discord_server, wiro, tmp_path, MEMBER_COOLDOWN_SECONDS="3600") as bot:
        member = discord_server.member
        first = await delivered(discord_server, bot, member)
        rec = await ask(discord_server, member)
        assert (await answer(rec)).content.startswith("✅ Selfie accepted")
        status = await status_message(rec)
        job = await job_of(bot, job_id_of(status))
        assert job.state is JobState.QUEUED
        assert job.not_before == first.created_at + timedelta(hours=1)
        assert "Starts <t:" in status.content and frees_up(
            status.content, first, timedelta(hours=1)
        )
        assert "ahead of you" not in status.content and "next" not in status.content
        assert wiro.calls[RUN] == 1

        # Waiting for a cooldown can be cancelled like waiting in line; nothing was spent.
        click = await discord_server.click(status, cancel_button(status), user=member)
        assert "Cancelled" in (await answer(click)).content
        await reaches(bot, job.id, JobState.CANCELLED)
        assert wiro.calls[RUN] == 1


async def test_the_member_quota_is_refused_with_the_time_one_frees_up(
    discord_server, wiro, tmp_path
):
    async with started(discord_server, wiro, tmp_path, MEMBER_DAILY_QUOTA="1") as bot:
        first = await delivered(discord_server, bot, discord_server.member)
        text = await refused_before_any_wiro_call(discord_server, bot, wiro, discord_server.member)
        assert "for the last 24 hours" in text and "reached your" in text
        assert frees_up(text, first, timedelta(hours=24)), text


async def test_the_server_quota_is_refused_with_the_time_one_frees_up(
    discord_server, wiro, tmp_path, bob
):
    async with started(discord_server, wiro, tmp_path, GUILD_DAILY_QUOTA="1") as bot:
        first = await delivered(discord_server, bot, discord_server.member)
        text = await refused_before_any_wiro_call(discord_server, bot, wiro, bob)
        assert "This server has used its" in text and "for the last 24 hours" in text
        assert frees_up(text, first, timedelta(hours=24)), text


# ====================================================================== /portrait-history


async def history(server: DiscordStandIn, user: Member) -> StoredMessage:
    reply = await answer(await server.slash("portrait-history", user=user))
    assert reply.ephemeral
    return reply


async def test_history_lists_the_members_own_jobs_newest_first(discord_server, wiro, tmp_path, bob):
    async with started(discord_server, wiro, tmp_path) as bot:
        alice = discord_server.member
        first = await delivered(discord_server, bot, alice)
        wiro.scenario.outcome = "fail"  # no face found in the second one
        failed_status = await status_message(await ask(discord_server, alice, prompt="a pirate"))
        second = await reaches(bot, job_id_of(failed_status), JobState.FAILED)
        wiro.scenario.outcome = "success"
        bobs = await delivered(discord_server, bot, bob)

        reply = await history(discord_server, alice)
        (embed,) = reply.embeds
        text = embed["description"]
        # Newest first, each with its state; the delivered one links to the posted result.
        assert text.index(f"**#{second.id}**") < text.index(f"**#{first.id}**")
        assert "❌ failed" in text and "✅ delivered" in text
        assert "usable face" in text
        assert "\n`Exception: Cannot find any face in the image!" in text  # Wiro's own words
        posted = discord_server.messages[int(first.result_message_ref)]
        assert posted.attachments and not posted.deleted
        link = (
            f"https://discord.com/channels/{discord_server.guild.id}/"
            f"{discord_server.channel.id}/{first.result_message_ref}"
        )
        assert f"[see it]({link})" in text
        assert f"seed `{first.params['options']['seed']}`" in text
        assert "a pirate" in text
        # Only her own jobs.
        assert f"#{bobs.id}**" not in text and "portrait of bob" not in text
        assert text.count("**#") == 2

        (bob_embed,) = (await history(discord_server, bob)).embeds
        assert f"**#{bobs.id}**" in bob_embed["description"]
        assert bob_embed["description"].count("**#") == 1


async def test_history_of_a_member_with_no_portraits(discord_server, wiro, tmp_path):
    async with started(discord_server, wiro, tmp_path):
        (embed,) = (await history(discord_server, discord_server.moderator)).embeds
        assert "haven't asked for a portrait yet" in embed["description"]
