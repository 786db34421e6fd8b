"""``/privacy`` and ``/forgetme`` on Telegram, end to end (the real bot on the stand-in and the
fake Wiro): the data statement with its Forget me button, the confirmation that only the member
can answer, and forgetting that leaves no file in the data folder naming the member (their id,
name, prompt or face's name), the Telegram originals included."""

from __future__ import annotations

from bot.frontends.telegram_bot.face_callbacks import ForgetButton, ForgetDo
from bot.frontends.telegram_bot.text import MESSAGE_LIMIT, utf16_len
from tests.support.images import drawn_face_jpeg, selfie_jpeg
from tests.support.telegram_bot import telegram_bot
from tests.support.telegram_e2e import RUN, reply_to, result_of
from tests.telegram_standin.models import User
from tests.test_forget import files_naming

MEMBER_ID = 731904655
MEMBER_NAME = "Zebulon"
PROMPT = "a violet tiger wearing a tuxedo on Quasar Street"
FACE_NAME = "Quistgaard face"


async def test_privacy_shows_the_statement_with_forget_me_and_cancel_keeps_everything(
    app, telegram, fake_wiro
):
    user = telegram.alice.id
    asked = telegram.send_text("/privacy")
    statement = await reply_to(telegram, asked)
    assert statement.text.startswith("What Portrait Bot keeps about you")
    for heading in ("Your photo", "Saved faces", "Face check", "At Wiro", "Forget me"):
        assert f"\n{heading}\n" in statement.text
    assert "up to 5" in statement.text  # FACES_PER_MEMBER, from the bot's settings
    assert statement.parse_mode == "HTML" and utf16_len(statement.text) <= MESSAGE_LIMIT
    assert statement.button_texts() == ["🧹 Forget me"]
    assert statement.callback_datas() == [f"fm:a:{user}"]
    press = telegram.press_button(statement, ForgetButton(do=ForgetDo.ASK, user=user).pack())
    await telegram.wait_answer(press)
    question = await telegram.wait_message(
        lambda m: m.reply_to_message_id == statement.message_id and "Forget me?" in m.content
    )
    assert "It cannot be undone" in question.text
    assert question.button_texts() == ["Yes, forget me", "Cancel"]
    assert question.callback_datas() == [f"fm:y:{user}", f"fm:n:{user}"]
    await reply_to(telegram, telegram.send_photo(selfie_jpeg(), caption="/face save me"))
    cancel = telegram.press_button(question, f"fm:n:{user}")
    await telegram.wait_answer(cancel)
    await telegram.wait_for(
        lambda s: (
            s.message(question.chat_id, question.message_id).text
            == "Cancelled: nothing was deleted."
        )
    )
    assert len(await app.services.faces.list(f"telegram:{user}")) == 1
    assert fake_wiro.calls[RUN] == 0


async def test_only_the_member_can_confirm_forget_me(app, telegram, fake_wiro):
    user = telegram.alice.id
    asked = telegram.send_text("/forgetme", chat=telegram.group)
    question = await reply_to(telegram, asked)
    assert question.text.startswith("Forget me?")
    await reply_to(telegram, telegram.send_photo(selfie_jpeg(), caption="/face save me"))
    for data in (f"fm:y:{user}", f"fm:n:{user}"):
        press = telegram.press_button(question, data, user=telegram.bob)
        answer = await telegram.wait_answer(press)
        assert answer.show_alert and "for the member who asked" in answer.text
    assert len(await app.services.faces.list(f"telegram:{user}")) == 1
    assert telegram.message(question.chat_id, question.message_id).text.startswith("Forget me?")
    assert fake_wiro.calls[RUN] == 0 and fake_wiro.calls["/File/Upload"] == 0


async def test_forget_me_leaves_nothing_in_the_data_folder_naming_the_member(
    telegram, fake_wiro, tmp_path
):
    data = tmp_path / "data"
    member = User(MEMBER_ID, MEMBER_NAME, "zebq")
    telegram.world.users[member.id] = member
    chat = telegram.private_chat(member)
    calm = {"MEMBER_COOLDOWN_SECONDS": "0"}
    async with telegram_bot(telegram, fake_wiro, data, **calm) as app:
        saved = telegram.send_photo(selfie_jpeg(), caption=f"/face save {FACE_NAME}", chat=chat)
        assert "Saved your face" in (await reply_to(telegram, saved)).text
        asked = telegram.send_text(f"/portrait {PROMPT}", chat=chat)
        await result_of(telegram, asked)
        (job,) = await app.services.ledger.recent_for(f"telegram:{MEMBER_ID}")
        originals = data / "telegram-originals" / str(job.id)
        await telegram.wait_for(lambda _: originals.exists())
        held = telegram.send_photo(drawn_face_jpeg(), caption=f"/portrait {PROMPT}", chat=chat)
        assert (await reply_to(telegram, held)).callback_datas() == ["hold:1"]
        before = files_naming(data, str(MEMBER_ID), PROMPT, FACE_NAME, MEMBER_NAME)
        assert before  # the member is there to be forgotten
        question = await reply_to(telegram, telegram.send_text("/forgetme", chat=chat))
        press = telegram.press_button(question, f"fm:y:{MEMBER_ID}")
        assert (await telegram.wait_answer(press)).text == "Forgetting you…"
        await telegram.wait_for(
            lambda s: "forgotten you" in (s.message(chat.id, question.message_id).text or ""),
            timeout=30,
        )
        done = telegram.message(chat.id, question.message_id)
        # "Working" is shown before forgetting starts (it can take seconds).
        assert str(done.edits[0].changes.get("text")).startswith("⏳ Forgetting you")
        assert done.text.startswith("✅ Done: the bot has forgotten you. Deleted: 1 saved face")
        assert done.callback_datas() == []
        assert not originals.exists()  # Telegram's kept PNGs went too
        assert await app.services.faces.list(f"telegram:{MEMBER_ID}") == []
        await telegram.wait_for(lambda _: app.inbox.handled >= 5)
    assert files_naming(data, str(MEMBER_ID), PROMPT, FACE_NAME, MEMBER_NAME) == {}
