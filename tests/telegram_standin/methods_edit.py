"""editMessageText, editMessageCaption, editMessageReplyMarkup, deleteMessage.

As on Telegram: an edit replaces the inline keyboard with the one given (none given: the
keyboard is removed); an edit that changes nothing is refused with "message is not
modified: ..."; unknown or deleted messages give "message to edit not found" / "message to
delete not found"; only the bot's own messages can be edited.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from . import payloads
from .errors import NOT_MODIFIED, ApiError, bad_request
from .methods_send import resolve_chat
from .models import Chat
from .params import Params
from .records import EditRecord, StoredMessage
from .text import check_length, formatted_text
from .validation import check_reply_markup

if TYPE_CHECKING:
    from .server import TelegramStandIn


def _target(server: TelegramStandIn, params: Params) -> tuple[Chat, StoredMessage]:
    if params.has("inline_message_id"):
        raise bad_request("inline messages are not modelled by the stand-in")
    chat = resolve_chat(server, params)
    message_id = params.integer("message_id")
    msg = payloads.find_message(server.world, chat.id, message_id or 0)
    if msg is None:
        raise bad_request("message to edit not found")
    if not msg.from_bot:
        raise bad_request("message can't be edited")
    return chat, msg


def _markup(params: Params) -> dict[str, Any] | None:
    markup = params.obj("reply_markup")
    check_reply_markup(markup)
    if markup is not None and "inline_keyboard" not in markup:
        raise bad_request("inline keyboard expected")  # only inline keyboards can be edited
    return markup


def _apply(
    server: TelegramStandIn, chat: Chat, msg: StoredMessage, method: str, changes: dict[str, Any]
) -> dict[str, Any]:
    current = {k: getattr(msg, k) for k in changes}
    if current == changes:
        raise ApiError(400, NOT_MODIFIED)
    server.rate_limits.check(method, chat.id, chat.type != "private")
    for key, value in changes.items():
        setattr(msg, key, value)
    msg.edit_date = int(time.time())
    msg.edits.append(EditRecord(time.monotonic(), method, changes))
    server.notifier.notify()
    return payloads.message(msg, server.world)


async def edit_message_text(server: TelegramStandIn, params: Params) -> dict[str, Any]:
    chat, msg = _target(server, params)
    if msg.text is None:
        raise bad_request("there is no text in the message to edit")
    raw = params.text("text") or ""
    plain, entities = formatted_text(raw, params.text("parse_mode"), params.obj("entities"))
    check_length(plain, caption=False)
    changes = {"text": plain, "entities": entities, "reply_markup": _markup(params)}
    result = _apply(server, chat, msg, "editMessageText", changes)
    msg.raw, msg.parse_mode = raw, params.text("parse_mode")
    return result


async def edit_message_caption(server: TelegramStandIn, params: Params) -> dict[str, Any]:
    chat, msg = _target(server, params)
    if msg.photo is None and msg.document is None:
        raise bad_request("there is no caption in the message to edit")
    raw = params.text("caption") or ""
    plain, entities = formatted_text(raw, params.text("parse_mode"), params.obj("caption_entities"))
    check_length(plain, caption=True)
    changes = {
        "caption": plain or None,
        "caption_entities": entities,
        "reply_markup": _markup(params),
    }
    result = _apply(server, chat, msg, "editMessageCaption", changes)
    msg.raw, msg.parse_mode = raw, params.text("parse_mode")
    return result


async def edit_message_reply_markup(server: TelegramStandIn, params: Params) -> dict[str, Any]:
    chat, msg = _target(server, params)
    return _apply(server, chat, msg, "editMessageReplyMarkup", {"reply_markup": _markup(params)})


async def delete_message(server: TelegramStandIn, params: Params) -> bool:
    """The bot's own messages anywhere; members' messages in private chats, or in groups
    when the bot is an administrator (core.telegram.org/bots/api#deletemessage)."""
    chat = resolve_chat(server, params)
    msg = payloads.find_message(server.world, chat.id, params.integer("message_id") or 0)
    if msg is None:
        raise bad_request("message to delete not found")
    bot_status = chat.statuses.get(server.world.bot_user.id)
    if not msg.from_bot and chat.type != "private" and bot_status != "administrator":
        raise bad_request("message can't be deleted")
    msg.deleted = True
    msg.deleted_at = time.monotonic()
    server.notifier.notify()
    return True
