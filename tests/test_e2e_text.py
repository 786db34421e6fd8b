"""Text that reaches Discord, end to end: Wiro's labels of any length, members' words shown as
text, and a Details answer that is always complete. The stand-in refuses what Discord refuses
(50035 for an over-limit embed, select option, autocomplete choice or modal)."""

from __future__ import annotations

import re

import pytest

from bot.frontends.discord_bot.text import EMBED_TOTAL
from tests.support.images import selfie_jpeg
from tests.support.portrait_bot import portrait_bot

RELAXED = {"MEMBER_COOLDOWN_SECONDS": "0", "MEMBER_MAX_ACTIVE_JOBS": "3"}
DREAMSHAPER, JJS_LORA = "850", "540"
LONG_MODEL_LABEL = "Lykon/" + "DreamShaper [XL](https://evil.example) **bold** " * 120
LONG_LORA_LABEL = "jjhuang/" + "Interior_Style " * 400


@pytest.fixture
async def long_labels_bot(discord_server, fake_wiro, tmp_path):
    fake_wiro.scenario.tool_labels = {DREAMSHAPER: LONG_MODEL_LABEL, JJS_LORA: LONG_LORA_LABEL}
    async with portrait_bot(discord_server, fake_wiro, tmp_path, **RELAXED) as bot:
        yield bot


@pytest.fixture
async def bot(discord_server, fake_wiro, tmp_path):
    async with portrait_bot(discord_server, fake_wiro, tmp_path, **RELAXED) as bot:
        yield bot


def results(server):
    return [m for m in server.messages.values() if m.attachments and not m.ephemeral]


async def portrait(server, **options):
    await server.slash(
        "portrait",
        {"seed": 5, **options},
        attachments={"selfie": ("me.jpg", selfie_jpeg(), "image/jpeg")},
        user=server.member,
    )
    (message,) = await server.wait_for(results, timeout=15)
    return message


def embed_size(embed):
    fields = embed.get("fields") or []
    return sum(
        len(text)
        for text in (
            embed.get("title") or "",
            embed.get("description") or "",
            (embed.get("footer") or {}).get("text") or "",
            *(f["name"] + f["value"] for f in fields),
        )
    )


async def test_a_result_with_labels_of_thousands_of_characters_is_delivered(
    long_labels_bot, discord_server, fake_wiro
):
    assert len(LONG_MODEL_LABEL) > 5000 and len(LONG_LORA_LABEL) > 5000
    message = await portrait(
        discord_server, prompt="a viking queen", model=DREAMSHAPER, lora=JJS_LORA
    )
    (embed,) = message.embeds
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert len(fields["Model"]) <= 1024 and fields["Model"].endswith("…")
    assert fields["Model"].startswith("DreamShaper \\[XL\\](https://evil.example) \\*\\*bold")
    assert len(fields["LoRA"]) <= 1024 and fields["LoRA"].startswith("Interior\\_Style")
    assert embed_size(embed) <= EMBED_TOTAL
    assert "job 1 · task" in embed["footer"]["text"]
    # The run used the ids, whatever the labels.
    assert fake_wiro.runs[0]["selectedModel"] == DREAMSHAPER
    assert not [r for r in discord_server.requests if r.status == 400]


async def test_restyle_menu_and_autocomplete_stay_within_limits(long_labels_bot, discord_server):
    message = await portrait(discord_server, prompt="a viking queen")
    select = next(
        c
        for row in message.components
        for c in row["components"]
        if c["custom_id"].startswith("portrait:restyle")
    )
    labels = {o["value"]: o["label"] for o in select["options"]}
    assert len(labels[f"model:{DREAMSHAPER}"]) == 100  # fitted, not dropped
    assert all(1 <= len(label) <= 100 for label in labels.values())

    for option, typed in (("model", "dreamshaper"), ("lora", "interior")):
        rec = await discord_server.autocomplete("portrait", focused=option, value=typed)
        choices = await rec.wait_choices()
        assert choices and all(1 <= len(c["name"]) <= 100 for c in choices)
        assert not rec.rejected_callbacks


async def test_a_prompt_is_shown_as_text_not_markdown(bot, discord_server, fake_wiro):
    prompt = "[Free Nitro](https://evil.example) # HEAD \u202eevil"
    message = await portrait(discord_server, prompt=prompt)
    (embed,) = message.embeds
    assert embed["description"] == "\\[Free Nitro\\](https://evil.example) # HEAD evil"
    assert fake_wiro.runs[0]["prompt"] == prompt  # Wiro gets the member's words unchanged


async def test_details_of_a_prompt_full_of_fences_is_complete_and_well_formed(bot, discord_server):
    prompt = ("```" + "x" * 7 + "\u202e") * 90 + "```"
    negative = "blurry, " * 124
    assert len(prompt) >= 990 and len(negative) <= 1000
    message = await portrait(discord_server, prompt=prompt, negative_prompt=negative)
    details = next(c for c in message.custom_ids() if c.startswith("portrait:details"))
    rec = await discord_server.click(message, details, user=discord_server.member)
    reply = await rec.wait_original(lambda m: not m.loading)
    assert not rec.rejected_callbacks
    content = reply.content
    assert len(content) <= 2000
    # Every code block is closed, and nothing inside a block can close it early.
    blocks = re.findall(r"```\n(.*?)\n```", content, flags=re.DOTALL)
    assert content.count("```") == 2 * len(blocks) == 2
    assert "\u202e" not in content and "negative_prompt: blurry, blurry" in content
    (attached,) = reply.attachments
    assert attached.filename == "details-1.txt" and "details-1.txt" in content
    exact = attached.data.decode()
    assert f"prompt: {prompt}\n" in exact and f"negative_prompt: {negative.strip()}" in exact
    assert f"/portrait prompt:{prompt} model:" in exact
