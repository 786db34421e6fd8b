"""sendMessage, sendPhoto, sendDocument, sendMediaGroup: checked like Telegram checks them,
recorded as ``StoredMessage`` with every parameter and the uploaded bytes."""

from __future__ import annotations

import mimetypes
import time
from typing import TYPE_CHECKING, Any

from . import payloads
from .errors import BLOCKED, ApiError, bad_request
from .models import Chat, StoredFile
from .params import Params
from .records import SavedFile, StoredMessage
from .text import check_length, formatted_text
from .validation import check_media_group, check_photo, check_reply_markup, check_upload

if TYPE_CHECKING:
    from .server import TelegramStandIn


def resolve_chat(server: TelegramStandIn, params: Params) -> Chat:
    """The target chat; 400 "chat not found", 403 when the bot cannot write there."""
    chat_id = params.integer("chat_id")
    if chat_id is None:
        raise bad_request('parameter "chat_id" is required')
    chat = server.world.chats.get(chat_id)
    if chat is None:
        raise bad_request("chat not found")
    if chat.type == "private" and chat.blocked_bot:
        raise ApiError(403, BLOCKED)
    status = chat.statuses.get(server.world.bot_user.id, "left")
    if chat.type != "private" and status == "kicked":
        raise ApiError(403, "Forbidden: bot was kicked from the group chat")
    if chat.type != "private" and status == "left":
        raise ApiError(403, "Forbidden: bot is not a member of the group chat")
    return chat


def _reply_and_thread(
    server: TelegramStandIn, chat: Chat, params: Params
) -> tuple[int | None, dict[str, Any] | None, int | None]:
    """(reply_to_message_id, reply_parameters, message_thread_id) after Telegram's checks."""
    reply_parameters = params.obj("reply_parameters")
    reply_to = params.integer("reply_to_message_id")
    allow_without = params.flag("allow_sending_without_reply")
    if isinstance(reply_parameters, dict):
        reply_to = reply_parameters.get("message_id", reply_to)
        allow_without = bool(reply_parameters.get("allow_sending_without_reply", allow_without))
    thread_id = params.integer("message_thread_id")
    if thread_id is not None and (not chat.is_forum or thread_id not in chat.topics):
        raise bad_request("message thread not found")
    if reply_to is not None:
        target = payloads.find_message(server.world, chat.id, int(reply_to))
        if target is None:
            if not allow_without:
                raise bad_request("message to be replied not found")
            reply_to = None
        elif thread_id is None and target.message_thread_id is not None:
            thread_id = target.message_thread_id  # a reply stays in the topic
    return reply_to, reply_parameters, thread_id


def upload_of(
    server: TelegramStandIn, params: Params, value: Any, field: str
) -> SavedFile | StoredFile:
    """An uploaded part (``attach://name`` or a part named ``field``) or a known file_id."""
    if isinstance(value, str) and value.startswith("attach://"):
        part = params.files.get(value.removeprefix("attach://"))
        if part is None:
            raise bad_request(f"file must be uploaded as an InputFile: no part {value!r}")
        return part
    if value in (None, "") and field in params.files:
        return params.files[field]
    if isinstance(value, str) and value in server.world.files:
        return server.world.files[value]
    if value in (None, ""):
        raise bad_request(f"there is no {field} in the request")
    raise bad_request("wrong file identifier/HTTP URL specified")


def new_message(
    server: TelegramStandIn, chat: Chat, params: Params, method: str, *, caption: bool
) -> StoredMessage:
    """A bot message with text/caption, reply, thread and markup checked and filled in."""
    reply_to, reply_parameters, thread_id = _reply_and_thread(server, chat, params)
    markup = params.obj("reply_markup")
    check_reply_markup(markup)
    raw = params.text("caption" if caption else "text") or ""
    parse_mode = params.text("parse_mode")
    entities_param = params.obj("caption_entities" if caption else "entities")
    plain, entities = formatted_text(raw, parse_mode, entities_param)
    check_length(plain, caption=caption)
    msg = StoredMessage(
        chat_id=chat.id,
        message_id=0,
        from_id=server.world.bot_user.id,
        from_bot=True,
        date=int(time.time()),
        method=method,
        raw=raw,
        parse_mode=parse_mode,
        reply_to_message_id=reply_to,
        reply_parameters=reply_parameters,
        message_thread_id=thread_id,
        is_topic_message=thread_id is not None,
        reply_markup=markup,
        params=params.public(),
    )
    if caption:
        msg.caption, msg.caption_entities = (plain or None), entities
    else:
        msg.text, msg.entities = plain, entities
    return msg


