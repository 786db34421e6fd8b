"""End-to-end tests of the Telegram Bot API stand-in with the real aiogram client.

``aiogram.Bot`` talks to ``TelegramStandIn`` over 127.0.0.1 through
``AiohttpSession(api=TelegramAPIServer.from_base(...))``; the tests assert on what Telegram
would have recorded and on what aiogram raised.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import Command
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
    ReplyParameters,
)
from aiohttp import web
from PIL import Image

from tests.telegram_standin import NOT_MODIFIED, SECRET_HEADER, TelegramStandIn
from tests.telegram_standin.harness import aiogram_bot, polling

TIMEOUT = 5.0


def image_bytes(size: tuple[int, int] = (40, 30), fmt: str = "PNG", color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format=fmt)
    return buf.getvalue()


def keyboard(*datas: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=d, callback_data=d)] for d in datas]
    )


@pytest.fixture
async def telegram(tmp_path) -> AsyncIterator[TelegramStandIn]:
    async with TelegramStandIn(save_dir=tmp_path / "sent") as server:
        yield server
        assert server.internal_errors == []


@pytest.fixture
async def bot(telegram: TelegramStandIn) -> AsyncIterator[Bot]:
    async with aiogram_bot(telegram) as client:
        yield client


async def raw_call(telegram: TelegramStandIn, path: str, **data: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.post(telegram.base_url + path, json=data) as r:
        return r.status, await r.json()


# --- identity, routing ---------------------------------------------------------------------------
async def test_get_me_is_the_bot_user(telegram: TelegramStandIn, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.username == "PortraitTestBot"
    assert me.id == telegram.world.bot_user.id == int(telegram.token.split(":")[0])


async def test_wrong_token_is_401_and_unknown_method_404(telegram: TelegramStandIn) -> None:
    status, body = await raw_call(telegram, "/bot123:wrong/getMe")
    assert (status, body) == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    status, body = await raw_call(telegram, f"/bot{telegram.token}/sendTelepathy")
    assert (status, body["description"]) == (404, "Not Found")
    assert telegram.unknown_methods == ["sendTelepathy"]
    async with aiogram_bot(telegram) as client:
        client._Bot__token = "123:wrong"  # a bot started with a bad token
        with pytest.raises(TelegramUnauthorizedError):
            await client.get_me()


async def test_json_query_and_form_bodies_are_all_understood(telegram: TelegramStandIn) -> None:
    path = f"/bot{telegram.token}/sendMessage"
    async with aiohttp.ClientSession() as http:
        async with http.get(
            telegram.base_url + path, params={"chat_id": telegram.private.id, "text": "q"}
        ) as r:
            assert (await r.json())["result"]["text"] == "q"
        async with http.post(
            telegram.base_url + path, data={"chat_id": str(telegram.private.id), "text": "f"}
        ) as r:
            assert (await r.json())["result"]["text"] == "f"
    status, body = await raw_call(telegram, path, chat_id=telegram.private.id, text="j")
    assert status == 200 and body["result"]["text"] == "j"
    assert [m.text for m in telegram.sent()] == ["q", "f", "j"]


# --- getUpdates ----------------------------------------------------------------------------------
async def test_updates_are_redelivered_until_a_higher_offset_confirms_them(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    first = telegram.send_text("/start")
    second = telegram.send_text("hello")
    batch = await bot.get_updates(timeout=0)
    assert [u.update_id for u in batch] == [first.update_id, second.update_id]
    assert batch[0].message and batch[0].message.text == "/start"
    # a restart before confirming: the same updates come again
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [first.update_id, second.update_id]
    assert telegram.updates.delivery_counts[first.update_id] == 2
    # confirming the first only
    assert second.update_id is not None
    rest = await bot.get_updates(offset=second.update_id, timeout=0)
    assert [u.update_id for u in rest] == [second.update_id]
    assert telegram.updates.confirmed == [first.update_id]
    assert await bot.get_updates(offset=second.update_id + 1, timeout=0) == []
    assert telegram.updates.pending == []


async def test_negative_offset_keeps_only_the_last_updates(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    ids = [telegram.send_text(f"m{i}").update_id for i in range(3)]
    assert [u.update_id for u in await bot.get_updates(offset=-1, timeout=0)] == ids[-1:]
    assert [u["update_id"] for u in telegram.updates.pending] == ids[-1:]


async def test_long_poll_answers_as_soon_as_an_update_arrives(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await telegram.wait_for(lambda s: s.updates.polling, TIMEOUT)
    msg = telegram.send_text("wake up")
    updates = await asyncio.wait_for(poll, TIMEOUT)
    assert [u.update_id for u in updates] == [msg.update_id]


async def test_long_poll_with_nothing_answers_empty_after_its_timeout(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    telegram.poll_timeout_scale = 0.05  # timeout=1 waits 50 ms here
    assert await bot.get_updates(timeout=1) == []
    assert not telegram.updates.polling


async def test_a_second_get_updates_terminates_the_first_with_409(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=30))
    await telegram.wait_for(lambda s: s.updates.polling, TIMEOUT)
    second = asyncio.create_task(bot.get_updates(timeout=30))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await asyncio.wait_for(first, TIMEOUT)
    msg = telegram.send_text("for the survivor")
    assert [u.update_id for u in await asyncio.wait_for(second, TIMEOUT)] == [msg.update_id]


# --- webhook -------------------------------------------------------------------------------------
async def test_webhook_gets_updates_with_the_secret_and_blocks_get_updates(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    fail_first = [True]

    async def hook(request: web.Request) -> web.Response:
        if fail_first.pop() if fail_first else False:
            return web.Response(status=500)  # Telegram keeps the update and retries
        received.append((request.headers.get(SECRET_HEADER), await request.json()))
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret-Token_1")
        info = await bot.get_webhook_info()
        assert info.url.endswith("/hook")
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await bot.get_updates(timeout=0)
        msg = telegram.send_text("/portrait")
        await telegram.wait_for(lambda s: len(received) == 1, TIMEOUT)
        secret, update = received[0]
        assert secret == "s3cret-Token_1"
        assert update["update_id"] == msg.update_id and update["message"]["text"] == "/portrait"
        assert [d.status for d in telegram.updates.webhook_deliveries] == [500, 200]
        assert telegram.updates.pending == []
        await bot.delete_webhook()
        assert await bot.get_updates(timeout=0) == []
    finally:
        await runner.cleanup()


# --- sending -------------------------------------------------------------------------------------
async def test_text_length_counts_after_html_parsing(telegram: TelegramStandIn, bot: Bot) -> None:
    chat = telegram.private.id
    visible = "<b>" + "a" * 4000 + "</b><i>" + "&lt;" * 96 + "</i>"  # 4096 visible characters
    sent = await bot.send_message(chat, visible, parse_mode="HTML")
    assert sent.text is not None and len(sent.text) == 4096
    assert [e.type for e in sent.entities or []] == ["bold", "italic"]
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(chat, visible + "!", parse_mode="HTML")
    # UTF-16: an emoji outside the BMP counts two
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(chat, "a" * 4095 + "😀")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(chat, "<b> </b>", parse_mode="HTML")
    stored = telegram.sent(telegram.private)[0]
    assert stored.raw == visible and stored.parse_mode == "HTML"


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<script>x</script>", 'Unsupported start tag "script" at byte offset 0'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
    ],
)
async def test_malformed_html_is_refused(
    telegram: TelegramStandIn, bot: Bot, html: str, error: str
) -> None:
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.send_message(telegram.private.id, html, parse_mode="HTML")
    assert caught.value.message.startswith("Bad Request: can't parse entities: ")
    assert error in caught.value.message
    assert telegram.sent() == []


async def test_caption_limit_is_1024(telegram: TelegramStandIn, bot: Bot) -> None:
    photo = BufferedInputFile(image_bytes(), "p.png")
    await bot.send_photo(
        telegram.private.id, photo, caption="<b>" + "c" * 1024 + "</b>", parse_mode="HTML"
    )
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(telegram.private.id, photo, caption="c" * 1025)


async def test_send_photo_and_document_save_the_uploaded_bytes(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    png = image_bytes((1600, 900))
    sent = await bot.send_photo(
        telegram.private.id,
        BufferedInputFile(png, "portrait.png"),
        caption="<i>your portrait</i>",
        parse_mode="HTML",
        reply_markup=keyboard("again:1"),
    )
    assert sent.photo and (sent.photo[-1].width, sent.photo[-1].height) == (1280, 720)
    assert sent.caption == "your portrait"
    stored = await telegram.wait_message(lambda m: m.method == "sendPhoto")
    assert stored.files[0].data == png and stored.files[0].filename == "portrait.png"
    assert stored.files[0].path is not None and stored.files[0].path.read_bytes() == png
    assert stored.callback_datas() == ["again:1"]
    doc = await bot.send_document(telegram.private.id, BufferedInputFile(b"%PDF-1", "out.pdf"))
    assert doc.document and doc.document.file_name == "out.pdf"
    assert doc.document.mime_type == "application/pdf"
    assert telegram.sent()[-1].files[0].data == b"%PDF-1"


async def test_photo_dimension_rules(telegram: TelegramStandIn, bot: Bot) -> None:
    for size in [(2100, 100), (6000, 5000)]:  # ratio 21; sides sum 11000
        with pytest.raises(TelegramBadRequest, match="PHOTO_INVALID_DIMENSIONS"):
            await bot.send_photo(
                telegram.private.id, BufferedInputFile(image_bytes(size, "JPEG"), "x.jpg")
            )
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(telegram.private.id, BufferedInputFile(b"not an image", "x.jpg"))


async def test_media_group_takes_2_to_10_items(telegram: TelegramStandIn, bot: Bot) -> None:
    def album(n: int) -> list[InputMediaPhoto]:
        return [
            InputMediaPhoto(
                media=BufferedInputFile(image_bytes(color=c), f"{i}.png"), caption=f"#{i}"
            )
            for i, c in zip(range(n), ["red", "blue"] * 6, strict=False)
        ]

    sent = await bot.send_media_group(telegram.private.id, album(3))
    assert len(sent) == 3 and len({m.media_group_id for m in sent}) == 1
    assert [m.caption for m in sent] == ["#0", "#1", "#2"]
    assert [len(m.files) for m in telegram.sent()] == [1, 1, 1]
    for n in (1, 11):
        with pytest.raises(TelegramBadRequest, match="2-10"):
            await bot.send_media_group(telegram.private.id, album(n))
    await bot.send_media_group(telegram.private.id, album(10))


async def test_has_spoiler_is_accepted_and_recorded(telegram: TelegramStandIn, bot: Bot) -> None:
    chat = telegram.private.id
    sent = await bot.send_photo(chat, BufferedInputFile(image_bytes(), "p.png"), has_spoiler=True)
    assert sent.has_media_spoiler is True  # Message.has_media_spoiler, as Telegram answers
    album = [
        InputMediaPhoto(media=BufferedInputFile(image_bytes(color=c), f"{c}.png"), has_spoiler=True)
        for c in ("red", "blue")
    ]
    assert all(m.has_media_spoiler for m in await bot.send_media_group(chat, album))
    plain = await bot.send_photo(chat, BufferedInputFile(image_bytes(), "q.png"))
    assert plain.has_media_spoiler is None
    assert [m.has_media_spoiler for m in telegram.sent()] == [True, True, True, False]
    path = f"/bot{telegram.token}/sendPhoto"
    file_id = sent.photo[-1].file_id if sent.photo else ""
    status, body = await raw_call(telegram, path, chat_id=chat, photo=file_id, has_spoiler="maybe")
    assert status == 400 and "Boolean" in body["description"]


async def test_keyboards_are_checked(telegram: TelegramStandIn, bot: Bot) -> None:
    chat = telegram.private.id
    await bot.send_message(chat, "ok", reply_markup=keyboard("x" * 64))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(chat, "65 bytes", reply_markup=keyboard("x" * 65))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(chat, "33 two-byte letters", reply_markup=keyboard("é" * 33))
    plain = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="no action")]])
    with pytest.raises(TelegramBadRequest, match="Text buttons are unallowed"):
        await bot.send_message(chat, "x", reply_markup=plain)
    status, body = await raw_call(
        telegram,
        f"/bot{telegram.token}/sendMessage",
        chat_id=chat,
        text="x",
        reply_markup={"inline_keyboard": [{"text": "not a row", "callback_data": "a"}]},
    )
    assert status == 400 and "Array of Arrays" in body["description"]


async def test_replies_must_target_an_existing_message(telegram: TelegramStandIn, bot: Bot) -> None:
    asked = telegram.send_text("/portrait")
    reply = await bot.send_message(
        telegram.private.id, "on it", reply_parameters=ReplyParameters(message_id=asked.message_id)
    )
    assert reply.reply_to_message and reply.reply_to_message.text == "/portrait"
    assert telegram.sent()[0].reply_to_message_id == asked.message_id
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(
            telegram.private.id, "x", reply_parameters=ReplyParameters(message_id=999)
        )
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(424242, "nobody")


async def test_forum_topic_messages_keep_their_thread(telegram: TelegramStandIn, bot: Bot) -> None:
    asked = telegram.send_photo(
        image_bytes(), caption="/portrait", chat=telegram.forum, thread_id=telegram.topic_id
    )
    [update] = await bot.get_updates(timeout=0)
    assert update.message and update.message.message_thread_id == telegram.topic_id
    assert update.message.is_topic_message
    answer = await bot.send_message(telegram.forum.id, "done", message_thread_id=telegram.topic_id)
    assert answer.message_thread_id == telegram.topic_id and answer.is_topic_message
    # a reply without message_thread_id stays in the topic of the message it answers
    reply = await bot.send_message(
        telegram.forum.id, "again", reply_parameters=ReplyParameters(message_id=asked.message_id)
    )
    assert reply.message_thread_id == telegram.topic_id
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(telegram.forum.id, "x", message_thread_id=9999)


async def test_an_administrator_bot_sees_all_group_messages(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    admin_group = telegram.add_group(
        "Admins", {telegram.alice: "creator"}, supergroup=True, bot_status="administrator"
    )
    chatter = telegram.send_text("nice weather", chat=admin_group)
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [chatter.update_id]
    member = await bot.get_chat_member(admin_group.id, telegram.world.bot_user.id)
    assert member.status == "administrator"


async def test_privacy_mode_hides_group_chatter(telegram: TelegramStandIn, bot: Bot) -> None:
    chatter = telegram.send_text("nice weather", chat=telegram.group, user=telegram.bob)
    other_bot = telegram.send_text("/portrait@OtherBot", chat=telegram.group)
    command = telegram.send_text("/portrait@PortraitTestBot oil", chat=telegram.group)
    mention = telegram.send_text("hey @PortraitTestBot", chat=telegram.group)
    assert chatter.update_id is None and other_bot.update_id is None
    texts = [u.message.text for u in await bot.get_updates(timeout=0) if u.message]
    assert texts == ["/portrait@PortraitTestBot oil", "hey @PortraitTestBot"]
    assert command.update_id is not None and mention.update_id is not None


# --- editing, deleting, buttons ------------------------------------------------------------------
async def test_edits_not_modified_not_found_and_keyboard_removal(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    chat = telegram.private.id
    sent = await bot.send_message(
        chat, "<b>working</b>", parse_mode="HTML", reply_markup=keyboard("c")
    )
    same = {"chat_id": chat, "message_id": sent.message_id, "parse_mode": "HTML"}
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.edit_message_text(text="<b>working</b>", reply_markup=keyboard("c"), **same)
    assert caught.value.message == NOT_MODIFIED
    # same text but no keyboard: a change (the keyboard goes away)
    await bot.edit_message_text(text="<b>working</b>", **same)
    stored = telegram.sent()[0]
    assert stored.reply_markup is None and [e.method for e in stored.edits] == ["editMessageText"]
    await bot.edit_message_text(text="<b>done</b>", **same)
    assert stored.text == "done" and len(stored.edits) == 2
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(text="x", chat_id=chat, message_id=999)
    member_msg = telegram.send_text("mine")
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text(text="x", chat_id=chat, message_id=member_msg.message_id)


async def test_caption_and_markup_edits(telegram: TelegramStandIn, bot: Bot) -> None:
    chat = telegram.private.id
    photo = await bot.send_photo(chat, BufferedInputFile(image_bytes(), "p.png"), caption="v1")
    text = await bot.send_message(chat, "plain")
    edited = await bot.edit_message_caption(chat_id=chat, message_id=photo.message_id, caption="v2")
    assert isinstance(edited, Message) and edited.caption == "v2"
    with pytest.raises(TelegramBadRequest, match="no text in the message"):
        await bot.edit_message_text(text="x", chat_id=chat, message_id=photo.message_id)
    with pytest.raises(TelegramBadRequest, match="no caption in the message"):
        await bot.edit_message_caption(chat_id=chat, message_id=text.message_id, caption="x")
    await bot.edit_message_reply_markup(
        chat_id=chat, message_id=text.message_id, reply_markup=keyboard("k")
    )
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(
            chat_id=chat, message_id=text.message_id, reply_markup=keyboard("k")
        )


async def test_delete_message(telegram: TelegramStandIn, bot: Bot) -> None:
    sent = await bot.send_message(telegram.private.id, "bye")
    assert await bot.delete_message(telegram.private.id, sent.message_id) is True
    assert telegram.sent() == [] and telegram.sent(include_deleted=True)[0].deleted
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(telegram.private.id, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(
            text="x", chat_id=telegram.private.id, message_id=sent.message_id
        )
    # a member's message in a group: only an administrator bot may delete it
    chatter = telegram.send_text("/portrait", chat=telegram.group)
    with pytest.raises(TelegramBadRequest, match="message can't be deleted"):
        await bot.delete_message(telegram.group.id, chatter.message_id)


async def test_button_press_and_answer_callback_query(telegram: TelegramStandIn, bot: Bot) -> None:
    sent = await bot.send_message(telegram.private.id, "pick", reply_markup=keyboard("style:oil"))
    stored = telegram.message(telegram.private, sent.message_id)
    assert stored is not None
    with pytest.raises(ValueError, match="no button"):
        telegram.press_button(stored, "style:forged")
    press = telegram.press_button(stored, "style:oil")
    [update] = await bot.get_updates(timeout=0)
    query = update.callback_query
    assert query and query.data == "style:oil" and query.from_user.id == telegram.alice.id
    assert query.message and query.message.message_id == sent.message_id
    with pytest.raises(TelegramBadRequest, match="MESSAGE_TOO_LONG"):
        await bot.answer_callback_query(query.id, text="x" * 201)
    await bot.answer_callback_query(query.id, text="Painting…", show_alert=True)
    answer = await telegram.wait_answer(press)
    assert (answer.text, answer.show_alert) == ("Painting…", True)
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query.id)


# --- files ---------------------------------------------------------------------------------------
async def test_get_file_downloads_a_members_photo_and_document(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    selfie = image_bytes((3000, 2000), "JPEG")
    telegram.send_photo(selfie, caption="/portrait")
    heic = b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64
    telegram.send_document(heic, file_name="IMG_0001.HEIC", caption="/portrait")
    photo_update, doc_update = await bot.get_updates(timeout=0)
    assert photo_update.message and photo_update.message.photo
    sizes = photo_update.message.photo
    assert [max(s.width, s.height) for s in sizes] == [90, 320, 800, 1280]
    largest = await bot.get_file(sizes[-1].file_id)
    assert largest.file_path and largest.file_size == sizes[-1].file_size
    data = await bot.download_file(largest.file_path)
    assert data is not None
    with Image.open(data) as img:
        assert (img.format, img.size) == ("JPEG", (1280, 853))
    document = doc_update.message.document if doc_update.message else None
    assert document and document.file_name == "IMG_0001.HEIC"
    assert document.mime_type == "image/heic"
    downloaded = await bot.download(document.file_id)
    assert downloaded is not None and downloaded.read() == heic


async def test_keep_original_photo_and_the_20_mb_download_limit(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    png = image_bytes((200, 100))
    telegram.send_photo(png, keep_original=True)
    telegram.send_document(b"\0" * (20 * 1024 * 1024 + 1), file_name="huge.bin")
    photo_update, big_update = await bot.get_updates(timeout=0)
    assert photo_update.message and photo_update.message.photo
    largest = photo_update.message.photo[-1]
    assert (largest.width, largest.height) == (200, 100)
    assert telegram.world.files[largest.file_id].data == png
    assert big_update.message and big_update.message.document
    with pytest.raises(TelegramBadRequest, match="file is too big"):
        await bot.get_file(big_update.message.document.file_id)
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("nope")


# --- commands, members ---------------------------------------------------------------------------
async def test_set_my_commands_is_recorded(telegram: TelegramStandIn, bot: Bot) -> None:
    commands = [BotCommand(command="portrait", description="Make a portrait")]
    assert await bot.set_my_commands(commands) is True
    assert telegram.commands[("default", "")] == [
        {"command": "portrait", "description": "Make a portrait"}
    ]
    assert [c.command for c in await bot.get_my_commands()] == ["portrait"]
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad Name!", description="x")])
    assert len(telegram.commands_calls) == 1


async def test_get_chat_member_statuses(telegram: TelegramStandIn, bot: Bot) -> None:
    group = telegram.group.id
    statuses = {
        user.first_name: (await bot.get_chat_member(group, user.id)).status
        for user in (telegram.carol, telegram.dave, telegram.alice)
    }
    assert statuses == {"Carol": "creator", "Dave": "administrator", "Alice": "member"}
    stranger = telegram.add_user("Eve")
    assert (await bot.get_chat_member(group, stranger.id)).status == "left"
    with pytest.raises(TelegramBadRequest, match="user not found"):
        await bot.get_chat_member(group, 1)


async def test_chat_actions_are_recorded(telegram: TelegramStandIn, bot: Bot) -> None:
    await bot.send_chat_action(
        telegram.forum.id, "upload_photo", message_thread_id=telegram.topic_id
    )
    [(_, chat_id, action, thread_id)] = telegram.chat_actions
    assert (chat_id, action, thread_id) == (telegram.forum.id, "upload_photo", telegram.topic_id)


# --- faults --------------------------------------------------------------------------------------
async def test_each_fault_kind_reaches_aiogram_as_its_exception(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    chat = telegram.private.id
    faults = telegram.faults
    faults.retry_after("sendMessage", 3)
    with pytest.raises(TelegramRetryAfter) as retry:
        await bot.send_message(chat, "x")
    assert retry.value.retry_after == 3
    faults.blocked("sendPhoto", chat=chat, times=1)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_photo(chat, BufferedInputFile(image_bytes(), "p.png"))
    faults.server_error("sendMessage", status=502, description="Bad Gateway")
    with pytest.raises(TelegramServerError):
        await bot.send_message(chat, "x")
    faults.bad_request("editMessageText", "message to edit not found")
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(text="x", chat_id=chat, message_id=1)
    dropped = faults.drop("sendMessage")
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(chat, "x")
    slow = faults.delay("getMe", 0.05, times=1)
    await bot.get_me()
    assert len(dropped.hits) == len(slow.hits) == 1
    assert telegram.requests_to("getMe")[-1].fault == "delayed 0.05s"
    # every fault above fired once; the calls now go through and nothing was sent before
    assert telegram.sent() == []
    await bot.send_message(chat, "finally")
    assert [m.text for m in telegram.sent()] == ["finally"]


async def test_faults_for_a_chat_or_a_duration(telegram: TelegramStandIn, bot: Bot) -> None:
    other = telegram.private_chat(telegram.bob)
    telegram.faults.blocked(chat=other, duration=60)
    await bot.send_message(telegram.private.id, "alice is fine")
    for _ in range(2):
        with pytest.raises(TelegramForbiddenError):
            await bot.send_message(other.id, "bob blocked us")
    telegram.faults.clear()
    await bot.send_message(other.id, "cleared")


async def test_a_user_blocking_the_bot(telegram: TelegramStandIn, bot: Bot) -> None:
    telegram.block_bot(telegram.alice)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(telegram.private.id, "x")
    await bot.send_message(telegram.group.id, "groups still work")
    telegram.block_bot(telegram.alice, blocked=False)
    await bot.send_message(telegram.private.id, "back")


async def test_strict_rate_limits_answer_429(telegram: TelegramStandIn, bot: Bot) -> None:
    telegram.rate_limits.enable()
    await bot.send_message(telegram.private.id, "one")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(telegram.private.id, "two, within the same second")
    assert caught.value.retry_after == 1
    await bot.send_message(telegram.group.id, "another chat is fine")
    assert [m.text for m in telegram.sent()] == ["one", "another chat is fine"]
    assert len(telegram.rate_limits.refused) == 1


# --- a whole aiogram bot -------------------------------------------------------------------------
async def test_dispatcher_polls_receives_and_answers(telegram: TelegramStandIn, bot: Bot) -> None:
    router = Router()

    @router.message(Command("portrait"))
    async def portrait(message: Message) -> None:
        await message.reply(
            f"Got it, <b>{message.from_user.first_name if message.from_user else '?'}</b>",
            parse_mode="HTML",
            reply_markup=keyboard("portrait:again"),
        )

    @router.callback_query(F.data == "portrait:again")
    async def again(query: CallbackQuery) -> None:
        await query.answer("Again!")

    dp = Dispatcher()
    dp.include_router(router)
    async with polling(dp, bot, telegram, polling_timeout=30):
        asked = telegram.send_photo(image_bytes(), caption="/portrait oil")
        reply = await telegram.wait_message(lambda m: "Got it" in m.content)
        assert reply.text == "Got it, Alice" and reply.reply_to_message_id == asked.message_id
        press = telegram.press_button(reply, "portrait:again")
        answer = await telegram.wait_answer(press)
        assert answer.text == "Again!"
    assert telegram.updates.delivery_counts[asked.update_id or 0] == 1
    # the cancelled long poll ends at the stand-in too (the client went away)
    await telegram.wait_for(lambda s: not s.updates.polling, TIMEOUT)


async def test_aiogram_confirms_an_update_before_its_handler_finishes(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    """A fact the front end must design for: aiogram's polling asks for the next batch (with
    a higher offset) as soon as it has handed the update to a task, so Telegram forgets the
    update while the handler still runs; a crash then loses it unless the handler first
    stored the request durably."""
    gate = asyncio.Event()
    started: list[int] = []
    router = Router()

    @router.message(Command("portrait"))
    async def portrait(message: Message) -> None:
        started.append(message.message_id)
        await gate.wait()

    dp = Dispatcher()
    dp.include_router(router)
    async with polling(dp, bot, telegram, polling_timeout=30):
        asked = telegram.send_text("/portrait")
        await telegram.wait_for(
            lambda s: started and asked.update_id in s.updates.confirmed, TIMEOUT
        )
        assert not gate.is_set() and telegram.updates.pending == []
        gate.set()
    assert telegram.updates.delivery_counts[asked.update_id or 0] == 1
