"""``/face`` and ``/faces`` on Telegram: a member's saved faces.

* ``/face save <name>`` as a photo's caption, or answering the member's own photo: the photo
  goes through the same intake as ``/portrait`` (`photos.fetch_selfie`: size, format,
  prepared), then the face check (`FaceIntake.save_checked`: no face -> "Save it anyway").
  Checked first, before anything is downloaded: saving is on (``FACES_PER_MEMBER`` > 0), the
  name (1-32 characters, one line), not taken, the member under the limit, and the chat's
  policy lets them use the bot (`Gate.refuse_use`).
* ``/faces`` (or ``/face``, ``/face list``): the list, with buttons to make a face the default
  or delete it (asked to confirm), `face_presses`. Asked in a group, the list goes to the
  member's private chat with the bot (the names are theirs alone; the group is told).
* ``/face default <name>``, ``/face delete <name>`` (asks to confirm, as the button does) and
  ``/face rename <name> to <new name>`` (quotes group words: ``/face rename me to "me at
  work"``).

An anonymous group administrator is refused: Telegram shows every anonymous administrator as
one placeholder user, so their faces would be shared. Nothing here reaches Wiro. Names are
members' text: escaped in `face_views`.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Message

from bot.core.faces import (
    FaceError,
    FaceLimitReached,
    FaceNameInvalid,
    FaceNameTaken,
    FaceNotFound,
    FaceUnreadable,
    clean_name,
)
from bot.core.jobs.ledger import LedgerError
from bot.core.request.selfie import SelfieRejected
from bot.services import Services

from .address import address_of
from .command import parse_name, parse_rename
from .face_intake import FaceIntake
from .face_views import (
    ANONYMOUS,
    FACE_USAGE,
    FACES_NOT_SENT,
    FACES_SENT,
    RENAME_USAGE,
    SAVE_USAGE,
    confirm_delete,
    face_error,
    faces_keyboard,
    faces_list,
    notice,
)
from .gate import Gate, anonymous_admin
from .messages import refusal
from .photos import fetch_selfie, photo_message
from .replies import answer
from .text import fit_html
from .throttle import Pacer

log = logging.getLogger(__name__)

FACE_COMMANDS = ("face", "faces")
NOT_YOUR_PHOTO = (
    "I can only save a photo you sent yourself: answer your own photo with /face save <name>, "
    "or send the photo with /face save <name> as its caption."
)
NO_DOWNLOAD = "I couldn't download your photo. Please send it again."


class FaceCommands:
    """The handlers of ``/face`` and ``/faces`` (see the module docstring)."""

    def __init__(self, services: Services, intake: FaceIntake, pacer: Pacer) -> None:
        self._services = services
        self._intake = intake
        self._pacer = pacer

    async def handle(self, bot: Bot, message: Message, command: str, args: str) -> None:
        if anonymous_admin(message):
            await self._say(bot, message, refusal(ANONYMOUS))
            return
        sub, _, rest = args.partition(" ")
        sub = sub.casefold()
        if command == "faces" or sub in ("", "list"):
            await self._list(bot, message)
        elif sub == "save":
            await self._save(bot, message, parse_name(rest))
        elif sub == "default":
            await self._default(bot, message, parse_name(rest))
        elif sub == "delete":
            await self._delete(bot, message, parse_name(rest))
        elif sub == "rename":
            await self._rename(bot, message, rest.strip())
        else:
            await self._say(bot, message, refusal(f"I don't know /face {sub}. Use: {FACE_USAGE}"))

    async def _say(self, bot: Bot, message: Message, html: str, **kwargs: object) -> None:
        await answer(bot, self._pacer, message, html, **kwargs)

    # ------------------------------------------------------------------ save

    async def _save(self, bot: Bot, message: Message, name: str) -> None:
        address = address_of(message)
        who = address.requester.requester
        faces = self._services.faces
        member_name = _name(message)
        try:
            if faces.per_member <= 0:
                raise FaceLimitReached(0)
            if not name:
                await self._say(bot, message, refusal(SAVE_USAGE))
                return
            name = clean_name(name)
            if await faces.get(who, name) is not None:
                raise FaceNameTaken(name)
            if len(await faces.list(who)) >= faces.per_member:
                raise FaceLimitReached(faces.per_member)
        except FaceError as error:
            await self._say(bot, message, refusal(face_error(error)))
            return
        gate = await Gate.open(self._services, bot, address, member_name)
        refused = await gate.refuse_use()
        if refused is not None:
            await self._say(bot, message, refusal(refused))
            return
        holder = photo_message(message)
        if holder is None:
            await self._say(bot, message, refusal(SAVE_USAGE))
            return
        if holder.from_user is None or holder.from_user.id != address.user_id:
            await self._say(bot, message, refusal(NOT_YOUR_PHOTO))
            return
        try:
            selfie = await fetch_selfie(bot, message, self._services.selfie_limits)
        except SelfieRejected as rejection:
            await self._say(bot, message, refusal(rejection.message))
            return
        except TelegramAPIError as error:
            log.info("Cannot fetch a face to save from Telegram: %s", error)
            await self._say(bot, message, refusal(NO_DOWNLOAD))
            return
        await self._intake.save_checked(
            bot, message, address, name, selfie.data, member_name=member_name
        )

    # ------------------------------------------------------------------ the list

    async def _list(self, bot: Bot, message: Message) -> None:
        address = address_of(message)
        faces = await self._services.faces.list(address.requester.requester)
        text = faces_list(faces, self._services.faces.per_member)
        keyboard = faces_keyboard(faces, address.user_id)
        if address.is_private:
            await self._say(bot, message, text, reply_markup=keyboard)
            return
        user_id = address.user_id  # a group: the names go to the member's private chat

        def call() -> Any:
            return bot.send_message(user_id, text, parse_mode="HTML", reply_markup=keyboard)

        try:
            await self._pacer.send(user_id, call, group=False)
        except TelegramAPIError as error:
            log.info("Cannot send a member's faces privately: %s", error)
            await self._say(bot, message, refusal(FACES_NOT_SENT))
            return
        await self._say(bot, message, fit_html([FACES_SENT]))

    async def _default(self, bot: Bot, message: Message, name: str) -> None:
        address = address_of(message)
        if not name:
            await self._say(bot, message, refusal("Write /face default <name>."))
            return
        try:
            face = await self._services.faces.set_default(address.requester.requester, name)
        except FaceNotFound:
            await self._say(bot, message, refusal(face_error(FaceNotFound(name))))
            return
        text = fit_html(notice("⭐", "", face.name, " is now your default face."))
        await self._say(bot, message, text)

    async def _delete(self, bot: Bot, message: Message, name: str) -> None:
        address = address_of(message)
        if not name:
            await self._say(bot, message, refusal("Write /face delete <name>."))
            return
        face = await self._services.faces.get(address.requester.requester, name)
        if face is None:
            await self._say(bot, message, refusal(face_error(FaceNotFound(name))))
            return
        text, keyboard = confirm_delete(face, address.user_id)
        await self._say(bot, message, text, reply_markup=keyboard)

    async def _rename(self, bot: Bot, message: Message, args: str) -> None:
        address = address_of(message)
        names = parse_rename(args)
        if names is None:
            await self._say(bot, message, refusal(RENAME_USAGE))
            return
        old, new = names
        try:
            face = await self._services.faces.rename(address.requester.requester, old, new)
        except FaceNotFound:
            await self._say(bot, message, refusal(face_error(FaceNotFound(old))))
            return
        except (FaceNameInvalid, FaceNameTaken, FaceUnreadable) as error:
            await self._say(bot, message, refusal(face_error(error)))
            return
        except LedgerError as error:
            log.error("Cannot rename a face: %s", error)
            await self._say(bot, message, refusal("That didn't work; please try again."))
            return
        await self._say(bot, message, fit_html(notice("✏️", "Renamed it to ", face.name, ".")))


def _name(message: Message) -> str:
    return message.from_user.full_name if message.from_user is not None else "a member"
