"""Saved faces and the face check on Telegram, end to end: the real bot (its own launcher)
against the Telegram stand-in and the strict fake Wiro. ``/face save`` (caption or reply),
``/faces`` with its buttons, rename, every refusal (nothing reaches Wiro), ``/portrait``
without a photo (the default face, ``--face``), the held "Use it anyway" / "Save it anyway"
(``hold:<id>``, also after a restart), several faces, and result buttons on a saved-face job."""

from __future__ import annotations

from cryptography.fernet import Fernet

from bot.core.faces.keys import KEY_FILENAME
from bot.core.policy.service import PolicyEditor
from bot.frontends.telegram_bot.callbacks import Action, ResultButton
from bot.frontends.telegram_bot.face_callbacks import FaceButton, FaceDo, HoldButton
from tests.support.face_corpus import cases
from tests.support.images import drawn_face_jpeg, selfie_jpeg
from tests.support.telegram_bot import telegram_bot
from tests.support.telegram_e2e import RUN, UPLOAD, nothing_spent, reply_to, result_of


def two_faces_jpeg() -> bytes:
    return next(case.data for case in cases() if case.expected == "several")


def alice(telegram) -> str:
    return f"telegram:{telegram.alice.id}"


async def save(telegram, name, image=None, **where):
    asked = telegram.send_photo(image or selfie_jpeg(), caption=f"/face save {name}", **where)
    return await reply_to(telegram, asked)


async def edited(telegram, message, says, timeout=5):
    """``message`` once its text (after edits) holds ``says``."""
    await telegram.wait_for(
        lambda s: says in (s.message(message.chat_id, message.message_id).text or ""), timeout
    )
    return telegram.message(message.chat_id, message.message_id)


# ====================================================================== saving and using


async def test_a_saved_face_is_the_default_and_portrait_without_a_photo_uses_it(
    app, telegram, fake_wiro
):
    answer = await save(telegram, "<b>me</b> & co")
    assert answer.text.startswith("✅ Saved your face as <b>me</b> & co.")  # escaped: as typed
    assert "default face" in answer.text
    assert nothing_spent(fake_wiro)  # saving costs nothing at Wiro
    (face,) = await app.services.faces.list(alice(telegram))
    assert face.is_default and face.name == "<b>me</b> & co"
    asked = telegram.send_text("/portrait a lighthouse keeper --seed 7")
    await result_of(telegram, asked)
    assert fake_wiro.calls[UPLOAD] == 1 and fake_wiro.calls[RUN] == 1
    (job,) = await app.services.ledger.recent_for(alice(telegram))
    assert job.params["face_id"] == face.id and job.selfie_path is None


async def test_face_save_answering_the_members_own_photo_and_not_anothers(app, telegram, fake_wiro):
    photo = telegram.send_photo(selfie_jpeg(), chat=telegram.group)
    asked = telegram.send_text("/face save work", chat=telegram.group, reply_to=photo)
    assert "Saved your face as work" in (await reply_to(telegram, asked)).text
    theirs = telegram.send_photo(selfie_jpeg(), chat=telegram.group, user=telegram.bob)
    asked = telegram.send_text("/face save bob", chat=telegram.group, reply_to=theirs)
    assert "a photo you sent yourself" in (await reply_to(telegram, asked)).text
    assert [f.name for f in await app.services.faces.list(alice(telegram))] == ["work"]
    assert nothing_spent(fake_wiro)


async def test_portrait_with_face_picks_a_saved_face_and_refuses_a_photo_too(
    app, telegram, fake_wiro
):
    await save(telegram, "home")
    await save(telegram, "at work")
    faces = {f.name: f for f in await app.services.faces.list(alice(telegram))}
    both = telegram.send_photo(selfie_jpeg(), caption='/portrait oil --face "at work"')
    assert "pick one" in (await reply_to(telegram, both)).text
    unknown = telegram.send_text("/portrait oil --face nobody")
    assert "no saved face called “nobody”" in (await reply_to(telegram, unknown)).text
    assert nothing_spent(fake_wiro)
    asked = telegram.send_text('/portrait oil --face "AT WORK"')  # names ignore case
    await result_of(telegram, asked)
    (job,) = await app.services.ledger.recent_for(alice(telegram))
    assert job.params["face_id"] == faces["at work"].id


