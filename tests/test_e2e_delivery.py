"""Every paid result reaches its member exactly once, whatever Discord answers the post: through
the Discord stand-in's fault injection and the real bot. Each case ends with the portrait
delivered once (the bytes Discord received are Wiro's) or kept and offered again, the member
told the true cause, and no ERROR traceback for a normal Discord answer."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from dataclasses import replace

import pytest

from bot.core.jobs.ledger import JobState
from bot.core.jobs.sqlite_ledger import LEDGER_FILENAME
from bot.frontends.discord_bot.address import requester
from tests.discord_standin import DiscordStandIn, Overwrite, Perm
from tests.fakewiro import _png as wiro_output  # the fake's outputs are deterministic
from tests.support.images import selfie_jpeg
from tests.support.portrait_bot import portrait_bot


@pytest.fixture
async def bot(discord_server, fake_wiro, tmp_path):
    def quick(bot):
        bot.dispatcher.rules = replace(bot.dispatcher.rules, delivery_first_pause=0.05)

    async with portrait_bot(discord_server, fake_wiro, tmp_path, configure=quick) as bot:
        yield bot


GONE = "Unknown Channel"


def portraits(server):
    return [m for m in server.messages.values() if m.attachments and not m.deleted]


def channel_posts(server, channel=None):
    channel = channel or server.channel
    return f"/channels/{channel.id}/messages"


def with_files(request):
    return request.has_files


async def ask(server, channel=None):
    return await server.slash(
        "portrait",
        attachments={"selfie": ("me.jpg", selfie_jpeg(), "image/jpeg")},
        channel=channel,
    )


async def one_portrait(server):
    (posted,) = await server.wait_for(portraits, timeout=20)
    assert [a.data for a in posted.attachments] == [wiro_output(0)]  # the whole portrait
    return posted


async def delivered(bot, server):
    job = await job_of(bot, server)
    return await eventually(lambda: state_is(bot, job.id, JobState.DELIVERED))


async def job_of(bot, server):
    """The member's one job, once `/portrait` has saved it."""

    async def saved():
        jobs = await bot.services.ledger.recent_for(requester(server.member.id))
        return jobs[0] if len(jobs) == 1 else None

    return await eventually(saved)


def no_error_records(caplog):
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "fault",
    [
        lambda f, path: f.cloudflare_rate_limit("POST", path, retry_after=0.5, when=with_files),
        lambda f, path: f.error("POST", path, 503, 0, "upstream error", times=3, when=with_files),
    ],
    ids=["429-without-via", "5xx-storm"],
)
async def test_a_temporary_answer_is_retried_and_delivers_once(bot, discord_server, caplog, fault):
    fault(discord_server.faults, channel_posts(discord_server))
    rec = await ask(discord_server)
    posted = await one_portrait(discord_server)
    job = await delivered(bot, discord_server)
    assert job.result_message_ref == str(posted.id)
    assert posted.channel_id == discord_server.channel.id
    # Nobody blamed a permission: it was Discord being busy, and it went through.
    assert not [m for m in rec.followups if "permission" in m.content.lower()]
    assert not no_error_records(caplog)
    assert "trying again" in caplog.text


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [(404, 0, "404: Not Found"), (404, 10003, "Unknown Channel")],
    ids=["bare-404", "unknown-channel"],
)
async def test_a_channel_that_is_gone_falls_back_to_the_interaction(
    bot, discord_server, caplog, status, code, message
):
    discord_server.faults.error("POST", channel_posts(discord_server), status, code, message)
    rec = await ask(discord_server)
    posted = await one_portrait(discord_server)
    assert posted.interaction_id == rec.id  # a follow-up: no channel permission needed
    assert "the channel no longer exists" in posted.content
    await delivered(bot, discord_server)
    assert not no_error_records(caplog)


async def test_with_the_token_expired_and_the_channel_gone_the_result_comes_by_dm(
    bot, discord_server, fake_wiro, caplog
):
    fake_wiro.scenario.duration = 1.0
    rec = await ask(discord_server)
    await rec.wait_for(lambda r: any("Making a portrait" in m.content for m in r.followups))
    discord_server.expire_interaction(rec)
    discord_server.faults.not_found(
        "POST", channel_posts(discord_server), code=10003, message="Unknown Channel"
    )
    posted = await one_portrait(discord_server)
    assert posted.channel_id == discord_server.dm_channel(discord_server.member).id
    assert "the channel no longer exists" in posted.content
    await delivered(bot, discord_server)
    assert not no_error_records(caplog)


