"""Telegram JSON objects built from the stand-in's state (Message, ChatMember, ...)."""

from __future__ import annotations

import io
from typing import Any

from .models import Chat, StoredFile, User, World
from .records import StoredMessage

# Telegram's photo size ladder ("s", "m", "x", "y"): the longest side of each PhotoSize.
PHOTO_SIDES = (90, 320, 800, 1280)


def message(msg: StoredMessage, world: World, *, with_reply: bool = True) -> dict[str, Any]:
    chat = world.chats[msg.chat_id]
    sender = world.users[msg.from_id]
    data: dict[str, Any] = {
        "message_id": msg.message_id,
        "from": sender.to_dict(),
        "chat": chat.to_dict(),
        "date": msg.date,
    }
    if msg.message_thread_id is not None:
        data["message_thread_id"] = msg.message_thread_id
        if msg.is_topic_message:
            data["is_topic_message"] = True
    if msg.text is not None:
        data["text"] = msg.text
        if msg.entities:
            data["entities"] = msg.entities
    if msg.photo is not None:
        data["photo"] = msg.photo
        if msg.has_media_spoiler:
            data["has_media_spoiler"] = True
    if msg.document is not None:
        data["document"] = msg.document
    if msg.caption:
        data["caption"] = msg.caption
        if msg.caption_entities:
            data["caption_entities"] = msg.caption_entities
    if msg.media_group_id:
        data["media_group_id"] = msg.media_group_id
    if msg.reply_markup and "inline_keyboard" in msg.reply_markup:
        data["reply_markup"] = msg.reply_markup
    if msg.edit_date is not None:
        data["edit_date"] = msg.edit_date
    if with_reply and msg.reply_to_message_id is not None:
        target = find_message(world, msg.chat_id, msg.reply_to_message_id, stored_only=True)
        if target is not None:
            data["reply_to_message"] = message(target, world, with_reply=False)
    return data


def find_message(
    world: World, chat_id: int, message_id: int, *, stored_only: bool = False
) -> StoredMessage | None:
    msg = world.messages.get((chat_id, message_id))
    if msg is None or (msg.deleted and not stored_only):
        return None
    return msg


def chat_member(chat: Chat, user: User) -> dict[str, Any]:
    status = chat.statuses.get(user.id, "left")
    data: dict[str, Any] = {"status": status, "user": user.to_dict()}
    if status == "creator":
        data["is_anonymous"] = False
    elif status == "administrator":
        data.update(
            can_be_edited=False,
            is_anonymous=False,
            can_manage_chat=True,
            can_delete_messages=True,
            can_manage_video_chats=True,
            can_restrict_members=True,
            can_promote_members=False,
            can_change_info=True,
            can_invite_users=True,
            can_post_stories=False,
            can_edit_stories=False,
            can_delete_stories=False,
            can_send_welcome_messages=False,
            can_pin_messages=True,
        )
        if chat.is_forum:
            data["can_manage_topics"] = True
    elif status == "kicked":
        data["until_date"] = 0
    return data


def photo_sizes(world: World, data: bytes, *, keep_original: bool) -> list[StoredFile]:
    """The PhotoSize ladder Telegram makes of a photo: JPEG re-encodes whose longest side is
    90/320/800/1280 (only those smaller than the picture), the largest last. With
    ``keep_original`` the largest is the bytes as given, at full size."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        img.load()
        rgb = img.convert("RGB")
    longest = max(rgb.size)
    top = longest if keep_original else min(longest, PHOTO_SIDES[-1])
    sides = [s for s in PHOTO_SIDES[:-1] if s < top] + [top]
    out = []
    for side in sides:
        if side == longest and keep_original:
            blob, size = data, rgb.size
        else:
            scaled = rgb.copy()
            scaled.thumbnail((side, side))
            buf = io.BytesIO()
            scaled.save(buf, format="JPEG", quality=87)
            blob, size = buf.getvalue(), scaled.size
        out.append(world.add_file(blob, kind="photos", width=size[0], height=size[1]))
    return out