async def test_portrait_without_a_photo_or_a_face_says_how(app, telegram, fake_wiro):
    asked = telegram.send_text("/portrait astronaut")
    refusal = await reply_to(telegram, asked)
    assert "send it with /portrait as its caption" in refusal.text
    assert "/face save" in refusal.text
    assert nothing_spent(fake_wiro)


# ====================================================================== /faces and its buttons


async def test_faces_lists_with_buttons_to_make_default_and_delete_after_confirming(
    app, telegram, fake_wiro
):
    group = telegram.group
    await save(telegram, "home", chat=group)
    await save(telegram, "<i>work</i>", chat=group)
    home, work = await app.services.faces.list(alice(telegram))
    user = telegram.alice.id
    asked = telegram.send_text("/faces", chat=group)
    # In a group the names go to the member's private chat; the group is told.
    assert "our private chat" in (await reply_to(telegram, asked)).text
    listing = await telegram.wait_message(
        lambda m: "Your saved faces" in m.content, chat=telegram.private
    )
    assert [m for m in telegram.sent(group) if "Your saved faces" in m.content] == []
    assert "Your saved faces (2 of 5)" in listing.text
    assert "⭐ home (default)" in listing.text and "• <i>work</i>" in listing.text
    assert listing.callback_datas() == [
        f"fc:x:{user}:{home.id}",
        f"fc:d:{user}:{work.id}",
        f"fc:x:{user}:{work.id}",
    ]
    # Another member's press changes nothing.
    make_default = FaceButton(do=FaceDo.DEFAULT, user=user, face=work.id).pack()
    press = telegram.press_button(listing, make_default, user=telegram.bob)
    answer = await telegram.wait_answer(press)
    assert answer.show_alert and "member who sent /faces" in answer.text
    assert (await app.services.faces.default(alice(telegram))).id == home.id
    # Make "work" the default.
    await telegram.wait_answer(telegram.press_button(listing, make_default))
    listing = await edited(telegram, listing, "⭐ <i>work</i> (default)")
    assert (await app.services.faces.default(alice(telegram))).id == work.id
    # Delete "home": asked first; "Keep it" keeps it.
    ask = FaceButton(do=FaceDo.ASK_DELETE, user=user, face=home.id).pack()
    await telegram.wait_answer(telegram.press_button(listing, ask))
    question = await edited(telegram, listing, "Delete your saved face home?")
    keep = FaceButton(do=FaceDo.KEEP, user=user, face=home.id).pack()
    yes = FaceButton(do=FaceDo.DELETE, user=user, face=home.id).pack()
    assert question.callback_datas() == [yes, keep]
    await telegram.wait_answer(telegram.press_button(question, keep))
    listing = await edited(telegram, question, "Your saved faces (2 of 5)")
    await telegram.wait_answer(telegram.press_button(listing, ask))
    question = await edited(telegram, listing, "Delete your saved face home?")
    forged = telegram.press_button(question, yes, user=telegram.bob)
    assert "member who sent /faces" in (await telegram.wait_answer(forged)).text
    assert len(await app.services.faces.list(alice(telegram))) == 2
    await telegram.wait_answer(telegram.press_button(question, yes))
    listing = await edited(telegram, question, "Your saved faces (1 of 5)")
    assert [f.name for f in await app.services.faces.list(alice(telegram))] == ["<i>work</i>"]
    assert nothing_spent(fake_wiro)


async def test_faces_in_a_group_when_the_bot_cannot_write_privately(app, telegram):
    telegram.block_bot(telegram.bob)
    asked = telegram.send_text("/faces", chat=telegram.group, user=telegram.bob)
    refusal = await reply_to(telegram, asked)
    assert "can't write to you" in refusal.text and "press Start" in refusal.text