async def test_a_missing_attach_permission_is_named(bot, discord_server):
    rec = await ask(discord_server, channel=discord_server.no_files_channel)
    posted = await one_portrait(discord_server)
    assert posted.interaction_id == rec.id
    assert "missing the Attach Files permission" in posted.content


async def test_a_result_no_way_took_is_kept_then_sent_again_from_history(
    bot, discord_server, fake_wiro, caplog
):
    faults = discord_server.faults
    dm = discord_server.dm_channel(discord_server.member)
    gone = [
        faults.not_found("POST", channel_posts(discord_server), code=10003, message=GONE),
        faults.error(
            "POST", "/webhooks/*", 404, 10003, "Unknown Channel", when=with_files
        ),  # the interaction's follow-up lands in the same (deleted) channel
        faults.error("POST", channel_posts(discord_server, dm), 403, 50007, "Cannot send"),
    ]
    rec = await ask(discord_server)
    job = await job_of(bot, discord_server)
    notice = await rec.wait_for(
        lambda r: next((m for m in r.followups if "kept it" in m.content), None), timeout=20
    )
    assert notice.ephemeral
    assert "the channel no longer exists" in notice.content
    assert "direct messages are closed" in notice.content
    kept = await bot.services.ledger.get(job.id)
    assert kept.state is JobState.KEPT and not portraits(discord_server)
    assert bot.results.has(job.id)
    # Kept here, so Wiro's copy may go.
    await eventually(async_true(lambda: fake_wiro.calls["/Task/InputOutputDelete"] == 1))
    assert not no_error_records(caplog)

    for fault in gone:
        faults.active.remove(fault)
    history = await discord_server.slash("portrait-history")
    listing = await history.wait_original(lambda m: not m.loading)
    assert "kept for you" in listing.embeds[0]["description"]
    again = f"portrait:again:{job.id}"
    assert again in listing.custom_ids()
    click = await discord_server.click(listing, again, user=discord_server.member)
    sent = await click.wait_original(lambda m: m.attachments)
    assert [a.data for a in sent.attachments] == [wiro_output(0)]
    assert not sent.ephemeral
    delivered = await bot.services.ledger.get(job.id)
    assert delivered.state is JobState.DELIVERED and delivered.result_message_ref == str(sent.id)
    assert not bot.results.has(job.id)


async def test_send_again_is_only_for_the_member_who_asked(bot, discord_server):
    faults = discord_server.faults
    faults.not_found("POST", channel_posts(discord_server), code=10003, message=GONE)
    faults.error("POST", "/webhooks/*", 404, 10003, "Unknown Channel", when=with_files)
    dm = discord_server.dm_channel(discord_server.member)
    faults.error("POST", channel_posts(discord_server, dm), 403, 50007, "Cannot send")
    await ask(discord_server)
    job = await job_of(bot, discord_server)
    await discord_server.wait_for(lambda s: bot.results.has(job.id), timeout=20)
    faults.clear()
    listing = await (await discord_server.slash("portrait-history")).wait_original(
        lambda m: not m.loading
    )
    click = await discord_server.click(
        listing, f"portrait:again:{job.id}", user=discord_server.moderator
    )
    answer = await click.wait_original(lambda m: not m.loading)
    assert answer.ephemeral and "Only <@" in answer.content
    assert (await bot.services.ledger.get(job.id)).state is JobState.KEPT


async def kept_result(bot, server):
    """A job whose result Discord took nowhere (KEPT), the faults cleared, and the member's
    history listing with its "Send again" button."""
    faults = server.faults
    faults.not_found("POST", channel_posts(server), code=10003, message=GONE)
    faults.error("POST", "/webhooks/*", 404, 10003, "Unknown Channel", when=with_files)
    dm = server.dm_channel(server.member)
    faults.error("POST", channel_posts(server, dm), 403, 50007, "Cannot send")
    await ask(server)
    job = await job_of(bot, server)
    await eventually(lambda: state_is(bot, job.id, JobState.KEPT))
    faults.clear()
    listing = await (await server.slash("portrait-history")).wait_original(lambda m: not m.loading)
    return job, listing


