"""``/privacy`` and ``/forgetme`` on Telegram.

``/privacy`` shows the data statement (`bot.core.privacy.statement.data_statement`, built from
the bot's own settings: how long selfies and requests are kept, the face limit, whether Wiro's
files are deleted) with a **Forget me** button. ``/forgetme``, or that button, asks first
(`FORGET_CONFIRM`, buttons "Yes, forget me" / "Cancel"); only the member who asked may press
them (``fm:<do>:<user id>``); an anonymous group administrator is asked to send it as
themselves (Telegram shows them all as one placeholder user). Yes: the question turns into
"Forgetting you…" at once, then `Forgetting.forget_member` runs (it stops running jobs and
waits for them, deletes Wiro's files: seconds, up to ~20), and the message becomes
`forget_summary`.
"""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Message

from bot.core.privacy.statement import DataStatement, data_statement, forget_summary
from bot.services import Services

from .address import requester
from .delivery import Where, post_text
from .face_callbacks import ForgetButton, ForgetDo
from .face_views import (
    ANONYMOUS,
    FORGET_CANCELLED,
    FORGET_FAILED,
    FORGET_WORKING,
    NOT_YOUR_FORGET,
    forget_confirm,
    privacy_keyboard,
    statement_html,
)
from .gate import anonymous_admin
from .messages import refusal
from .presses import Tools, alert
from .replies import answer, edit_text
from .text import fit_html
from .throttle import Pacer

log = logging.getLogger(__name__)

PRIVACY_COMMANDS = ("privacy", "forgetme")


class PrivacyCommands:
    def __init__(self, services: Services, pacer: Pacer) -> None:
        self._services = services
        self._pacer = pacer

    async def handle(self, bot: Bot, message: Message, command: str) -> None:
        assert message.from_user is not None
        user_id = message.from_user.id
        if command == "forgetme" and anonymous_admin(message):
            await answer(bot, self._pacer, message, refusal(ANONYMOUS))
            return
        if command == "privacy":
            text = statement_html(statement_of(self._services))
            await answer(bot, self._pacer, message, text, reply_markup=privacy_keyboard(user_id))
        else:
            text, keyboard = forget_confirm(user_id)
            await answer(bot, self._pacer, message, text, reply_markup=keyboard)


def statement_of(services: Services) -> DataStatement:
    """The data statement for this bot's settings."""
    settings = services.settings
    return data_statement(
        selfie_keep_hours=settings.selfie_keep_hours,
        retention_days=settings.retention_days,
        faces_per_member=settings.faces_per_member,
        delete_wiro_files=settings.delete_wiro_files,
    )


def privacy_router(tools: Tools) -> Router:
    """The Forget me buttons; include it before the unknown-buttons router."""
    router = Router(name="telegram-privacy")
    forgetting: set[int] = set()  # members being forgotten now (a second Yes waits for none)

    @router.callback_query(ForgetButton.filter())
    async def pressed(query: CallbackQuery, callback_data: ForgetButton) -> None:
        user_id = callback_data.user
        if query.from_user.id != user_id:
            await alert(query, NOT_YOUR_FORGET)
            return
        message = query.message if isinstance(query.message, Message) else None
        pacer = tools.frontend.pacer
        if callback_data.do is ForgetDo.ASK:
            await query.answer()
            text, keyboard = forget_confirm(user_id)
            if message is not None:
                where = Where(
                    chat_id=message.chat.id,
                    group=message.chat.type != "private",
                    thread_id=message.message_thread_id if message.is_topic_message else None,
                    reply_to=message.message_id,
                )
                try:
                    await post_text(tools.bot, pacer, where, text, keyboard, retry=True)
                except TelegramAPIError as error:
                    log.info("Could not ask to confirm Forget me: %s", error)
            return
        if callback_data.do is ForgetDo.CANCEL:
            await query.answer(FORGET_CANCELLED)
            if message is not None:
                await edit_text(tools.bot, pacer, message, fit_html([FORGET_CANCELLED]))
            return
        if user_id in forgetting:
            await query.answer("Already on it…")
            return
        forgetting.add(user_id)
        try:
            await query.answer("Forgetting you…")
            if message is not None:
                await edit_text(tools.bot, pacer, message, fit_html([FORGET_WORKING]))
            try:
                report = await tools.services.forgetting.forget_member(requester(user_id))
            except Exception:
                log.exception("Forget me failed")
                if message is not None:
                    await edit_text(tools.bot, pacer, message, fit_html(["⚠️ ", FORGET_FAILED]))
                return
            summary = forget_summary(report)
            if message is not None:
                await edit_text(tools.bot, pacer, message, fit_html(["✅ ", summary]))
        finally:
            forgetting.discard(user_id)

    return router