async def test_rename_default_and_delete_by_text(app, telegram, fake_wiro):
    await save(telegram, "home")
    await save(telegram, "work")
    asked = telegram.send_text('/face rename home to "my home"')
    assert "Renamed it to my home." in (await reply_to(telegram, asked)).text
    bad = telegram.send_text("/face rename home")
    assert "/face rename <name> to <new name>" in (await reply_to(telegram, bad)).text
    taken = telegram.send_text("/face rename work to My Home")
    assert "already have a face called “My Home”" in (await reply_to(telegram, taken)).text
    default = telegram.send_text("/face default work")
    assert "work is now your default face" in (await reply_to(telegram, default)).text
    delete = telegram.send_text("/face delete my home")
    question = await reply_to(telegram, delete)
    assert question.text.startswith("Delete your saved face my home?")
    names = [f.name for f in await app.services.faces.list(alice(telegram))]
    assert names == ["my home", "work"]
    assert nothing_spent(fake_wiro)


# ====================================================================== refusals


async def test_the_limit_a_taken_name_and_a_bad_name_are_refused_unfetched(
    telegram, fake_wiro, tmp_path
):
    async with telegram_bot(telegram, fake_wiro, tmp_path / "data", FACES_PER_MEMBER="1") as app:
        await save(telegram, "me")
        fetched = len(telegram.requests_to("getFile"))
        taken = await save(telegram, "ME")
        assert "already have a face called “ME”" in taken.text
        over = await save(telegram, "another")
        assert "the most saved faces you can keep (1)" in over.text and "/faces" in over.text
        long = await save(telegram, "x" * 40)
        assert "1 to 32 characters" in long.text
        assert len(telegram.requests_to("getFile")) == fetched  # refused before downloading
        assert len(await app.services.faces.list(alice(telegram))) == 1
    assert nothing_spent(fake_wiro)


async def test_saving_is_off_with_no_faces_per_member(telegram, fake_wiro, tmp_path):
    async with telegram_bot(telegram, fake_wiro, tmp_path / "data", FACES_PER_MEMBER="0") as app:
        assert "turned off" in (await save(telegram, "me")).text
        listing = await reply_to(telegram, telegram.send_text("/faces"))
        assert "turned off" in listing.text
        assert await app.services.faces.list(alice(telegram)) == []
        assert telegram.requests_to("getFile") == []
    assert nothing_spent(fake_wiro)


async def test_a_damaged_key_is_said_plainly_and_the_bot_keeps_running(
    telegram, fake_wiro, tmp_path
):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / KEY_FILENAME).write_text("not a fernet key\n")
    (data / KEY_FILENAME).chmod(0o600)
    async with telegram_bot(telegram, fake_wiro, data):
        answer = await save(telegram, "me")
        assert (
            "can't use saved faces right now" in answer.text and "Nothing was saved" in answer.text
        )
        helped = await reply_to(telegram, telegram.send_text("/help"))
        assert helped.text.startswith("I turn your selfie into a portrait.")
    assert nothing_spent(fake_wiro)


async def test_a_changed_key_fails_the_portrait_clearly_before_wiro(telegram, fake_wiro, tmp_path):
    data = tmp_path / "data"
    async with telegram_bot(telegram, fake_wiro, data):
        await save(telegram, "me")
    other_key = Fernet.generate_key().decode()
    async with telegram_bot(telegram, fake_wiro, data, FACES_KEY=other_key):
        asked = telegram.send_text("/portrait oil")
        failed = await telegram.wait_message(
            lambda m: m.reply_to_message_id == asked.message_id and "can't open" in m.content,
            timeout=10,
        )
        assert "saved faces" in failed.text
        helped = await reply_to(telegram, telegram.send_text("/help"))
        assert helped.text.startswith("I turn your selfie")
    assert nothing_spent(fake_wiro)


# ====================================================================== the face check


