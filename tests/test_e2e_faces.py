"""Saved faces and the face check on Discord, end to end: the real bot (its own launcher,
unmodified discord.py) against the local Discord stand-in and the strict fake Wiro.

Every refusal is private and costs nothing: no upload and no run at the fake Wiro."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from bot.core.faces.keys import KEY_FILENAME
from bot.core.policy.service import PolicyEditor
from bot.core.request.face_check import NO_FACE, SEVERAL_FACES
from bot.frontends.discord_bot.address import quota_scope, requester
from bot.frontends.discord_bot.faces import FACES_OFF, FACES_UNREADABLE
from bot.frontends.discord_bot.held import HOLD_GONE, HOLD_NOT_YOURS, NOT_QUEUED
from bot.frontends.discord_bot.portrait_intake import NO_PHOTO, NO_PHOTO_FACES_OFF, PICK_ONE
from bot.frontends.discord_bot.rerun import FACE_GONE
from bot.frontends.discord_bot.result_buttons import DELETED_SAVED_FACE_KEPT
from tests.fakewiro import RUN_PATH as RUN
from tests.support.face_corpus import cases
from tests.support.images import drawn_face_jpeg, selfie_jpeg
from tests.support.portrait_bot import portrait_bot

RELAXED = {"MEMBER_COOLDOWN_SECONDS": "0", "MEMBER_MAX_ACTIVE_JOBS": "3"}


@pytest.fixture
async def bot(discord_server, fake_wiro, tmp_path):
    async with portrait_bot(discord_server, fake_wiro, tmp_path, **RELAXED) as bot:
        yield bot


def photo(data: bytes | None = None) -> dict[str, tuple[str, bytes, str]]:
    return {"selfie": ("me.jpg", data if data is not None else selfie_jpeg(), "image/jpeg")}


def two_people() -> bytes:
    return next(case.data for case in cases() if case.name == "astronaut and hopper")


def results(server):
    return [m for m in server.messages.values() if m.attachments and not m.deleted]


def nothing_at_wiro(wiro) -> bool:
    return wiro.calls["/File/Upload"] == 0 and wiro.calls[RUN] == 0


async def answer(rec, timeout: float = 15):
    """The command's final private answer (after a "thinking…" defer, once it is replaced)."""
    message = await rec.wait_original(lambda m: not m.loading, timeout=timeout)
    assert message.ephemeral
    return message


async def face_command(server, sub: str, options=None, *, user=None, **kwargs):
    rec = await server.slash(f"face {sub}", options or {}, user=user or server.member, **kwargs)
    return await answer(rec)


async def save(server, name: str, data: bytes | None = None, *, user=None):
    return await face_command(server, "save", {"name": name}, attachments=photo(data), user=user)


def hold_button(message) -> str:
    (custom_id,) = [c for c in message.custom_ids() if c.startswith("portrait:hold:")]
    return custom_id


# ====================================================================== saving and using


async def test_save_list_default_use_rename_and_delete(bot, discord_server, fake_wiro):
    server, member = discord_server, requester(discord_server.member.id)
    first = await save(server, "me")
    assert "Saved your face “me”" in first.content and "It is your default" in first.content
    second = await save(server, "beard")
    assert "Saved your face “beard”" in second.content
    assert "It is your default" not in second.content
    assert nothing_at_wiro(fake_wiro)  # saving sends nothing anywhere

    listed = await face_command(server, "list")
    (embed,) = listed.embeds
    assert "⭐ “me” (default)" in embed["description"] and "• “beard”" in embed["description"]
    assert "2 of 5" in embed["footer"]["text"]

    made = await face_command(server, "default", {"name": "beard"})
    assert "“beard” is now your default" in made.content
    choices = await (
        await server.autocomplete("face delete", focused="name", value="BE", user=server.member)
    ).wait_choices()
    assert choices == [{"name": "beard (default)", "value": "beard"}]
    everyone = await (
        await server.autocomplete("portrait", focused="face", value="", user=server.member)
    ).wait_choices()
    assert [c["value"] for c in everyone] == ["beard", "me"]  # the default first
    # Another member sees none of them.
    others = await (
        await server.autocomplete("portrait", focused="face", value="", user=server.moderator)
    ).wait_choices()
    assert others == []

    # /portrait without a photo uses the default face.
    rec = await server.slash("portrait", {"prompt": "a cosmonaut"}, user=server.member)
    accepted = await rec.wait_original(lambda m: "saved face" in m.content, timeout=15)
    assert accepted.ephemeral and "“beard”" in accepted.content
    await server.wait_for(results, timeout=15)
    (job,) = await bot.services.ledger.recent_for(member, limit=5)
    beard = await bot.services.faces.get(member, "beard")
    assert job.params["face_id"] == beard.id and job.selfie_path is None
    assert fake_wiro.calls["/File/Upload"] == 1 and fake_wiro.calls[RUN] == 1

    renamed = await face_command(server, "rename", {"name": "Beard", "new_name": "winter beard"})
    assert "Renamed “beard” to “winter beard”" in renamed.content
    deleted = await face_command(server, "delete", {"name": "winter beard"})
    assert "Deleted your saved face “winter beard”" in deleted.content
    assert "Your default face is now “me”" in deleted.content
    assert [f.name for f in await bot.services.faces.list(member)] == ["me"]
    assert len(list((bot.services.faces.folder).iterdir())) == 1  # its file went too