async def test_two_send_again_clicks_at_once_post_the_portrait_once(bot, discord_server):
    job, listing = await kept_result(bot, discord_server)
    again = f"portrait:again:{job.id}"
    clicks = await asyncio.gather(
        *(discord_server.click(listing, again, user=discord_server.member) for _ in range(2))
    )
    answers = [await click.wait_original(lambda m: not m.loading) for click in clicks]
    sent = [a for a in answers if a.attachments]
    told = [a for a in answers if not a.attachments]
    assert len(sent) == 1 and not sent[0].ephemeral
    assert len(told) == 1 and told[0].ephemeral
    assert told[0].content == "This portrait has been delivered already."
    assert portraits(discord_server) == sent  # one public message with the portrait
    delivered = await bot.services.ledger.get(job.id)
    assert delivered.state is JobState.DELIVERED and delivered.result_message_ref == str(sent[0].id)


async def test_a_send_again_discord_refuses_keeps_the_result_for_the_next_click(
    bot, discord_server
):
    job, listing = await kept_result(bot, discord_server)
    again = f"portrait:again:{job.id}"
    discord_server.faults.error(
        "PATCH", "/webhooks/*/messages/@original", 403, 50013, "Missing Permissions",
        times=1, when=with_files,
    )  # fmt: skip
    refused = await discord_server.click(listing, again, user=discord_server.member)
    answer = await refused.wait_original(lambda m: not m.loading and not m.attachments)
    assert answer.content.startswith("I couldn't finish that")
    assert (await bot.services.ledger.get(job.id)).state is JobState.KEPT
    assert bot.results.has(job.id) and not portraits(discord_server)
    click = await discord_server.click(listing, again, user=discord_server.member)
    sent = await click.wait_original(lambda m: m.attachments)
    assert portraits(discord_server) == [sent]
    assert (await bot.services.ledger.get(job.id)).state is JobState.DELIVERED


async def test_a_form_error_is_a_bug_logged_once_and_the_result_posted_without_it(
    bot, discord_server, caplog
):
    discord_server.faults.error(
        "POST", channel_posts(discord_server), 400, 50035, "Invalid Form Body", times=1
    )
    await ask(discord_server)
    posted = await one_portrait(discord_server)
    assert not posted.embeds  # the part Discord refused (here: unnamed) is left out
    bugs = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(bugs) == 1 and "Bug" in bugs[0].getMessage() and bugs[0].exc_info is None


async def test_too_large_for_discord_means_smaller_images_not_a_lost_result(bot, discord_server):
    discord_server.faults.error(
        "POST", channel_posts(discord_server), 413, 40005, "Request entity too large", times=1
    )
    rec = await ask(discord_server)
    await discord_server.wait_for(portraits, timeout=20)
    assert len(portraits(discord_server)) == 1
    posts = discord_server.requests_to("POST", channel_posts(discord_server))
    assert [r.status for r in posts if r.has_files] == [413, 200]  # fitted again, posted
    assert not [m for m in rec.followups if "permission" in m.content.lower()]


async def test_a_restart_where_history_cannot_be_read_still_posts_once(
    discord_server, fake_wiro, tmp_path, caplog
):
    """The post went out, the bot stopped before the ledger heard; it may not read the
    channel's history, so Discord's nonce deduplicates the resend."""
    deny = Overwrite(id=discord_server.bot_role.id, type=0, deny=int(Perm.READ_MESSAGE_HISTORY))
    discord_server.channel.overwrites.append(deny)
    keep_at_wiro = {"DELETE_WIRO_FILES": "false"}  # the resend downloads the outputs again
    async with portrait_bot(discord_server, fake_wiro, tmp_path, **keep_at_wiro) as bot:
        await ask(discord_server)
        posted = await one_portrait(discord_server)
        job = await job_of(bot, discord_server)
        await eventually(lambda: state_is(bot, job.id, JobState.DELIVERED))
    rewind_to_delivering(tmp_path, job.id)  # as if killed between the post and the ledger
    async with portrait_bot(discord_server, fake_wiro, tmp_path, **keep_at_wiro) as bot:
        done = await eventually(lambda: state_is(bot, job.id, JobState.DELIVERED))
    assert len(portraits(discord_server)) == 1
    assert done.result_message_ref == str(posted.id)
    assert not discord_server.requests_to("GET", channel_posts(discord_server))
    assert caplog.text.count("cannot read the message history of channel") == 1