async def test_no_face_on_save_holds_it_with_save_it_anyway(app, telegram, fake_wiro):
    answer = await save(telegram, "drawn", drawn_face_jpeg(), chat=telegram.group)
    assert "couldn't find a face" in answer.text
    assert answer.button_texts() == ["💾 Save it anyway"]
    assert answer.callback_datas() == [HoldButton(id=1).pack()] == ["hold:1"]
    assert await app.services.faces.list(alice(telegram)) == []
    other = telegram.press_button(answer, "hold:1", user=telegram.bob)
    assert "for the member who sent the photo" in (await telegram.wait_answer(other)).text
    press = telegram.press_button(answer, "hold:1")
    await telegram.wait_answer(press)
    saved = await telegram.wait_message(lambda m: "Saved your face as drawn" in m.content)
    assert saved.chat_id == telegram.group.id
    assert [f.name for f in await app.services.faces.list(alice(telegram))] == ["drawn"]
    again = telegram.press_button(answer, "hold:1", check=False)  # used: gone
    assert "no longer kept" in (await telegram.wait_answer(again)).text
    assert nothing_spent(fake_wiro)


async def test_several_faces_on_save_saves_with_a_note(app, telegram, fake_wiro):
    answer = await save(telegram, "pair", two_faces_jpeg())
    assert "Saved your face as pair" in answer.text and "more than one face" in answer.text


async def test_no_face_in_a_portrait_photo_waits_for_use_it_anyway(app, telegram, fake_wiro):
    asked = telegram.send_photo(drawn_face_jpeg(), caption="/portrait in oil", chat=telegram.group)
    held = await reply_to(telegram, asked)
    assert "couldn't find a face" in held.text and "face the camera" in held.text
    assert held.button_texts() == ["✅ Use it anyway"] and held.callback_datas() == ["hold:1"]
    assert nothing_spent(fake_wiro)
    assert await app.services.ledger.recent_for(alice(telegram)) == []
    other = telegram.press_button(held, "hold:1", user=telegram.bob)
    assert "for the member who sent the photo" in (await telegram.wait_answer(other)).text
    assert nothing_spent(fake_wiro)
    press = telegram.press_button(held, "hold:1")
    assert (await telegram.wait_answer(press)).text == "✅ On its way!"
    result = await result_of(telegram, asked)  # answers the member's own photo
    assert result.chat_id == telegram.group.id
    assert fake_wiro.calls[UPLOAD] == 1 and fake_wiro.calls[RUN] == 1
    assert fake_wiro.runs[0]["prompt"].startswith("in oil")
    await edited(telegram, held, "couldn't find a face")
    assert telegram.message(held.chat_id, held.message_id).callback_datas() == []


async def test_a_captionless_photo_without_a_face_is_held_too(app, telegram, fake_wiro):
    asked = telegram.send_photo(drawn_face_jpeg())
    held = await reply_to(telegram, asked)
    assert held.callback_datas() == ["hold:1"]
    assert nothing_spent(fake_wiro)


async def test_several_faces_in_a_portrait_photo_go_ahead_with_a_note(app, telegram, fake_wiro):
    asked = telegram.send_photo(two_faces_jpeg(), caption="/portrait", keep_original=True)
    note = await telegram.wait_message(
        lambda m: m.reply_to_message_id == asked.message_id and "more than one face" in m.content
    )
    assert "uses the largest one" in note.text
    await result_of(telegram, asked)
    assert fake_wiro.calls[RUN] == 1


async def test_use_it_anyway_works_after_a_restart(telegram, fake_wiro, tmp_path):
    data = tmp_path / "data"
    async with telegram_bot(telegram, fake_wiro, data):
        asked = telegram.send_photo(drawn_face_jpeg(), caption="/portrait restarted --seed 4")
        held = await reply_to(telegram, asked)
        assert held.callback_datas() == ["hold:1"]
    assert nothing_spent(fake_wiro)
    async with telegram_bot(telegram, fake_wiro, data):
        press = telegram.press_button(held, "hold:1")
        assert (await telegram.wait_answer(press, timeout=10)).text == "✅ On its way!"
        await result_of(telegram, asked)
    assert fake_wiro.calls[RUN] == 1 and fake_wiro.runs[0]["seed"] == "4"


