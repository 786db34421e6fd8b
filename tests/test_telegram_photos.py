"""The selfie from a Telegram message: the largest photo size, image documents (HEIC too),
refusals before any download, and a capped download, all through the stand-in."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Message
from PIL import Image

from bot.core.request.selfie import SelfieLimits, SelfieRejected
from bot.frontends.telegram_bot.photos import (
    GET_FILE_MAX_BYTES,
    NO_PHOTO,
    NOT_AN_IMAGE,
    SelfieSource,
    download,
    fetch_selfie,
    photo_message,
    selfie_source,
)
from tests.telegram_standin import TelegramStandIn
from tests.telegram_standin.harness import aiogram_bot, polling


def image(size: tuple[int, int] = (1600, 2000), fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "tan").save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture
async def telegram(tmp_path) -> AsyncIterator[TelegramStandIn]:
    async with TelegramStandIn(save_dir=tmp_path / "sent") as server:
        yield server
        assert server.internal_errors == []


@pytest.fixture
async def bot(telegram: TelegramStandIn) -> AsyncIterator[Bot]:
    async with aiogram_bot(telegram) as client:
        yield client


async def received(telegram: TelegramStandIn, bot: Bot, send) -> Message:
    """The aiogram Message the bot receives for what ``send()`` posts as a member."""
    dispatcher = Dispatcher()
    got: list[Message] = []

    @dispatcher.message()
    async def keep(message: Message) -> None:
        got.append(message)

    async with polling(dispatcher, bot, telegram):
        send()
        await telegram.wait_for(lambda _: got)
    return got[0]


async def test_a_compressed_photo_uses_its_largest_size(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    message = await received(
        telegram, bot, lambda: telegram.send_photo(image(), caption="/portrait")
    )
    assert len(message.photo) > 1
    source = selfie_source(message)
    assert source.kind == "photo" and (source.width, source.height) == (1024, 1280)
    selfie = await fetch_selfie(bot, message)
    assert (selfie.width, selfie.height) == (1024, 1280)
    downloads = telegram.requests_to("getFile")
    assert [r.params["file_id"] for r in downloads] == [message.photo[-1].file_id]


async def test_portrait_as_a_reply_uses_the_photo_it_answers(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    photo = telegram.send_photo(image())
    message = await received(
        telegram, bot, lambda: telegram.send_text("/portrait oil", reply_to=photo)
    )
    holder = photo_message(message)
    assert holder is not None and holder.photo
    assert (await fetch_selfie(bot, message)).width == 1024


async def test_a_heic_document_is_accepted(telegram: TelegramStandIn, bot: Bot) -> None:
    heic = image((600, 800), fmt="HEIF")
    message = await received(
        telegram,
        bot,
        lambda: telegram.send_document(heic, file_name="IMG_0001.HEIC", caption="/portrait"),
    )
    source = selfie_source(message)
    assert source.kind == "document" and source.file_name == "IMG_0001.HEIC"
    selfie = await fetch_selfie(bot, message)
    assert (selfie.width, selfie.height) == (600, 800) and selfie.data[:2] == b"\xff\xd8"


async def test_an_image_name_with_a_generic_type_is_accepted(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    message = await received(
        telegram,
        bot,
        lambda: telegram.send_document(
            image(), file_name="me.png", mime_type="application/octet-stream"
        ),
    )
    assert selfie_source(message).kind == "document"


async def test_a_25_mb_document_is_refused_without_downloading(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (25 * 1024 * 1024)
    message = await received(
        telegram, bot, lambda: telegram.send_document(big, file_name="huge.png")
    )
    with pytest.raises(SelfieRejected) as refused:
        await fetch_selfie(bot, message)
    assert "20 MB" in refused.value.message and "as a photo" in refused.value.message
    assert telegram.requests_to("getFile") == []


async def test_a_text_document_and_a_text_message_are_refused(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    message = await received(
        telegram, bot, lambda: telegram.send_document(b"hello", file_name="notes.txt")
    )
    with pytest.raises(SelfieRejected) as refused:
        await fetch_selfie(bot, message)
    assert refused.value.message == NOT_AN_IMAGE
    text = await received(telegram, bot, lambda: telegram.send_text("/portrait hi"))
    with pytest.raises(SelfieRejected) as refused:
        await fetch_selfie(bot, text)
    assert refused.value.message == NO_PHOTO
    assert telegram.requests_to("getFile") == []


async def test_a_small_photo_is_refused_before_downloading(
    telegram: TelegramStandIn, bot: Bot
) -> None:
    message = await received(telegram, bot, lambda: telegram.send_photo(image((200, 150))))
    with pytest.raises(SelfieRejected) as refused:
        await fetch_selfie(bot, message)
    assert "200×150" in refused.value.message
    assert telegram.requests_to("getFile") == []


async def test_the_download_stops_at_the_cap_even_when_file_size_lies(
    telegram: TelegramStandIn, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = image((1500, 1500))
    message = await received(telegram, bot, lambda: telegram.send_document(data, file_name="a.png"))
    lying = SelfieSource(message.document.file_id, None, "document")
    real_get_file = bot.get_file

    async def get_file_without_size(file_id: str):
        return (await real_get_file(file_id)).model_copy(update={"file_size": None})

    monkeypatch.setattr(bot, "get_file", get_file_without_size)
    limits = SelfieLimits(max_bytes=len(data) // 2)
    with pytest.raises(SelfieRejected, match="over"):
        await download(bot, lying, limits)
    assert len(data) // 2 < GET_FILE_MAX_BYTES
