"""The buttons under a posted portrait, through the Discord stand-in and the real bot."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from bot.core.jobs.ledger import utc_now
from bot.frontends.discord_bot.address import requester
from tests.support.images import selfie_jpeg
from tests.support.portrait_bot import portrait_bot

RUN = "/Run/wiro/instant-id-lora"
RELAXED = {"MEMBER_COOLDOWN_SECONDS": "0", "MEMBER_MAX_ACTIVE_JOBS": "3"}


@pytest.fixture
async def bot(discord_server, fake_wiro, tmp_path):
    async with portrait_bot(discord_server, fake_wiro, tmp_path, **RELAXED) as bot:
        yield bot


def results(server):
    return [m for m in server.messages.values() if m.attachments and not m.deleted]


def button(message, kind):
    return next(c for c in message.custom_ids() if c.startswith(f"portrait:{kind}"))


async def first_result(server, **options):
    await server.slash(
        "portrait",
        {"prompt": "a viking queen", "seed": 5, "likeness": 0.8, **options},
        attachments={"selfie": ("me.jpg", selfie_jpeg(), "image/jpeg")},
        user=server.member,
    )
    (message,) = await server.wait_for(results, timeout=15)
    return message


async def nth_result(server, n):
    return (await server.wait_for(lambda s: len(results(s)) >= n and results(s), timeout=15))[-1]


async def test_a_result_carries_every_button(bot, discord_server):
    message = await first_result(discord_server)
    kinds = {c.split(":")[1] for c in message.custom_ids()}
    assert kinds == {"reroll", "likeness", "edit", "details", "delete", "restyle"}


async def test_reroll_keeps_the_settings_with_a_new_seed(bot, discord_server, fake_wiro):
    message = await first_result(discord_server)
    await discord_server.click(message, button(message, "reroll"), user=discord_server.member)
    await nth_result(discord_server, 2)
    first, second = fake_wiro.runs
    assert second["seed"] != first["seed"]
    assert {k: v for k, v in second.items() if k not in {"seed", "inputImageUrl"}} == {
        k: v for k, v in first.items() if k not in {"seed", "inputImageUrl"}
    }
    # The kept selfie was uploaded again (Wiro's copy is deleted after every delivery).
    assert fake_wiro.calls["/File/Upload"] == 2


@pytest.mark.parametrize(("direction", "expected"), [("up", 0.9), ("down", 0.7)])
async def test_likeness_moves_one_step_with_the_same_seed(
    bot, discord_server, fake_wiro, direction, expected
):
    message = await first_result(discord_server)
    custom_id = f"portrait:likeness:{message.custom_ids()[0].split(':')[2]}:{direction}"
    await discord_server.click(message, custom_id, user=discord_server.member)
    await nth_result(discord_server, 2)
    run = fake_wiro.runs[-1]
    assert run["seed"] == "5"
    assert run["ip_adapter_scale"] == pytest.approx(expected)


async def test_likeness_stops_at_its_limit(bot, discord_server, fake_wiro):
    message = await first_result(discord_server, likeness=1.5)
    custom_id = button(message, "likeness").rsplit(":", 1)[0] + ":up"
    rec = await discord_server.click(message, custom_id, user=discord_server.member)
    reply = await rec.wait_original(lambda m: not m.loading)
    assert reply.ephemeral and "highest" in reply.content
    assert fake_wiro.calls[RUN] == 1


async def test_restyle_changes_the_style_and_keeps_the_seed(bot, discord_server, fake_wiro):
    message = await first_result(discord_server)
    await discord_server.select(
        message, button(message, "restyle"), ["lora:1362"], user=discord_server.member
    )
    await nth_result(discord_server, 2)
    run = fake_wiro.runs[-1]
    assert run["selectedLoraModel"] == "1362" and run["seed"] == "5"
    assert run["prompt"].endswith("ral-dissolve")  # the LoRA's trigger word


async def test_edit_prompt_opens_a_prefilled_modal_and_runs_the_new_prompt(
    bot, discord_server, fake_wiro
):
    message = await first_result(discord_server)
    rec = await discord_server.click(message, button(message, "edit"), user=discord_server.member)
    modal = await rec.wait_for(lambda r: r.modal)
    assert "a viking queen" in str(modal)
    fields = [c["components"][0]["custom_id"] for c in modal["components"]]
    await discord_server.submit_modal(
        rec, {fields[0]: "a viking queen in the snow", fields[1]: "blurry"}
    )
    await nth_result(discord_server, 2)
    run = fake_wiro.runs[-1]
    assert run["prompt"] == "a viking queen in the snow"
    assert run["negativePrompt"] == "blurry" and run["seed"] == "5"


async def test_details_show_the_exact_settings_and_the_command(bot, discord_server):
    message = await first_result(discord_server)
    rec = await discord_server.click(
        message, button(message, "details"), user=discord_server.moderator
    )
    reply = await rec.wait_original(lambda m: not m.loading)
    assert reply.ephemeral
    assert "seed: 5" in reply.content and "/portrait prompt:a viking queen" in reply.content


async def test_new_work_buttons_are_for_the_member_who_asked(bot, discord_server, fake_wiro):
    message = await first_result(discord_server)
    rec = await discord_server.click(
        message, button(message, "reroll"), user=discord_server.moderator
    )
    reply = await rec.wait_original(lambda m: not m.loading)
    assert reply.ephemeral and "Only <@" in reply.content
    assert fake_wiro.calls[RUN] == 1


async def test_delete_removes_the_result_and_the_kept_selfie(bot, discord_server):
    message = await first_result(discord_server)
    (job,) = await bot.services.ledger.recent_for(requester(discord_server.member.id))
    assert job.selfie_path
    rec = await discord_server.click(message, button(message, "delete"), user=discord_server.member)
    await rec.wait_original(lambda m: "Deleted" in m.content)
    assert message.deleted
    assert bot.selfies.load(job.selfie_path) is None
    assert (await bot.services.ledger.get(job.id)).selfie_path is None


async def test_buttons_after_the_selfie_window_ask_for_the_photo_again(
    bot, discord_server, fake_wiro
):
    message = await first_result(discord_server)
    (job,) = await bot.services.ledger.recent_for(requester(discord_server.member.id))
    await bot.services.ledger.update(job.id, selfie_expires_at=utc_now())
    rec = await discord_server.click(message, button(message, "reroll"), user=discord_server.member)
    reply = await rec.wait_original(lambda m: not m.loading)
    assert "attach it again" in reply.content
    assert fake_wiro.calls[RUN] == 1


async def test_buttons_keep_working_after_a_restart(discord_server, fake_wiro, tmp_path):
    async with portrait_bot(discord_server, fake_wiro, tmp_path, **RELAXED):
        message = await first_result(discord_server)
    async with portrait_bot(discord_server, fake_wiro, tmp_path, **RELAXED):
        await discord_server.click(message, button(message, "reroll"), user=discord_server.member)
        await nth_result(discord_server, 2)
    assert len(fake_wiro.runs) == 2


async def test_reroll_right_after_a_result_is_accepted_and_starts_after_the_cooldown(
    discord_server, fake_wiro, tmp_path
):
    member = discord_server.member
    limits = {"MEMBER_COOLDOWN_SECONDS": "3600", "MEMBER_MAX_ACTIVE_JOBS": "1"}
    async with portrait_bot(discord_server, fake_wiro, tmp_path, **limits) as bot:
        ledger = bot.services.ledger
        message = await first_result(discord_server)
        (first,) = await ledger.recent_for(requester(member.id))

        rec = await discord_server.click(message, button(message, "reroll"), user=member)
        reply = await rec.wait_original(lambda m: not m.loading)
        assert reply.content.startswith("✅")  # accepted, not "please wait"
        status = await rec.wait_for(
            lambda r: next((m for m in r.followups if "Making a portrait" in m.content), None),
            timeout=15,
        )
        second = (await ledger.recent_for(requester(member.id)))[0]
        assert second.id != first.id and second.state == "queued"
        assert second.not_before == first.created_at + timedelta(hours=1)
        # The status says when it starts, as a Discord timestamp rounded up to a whole second.
        assert f"Starts <t:{math.ceil(second.not_before.timestamp())}:R>" in status.content
        assert fake_wiro.calls[RUN] == 1  # nothing started before the cooldown ends

        # One extra click beyond the active-job limit is refused at once.
        extra = await discord_server.click(message, button(message, "reroll"), user=member)
        refused = await extra.wait_original(lambda m: not m.loading)
        assert "already have a portrait in progress" in refused.content
        assert len(await ledger.recent_for(requester(member.id))) == 2

        # The cooldown ends (moved forward rather than waited for): the re-roll runs.
        await ledger.update(second.id, not_before=utc_now())
        bot.dispatcher.wake()
        await nth_result(discord_server, 2)
        assert fake_wiro.calls[RUN] == 2
        done = await ledger.get(second.id)
        assert done.submitted_at is not None and done.submitted_at >= done.not_before
