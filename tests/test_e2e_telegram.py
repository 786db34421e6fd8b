"""The Telegram front end end to end: the real bot (its own launcher, unmodified aiogram)
against the Telegram stand-in and the strict fake Wiro, over real sockets on 127.0.0.1:
/portrait in a private chat and in a forum topic, every flag, every rejection (no Wiro call),
groups in privacy mode, and the other commands."""

from __future__ import annotations

import pytest

from bot.core.request.options import run_fields
from bot.frontends.telegram_bot.command import parse_portrait
from tests.support.images import selfie_jpeg
from tests.support.telegram_e2e import RUN, UPLOAD, nothing_spent, reply_to, result_of

# ====================================================================== the happy paths


async def test_a_photo_with_the_caption_becomes_a_portrait_in_a_private_chat(
    app, telegram, fake_wiro
):
    asked = telegram.send_photo(selfie_jpeg(), caption="/portrait a lighthouse keeper --seed 7")
    status = await reply_to(telegram, asked)
    assert status.text.startswith("🎨 Making a portrait\n")  # no name: the chat is hers
    assert status.callback_datas() == ["pc:1"]  # Cancel
    result = await result_of(telegram, asked)
    assert result.chat_id == telegram.private.id
    assert result.files[0].open_image().format in {"JPEG", "PNG"}
    assert fake_wiro.calls[UPLOAD] == 1 and fake_wiro.calls[RUN] == 1
    run = fake_wiro.runs[0]
    assert run["prompt"].startswith("a lighthouse keeper") and run["seed"] == "7"
    assert run["inputImageUrl"] == fake_wiro.uploads[0]["url"]
    (job,) = await app.services.ledger.recent_for(f"telegram:{telegram.alice.id}")
    assert job.platform == "telegram" and job.scope == f"telegram:chat:{telegram.private.id}"
    assert job.params["member_name"] == "Alice"
    assert job.params["origin"] == f"telegram:{app.bot.id}:{asked.update_id}"


async def test_in_a_forum_topic_every_answer_stays_in_the_topic(app, telegram, fake_wiro):
    asked = telegram.send_photo(
        selfie_jpeg(),
        caption="/portrait@PortraitTestBot knight in armour",
        chat=telegram.forum,
        user=telegram.bob,
        thread_id=telegram.topic_id,
    )
    assert asked.update_id is not None
    status = await reply_to(telegram, asked)
    result = await result_of(telegram, asked)
    for message in (status, result):
        assert message.chat_id == telegram.forum.id
        assert message.message_thread_id == telegram.topic_id
    assert "for Bob" in status.text
    assert fake_wiro.calls[RUN] == 1
    (job,) = await app.services.ledger.recent_for(f"telegram:{telegram.bob.id}")
    assert job.reply_address["thread_id"] == telegram.topic_id
    assert job.scope == f"telegram:chat:{telegram.forum.id}"


async def test_a_photo_without_a_caption_in_private_uses_the_defaults(app, telegram, fake_wiro):
    asked = telegram.send_photo(selfie_jpeg())
    await result_of(telegram, asked)
    defaults = parse_portrait("", app.services.catalog).options
    run = fake_wiro.runs[0]
    assert run["selectedModel"] == defaults.model_id
    assert run["steps"] == defaults.steps and run["samples"] == defaults.samples


async def test_portrait_as_a_reply_to_the_members_own_photo(app, telegram, fake_wiro):
    # In a group with privacy mode on the bot never sees the photo itself, only the command
    # answering it (which carries the photo as reply_to_message).
    photo = telegram.send_photo(selfie_jpeg(), chat=telegram.group)
    assert photo.update_id is None
    asked = telegram.send_text("/portrait in oil paint", chat=telegram.group, reply_to=photo)
    await result_of(telegram, asked)
    assert fake_wiro.runs[0]["prompt"].startswith("in oil paint")


async def test_another_members_photo_is_not_used(app, telegram, fake_wiro):
    photo = telegram.send_photo(selfie_jpeg(), chat=telegram.group, user=telegram.bob)
    asked = telegram.send_text("/portrait", chat=telegram.group, reply_to=photo)
    refusal = await reply_to(telegram, asked)
    assert "a photo you sent yourself" in refusal.text
    assert nothing_spent(fake_wiro) and telegram.requests_to("getFile") == []