async def test_the_face_option_and_result_buttons_while_the_face_exists(
    bot, discord_server, fake_wiro
):
    server = discord_server
    await save(server, "me")
    await save(server, "studio")
    await server.slash("portrait", {"face": "studio", "seed": 7}, user=server.member)
    (message,) = await server.wait_for(results, timeout=15)
    reroll = next(c for c in message.custom_ids() if c.startswith("portrait:reroll:"))
    await server.click(message, reroll, user=server.member)
    await server.wait_for(lambda s: len(results(s)) == 2, timeout=15)
    assert fake_wiro.calls[RUN] == 2 and fake_wiro.calls["/File/Upload"] == 2

    await face_command(server, "delete", {"name": "studio"})
    rec = await server.click(message, reroll, user=server.member)
    gone = await answer(rec)
    assert gone.content == FACE_GONE
    assert fake_wiro.calls[RUN] == 2 and fake_wiro.calls["/File/Upload"] == 2  # nothing more
    delete = next(c for c in message.custom_ids() if c.startswith("portrait:delete:"))
    deleted = await answer(await server.click(message, delete, user=server.member))
    assert deleted.content == DELETED_SAVED_FACE_KEPT


# ====================================================================== refusals


async def test_portrait_refuses_a_photo_and_a_face_together(bot, discord_server, fake_wiro):
    await save(discord_server, "me")
    rec = await discord_server.slash("portrait", {"face": "me"}, attachments=photo())
    message = await answer(rec)
    assert message.content == PICK_ONE
    assert nothing_at_wiro(fake_wiro) and await bot.services.ledger.unfinished() == []


async def test_portrait_without_a_photo_or_a_default_face_says_how(bot, discord_server, fake_wiro):
    rec = await discord_server.slash("portrait", {"prompt": "a knight"})
    assert (await answer(rec)).content == NO_PHOTO
    rec = await discord_server.slash("portrait", {"face": "nobody"})
    assert "no saved face called “nobody”" in (await answer(rec)).content
    assert nothing_at_wiro(fake_wiro)


async def test_names_taken_invalid_and_escaped(bot, discord_server, fake_wiro):
    server = discord_server
    await save(server, "me")
    taken = await save(server, "  ME ")
    assert "already have a face called “ME”" in taken.content
    long = await save(server, "x" * 40)
    assert "1 to 32 characters" in long.content
    await save(server, "other")
    rename = await face_command(server, "rename", {"name": "other", "new_name": "Me"})
    assert "already have a face called “Me”" in rename.content
    bad = await face_command(server, "rename", {"name": "other", "new_name": "a\tb" + "c" * 40})
    assert "1 to 32 characters" in bad.content
    missing = await face_command(server, "default", {"name": "ghost"})
    assert "no saved face called “ghost”" in missing.content

    marked = await save(server, "**bold** @everyone")
    assert "“\\*\\*bold\\*\\* \\@everyone”" in marked.content
    listed = await face_command(server, "list")
    assert "\\*\\*bold\\*\\* \\@everyone" in listed.embeds[0]["description"]
    assert nothing_at_wiro(fake_wiro)


