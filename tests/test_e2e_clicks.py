"""Status messages are edited each on its own, and every click ends with a final answer,
whatever Discord answers: through the Discord stand-in and the real bot."""

from __future__ import annotations

import logging

import pytest

from tests import test_e2e_jobs as jobs
from tests.support.portrait_bot import portrait_bot
from tests.test_e2e_jobs import ask, eventually, results, status_message
from tests.test_e2e_results import button, first_result

bob = jobs.bob  # a second member (fixture)

RUN = "/Run/wiro/instant-id-lora"
RELAXED = {"MEMBER_COOLDOWN_SECONDS": "0", "MEMBER_MAX_ACTIVE_JOBS": "3"}


@pytest.fixture
async def bot(discord_server, fake_wiro, tmp_path):
    async with portrait_bot(discord_server, fake_wiro, tmp_path, **RELAXED) as bot:
        yield bot


def errors_logged(caplog):
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_old_message_edits_refused_on_one_status_do_not_freeze_another(
    discord_server, fake_wiro, tmp_path, bob, caplog
):
    fake_wiro.scenario.duration = None  # both tasks run until the test ends
    async with portrait_bot(discord_server, fake_wiro, tmp_path, MAX_RUNNING_TASKS="2"):
        alice_rec = await ask(discord_server, discord_server.member)
        bob_rec = await ask(discord_server, bob)
        alice_status = await status_message(alice_rec)
        bob_status = await status_message(bob_rec)
        await eventually(lambda: len(fake_wiro.tasks) == 2, what="both tasks at Wiro")
        # Past the tokens' life, status edits go through the channel.
        discord_server.expire_interaction(alice_rec)
        discord_server.expire_interaction(bob_rec)
        refused = discord_server.faults.error(
            "PATCH",
            f"/channels/*/messages/{alice_status.id}",
            429,
            30046,
            "Maximum number of edits to messages older than 1 hour reached. Try again later",
        )
        await eventually(lambda: refused.hits, what="Alice's status edit refused")
        edits_then = len(bob_status.edits)
        await eventually(lambda: len(bob_status.edits) > edits_then, what="Bob's status moving")
        # Alice's old message is no longer edited: a fresh status follows her job instead.
        fresh = await discord_server.wait_for(
            lambda s: [
                m
                for m in s.channel_messages(s.channel)
                if f"<@{discord_server.member.id}>" in m.content
                and "Making a portrait" in m.content
                and m.id != alice_status.id
                and not m.deleted
            ],
            timeout=10,
        )
        assert len(fresh) == 1
        assert len(refused.hits) == 1
        await eventually(lambda: fresh[0].edits, what="the fresh status edited")
    assert not errors_logged(caplog)


async def test_delete_in_an_archived_thread_answers_the_member(bot, discord_server, caplog):
    message = await first_result(discord_server)
    discord_server.faults.error(
        "DELETE", f"/channels/*/messages/{message.id}", 400, 50083, "Thread is archived"
    )
    rec = await discord_server.click(message, button(message, "delete"), user=discord_server.member)
    answer = await rec.wait_original(lambda m: not m.loading, timeout=10)
    assert answer.ephemeral and "archived" in answer.content
    assert not message.deleted
    assert not errors_logged(caplog)


async def test_a_refused_click_ends_with_the_true_cause_not_thinking(bot, discord_server, caplog):
    message = await first_result(discord_server)
    discord_server.faults.forbidden("DELETE", f"/channels/*/messages/{message.id}")
    rec = await discord_server.click(message, button(message, "delete"), user=discord_server.member)
    answer = await rec.wait_original(lambda m: not m.loading, timeout=10)
    assert answer.ephemeral and "missing a permission" in answer.content
    assert not errors_logged(caplog)
    assert "Discord refused a request" in caplog.text


async def edit_form(discord_server, message):
    rec = await discord_server.click(message, button(message, "edit"), user=discord_server.member)
    modal = await rec.wait_for(lambda r: r.modal)
    return rec, [c["components"][0]["custom_id"] for c in modal["components"]]


async def test_a_blank_prompt_in_the_form_is_refused_privately_and_costs_nothing(
    bot, discord_server, fake_wiro
):
    message = await first_result(discord_server)
    rec, (prompt, negative) = await edit_form(discord_server, message)
    submitted = await discord_server.submit_modal(rec, {prompt: "   ", negative: "blurry"})
    answer = await submitted.wait_original(lambda m: not m.loading, timeout=10)
    assert answer.ephemeral and "can't be empty" in answer.content
    assert fake_wiro.calls[RUN] == 1


async def test_an_emptied_negative_prompt_means_none(bot, discord_server, fake_wiro):
    message = await first_result(discord_server, negative_prompt="blurry")
    rec, (prompt, negative) = await edit_form(discord_server, message)
    await discord_server.submit_modal(rec, {prompt: "a viking queen at dawn", negative: ""})
    await discord_server.wait_for(lambda s: len(results(s)) >= 2, timeout=15)
    assert fake_wiro.runs[0]["negativePrompt"] == "blurry"
    assert fake_wiro.runs[-1]["negativePrompt"] == ""