async def test_every_flag_reaches_wiros_run_parameters(app, telegram, fake_wiro):
    catalog = app.services.catalog
    lora = next(lora for lora in catalog.loras if lora.scale is not None)
    caption = (
        f"/portrait a knight's portrait --model {catalog.models[3].readable_name} "
        f'--lora "{lora.readable_name}" --lora-scale 0.6 --negative "blurry, text" '
        "--steps 25 --guidance 6.5 --likeness 0.7 --samples 2 --seed 4242 "
        "--scheduler DDIMScheduler"
    )
    asked = telegram.send_photo(selfie_jpeg(), caption=caption)
    await result_of(telegram, asked)
    options = parse_portrait(caption.removeprefix("/portrait "), catalog).options
    assert (options.model_id, options.lora_id) == (catalog.models[3].id, lora.id)
    (run,) = fake_wiro.runs
    expected = run_fields(options, catalog, fake_wiro.uploads[0]["url"])
    assert {key: run[key] for key in expected} == expected
    assert run[lora.scale.id] == 0.6 and run["negativePrompt"] == "blurry, text"
    assert run["steps"] == 25 and run["scale"] == 6.5 and run["ip_adapter_scale"] == 0.7
    assert run["samples"] == 2 and run["seed"] == "4242" and run["scheduler"] == "DDIMScheduler"


# ====================================================================== rejections


@pytest.mark.parametrize(
    ("caption", "says"),
    [
        ("/portrait oil --colour red", "I don't know the option --colour"),
        ("/portrait oil --steps 300", "Steps must be between"),
        ("/portrait oil --likeness 9", "between"),
        ("/portrait oil --model NoSuchModel", 'I don\'t know a model called "NoSuchModel"'),
        ("/portrait oil --lora <b>Nope</b>", "I don't know a LoRA called"),
        ('/portrait oil --negative "blurry', "quote"),
    ],
)
async def test_bad_flags_are_refused_before_anything_is_fetched(
    app, telegram, fake_wiro, caption, says
):
    asked = telegram.send_photo(selfie_jpeg(), caption=caption)
    refusal = await reply_to(telegram, asked)
    assert refusal.text.startswith("⚠️") and says in refusal.text
    assert refusal.parse_mode == "HTML"  # members' text escaped: <b> arrived as text
    assert nothing_spent(fake_wiro) and telegram.requests_to("getFile") == []


async def test_portrait_without_a_photo_says_to_send_one(app, telegram, fake_wiro):
    asked = telegram.send_text("/portrait astronaut")
    refusal = await reply_to(telegram, asked)
    assert "send it with /portrait as its caption" in refusal.text
    assert nothing_spent(fake_wiro)


async def test_a_file_over_telegrams_download_limit_is_refused_unread(app, telegram, fake_wiro):
    big = b"\xff\xd8\xff" + bytes(21 * 1024 * 1024)
    asked = telegram.send_document(big, file_name="huge.jpg", caption="/portrait")
    refusal = await reply_to(telegram, asked)
    assert "at most 20 MB" in refusal.text
    assert nothing_spent(fake_wiro)
    assert [r for r in telegram.requests if r.method == "file"] == []


async def test_a_file_that_is_no_image_is_refused(app, telegram, fake_wiro):
    asked = telegram.send_document(b"%PDF-1.4 hello", file_name="cv.pdf", caption="/portrait")
    refusal = await reply_to(telegram, asked)
    assert "isn't an image" in refusal.text
    assert nothing_spent(fake_wiro)


async def test_an_image_file_that_is_not_readable_is_refused(app, telegram, fake_wiro):
    asked = telegram.send_document(b"not really a jpeg", file_name="me.jpg", caption="/portrait")
    refusal = await reply_to(telegram, asked)
    assert refusal.text.startswith("⚠️")
    assert nothing_spent(fake_wiro)


async def test_a_photo_with_another_caption_in_private_says_how(app, telegram, fake_wiro):
    asked = telegram.send_photo(selfie_jpeg(), caption="make me a pirate")
    hint = await reply_to(telegram, asked)
    assert "/portrait as its caption" in hint.text
    assert nothing_spent(fake_wiro)


# ====================================================================== groups, privacy mode


async def test_commands_for_another_bot_are_ignored(app, telegram, fake_wiro):
    # The bot is an administrator here, so privacy mode does not hide these from it.
    telegram.group.statuses[telegram.world.bot_user.id] = "administrator"
    other = telegram.send_photo(
        selfie_jpeg(), caption="/portrait@OtherBot oil", chat=telegram.group
    )
    unknown = telegram.send_text("/weather", chat=telegram.group)
    chatter = telegram.send_photo(selfie_jpeg(), caption="look at me", chat=telegram.group)
    assert None not in (other.update_id, unknown.update_id, chatter.update_id)
    named = telegram.send_text("/weather@PortraitTestBot", chat=telegram.group)
    answer = await reply_to(telegram, named)
    assert "I don't know /weather" in answer.text
    await telegram.wait_for(lambda s: named.update_id in s.updates.confirmed)
    await telegram.wait_for(lambda _: app.inbox.handled >= 4)
    assert [m for m in telegram.sent(telegram.group) if m is not answer] == []
    assert nothing_spent(fake_wiro)


