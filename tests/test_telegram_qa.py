"""QA probes of the Telegram front end as members and administrators use it: odd captions,
albums, forged button presses, limits and faults, through the real bot, the Telegram
stand-in and the fake Wiro."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.images import selfie_jpeg
from tests.support.telegram_bot import telegram_bot
from tests.support.telegram_e2e import RUN, nothing_spent, reply_to, result_of


def cut_short(app):
    """Leaving the block cancels updates being handled at once (as a crash would)."""
    app.drain_seconds = 0


async def handled(telegram, app, n):
    await telegram.wait_for(lambda _: app.inbox.handled >= n)


async def test_an_album_sent_at_once_makes_one_portrait_and_no_refusals(app, telegram, fake_wiro):
    # Telegram delivers each photo of an album as its own message; only one carries the
    # caption. The captionless ones are not "a photo without a caption" asking for defaults.
    first = telegram.send_photo(selfie_jpeg(), caption="/portrait oil", media_group_id="777")
    telegram.send_photo(selfie_jpeg(), media_group_id="777")
    last = telegram.send_photo(selfie_jpeg(), media_group_id="777")
    await result_of(telegram, first)
    await telegram.wait_for(lambda s: last.update_id in s.updates.confirmed)
    await handled(telegram, app, 3)
    texts = [m.text for m in telegram.sent() if m.text]
    assert not [t for t in texts if t.startswith("⚠️")], texts
    assert fake_wiro.calls[RUN] == 1


# ---------------------------------------------------------------- forged button presses
# Bot API, CallbackQuery.data: "Be aware that the message originated the query can contain
# no callback buttons with this data": a modified client sends any data on any bot message.


async def eves_group_message(telegram):
    """Eve's own group (she created it) and a bot message in it she can press on."""
    eve = telegram.add_user("Eve", "eve")
    chat = telegram.add_group("Eve's den", {eve: "creator"})
    asked = telegram.send_text("/help@PortraitTestBot", chat=chat, user=eve)
    return eve, await reply_to(telegram, asked)


async def test_an_admin_of_another_chat_cannot_cancel_a_members_job(app, telegram, fake_wiro):
    fake_wiro.scenario.outcome = "hang"
    asked = telegram.send_photo(selfie_jpeg(), caption="/portrait")
    await reply_to(telegram, asked)
    await telegram.wait_for(lambda _: fake_wiro.calls[RUN] == 1, timeout=10)
    eve, help_message = await eves_group_message(telegram)
    answer = await telegram.wait_answer(
        telegram.press_button(help_message, "pc:1", user=eve, check=False)
    )
    assert answer.show_alert and "administrator" in answer.text
    job = await app.services.ledger.get(1)
    assert job.is_active
    assert fake_wiro.calls["/Task/Cancel"] + fake_wiro.calls["/Task/Kill"] == 0


async def test_an_admin_of_another_chat_cannot_delete_a_members_result(app, telegram, fake_wiro):
    asked = telegram.send_photo(selfie_jpeg(), caption="/portrait")
    await result_of(telegram, asked)
    done = await telegram.wait_for(
        lambda _: any("pr:dl:1" in m.callback_datas() for m in telegram.sent())
    )
    assert done
    job = await app.services.ledger.get(1)
    assert job.selfie_path is not None
    eve, help_message = await eves_group_message(telegram)
    answer = await telegram.wait_answer(
        telegram.press_button(help_message, "pr:dl:1", user=eve, check=False)
    )
    assert answer.show_alert and "administrator" in answer.text
    job = await app.services.ledger.get(1)
    assert job.selfie_path is not None


async def test_a_forged_delete_does_not_remove_another_members_result(app, telegram, fake_wiro):
    # Alice's portrait in her private chat, Bob's in the group; Alice presses "Delete" of her
    # own job on Bob's result (the data is hers, the message is his).
    mine = telegram.send_photo(selfie_jpeg(), caption="/portrait")
    await result_of(telegram, mine)
    asked = telegram.send_photo(
        selfie_jpeg(), caption="/portrait", chat=telegram.group, user=telegram.bob
    )
    bobs = await result_of(telegram, asked)
    await telegram.wait_answer(
        telegram.press_button(bobs, "pr:dl:1", user=telegram.alice, check=False)
    )
    assert not telegram.message(telegram.group, bobs.message_id).deleted


# ---------------------------------------------------------------- restarts