async def test_the_face_limit(discord_server, fake_wiro, tmp_path):
    async with portrait_bot(discord_server, fake_wiro, tmp_path, FACES_PER_MEMBER="1") as bot:
        await save(discord_server, "me")
        refused = await save(discord_server, "other")
        assert "already have 1 saved face," in refused.content
        assert "/face delete" in refused.content
        assert len(await bot.services.faces.list(requester(discord_server.member.id))) == 1
        assert nothing_at_wiro(fake_wiro)


async def test_saving_turned_off(discord_server, fake_wiro, tmp_path):
    async with portrait_bot(discord_server, fake_wiro, tmp_path, FACES_PER_MEMBER="0"):
        assert (await save(discord_server, "me")).content == FACES_OFF
        rec = await discord_server.slash("portrait", {"prompt": "a knight"})
        assert (await answer(rec)).content == NO_PHOTO_FACES_OFF
        assert nothing_at_wiro(fake_wiro)


async def test_a_damaged_key_is_explained_and_the_bot_keeps_running(
    discord_server, fake_wiro, tmp_path
):
    (tmp_path / KEY_FILENAME).write_text("not a key\n")
    async with portrait_bot(discord_server, fake_wiro, tmp_path) as bot:
        assert (await save(discord_server, "me")).content == FACES_UNREADABLE
        assert await bot.services.faces.list(requester(discord_server.member.id)) == []
        listed = await face_command(discord_server, "list")  # still answering
        assert "no saved faces yet" in listed.content
        assert nothing_at_wiro(fake_wiro)


async def test_a_changed_key_fails_the_portrait_unstarted_with_clear_words(
    discord_server, fake_wiro, tmp_path
):
    async with portrait_bot(discord_server, fake_wiro, tmp_path):
        await save(discord_server, "me")
    (tmp_path / KEY_FILENAME).write_bytes(Fernet.generate_key() + b"\n")
    async with portrait_bot(discord_server, fake_wiro, tmp_path):
        rec = await discord_server.slash("portrait", {"prompt": "a knight"})
        notice = await rec.wait_for(
            lambda r: next((m for m in r.followups if "can't open your saved" in m.content), None),
            timeout=15,
        )
        assert notice.ephemeral
        assert nothing_at_wiro(fake_wiro)
        listed = await face_command(discord_server, "list")  # the bot keeps running
        assert "“me”" in listed.embeds[0]["description"]


# ====================================================================== the face check


async def test_a_photo_without_a_face_is_held_until_the_member_goes_ahead(
    bot, discord_server, fake_wiro
):
    server = discord_server
    rec = await server.slash(
        "portrait", {"prompt": "a painter"}, attachments=photo(drawn_face_jpeg())
    )
    held = await answer(rec)
    assert held.content == NO_FACE
    (button,) = [c for c in held.components[0]["components"]]
    assert button["label"] == "Use it anyway"
    assert nothing_at_wiro(fake_wiro) and await bot.services.ledger.unfinished() == []

    stranger = await server.click(held, hold_button(held), user=server.moderator)
    assert (await answer(stranger)).content == HOLD_NOT_YOURS
    assert nothing_at_wiro(fake_wiro)

    await server.click(held, hold_button(held), user=server.member)
    accepted = await rec.wait_original(lambda m: "Selfie accepted" in m.content, timeout=15)
    assert accepted.custom_ids() == []  # the button went with the press
    await server.wait_for(results, timeout=15)
    assert fake_wiro.calls[RUN] == 1
    assert fake_wiro.runs[0]["prompt"].startswith("a painter")


async def test_the_go_ahead_button_works_after_a_restart(discord_server, fake_wiro, tmp_path):
    async with portrait_bot(discord_server, fake_wiro, tmp_path):
        rec = await discord_server.slash("portrait", attachments=photo(drawn_face_jpeg()))
        held = await answer(rec)
        custom_id = hold_button(held)
    async with portrait_bot(discord_server, fake_wiro, tmp_path):
        await discord_server.click(held, custom_id, user=discord_server.member)
        await discord_server.wait_for(results, timeout=15)
        assert fake_wiro.calls[RUN] == 1


