"""The member's selfie from a Telegram message: chosen, checked before any download, fetched
with a size cap and prepared by `bot.core.request.selfie.prepare_selfie`.

Bot API facts (/work/shared/specs/telegram-facts.md): a compressed photo arrives as
``message.photo``, sizes of the same picture with the largest last; a file sent "as a file"
arrives as ``message.document`` with its own ``mime_type`` and ``file_name`` (HEIC stays HEIC);
a bot can download files of at most 20 MB (``getFile``). Every refusal is a
`SelfieRejected` whose ``.message`` tells the member what to do; nothing here calls Wiro.
"""

from __future__ import annotations

import asyncio
import io
import os
from dataclasses import dataclass

from aiogram import Bot
from aiogram.types import Message

from bot.core.request.selfie import (
    MIB,
    PreparedSelfie,
    SelfieLimits,
    SelfieRejected,
    prepare_selfie,
)

DEFAULT_LIMITS = SelfieLimits()
GET_FILE_MAX_BYTES = 20 * MIB  # "file download by a bot (getFile): 20 MB"
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".heic", ".heif", ".avif", ".gif", ".mpo"}
)
NO_PHOTO = (
    "I need a photo of your face: send it with /portrait as its caption, or answer a photo "
    "with /portrait."
)
NOT_AN_IMAGE = (
    "That file isn't an image I can read. Please send a JPEG, PNG, WebP, HEIC or AVIF photo."
)


@dataclass(frozen=True)
class SelfieSource:
    """Where the selfie is on Telegram. ``width``/``height`` are known for compressed photos
    only; ``file_size`` may be missing (Telegram does not always send it)."""

    file_id: str
    file_size: int | None
    kind: str  # "photo" or "document"
    file_name: str | None = None
    width: int | None = None
    height: int | None = None


def photo_message(message: Message) -> Message | None:
    """The message holding the selfie: ``message`` itself when it has a photo or a document,
    else the message it replies to when that one has (``/portrait`` sent as a reply)."""
    for candidate in (message, message.reply_to_message):
        if candidate is not None and (candidate.photo or candidate.document):
            return candidate
    return None


def selfie_source(message: Message) -> SelfieSource:
    """The largest size of a compressed photo, or an image document (by ``mime_type`` or, when
    that is missing or generic, an image file name). Raises `SelfieRejected`."""
    if message.photo:
        largest = max(message.photo, key=lambda size: size.width * size.height)
        return SelfieSource(
            largest.file_id, largest.file_size, "photo", None, largest.width, largest.height
        )
    document = message.document
    if document is None:
        raise SelfieRejected(NO_PHOTO)
    mime = (document.mime_type or "").lower()
    extension = os.path.splitext(document.file_name or "")[1].lower()
    generic = mime in ("", "application/octet-stream")
    if not (mime.startswith("image/") or (generic and extension in IMAGE_EXTENSIONS)):
        raise SelfieRejected(NOT_AN_IMAGE)
    return SelfieSource(document.file_id, document.file_size, "document", document.file_name)


def check_source(source: SelfieSource, limits: SelfieLimits = DEFAULT_LIMITS) -> None:
    """Refuse before downloading: over the Bot API's 20 MB download limit, over the selfie
    limit, or a compressed photo already too small. Raises `SelfieRejected`."""
    size = source.file_size
    if size is not None and size > GET_FILE_MAX_BYTES:
        raise SelfieRejected(
            f"That file is {size / MIB:.1f} MB, and Telegram lets me download files of at most "
            f"{GET_FILE_MAX_BYTES // MIB} MB. Please send it as a photo (compressed) instead."
        )
    if size is not None and size > limits.max_bytes:
        raise SelfieRejected(
            f"That image is {size / MIB:.1f} MB; the limit is {limits.max_bytes / MIB:g} MB. "
            "Please send it as a photo (compressed) instead."
        )
    if source.width and source.height and min(source.width, source.height) < limits.min_side:
        raise SelfieRejected(
            f"That photo is only {source.width}×{source.height} pixels; please use a photo at "
            f"least {limits.min_side} pixels on each side."
        )


async def download(bot: Bot, source: SelfieSource, limits: SelfieLimits = DEFAULT_LIMITS) -> bytes:
    """The file's bytes through ``getFile`` and the file URL, stopped as soon as it grows past
    the smaller of the selfie limit and 20 MB (a missing or wrong ``file_size`` is not trusted).
    Raises `SelfieRejected` when too big; aiogram's errors otherwise."""
    check_source(source, limits)
    cap = min(limits.max_bytes, GET_FILE_MAX_BYTES)
    file = await bot.get_file(source.file_id)
    check_source(SelfieSource(source.file_id, file.file_size, source.kind), limits)
    if not file.file_path:
        raise SelfieRejected("Telegram didn't give me that file. Please send it again.")
    buffer = _CappedBuffer(cap)
    try:
        await bot.download_file(file.file_path, destination=buffer)
    except _TooBig:
        raise SelfieRejected(
            f"That image is over {cap / MIB:g} MB. Please send it as a photo (compressed)."
        ) from None
    return buffer.getvalue()


async def fetch_selfie(
    bot: Bot, message: Message, limits: SelfieLimits = DEFAULT_LIMITS
) -> PreparedSelfie:
    """The prepared selfie of ``message`` (or of the photo it replies to): chosen, checked,
    downloaded and cleaned (`prepare_selfie`, in a thread). Raises `SelfieRejected`."""
    holder = photo_message(message)
    if holder is None:
        raise SelfieRejected(NO_PHOTO)
    source = selfie_source(holder)
    data = await download(bot, source, limits)
    return await asyncio.to_thread(prepare_selfie, data, limits)


class _TooBig(Exception):
    pass


class _CappedBuffer(io.BytesIO):
    """A BytesIO that refuses to grow past ``cap`` bytes (aborting the download)."""

    def __init__(self, cap: int) -> None:
        super().__init__()
        self._cap = cap

    def write(self, data: bytes) -> int:  # type: ignore[override]
        if self.tell() + len(data) > self._cap:
            raise _TooBig
        return super().write(data)