def async_true(predicate):
    async def check():
        return predicate()

    return check


async def state_is(bot, job_id, state):
    job = await bot.services.ledger.get(job_id)
    return job if job.state is state else None


async def eventually(check, timeout=20.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (found := await check()):
        assert loop.time() < deadline, "not reached in time"
        await asyncio.sleep(0.02)
    return found


def rewind_to_delivering(data_dir, job_id):
    with sqlite3.connect(data_dir / LEDGER_FILENAME) as db:
        db.execute(
            "UPDATE jobs SET state = 'delivering', result_message_ref = NULL, finished_at = NULL "
            "WHERE id = ?",
            (job_id,),
        )


async def test_images_too_large_together_are_posted_one_per_message(fake_wiro, tmp_path):
    # Discord takes at most 20 kB per message here; each portrait fits alone, not both.
    async with (
        DiscordStandIn(upload_limit=20_000) as discord_server,
        portrait_bot(discord_server, fake_wiro, tmp_path),
    ):
        rec = await discord_server.slash(
            "portrait",
            {"samples": 2},
            attachments={"selfie": ("me.jpg", selfie_jpeg(), "image/jpeg")},
        )
        posted = await discord_server.wait_for(
            lambda s: len(portraits(s)) == 2 and portraits(s), timeout=20
        )
    first, second = sorted(posted, key=lambda m: m.id)
    assert [a.data for a in first.attachments + second.attachments] == [
        wiro_output(0),
        wiro_output(1),
    ]
    assert first.embeds and first.components and not second.components
    # Each part names itself, so a restarted bot knows whether all of them are out.
    assert first.embeds[0]["footer"]["text"].startswith("wiro/instant-id-lora · job 1 · 1/2 · ")
    (marker,) = second.embeds  # only the marker: no title, prompt or settings again
    assert not marker.get("title") and not marker.get("description") and not marker.get("fields")
    assert second.embeds[0]["footer"]["text"].startswith("wiro/instant-id-lora · job 1 · 2/2 · ")
    assert all(f"<@{discord_server.member.id}>" in m.content for m in posted)
    assert not [m for m in rec.followups if "permission" in m.content.lower()]


def second_part(request) -> bool:
    return request.has_files and "(2)" in str(request.json)


@pytest.mark.parametrize("history", ["readable", "not readable"])
async def test_a_split_result_cut_off_after_its_first_part_is_completed_after_a_restart(
    fake_wiro, tmp_path, history
):
    """Too large together, so posted one image per message; Discord takes part 1 and answers
    "later" to part 2; the bot stops there (DELIVERING). The restarted bot must not count the
    first part as the whole result: every part ends up in the channel exactly once."""

    def quick(bot):
        bot.dispatcher.rules = replace(bot.dispatcher.rules, delivery_first_pause=0.05)

    async with DiscordStandIn(upload_limit=20_000) as discord_server:
        if history == "not readable":  # then only the parts' nonces guard against doubles
            discord_server.channel.overwrites.append(
                Overwrite(
                    id=discord_server.bot_role.id, type=0, deny=int(Perm.READ_MESSAGE_HISTORY)
                )
            )
        later = discord_server.faults.error(
            "POST", channel_posts(discord_server), 503, 0, "upstream", times=10**6,
            when=second_part,
        )  # fmt: skip
        async with portrait_bot(discord_server, fake_wiro, tmp_path, configure=quick) as bot:
            await discord_server.slash(
                "portrait",
                {"samples": 2},
                attachments={"selfie": ("me.jpg", selfie_jpeg(), "image/jpeg")},
            )
            job = await job_of(bot, discord_server)
            await eventually(async_true(lambda: len(later.hits) >= 1 and bot.results.has(job.id)))
            assert len(portraits(discord_server)) == 1  # part 1 only
        discord_server.faults.active.remove(later)
        async with portrait_bot(discord_server, fake_wiro, tmp_path, configure=quick) as bot:
            await eventually(lambda: state_is(bot, job.id, JobState.DELIVERED))
            delivered = await bot.services.ledger.get(job.id)
        posted = sorted(portraits(discord_server), key=lambda m: m.id)
        assert [a.data for m in posted for a in m.attachments] == [wiro_output(0), wiro_output(1)]
        assert delivered.result_message_ref == str(posted[0].id)
