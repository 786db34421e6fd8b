"""A server's policy as members meet it (issue 12), through the Discord stand-in and the real
bot: channels, roles, styles, quotas under the owner's caps, private styles and LoRA URLs, the
safety gate and spoilers. Every refusal is private, recorded in the audit log, and costs
nothing at Wiro."""

from __future__ import annotations

import pytest

from bot.frontends.discord_bot.address import quota_scope
from tests.support.policy import (
    DEFERRED,
    OPEN,
    RUN,
    SELFIE,
    UPLOAD,
    accepted,
    add_member,
    add_role,
    admin,
    ask,
    refusal,
    results,
)
from tests.support.portrait_bot import portrait_bot

HF_LORA = "https://huggingface.co/someone/style/resolve/main/style.safetensors"


@pytest.fixture
def artist(discord_server):
    return add_role(discord_server, "Artist")


@pytest.fixture
def bob(discord_server):
    return add_member(discord_server, "bob", "Bob")


@pytest.fixture
async def bot(discord_server, fake_wiro, tmp_path, artist, bob):
    async with portrait_bot(discord_server, fake_wiro, tmp_path, **OPEN) as bot:
        yield bot


async def refusals_logged(bot, discord_server):
    """The reasons of the refused requests in the server's audit log, newest first."""
    entries = await bot.services.audit.recent(quota_scope(discord_server.guild.id), 50)
    return [e.reason for e in entries if e.outcome == "refused"]


def nothing_spent(wiro):
    return wiro.calls[UPLOAD] == 0 and wiro.calls[RUN] == 0


async def test_outside_the_allowed_channels_a_member_is_pointed_to_them(
    bot, discord_server, fake_wiro
):
    nsfw = discord_server.nsfw_channel
    confirmation = await admin(discord_server, "channels", {"action": "add", "channel": nsfw})
    assert f"only in <#{nsfw.id}>" in confirmation.content

    text = await refusal(await ask(discord_server, channel=discord_server.channel))
    assert f"<#{nsfw.id}>" in text and "/portrait" in text
    assert nothing_spent(fake_wiro)
    assert await refusals_logged(bot, discord_server) == ["channel"]

    # In the allowed channel the same member is served.
    rec = await ask(discord_server, channel=nsfw)
    assert await rec.wait_ack() == DEFERRED
    await accepted(rec)


async def test_a_member_without_an_allowed_role_is_told_which(
    bot, discord_server, fake_wiro, artist, bob
):
    confirmation = await admin(discord_server, "roles", {"action": "add", "role": artist})
    assert f"<@&{artist.id}>" in confirmation.content

    text = await refusal(await ask(discord_server, bob))
    assert f"<@&{artist.id}>" in text
    assert nothing_spent(fake_wiro)

    bob.role_ids.append(artist.id)
    await accepted(await ask(discord_server, bob))


async def test_a_disabled_style_is_hidden_and_refused_if_typed(bot, discord_server, fake_wiro):
    answer = await admin(discord_server, "styles", {"action": "disable", "style": "model:850"})
    assert "no longer choose the model DreamShaper" in answer.content

    choices = await (
        await discord_server.autocomplete("portrait", focused="model", value="dream")
    ).wait_choices()
    assert choices == []
    every = await (
        await discord_server.autocomplete("portrait", focused="model", value="")
    ).wait_choices()
    assert "850" not in [c["value"] for c in every] and len(every) == 4

    text = await refusal(await ask(discord_server, model="850"))
    assert "DreamShaper" in text and "isn't offered" in text
    assert nothing_spent(fake_wiro)
    assert await refusals_logged(bot, discord_server) == ["model"]


async def test_restyle_offers_only_the_servers_styles_and_refuses_a_stale_pick(
    bot, discord_server, fake_wiro
):
    await accepted(await ask(discord_server, seed=7))
    (first,) = await discord_server.wait_for(results, timeout=15)
    await admin(discord_server, "styles", {"action": "disable", "style": "lora:540"})
    restyle = next(c for c in first.custom_ids() if c.startswith("portrait:restyle:"))
    select = first.component(restyle)
    assert "lora:540" in [o["value"] for o in select["options"]]  # posted before the change

    rec = await discord_server.select(first, select["custom_id"], ["lora:540"])
    answer = await rec.wait_original(lambda m: not m.loading)
    assert answer.ephemeral and "isn't offered" in answer.content
    assert fake_wiro.calls[RUN] == 1

    await accepted(await ask(discord_server, seed=8))
    second = (await discord_server.wait_for(lambda s: len(results(s)) == 2 and results(s)))[-1]
    restyle = next(c for c in second.custom_ids() if c.startswith("portrait:restyle:"))
    offered = [o["value"] for o in second.component(restyle)["options"]]
    assert "lora:540" not in offered and "lora:1086" in offered


async def test_a_tightened_member_quota_holds(bot, discord_server, fake_wiro):
    answer = await admin(discord_server, "limits", {"member_daily": 1})
    assert "1 per member per 24 h" in answer.content
    await accepted(await ask(discord_server))
    await discord_server.wait_for(results, timeout=15)
    rec = await ask(discord_server)
    limit = await rec.wait_original(lambda m: not m.loading, timeout=10)
    assert "limit of 1 portrait" in limit.content
    assert fake_wiro.calls[RUN] == 1


