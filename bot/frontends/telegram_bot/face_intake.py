"""The face check between a prepared photo and the queue, and saved faces standing in for a
photo, on Telegram.

After `photos.fetch_selfie` has prepared a photo (``/portrait``, a captionless photo in a
private chat, ``/face save``), `FaceIntake` runs `bot.core.request.face_check.check_faces`:

* no face: nothing is queued or saved. The photo is held (`HeldRequests.hold`, 30 minutes,
  restart-proof) and the member gets the core's tips (`NO_FACE`) with one button,
  ``hold:<id>``: "Use it anyway" (params ``{"kind": "portrait", "options", "member_name",
  "address"}``) or "Save it anyway" (``{"kind": "face_save", "name", "member_name",
  "address"}``). ``address`` is the request's `TelegramAddress.requester.reply_address`, so
  the job still answers the member's own message. The press is `face_presses`.
* several faces: it goes ahead; the member is told the largest face is used (`SEVERAL_FACES`):
  a short reply next to the status message, or in the "saved" answer.

``/portrait`` without a photo uses the member's default face, or the one named with
``--face`` (`saved_face`); the job names the face (``params["face_id"]``) and the dispatcher
decrypts it only when the job starts (`Admission.admit`).
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot
from aiogram.types import Message

from bot.core.faces import FaceError, FaceUnreadable, SavedFace
from bot.core.jobs.ledger import LedgerError
from bot.core.request.face_check import FaceCheck, check_faces
from bot.core.request.options import PortraitOptions
from bot.services import Services

from .address import PLATFORM, TelegramAddress
from .face_views import (
    ANONYMOUS,
    FACES_OFF,
    NO_PHOTO_NO_FACE,
    face_error,
    hold_keyboard,
    no_face_text,
    no_such_face,
    saved_text,
    several_note,
)
from .gate import anonymous_admin
from .messages import refusal
from .replies import answer
from .requests import TelegramJobStarter
from .throttle import Pacer

log = logging.getLogger(__name__)

PORTRAIT_KIND = "portrait"
FACE_SAVE_KIND = "face_save"
NOT_KEPT = (
    "I couldn't keep your photo for the button: the bot's storage is failing. Nothing was "
    "sent to Wiro; please try again later."
)
NOT_STORED = "I couldn't save your face: the bot's storage is failing. Please try again later."


def address_from(params: dict[str, Any]) -> TelegramAddress:
    """The `TelegramAddress` kept in a held request's ``params["address"]``."""
    stored = params["address"]
    thread_id = stored.get("thread_id")
    message_id = stored.get("message_id")
    return TelegramAddress(
        user_id=int(stored["user_id"]),
        chat_id=int(stored["chat_id"]),
        chat_type=str(stored["chat_type"]),
        thread_id=int(thread_id) if thread_id is not None else None,
        message_id=int(message_id) if message_id is not None else None,
    )


async def looked_at(prepared: bytes) -> FaceCheck | None:
    """`check_faces`, or None when the check itself failed (logged; the photo goes ahead:
    the check is a hint, it must never stop a member)."""
    try:
        return await check_faces(prepared)
    except Exception:
        log.exception("The face check failed; going ahead without it")
        return None


class FaceIntake:
    """See the module docstring. ``pacer``: the front end's (answers share the chat's turn)."""

    def __init__(self, services: Services, starter: TelegramJobStarter, pacer: Pacer) -> None:
        self._services = services
        self._starter = starter
        self._pacer = pacer

    # ------------------------------------------------------------------ /portrait

    async def start_checked(
        self,
        bot: Bot,
        message: Message,
        address: TelegramAddress,
        options: PortraitOptions,
        prepared: bytes,
        *,
        member_name: str,
        origin: str | None,
    ) -> None:
        """Check the prepared photo for a face; queue it, or hold it with "Use it anyway"."""
        check = await looked_at(prepared)
        if check is not None and not check.found:
            params = {"kind": PORTRAIT_KIND, "options": options.to_params()}
            await self._hold(bot, message, address, params, prepared, member_name, saving=False)
            return
        outcome = await self._starter.start(
            address, options, prepared, member_name=member_name, origin=origin
        )
        if isinstance(outcome, str):
            await answer(bot, self._pacer, message, outcome)
            return
        log.info("Telegram job %d queued for %s", outcome.id, address.requester.requester)
        if check is not None and check.several:
            await answer(bot, self._pacer, message, several_note())

    async def saved_face(
        self, address: TelegramAddress, name: str | None, message: Message
    ) -> SavedFace | str:
        """The saved face a ``/portrait`` without a photo uses: the one named ``name``
        (``--face``), else the member's default. Returns it, or the refusal (plain text):
        none, or ``message`` sent by an anonymous group administrator (one placeholder user
        for them all: their faces would be shared)."""
        if anonymous_admin(message):
            return NO_PHOTO_NO_FACE if name is None else ANONYMOUS
        faces = self._services.faces
        who = address.requester.requester
        if name is None:
            face = await faces.default(who)
            return face if face is not None else NO_PHOTO_NO_FACE
        face = await faces.get(who, name)
        if face is not None:
            return face
        return FACES_OFF if faces.per_member <= 0 else no_such_face(name)

    # ------------------------------------------------------------------ /face save

    async def save_checked(
        self,
        bot: Bot,
        message: Message,
        address: TelegramAddress,
        name: str,
        prepared: bytes,
        *,
        member_name: str,
    ) -> None:
        """Check the prepared photo for a face; save it, or hold it with "Save it anyway"."""
        check = await looked_at(prepared)
        if check is not None and not check.found:
            params = {"kind": FACE_SAVE_KIND, "name": name}
            await self._hold(bot, message, address, params, prepared, member_name, saving=True)
            return
        await answer(
            bot,
            self._pacer,
            message,
            await self.save(address, name, prepared, several=check is not None and check.several),
        )

    async def save(
        self, address: TelegramAddress, name: str, prepared: bytes, *, several: bool = False
    ) -> str:
        """Save ``prepared`` as the member's face ``name``; the answer (HTML), a refusal when
        it was not saved."""
        try:
            face = await self._services.faces.save(address.requester.requester, name, prepared)
        except (FaceError, FaceUnreadable) as error:
            if isinstance(error, FaceUnreadable):
                log.error("Saved faces cannot be encrypted: %s", error.reason)
            return refusal(face_error(error))
        except (OSError, LedgerError) as error:
            log.error("Cannot save a face: %s", error)
            return refusal(NOT_STORED)
        log.info("Face %d saved", face.id)  # the id only: logs outlive Forget me
        return saved_text(face, several=several)

    # ------------------------------------------------------------------ holding

    async def _hold(
        self,
        bot: Bot,
        message: Message,
        address: TelegramAddress,
        params: dict[str, Any],
        prepared: bytes,
        member_name: str,
        *,
        saving: bool,
    ) -> None:
        who = address.requester
        params = {**params, "member_name": member_name, "address": who.reply_address}
        try:
            held = await self._services.held.hold(
                platform=PLATFORM,
                requester=who.requester,
                scope=who.scope,
                params=params,
                prepared=prepared,
            )
        except (OSError, LedgerError) as error:
            log.error("Cannot hold a photo without a face: %s", error)
            await answer(bot, self._pacer, message, refusal(NOT_KEPT))
            return
        text, label = no_face_text(saving=saving)
        log.info("No face found: request held as %d", held.id)
        await answer(bot, self._pacer, message, text, reply_markup=hold_keyboard(held.id, label))
