"""What a member sees when Wiro or Discord misbehaves: a clear message, nothing posted twice."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.core.jobs import JobLimits
from bot.core.jobs.ledger import JobState
from tests.support.images import selfie_jpeg
from tests.support.portrait_bot import portrait_bot

RUN = "/Run/wiro/instant-id-lora"


@pytest.fixture
def wiro(fake_wiro):
    return fake_wiro


def short_waits(bot):
    bot.dispatcher.rules = replace(
        bot.dispatcher.rules, job_limits=JobLimits(timeout=1.0, error_grace=0.5)
    )


def portraits(discord_server):
    return [m for m in discord_server.messages.values() if m.attachments and not m.deleted]


async def ask(discord_server, channel=None):
    return await discord_server.slash(
        "portrait", attachments={"selfie": ("me.jpg", selfie_jpeg(), "image/jpeg")}, channel=channel
    )


async def private_notice(rec, text):
    return await rec.wait_for(
        lambda r: next((m for m in r.followups if text in m.content), None), timeout=15
    )


@pytest.mark.parametrize(
    ("setup", "text"),
    [
        (lambda w: setattr(w.scenario, "outcome", "hang"), "took too long"),
        (lambda w: setattr(w.scenario, "outcome", "error"), "had a problem making this portrait"),
        (lambda w: setattr(w.scenario, "run_error", "balance"), "balance is empty"),
        (lambda w: w.fail(RUN, status=502, times=1000), "isn't answering"),
    ],
    ids=["timeout", "task-error", "balance-97", "5xx-storm"],
)
async def test_wiro_failures_are_explained_once_and_privately(
    bot, discord_server, wiro, setup, text
):
    short_waits(bot)
    setup(wiro)
    rec = await ask(discord_server)
    notice = await private_notice(rec, text)
    assert notice.ephemeral
    assert not portraits(discord_server)
    assert sum(text in m.content for m in rec.followups) == 1
    assert wiro.calls[RUN] <= 1  # a failed run is never repeated: it may have been billed


async def test_a_timed_out_task_is_stopped_at_wiro(bot, discord_server, wiro):
    short_waits(bot)
    wiro.scenario.outcome = "hang"
    rec = await ask(discord_server)
    await private_notice(rec, "took too long")
    (task,) = wiro.tasks.values()
    assert task.status == "task_cancel"


async def test_a_short_5xx_storm_still_delivers_exactly_once(bot, discord_server, wiro):
    wiro.fail("/Task/Detail", status=503, times=4)
    await ask(discord_server)
    await discord_server.wait_for(portraits, timeout=15)
    assert len(portraits(discord_server)) == 1
    assert wiro.calls[RUN] == 1


async def test_rate_limited_edits_are_retried(bot, discord_server, wiro):
    wiro.scenario.duration = 2.5  # long enough for several status edits
    discord_server.faults.rate_limit("PATCH", "/webhooks/*/messages/*", times=2, retry_after=0.2)
    rec = await ask(discord_server)
    await discord_server.wait_for(portraits, timeout=15)
    statuses = [r.status for r in discord_server.requests_to("PATCH", "/webhooks/*/messages/*")]
    assert statuses.count(429) == 2 and 200 in statuses
    status = next(m for m in rec.followups if "Making a portrait" in m.content)
    assert status.edits  # progress kept flowing after the 429s
    assert len(portraits(discord_server)) == 1


async def test_a_deleted_status_message_is_not_an_error(bot, discord_server, wiro):
    wiro.scenario.duration = 2.0
    rec = await ask(discord_server)
    status = await rec.wait_for(
        lambda r: next((m for m in r.followups if "Making a portrait" in m.content), None)
    )
    await discord_server.delete_message(status)
    await discord_server.wait_for(portraits, timeout=15)
    assert len(portraits(discord_server)) == 1
    assert not any("went wrong" in m.content for m in rec.followups)


async def test_no_permission_to_attach_after_the_token_expired_sends_a_dm(
    bot, discord_server, wiro
):
    wiro.scenario.duration = 1.0
    rec = await ask(discord_server, channel=discord_server.no_files_channel)
    await rec.wait_for(lambda r: any("Making a portrait" in m.content for m in r.followups))
    discord_server.expire_interaction(rec)  # as if the task outlived the 15-minute token
    dm = discord_server.dm_channel(discord_server.member)
    delivered = await discord_server.wait_for(
        lambda s: [m for m in s.channel_messages(dm) if m.attachments], timeout=15
    )
    assert len(delivered) == 1
    assert delivered[0].embeds
    refused = discord_server.requests_to(
        "POST", f"/channels/{discord_server.no_files_channel.id}/*"
    )
    assert any(r.status == 403 for r in refused)
    notes = await discord_server.wait_for(
        lambda s: [
            m for m in s.channel_messages(discord_server.no_files_channel) if "DM" in m.content
        ]
    )
    assert f"<@{discord_server.member.id}>" in notes[0].content


async def test_a_task_cancelled_at_wiro_says_so_on_the_status_message(bot, discord_server, wiro):
    wiro.scenario.outcome = "cancel"
    rec = await ask(discord_server)
    status = await rec.wait_for(
        lambda r: next((m for m in r.followups if "was cancelled" in m.content), None),
        timeout=15,
    )
    assert not status.components  # the Cancel button is gone
    assert not portraits(discord_server)


async def test_wiro_busy_puts_the_job_back_in_line_then_runs_it(bot, discord_server, wiro):
    bot.dispatcher.rules = replace(bot.dispatcher.rules, busy_retry=0.3)
    wiro.scenario.run_error = "concurrency"
    await ask(discord_server)
    await discord_server.wait_for(lambda s: wiro.calls[RUN] >= 2, timeout=10)
    (job,) = await bot.services.ledger.unfinished()
    assert job.state in {JobState.QUEUED, JobState.SUBMITTING}
    assert job.attempts >= 1
    wiro.scenario.run_error = None
    await discord_server.wait_for(portraits, timeout=15)
    assert len(portraits(discord_server)) == 1
    assert len(wiro.runs) == 1  # refused runs are not tasks


async def test_a_restart_mid_task_resumes_and_delivers_once(discord_server, wiro, tmp_path):
    wiro.scenario.duration = None  # the task waits until the test moves it on
    async with portrait_bot(discord_server, wiro, tmp_path) as bot:
        await ask(discord_server)
        await discord_server.wait_for(lambda s: wiro.tasks, timeout=10)
        await bot.close()
    (task,) = wiro.tasks.values()
    assert task.status != "task_cancel"  # a restart does not throw paid work away
    wiro.step(task.id, 100)
    async with portrait_bot(discord_server, wiro, tmp_path):
        await discord_server.wait_for(portraits, timeout=15)
    assert len(portraits(discord_server)) == 1
    assert wiro.calls[RUN] == 1