async def test_use_it_anyway_rechecks_the_limits_and_keeps_the_photo(telegram, fake_wiro, tmp_path):
    async with telegram_bot(
        telegram, fake_wiro, tmp_path / "data", MEMBER_MAX_ACTIVE_JOBS="1"
    ) as app:
        fake_wiro.scenario.outcome = "hang"
        asked = telegram.send_photo(drawn_face_jpeg(), caption="/portrait")
        held = await reply_to(telegram, asked)
        running = telegram.send_photo(selfie_jpeg(), caption="/portrait")
        await reply_to(telegram, running)
        await telegram.wait_for(lambda _: fake_wiro.calls[RUN] == 1, timeout=10)
        press = telegram.press_button(held, "hold:1")
        refused = await telegram.wait_answer(press)
        assert refused.show_alert and "already have a portrait in progress" in refused.text
        assert "still kept" in refused.text
        await telegram.wait_for(
            lambda s: s.message(held.chat_id, held.message_id).callback_datas() == ["hold:2"]
        )
        assert len(await app.services.ledger.recent_for(alice(telegram))) == 1
    assert fake_wiro.calls[RUN] == 1 and fake_wiro.calls[UPLOAD] == 1


async def test_use_it_anyway_rechecks_the_chats_policy(app, telegram, fake_wiro):
    asked = telegram.send_photo(drawn_face_jpeg(), caption="/portrait", chat=telegram.group)
    held = await reply_to(telegram, asked)
    editor = PolicyEditor(platform="telegram", requester="telegram:0", member_name="test")
    scope = f"telegram:chat:{telegram.group.id}"
    await app.services.policies.update(scope, {"admins_only": True}, by=editor)
    refused = await telegram.wait_answer(telegram.press_button(held, "hold:1"))
    assert refused.show_alert and "only its administrators" in refused.text
    assert await app.services.ledger.recent_for(alice(telegram)) == []
    assert nothing_spent(fake_wiro)


# ====================================================================== result buttons


async def test_result_buttons_of_a_saved_face_job_work_while_the_face_exists(
    telegram, fake_wiro, tmp_path
):
    calm = {"MEMBER_COOLDOWN_SECONDS": "0"}
    async with telegram_bot(telegram, fake_wiro, tmp_path / "data", **calm) as app:
        await save(telegram, "me")
        asked = telegram.send_text("/portrait oil --seed 3")
        result = await result_of(telegram, asked)
        (job,) = await app.services.ledger.recent_for(alice(telegram))
        await telegram.wait_for(lambda _: app.inbox.handled >= 2)
        reroll = ResultButton(action=Action.REROLL, job=job.id).pack()
        press = telegram.press_button(result, reroll)
        assert (await telegram.wait_answer(press)).text == "✅ On its way!"
        await telegram.wait_for(lambda _: fake_wiro.calls[RUN] == 2, timeout=15)
        await telegram.wait_for(
            lambda s: len([m for m in s.sent() if m.photo is not None]) == 2, timeout=15
        )
        await app.services.faces.delete(alice(telegram), "me")
        gone = telegram.press_button(result, reroll)
        answer = await telegram.wait_answer(gone)
        assert answer.show_alert and "saved face this portrait was made with" in answer.text
    assert fake_wiro.calls[RUN] == 2 and fake_wiro.calls[UPLOAD] == 2


async def test_a_quoted_name_is_saved_without_its_quotes_as_help_shows(app, telegram, fake_wiro):
    await save(telegram, "“me at work”")
    assert [face.name for face in await app.services.faces.list(alice(telegram))] == ["me at work"]
    asked = telegram.send_text('/face rename "me at work" to work')
    assert "work" in (await reply_to(telegram, asked)).text
    asked = telegram.send_text('/face delete "work"')
    assert "no saved face" not in (await reply_to(telegram, asked)).text.lower()
