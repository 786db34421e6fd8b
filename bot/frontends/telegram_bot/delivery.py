"""Posting a finished portrait on Telegram: one photo with its caption and buttons, or an album
(``sendMediaGroup``) followed by a message with the buttons (albums carry no keyboard).

Bot API limits (/work/shared/specs/telegram-facts.md): ``sendPhoto`` takes at most 10 MB,
width + height at most 10000 and an aspect ratio of at most 20; other files up to 50 MB. An
image over the photo limits goes as a document (the PNG untouched); an album holds 2-10
items, photos and documents never mixed, so one image too big for a photo makes the whole
album documents. Every send goes through the `Pacer` and is made once: a 429 here is
`SendLater` (the caller decides when to try again), not retried in the chat's queue.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    Message,
    ReplyParameters,
)
from PIL import Image

from bot.core.jobs.runner import PortraitImage

from .address import TelegramAddress
from .throttle import Pacer

T = TypeVar("T")

PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTO_MAX_SIDES = 10_000  # width + height
PHOTO_MAX_RATIO = 20.0
UPLOAD_LIMIT = 50 * 1024 * 1024


class SendLater(Exception):
    """Telegram answered 429: the call was not carried out; try again after ``retry_after``."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"Telegram asked to wait {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Where:
    """Where a message goes: the chat, its forum topic, and the message it answers."""

    chat_id: int
    group: bool
    thread_id: int | None = None
    reply_to: int | None = None

    @classmethod
    def of(cls, address: TelegramAddress, reply_to: int | None = None) -> Where:
        return cls(
            chat_id=address.chat_id,
            group=not address.is_private,
            thread_id=address.thread_id,
            reply_to=reply_to if reply_to is not None else address.message_id,
        )

    def kwargs(self) -> dict[str, Any]:
        """``message_thread_id`` and ``reply_parameters`` for a send method (a reply whose
        message was deleted is sent anyway)."""
        out: dict[str, Any] = {}
        if self.thread_id is not None:
            out["message_thread_id"] = self.thread_id
        if self.reply_to is not None:
            out["reply_parameters"] = ReplyParameters(
                message_id=self.reply_to, allow_sending_without_reply=True
            )
        return out


async def send_once(
    pacer: Pacer,
    where: Where,
    call: Callable[[], Awaitable[T]],
    before_send: Callable[[], Awaitable[object]] | None = None,
) -> T:
    """Run a send through the chat's queue once; a 429 raises `SendLater`. ``before_send``
    runs in the queue's turn, right before the request (where an intent is recorded: not
    earlier, while the send may still wait behind others)."""

    async def once() -> T:
        if before_send is not None:
            await before_send()
        try:
            return await call()
        except TelegramRetryAfter as error:
            raise SendLater(float(error.retry_after)) from error

    return await pacer.send(where.chat_id, once, group=where.group)


def fits_photo(data: bytes) -> bool:
    """Whether ``sendPhoto`` takes the image (size, sides and ratio as above)."""
    if len(data) > PHOTO_MAX_BYTES:
        return False
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return False
    if width <= 0 or height <= 0 or width + height > PHOTO_MAX_SIDES:
        return False
    return max(width, height) / min(width, height) <= PHOTO_MAX_RATIO


def _file(image: PortraitImage) -> BufferedInputFile:
    return BufferedInputFile(image.data, filename=image.filename)


async def post_images(
    bot: Bot,
    pacer: Pacer,
    where: Where,
    images: Sequence[PortraitImage],
    *,
    as_photos: bool,
    caption: str,
    keyboard: InlineKeyboardMarkup | None,
    before_send: Callable[[], Awaitable[object]] | None = None,
    spoiler: bool = False,
) -> list[int]:
    """One image with ``caption`` and ``keyboard``, or an album with the caption on its first
    item (``keyboard`` is then for the caller's buttons message). Returns the message ids.
    ``before_send``: see `send_once`. ``spoiler``: photos are sent with ``has_spoiler`` (blurred
    until tapped; the Bot API has no spoiler for documents)."""
    if len(images) == 1:
        image = images[0]
        if as_photos:
            message: Message = await send_once(
                pacer,
                where,
                lambda: bot.send_photo(
                    where.chat_id,
                    _file(image),
                    caption=caption,
                    parse_mode="HTML",
                    reply_markup=keyboard,
                    has_spoiler=spoiler or None,
                    **where.kwargs(),
                ),
                before_send,
            )
        else:
            message = await send_once(
                pacer,
                where,
                lambda: bot.send_document(
                    where.chat_id,
                    _file(image),
                    caption=caption,
                    parse_mode="HTML",
                    reply_markup=keyboard,
                    **where.kwargs(),
                ),
                before_send,
            )
        return [message.message_id]
    media: list[InputMediaPhoto | InputMediaDocument] = []
    for index, image in enumerate(images):
        text = {"caption": caption, "parse_mode": "HTML"} if index == 0 else {}
        if as_photos:
            media.append(InputMediaPhoto(media=_file(image), has_spoiler=spoiler or None, **text))
        else:
            media.append(InputMediaDocument(media=_file(image), **text))
    messages: list[Message] = await send_once(
        pacer,
        where,
        lambda: bot.send_media_group(where.chat_id, media, **where.kwargs()),
        before_send,
    )
    return [message.message_id for message in messages]


async def post_text(
    bot: Bot,
    pacer: Pacer,
    where: Where,
    text: str,
    keyboard: InlineKeyboardMarkup | None = None,
    *,
    retry: bool = False,
) -> int:
    """A text message (Telegram HTML); returns its id. ``retry``: 429s are waited out in the
    chat's queue (else `SendLater`)."""

    def call() -> Awaitable[Message]:
        return bot.send_message(
            where.chat_id, text, parse_mode="HTML", reply_markup=keyboard, **where.kwargs()
        )

    if retry:
        message: Message = await pacer.send(where.chat_id, call, group=where.group)
    else:
        message = await send_once(pacer, where, call)
    return message.message_id


async def post_documents(
    bot: Bot, pacer: Pacer, where: Where, images: Sequence[PortraitImage], caption: str
) -> list[int]:
    """The files untouched, as documents (one, or an album of them)."""
    return await post_images(
        bot, pacer, where, images, as_photos=False, caption=caption, keyboard=None
    )