async def test_a_photo_no_longer_kept_is_asked_for_again(bot, discord_server, fake_wiro):
    held = await answer(
        await discord_server.slash("portrait", attachments=photo(drawn_face_jpeg()))
    )
    await bot.services.held.forget(requester(discord_server.member.id))  # as if expired
    press = await discord_server.click(held, hold_button(held), user=discord_server.member)
    gone = await press.wait_original(lambda m: m.content == HOLD_GONE)
    assert gone.custom_ids() == []
    assert nothing_at_wiro(fake_wiro)


async def test_the_go_ahead_checks_the_limits_again(discord_server, fake_wiro, tmp_path):
    async with portrait_bot(discord_server, fake_wiro, tmp_path, MEMBER_DAILY_QUOTA="1") as bot:
        rec = await discord_server.slash("portrait", attachments=photo(drawn_face_jpeg()))
        held = await answer(rec)
        await discord_server.slash("portrait", attachments=photo())  # uses the day's one
        await discord_server.wait_for(results, timeout=15)
        press = await discord_server.click(held, hold_button(held), user=discord_server.member)
        again = await press.wait_original(lambda m: "limit" in m.content, timeout=15)
        assert hold_button(again)  # held again: the photo is not lost
        assert fake_wiro.calls[RUN] == 1
        assert await bot.services.ledger.unfinished() == []


async def test_the_go_ahead_checks_the_servers_policy_again(bot, discord_server, fake_wiro):
    rec = await discord_server.slash(
        "portrait", {"prompt": "a lighthouse"}, attachments=photo(drawn_face_jpeg())
    )
    held = await answer(rec)
    editor = PolicyEditor(platform="discord", requester="discord:1", member_name="admin")
    scope = quota_scope(discord_server.guild.id)
    await bot.services.policies.update(scope, {"blocked_words": ("lighthouse",)}, by=editor)
    press = await discord_server.click(held, hold_button(held), user=discord_server.member)
    await press.wait_original(lambda m: m.content == NOT_QUEUED, timeout=15)
    (why,) = await press.wait_followups(1)
    assert why.ephemeral and "lighthouse" in why.content
    assert nothing_at_wiro(fake_wiro) and await bot.services.ledger.unfinished() == []


async def test_several_faces_are_noted_and_the_job_goes_ahead(bot, discord_server, fake_wiro):
    rec = await discord_server.slash("portrait", attachments=photo(two_people()))
    accepted = await rec.wait_original(lambda m: "Selfie accepted" in m.content, timeout=15)
    assert SEVERAL_FACES in accepted.content
    await discord_server.wait_for(results, timeout=15)


async def test_saving_a_photo_without_a_face_needs_save_it_anyway(bot, discord_server):
    member = requester(discord_server.member.id)
    held = await save(discord_server, "drawn", drawn_face_jpeg())
    assert "couldn't find a face" in held.content and "save it anyway" in held.content
    assert held.components[0]["components"][0]["label"] == "Save it anyway"
    assert await bot.services.faces.list(member) == []
    press = await discord_server.click(held, hold_button(held), user=discord_server.member)
    saved = await press.wait_original(lambda m: "Saved your face" in m.content, timeout=15)
    assert "“drawn”" in saved.content
    assert [f.name for f in await bot.services.faces.list(member)] == ["drawn"]


async def test_saving_a_photo_with_several_faces_notes_it(bot, discord_server):
    saved = await save(discord_server, "group", two_people())
    assert "Saved your face “group”" in saved.content and SEVERAL_FACES in saved.content


async def test_save_it_anyway_after_the_limit_filled_keeps_the_photo(
    discord_server, fake_wiro, tmp_path
):
    async with portrait_bot(discord_server, fake_wiro, tmp_path, FACES_PER_MEMBER="1") as bot:
        held = await save(discord_server, "drawn", drawn_face_jpeg())  # no face: held
        await save(discord_server, "real")  # the one face allowed
        press = await discord_server.click(held, hold_button(held), user=discord_server.member)
        kept = await press.wait_original(lambda m: "press the button again" in m.content)
        assert "at most 1" in kept.content.lower() or "1 saved face" in kept.content
        assert hold_button(kept)  # a new go-ahead button for the kept photo
        async with bot.services.ledger.reading() as db:
            assert await db.fetch_value("SELECT COUNT(*) FROM held_requests") == 1
