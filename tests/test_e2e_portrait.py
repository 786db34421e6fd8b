"""/portrait end to end: the real bot (its own launcher, unmodified discord.py) against the local
Discord stand-in and the strict fake Wiro, over real sockets on 127.0.0.1."""

from __future__ import annotations

import sys

import pytest

from tests.support.images import selfie_jpeg

RUN = "/Run/wiro/instant-id-lora"
DEFERRED = 5
MESSAGE = 4


@pytest.fixture
def wiro(fake_wiro):
    return fake_wiro


def selfie(data: bytes | None = None, name: str = "me.jpg", kind: str = "image/jpeg"):
    return {"selfie": (name, data if data is not None else selfie_jpeg(), kind)}


def results(discord_server):
    """Public messages that carry files (the portrait posts)."""
    return [
        m
        for m in discord_server.messages.values()
        if m.attachments and not m.ephemeral and not m.deleted
    ]


async def test_a_selfie_becomes_a_posted_portrait(bot, discord_server, wiro):
    rec = await discord_server.slash(
        "portrait",
        {"prompt": "a lighthouse keeper, oil painting", "samples": 2, "seed": 31337},
        attachments=selfie(),
        user=discord_server.member,
    )
    assert await rec.wait_ack() == DEFERRED
    assert rec.original.ephemeral  # rejections, if any, stay private
    accepted = await rec.wait_original(lambda m: "Selfie accepted" in m.content)
    assert accepted.ephemeral

    posted = await discord_server.wait_for(lambda s: results(s), timeout=15)
    (result,) = posted
    assert f"<@{discord_server.member.id}>" in result.content
    assert [a.filename for a in result.attachments] == [
        "portrait-31337-1.png",
        "portrait-31337-2.png",
    ]
    assert result.attachments[0].open_image().format == "PNG"
    (embed,) = result.embeds
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert embed["description"] == "a lighthouse keeper, oil painting"
    assert fields["Seed"] == "31337"
    assert set(fields) >= {"Model", "LoRA", "Steps", "Guidance", "Likeness", "Scheduler"}
    assert "Time taken" in fields

    # The public status message showed progress and was removed once the result was posted.
    status = next(m for m in rec.followups if "Making a portrait" in m.content)
    assert not status.ephemeral
    await discord_server.wait_for(lambda s: status.deleted)
    # Wiro saw exactly one signed upload and one run with the member's choices.
    assert wiro.calls["/File/Upload"] == 1 and wiro.calls[RUN] == 1
    run = wiro.runs[0]
    assert run["prompt"].startswith("a lighthouse keeper, oil painting")
    assert run["seed"] == "31337" and run["samples"] == 2
    assert run["inputImageUrl"] == wiro.uploads[0]["url"]
    assert discord_server.unknown_routes == []


async def test_autocomplete_offers_models_by_readable_name(bot, discord_server):
    rec = await discord_server.autocomplete("portrait", focused="model", value="dream")
    choices = await rec.wait_choices()
    assert choices == [{"name": "DreamShaper-XL (Lykon)", "value": "850"}]


@pytest.mark.parametrize(
    ("upload", "expected"),
    [
        (selfie(b"%PDF-1.7 not a photo", "me.jpg"), "isn't an image"),
        (selfie(selfie_jpeg((120, 90))), "120×90"),
        (selfie(selfie_jpeg()[:4000]), "cut off"),
    ],
)
async def test_bad_selfies_get_a_private_reason_and_cost_nothing(
    bot, discord_server, wiro, upload, expected
):
    rec = await discord_server.slash("portrait", attachments=upload)
    message = await rec.wait_original(lambda m: not m.loading)
    assert message.ephemeral
    assert expected in message.content
    assert wiro.calls["/File/Upload"] == 0 and wiro.calls[RUN] == 0
    assert not results(discord_server)


async def test_bad_choices_are_refused_at_once(bot, discord_server, wiro):
    rec = await discord_server.slash("portrait", {"model": "no such model"}, attachments=selfie())
    assert await rec.wait_ack() == MESSAGE
    assert rec.original.ephemeral
    assert "no such model" in rec.original.content
    assert wiro.calls["/File/Upload"] == 0


async def test_a_photo_without_a_face_is_explained_privately(bot, discord_server, wiro):
    wiro.scenario.outcome = "fail"
    rec = await discord_server.slash("portrait", attachments=selfie())
    notice = await rec.wait_for(
        lambda r: next((m for m in r.followups if "usable face" in m.content), None), timeout=15
    )
    assert notice.ephemeral
    assert not results(discord_server)
    assert all(m.deleted for m in rec.followups if "Making a portrait" in m.content)


async def test_results_after_the_token_expired_go_to_the_channel(bot, discord_server, wiro):
    wiro.scenario.duration = 1.0
    rec = await discord_server.slash("portrait", attachments=selfie(), user=discord_server.member)
    await rec.wait_for(lambda r: any("Making a portrait" in m.content for m in r.followups))
    discord_server.expire_interaction(rec)
    (posted,) = await discord_server.wait_for(lambda s: results(s), timeout=15)
    assert not posted.is_interaction_response  # a plain channel message
    assert f"<@{discord_server.member.id}>" in posted.content
    assert posted.embeds and posted.attachments


async def test_unexpected_errors_reach_the_member_as_a_friendly_word(
    bot, discord_server, wiro, monkeypatch, caplog
):
    def broken_intake(data, limits):
        raise RuntimeError("bug in intake")

    intake = sys.modules["bot.frontends.discord_bot.intake"]
    monkeypatch.setattr(intake, "prepare_selfie", broken_intake)
    rec = await discord_server.slash("portrait", attachments=selfie())
    notice = await rec.wait_for(
        lambda r: next((m for m in r.followups if "went wrong" in m.content), None)
    )
    assert notice.ephemeral
    assert "bug in intake" not in notice.content
    assert any("bug in intake" in (r.exc_text or str(r.exc_info)) for r in caplog.records)
    assert wiro.calls[RUN] == 0