async def test_a_server_cannot_exceed_the_owners_caps(discord_server, fake_wiro, tmp_path):
    env = {**OPEN, "MEMBER_DAILY_QUOTA": "5", "GUILD_DAILY_QUOTA": "20"}
    async with portrait_bot(discord_server, fake_wiro, tmp_path, **env):
        answer = await admin(discord_server, "limits", {"member_daily": 50})
        assert (
            "Not changed" in answer.content and "at most 5 portraits per member" in answer.content
        )
        answer = await admin(discord_server, "limits", {"server_daily": 21})
        assert "at most 20 portraits per server" in answer.content
        shown = await admin(discord_server, "show")
        (embed,) = shown.embeds
        limits = next(f["value"] for f in embed["fields"] if f["name"] == "Limits")
        assert "5 per member" in limits and "20 per server" in limits
        answer = await admin(discord_server, "private-styles", {"who": "everyone"})
        assert "turned private models and LoRA URLs off" in answer.content


async def test_private_styles_and_the_lora_url_allowlist(discord_server, fake_wiro, tmp_path):
    async with portrait_bot(discord_server, fake_wiro, tmp_path, ALLOW_LORA_URLS="true", **OPEN):
        text = await refusal(await ask(discord_server, lora_url=HF_LORA))
        assert "aren't allowed for you" in text

        answer = await admin(discord_server, "private-styles", {"who": "everyone"})
        assert "now for everyone" in answer.content
        text = await refusal(
            await ask(discord_server, lora_url="https://evil.example.com/x.safetensors")
        )
        assert "huggingface.co" in text and "Nothing was sent" in text
        text = await refusal(await ask(discord_server, lora_url=HF_LORA.replace("https", "http")))
        assert "https://" in text
        assert nothing_spent(fake_wiro)

        await accepted(await ask(discord_server, lora_url=HF_LORA))
        await discord_server.wait_for(results, timeout=15)
        assert fake_wiro.runs[0]["selectedLoraModelPrivateUrl"] == HF_LORA


@pytest.mark.parametrize("prompt", ["a nude portrait on a beach", "a clown at the circus"])
async def test_the_safety_gate_holds_outside_age_restricted_channels(
    bot, discord_server, fake_wiro, prompt
):
    await admin(discord_server, "safety", {"block": "Clown"})
    text = await refusal(await ask(discord_server, prompt=prompt))
    assert "age-restricted" in text and "change the prompt" in text
    assert nothing_spent(fake_wiro)
    assert await refusals_logged(bot, discord_server) == ["unsafe_prompt"]

    rec = await ask(discord_server, channel=discord_server.nsfw_channel, prompt=prompt)
    await accepted(rec)


async def test_spoiler_results_outside_age_restricted_channels(bot, discord_server):
    answer = await admin(discord_server, "safety", {"spoilers": True})
    assert "posted as spoilers" in answer.content
    await accepted(await ask(discord_server, seed=3))
    (general,) = await discord_server.wait_for(results, timeout=15)
    assert [a.filename for a in general.attachments] == ["SPOILER_portrait-3-1.png"]

    await accepted(await ask(discord_server, channel=discord_server.nsfw_channel, seed=4))
    posted = await discord_server.wait_for(lambda s: len(results(s)) == 2 and results(s))
    (nsfw,) = [m for m in posted if m.channel_id == discord_server.nsfw_channel.id]
    assert [a.filename for a in nsfw.attachments] == ["portrait-4-1.png"]


async def test_defaults_fill_what_the_member_left_empty(bot, discord_server, fake_wiro):
    await admin(discord_server, "styles", {"action": "default", "style": "model:927"})
    await admin(discord_server, "styles", {"action": "default-prompt", "prompt": "a knight"})
    selfie = {"selfie": ("me.jpg", SELFIE, "image/jpeg")}
    rec = await discord_server.slash("portrait", attachments=selfie)  # no prompt, no model
    await accepted(rec)
    await discord_server.wait_for(results, timeout=15)
    run = fake_wiro.runs[0]
    assert run["selectedModel"] == "927" and run["prompt"].startswith("a knight")


async def test_result_buttons_go_through_the_same_policy(bot, discord_server, fake_wiro):
    await accepted(await ask(discord_server, seed=9))
    (result,) = await discord_server.wait_for(results, timeout=15)

    # Edit prompt: the new prompt meets the safety gate.
    await admin(discord_server, "safety", {"block": "clown"})
    edit = next(c for c in result.custom_ids() if c.startswith("portrait:edit:"))
    opener = await discord_server.click(result, edit, user=discord_server.member)
    modal = await opener.wait_for(lambda r: r.modal)
    prompt_field = modal["components"][0]["components"][0]["custom_id"]
    sent = await discord_server.submit_modal(opener, {prompt_field: "a sad clown"})
    answer = await sent.wait_original(lambda m: not m.loading)
    assert answer.ephemeral and "age-restricted" in answer.content

    # Re-roll: the channel is no longer one the bot answers in.
    nsfw = discord_server.nsfw_channel
    await admin(discord_server, "channels", {"action": "add", "channel": nsfw})
    reroll = next(c for c in result.custom_ids() if c.startswith("portrait:reroll:"))
    rec = await discord_server.click(result, reroll, user=discord_server.member)
    answer = await rec.wait_original(lambda m: not m.loading)
    assert answer.ephemeral and f"<#{nsfw.id}>" in answer.content

    assert fake_wiro.calls[RUN] == 1
    assert await refusals_logged(bot, discord_server) == ["channel", "unsafe_prompt"]
