"""Answering a member's message: a reply in its chat and forum topic, in the chat's turn.

Shared by the commands (`chat_commands`, `face_commands`, `privacy`) so none of them imports
another to answer."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Message, ReplyParameters

from .address import thread_of
from .throttle import Pacer, Priority

log = logging.getLogger(__name__)


async def answer(
    bot: Bot, pacer: Pacer, message: Message, text: str, **kwargs: Any
) -> Message | None:
    """Send ``text`` (Telegram HTML) replying to ``message`` in its chat and forum topic, in
    the chat's turn (`Pacer`: spaced with the job messages, a 429 waited out); None when
    Telegram refused it (logged: a blocked bot, a chat the bot left, 429 after 429)."""

    def call() -> Awaitable[Message]:
        return bot.send_message(
            chat_id=message.chat.id,
            text=text,
            message_thread_id=thread_of(message),
            reply_parameters=ReplyParameters(
                message_id=message.message_id, allow_sending_without_reply=True
            ),
            **kwargs,
        )

    try:
        group = message.chat.type != "private"
        # The answer to a member's command is their first sign of life from the bot.
        return await pacer.send(message.chat.id, call, group=group, priority=Priority.FIRST_REPLY)
    except TelegramAPIError as error:
        log.info("Cannot answer in chat %s: %s", message.chat.id, error)
        return None


async def edit_text(bot: Bot, pacer: Pacer, message: Message, text: str, **kwargs: Any) -> bool:
    """Edit the bot's own ``message`` to ``text`` (Telegram HTML; ``reply_markup`` in
    ``kwargs``, none removes the keyboard) in the chat's turn; False when Telegram refused
    it (logged)."""
    chat_id, message_id = message.chat.id, message.message_id

    def call() -> Any:
        return bot.edit_message_text(text=text, chat_id=chat_id, message_id=message_id, **kwargs)

    try:
        await pacer.edit(chat_id, message_id, call, group=message.chat.type != "private")
    except TelegramAPIError as error:
        log.info("Could not edit message %s in chat %s: %s", message_id, chat_id, error)
        return False
    return True
