"""The buttons of saved faces and of photos held by the face check (`face_callbacks`).

``hold:<id>`` ("Use it anyway" / "Save it anyway"): the held request is taken once, by its
member only (`HeldRequests.take`: `HoldNotYours`, `HoldGone`), then everything that could have
changed since is checked again before anything is queued or saved: the bot is taking work, the
chat's policy (`Gate`), the member's limits, saving faces still on and the face limit. A
refusal that can pass (a limit) keeps the photo: it is held again and the button carries the
new id. Works after a restart (the hold is in the database; the payload is its id only).

``fc:...`` (the ``/faces`` list): only the member the list belongs to; the face is looked up
among the presser's own faces (`SavedFaces.by_id`), so a forged payload finds nothing. The
list message is edited in place: a confirmation before deleting, then the list again.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.core.faces import FaceError, FaceLimitReached, FaceNotFound, FaceUnreadable
from bot.core.jobs.ledger import LedgerError
from bot.core.request.held import HeldRequest, HoldGone, HoldNotYours
from bot.core.request.options import PortraitOptions

from .address import PLATFORM, TelegramAddress, requester
from .delivery import Where
from .face_callbacks import FaceButton, FaceDo, HoldButton
from .face_intake import FACE_SAVE_KIND, PORTRAIT_KIND, address_from
from .face_views import (
    HOLD_GONE,
    HOLD_NOT_YOURS,
    NOT_YOUR_LIST,
    confirm_delete,
    face_error,
    faces_keyboard,
    faces_list,
    hold_keyboard,
    no_face_text,
    saved_text,
)
from .gate import Gate
from .presses import ON_ITS_WAY, RESTARTING, Tools, alert, tell
from .replies import edit_text
from .wording import limit_message

log = logging.getLogger(__name__)

HELD_AGAIN = " Your photo is still kept: press the button again later."


def face_router(tools: Tools) -> Router:
    """The ``hold:`` and ``fc:`` buttons; include it before the unknown-buttons router."""
    router = Router(name="telegram-faces")

    @router.callback_query(HoldButton.filter())
    async def go_ahead(
        query: CallbackQuery, callback_data: HoldButton, origin: str | None = None
    ) -> None:
        await _go_ahead(tools, query, callback_data.id, origin)

    @router.callback_query(FaceButton.filter())
    async def face_pressed(query: CallbackQuery, callback_data: FaceButton) -> None:
        await _face_pressed(tools, query, callback_data)

    return router


# ---------------------------------------------------------------------- hold:<id>


async def _go_ahead(tools: Tools, query: CallbackQuery, hold_id: int, origin: str | None) -> None:
    services = tools.services
    if origin is not None and await services.ledger.job_by_origin(origin) is not None:
        log.info("Update %s already made its job; not queueing it again", origin)
        await query.answer()
        return
    if not services.dispatcher.accepting:
        await alert(query, RESTARTING)
        return
    try:
        held, prepared = await services.held.take(hold_id, requester(query.from_user.id))
    except HoldNotYours:
        await alert(query, HOLD_NOT_YOURS)
        return
    except HoldGone:
        await alert(query, HOLD_GONE)
        await _drop_button(tools, query)
        return
    kind = held.params.get("kind")
    if kind == PORTRAIT_KIND:
        await _portrait_anyway(tools, query, held, prepared, origin)
    elif kind == FACE_SAVE_KIND:
        await _save_anyway(tools, query, held, prepared)
    else:
        log.warning("Held request %s of unknown kind %r dropped", held.id, kind)
        await alert(query, HOLD_GONE)


async def _portrait_anyway(
    tools: Tools, query: CallbackQuery, held: HeldRequest, prepared: bytes, origin: str | None
) -> None:
    services = tools.services
    address = address_from(held.params)
    name = str(held.params.get("member_name") or "") or "a member"
    options = PortraitOptions.from_params(held.params["options"])
    gate = await Gate.open(services, tools.bot, address, name)
    refused = await gate.refuse_request(options)  # the chat's policy may have changed
    if refused is not None:
        await alert(query, refused)
        await _drop_button(tools, query)
        return
    params = {"options": options.to_params(), "member_name": name}
    limit = await services.admission.over_limit(address.requester, params)
    if limit is not None:
        await _hold_again(
            tools, query, held, prepared, limit_message(limit, tools.frontend.clock())
        )
        return
    await query.answer(ON_ITS_WAY)
    await _drop_button(tools, query)
    started = await tools.starter.start(address, options, prepared, member_name=name, origin=origin)
    if isinstance(started, str):  # a limit reached meanwhile, or the storage failing
        await tell(tools, Where.of(address), started)


async def _save_anyway(
    tools: Tools, query: CallbackQuery, held: HeldRequest, prepared: bytes
) -> None:
    address = address_from(held.params)
    name = str(held.params.get("name") or "")
    faces = tools.services.faces
    member_name = str(held.params.get("member_name") or "") or "a member"
    gate = await Gate.open(tools.services, tools.bot, address, member_name)
    refused = await gate.refuse_use()  # the chat's policy may have changed
    if refused is not None:
        await alert(query, refused)
        await _drop_button(tools, query)
        return
    try:
        face = await faces.save(address.requester.requester, name, prepared)
    except FaceLimitReached as error:
        if error.limit <= 0:
            await alert(query, face_error(error))
            await _drop_button(tools, query)
        else:
            await _hold_again(tools, query, held, prepared, face_error(error))
        return
    except (FaceError, FaceUnreadable, OSError, LedgerError) as error:
        log.info("A held face was not saved: %s", error)
        text = face_error(error) if isinstance(error, FaceError | FaceUnreadable) else HOLD_GONE
        await alert(query, text)
        await _drop_button(tools, query)
        return
    await query.answer("💾 Saved.")
    await _drop_button(tools, query)
    await tell(tools, _where(query, address), saved_text(face, several=False))


async def _hold_again(
    tools: Tools, query: CallbackQuery, held: HeldRequest, prepared: bytes, why: str
) -> None:
    """A refusal that can pass: keep the photo under a new hold and put its id on the button."""
    try:
        again = await tools.services.held.hold(
            platform=PLATFORM,
            requester=held.requester,
            scope=held.scope,
            params=held.params,
            prepared=prepared,
        )
    except (OSError, LedgerError) as error:
        log.error("Cannot hold a photo again: %s", error)
        await alert(query, why)
        await _drop_button(tools, query)
        return
    await alert(query, why + HELD_AGAIN)
    label = no_face_text(saving=held.params.get("kind") == FACE_SAVE_KIND)[1]
    await _set_markup(tools, query, hold_keyboard(again.id, label))


def _where(query: CallbackQuery, address: TelegramAddress) -> Where:
    message = query.message
    if isinstance(message, Message):
        thread = message.message_thread_id if message.is_topic_message else None
        return Where(
            chat_id=message.chat.id,
            group=message.chat.type != "private",
            thread_id=thread,
            reply_to=message.message_id,
        )
    return Where.of(address)


async def _drop_button(tools: Tools, query: CallbackQuery) -> None:
    await _set_markup(tools, query, None)


async def _set_markup(
    tools: Tools, query: CallbackQuery, markup: InlineKeyboardMarkup | None
) -> None:
    message = query.message
    if not isinstance(message, Message):
        return
    chat_id, message_id = message.chat.id, message.message_id

    def call() -> Any:
        return tools.bot.edit_message_reply_markup(
            chat_id=chat_id, message_id=message_id, reply_markup=markup
        )

    try:
        await tools.frontend.pacer.edit(
            chat_id, message_id, call, group=message.chat.type != "private", kind="markup"
        )
    except TelegramAPIError as error:
        log.info("Could not change the buttons of message %s: %s", message_id, error)


# ---------------------------------------------------------------------- fc:<do>:<user>:<face>


async def _face_pressed(tools: Tools, query: CallbackQuery, data: FaceButton) -> None:
    if query.from_user.id != data.user:
        await alert(query, NOT_YOUR_LIST)
        return
    faces = tools.services.faces
    who = requester(data.user)
    face = await faces.by_id(who, data.face)
    message = query.message
    if face is None:
        await query.answer("That face is no longer saved.")
    elif data.do is FaceDo.ASK_DELETE:
        await query.answer()
        if isinstance(message, Message):
            text, keyboard = confirm_delete(face, data.user)
            await edit_text(tools.bot, tools.frontend.pacer, message, text, reply_markup=keyboard)
        return
    elif data.do is FaceDo.DELETE:
        with contextlib.suppress(FaceNotFound):
            await faces.delete(who, face.name)
        log.info("Face %d deleted by its member", face.id)
        await query.answer(f"🗑 Deleted {face.name}."[:200])
    elif data.do is FaceDo.DEFAULT:
        with contextlib.suppress(FaceNotFound):
            await faces.set_default(who, face.name)
        await query.answer(f"⭐ {face.name} is now your default face."[:200])
    else:  # KEEP
        await query.answer("Kept.")
    if isinstance(message, Message):
        listed = await faces.list(who)
        await edit_text(
            tools.bot,
            tools.frontend.pacer,
            message,
            faces_list(listed, faces.per_member),
            reply_markup=faces_keyboard(listed, data.user),
        )