async def test_privacy_mode_hides_other_bots_commands(app, telegram):
    hidden = telegram.send_text("/portrait@OtherBot oil", chat=telegram.group)
    assert hidden.update_id is None  # Telegram does not deliver it at all


# ====================================================================== the other commands


async def test_start_and_help_explain_with_an_example(app, telegram):
    for command in ("/start", "/help"):
        asked = telegram.send_text(command)
        answer = await reply_to(telegram, asked)
        assert answer.text.startswith("I turn your selfie into a portrait.")
        assert "/portrait astronaut on the moon" in answer.text
        assert "/styles" in answer.text and "/cancel" in answer.text
    everyone = {"start", "help", "portrait", "styles", "history", "cancel"}
    everyone |= {"face", "faces", "privacy", "forgetme"}  # saved faces and privacy
    assert {c["command"] for c in telegram.commands[("default", "")]} == everyone
    admins = everyone | {"settings", "stats", "log"}  # a private chat is the member's own
    for scope in ("all_chat_administrators", "all_private_chats"):
        assert {c["command"] for c in telegram.commands[(scope, "")]} == admins


async def test_styles_lists_every_model_and_lora(app, telegram):
    asked = telegram.send_text("/styles")
    first = await reply_to(telegram, asked)
    catalog = app.services.catalog
    await telegram.wait_for(
        lambda s: catalog.loras[-1].readable_name in "".join(m.text or "" for m in s.sent())
    )
    shown = "\n".join(m.text for m in telegram.sent())
    assert first.text.startswith("Models")
    for style in (*catalog.models, *catalog.loras):
        assert style.readable_name in shown


async def test_history_shows_the_members_own_portraits(app, telegram, fake_wiro):
    empty = telegram.send_text("/history")
    assert "haven't asked for a portrait yet" in (await reply_to(telegram, empty)).text
    asked = telegram.send_photo(selfie_jpeg(), caption="/portrait <i>gothic</i> & dark --seed 5")
    await result_of(telegram, asked)
    await telegram.wait_for(lambda _: app.inbox.handled >= 2)
    mine = telegram.send_text("/history")
    answer = await reply_to(telegram, mine)
    assert "#1" in answer.text and "seed 5" in answer.text
    assert "<i>gothic</i> & dark" in answer.text  # shown as typed: escaped, not markup
    theirs = telegram.send_text("/history", chat=telegram.world.private_chat(telegram.bob))
    assert "haven't asked" in (await reply_to(telegram, theirs)).text


async def test_cancel_stops_the_members_job(app, telegram, fake_wiro):
    fake_wiro.scenario.outcome = "hang"
    asked = telegram.send_photo(selfie_jpeg(), caption="/portrait")
    await reply_to(telegram, asked)
    await telegram.wait_for(lambda _: fake_wiro.calls[RUN] == 1, timeout=10)
    cancel = telegram.send_text("/cancel")
    answer = await reply_to(telegram, cancel)
    assert "portrait #1" in answer.text.lower()
    job = await app.services.ledger.get(1)
    await telegram.wait_for(
        lambda _: fake_wiro.calls["/Task/Cancel"] + fake_wiro.calls["/Task/Kill"] >= 1
    )
    assert job is not None
    again = telegram.send_text("/cancel", chat=telegram.world.private_chat(telegram.bob))
    assert "no portrait in progress" in (await reply_to(telegram, again)).text


async def test_a_queued_job_is_cancelled_at_once(app, telegram, fake_wiro):
    fake_wiro.scenario.outcome = "hang"
    first = telegram.send_photo(
        selfie_jpeg(),
        caption="/portrait",
        user=telegram.bob,
        chat=telegram.world.private_chat(telegram.bob),
    )
    await reply_to(telegram, first)
    await telegram.wait_for(lambda _: fake_wiro.calls[RUN] == 1, timeout=10)
    second = telegram.send_photo(selfie_jpeg(), caption="/portrait")  # alice: waits in line
    await reply_to(telegram, second)
    cancel = telegram.send_text("/cancel")
    answer = await reply_to(telegram, cancel)
    assert "is cancelled" in answer.text
    job = await app.services.ledger.get(2)
    assert job.state == "cancelled" and fake_wiro.calls[RUN] == 1