async def test_a_restart_while_the_status_is_removed_does_not_offer_the_result_again(
    telegram, fake_wiro, tmp_path
):
    # The portrait is in the chat; removing the status message is slow (a 429 wait, a slow
    # Telegram), and the bot restarts meanwhile. The post is known to have arrived: the
    # member must not be told "it may or may not have arrived" nor get a Send again button
    # that would post it a second time.
    data = tmp_path / "data"
    async with telegram_bot(telegram, fake_wiro, data, configure=cut_short) as app:
        telegram.faults.delay("deleteMessage", 60)
        asked = telegram.send_photo(selfie_jpeg(), caption="/portrait --seed 1")
        await result_of(telegram, asked)
        await telegram.wait_for(lambda s: s.requests_to("deleteMessage"))
    telegram.faults.clear()
    async with telegram_bot(telegram, fake_wiro, data) as app:
        await telegram.wait_for(lambda _: app.services.dispatcher.accepting)
        job = await app.services.ledger.get(1)
        for _ in range(500):  # the resumed job settles (polling the ledger, not timing)
            job = await app.services.ledger.get(1)
            if not job.is_active:
                break
            await asyncio.sleep(0.01)
        assert job.state == "delivered", job.state
        history = telegram.send_text("/history")
        shown = await reply_to(telegram, history)
        assert shown.callback_datas() == []
    texts = [m.content for m in telegram.sent()]
    assert not [t for t in texts if "may or may not" in (t or "")], texts
    assert len([m for m in telegram.sent() if m.photo is not None]) == 1


# ---------------------------------------------------------------- buttons


@pytest.mark.parametrize("data", ["pr:xx:1", "pc:abc", "zz", "pp:1"])
async def test_a_button_the_bot_does_not_know_is_answered(app, telegram, data):
    # An old keyboard from another version, or a modified client: the press must still be
    # answered (an unanswered press leaves the button spinning in the member's app).
    asked = telegram.send_text("/help")
    message = await reply_to(telegram, asked)
    answer = await telegram.wait_answer(telegram.press_button(message, data, check=False))
    assert answer.show_alert and answer.text


# ---------------------------------------------------------------- answers and /history


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("/help", "I turn your selfie"),
        ("/history", "haven't asked"),
        ("/cancel", "no portrait in progress"),
        ("/styles", "Models"),
        ("/weather", "I don't know /weather"),
    ],
)
async def test_an_answer_refused_with_429_is_sent_after_the_wait(app, telegram, text, says):
    # Telegram's rate limit: 429 with retry_after; the answer waits and goes, not dropped.
    telegram.faults.retry_after("sendMessage", 1, times=1)
    asked = telegram.send_text(text)
    answer = await reply_to(telegram, asked)
    assert says in answer.text


async def test_a_refusal_refused_with_429_is_sent_after_the_wait(app, telegram, fake_wiro):
    telegram.faults.retry_after("sendMessage", 1, times=1)
    asked = telegram.send_photo(selfie_jpeg(), caption="/portrait --steps 300")
    answer = await reply_to(telegram, asked)
    assert "Steps must be between" in answer.text
    assert nothing_spent(fake_wiro)


async def test_history_offers_send_again_for_a_kept_portrait(app, telegram, fake_wiro):
    # The post's answer was lost (5xx): kept, and the member is told to use /history.
    telegram.faults.server_error("sendPhoto", times=1)
    asked = telegram.send_photo(selfie_jpeg(), caption="/portrait kept")
    told = await telegram.wait_message(lambda m: "/history" in (m.text or ""), timeout=15)
    assert told.reply_to_message_id == asked.message_id
    job = await app.services.ledger.get(1)
    assert job.state == "kept"
    history = telegram.send_text("/history")
    shown = await reply_to(telegram, history)
    assert shown.callback_datas() == ["pa:1"]
    await telegram.wait_answer(telegram.press_button(shown, "pa:1"))
    result = await telegram.wait_message(lambda m: m.photo is not None and m.caption)
    assert result.reply_to_message_id == shown.message_id


# ---------------------------------------------------------------- found by QA, fixed since


async def test_reroll_right_after_the_result_appears_is_taken(app, telegram, fake_wiro):
    telegram.faults.delay("deleteMessage", 3)  # a slow Telegram while the status goes
    asked = telegram.send_photo(selfie_jpeg(), caption="/portrait")
    result = await result_of(telegram, asked)
    answer = await telegram.wait_answer(telegram.press_button(result, "pr:rr:1"))
    assert not answer.show_alert, answer.text


async def test_history_in_a_group_does_not_show_prompts_from_the_private_chat(
    app, telegram, fake_wiro
):
    asked = telegram.send_photo(selfie_jpeg(), caption="/portrait my secret prompt")
    await result_of(telegram, asked)
    history = telegram.send_text("/history", chat=telegram.group)
    shown = await reply_to(telegram, history)
    assert "my secret prompt" not in shown.text