def _photo_message(
    server: TelegramStandIn, msg: StoredMessage, upload: SavedFile | StoredFile
) -> None:
    if isinstance(upload, StoredFile) and upload.width is not None:
        same = [f for f in server.world.files.values() if f.file_unique_id == upload.file_unique_id]
        msg.photo = [f.photo_size() for f in same]
        return
    data = upload.data
    check_photo(data)
    msg.photo = [
        f.photo_size() for f in payloads.photo_sizes(server.world, data, keep_original=False)
    ]
    if isinstance(upload, SavedFile):
        msg.files.append(upload)


def _document_message(
    server: TelegramStandIn, msg: StoredMessage, upload: SavedFile | StoredFile
) -> None:
    if isinstance(upload, StoredFile):
        msg.document = upload.document()
        return
    check_upload(upload.data)
    mime = mimetypes.guess_type(upload.filename)[0] or upload.content_type
    stored = server.world.add_file(
        upload.data, kind="documents", mime_type=mime, file_name=upload.filename
    )
    msg.document = stored.document()
    msg.files.append(upload)


async def send_message(server: TelegramStandIn, params: Params) -> dict[str, Any]:
    chat = resolve_chat(server, params)
    msg = new_message(server, chat, params, "sendMessage", caption=False)
    server.rate_limits.check("sendMessage", chat.id, chat.type != "private")
    return server.store_bot_message(chat, msg)


def _spoiler(value: Any) -> bool:
    """``has_spoiler`` (sendPhoto, InputMediaPhoto): a Boolean, as Telegram checks it."""
    if value in (None, ""):
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise bad_request('field "has_spoiler" must be of type Boolean')


async def send_photo(server: TelegramStandIn, params: Params) -> dict[str, Any]:
    chat = resolve_chat(server, params)
    msg = new_message(server, chat, params, "sendPhoto", caption=True)
    _photo_message(server, msg, upload_of(server, params, params.values.get("photo"), "photo"))
    msg.has_media_spoiler = _spoiler(params.values.get("has_spoiler"))
    server.rate_limits.check("sendPhoto", chat.id, chat.type != "private")
    return server.store_bot_message(chat, msg)


async def send_document(server: TelegramStandIn, params: Params) -> dict[str, Any]:
    chat = resolve_chat(server, params)
    msg = new_message(server, chat, params, "sendDocument", caption=True)
    upload = upload_of(server, params, params.values.get("document"), "document")
    _document_message(server, msg, upload)
    server.rate_limits.check("sendDocument", chat.id, chat.type != "private")
    return server.store_bot_message(chat, msg)


async def send_media_group(server: TelegramStandIn, params: Params) -> list[dict[str, Any]]:
    """2-10 photos/documents as one album (shared ``media_group_id``); no reply_markup."""
    chat = resolve_chat(server, params)
    items = check_media_group(params.obj("media"))
    messages = []
    for item in items:
        if item["type"] not in ("photo", "document"):
            raise bad_request("can't parse InputMedia: the stand-in models photo and document")
        item_params = Params(
            values={
                **{k: v for k, v in params.values.items() if k not in ("media", "reply_markup")},
                "caption": item.get("caption") or "",
                "parse_mode": item.get("parse_mode") or "",
                "caption_entities": item.get("caption_entities") or "",
            },
            files=params.files,
        )
        msg = new_message(server, chat, item_params, "sendMediaGroup", caption=True)
        msg.params = {**params.public(), "media_item": item}
        upload = upload_of(server, params, item.get("media"), "media")
        if item["type"] == "photo":
            _photo_message(server, msg, upload)
            msg.has_media_spoiler = _spoiler(item.get("has_spoiler"))
        else:
            _document_message(server, msg, upload)
        messages.append(msg)
    server.rate_limits.check("sendMediaGroup", chat.id, chat.type != "private", len(messages))
    group_id = f"1{server.next_media_group()}"
    out = []
    for msg in messages:
        msg.media_group_id = group_id
        out.append(server.store_bot_message(chat, msg))
    return out
