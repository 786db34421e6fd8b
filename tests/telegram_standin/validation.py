"""Checks Telegram makes before it sends anything: keyboards, photos, albums, callback
answers. Sources: the Bot API manual (limits), tdlib/telegram-bot-api ``Client.cpp`` (error
wording). Each check raises ``ApiError`` (400) with Telegram's description.
"""

from __future__ import annotations

import io
from typing import Any

from .errors import ApiError, bad_request
from .text import utf16_len

PHOTO_MAX_BYTES = 10 * 1024 * 1024  # sendPhoto: "The photo must be at most 10 MB in size"
PHOTO_MAX_SIDES_SUM = 10_000  # "The photo's width and height must not exceed 10000 in total"
PHOTO_MAX_RATIO = 20  # "Width and height ratio must be at most 20"
UPLOAD_MAX_BYTES = 50 * 1024 * 1024  # other files
DOWNLOAD_MAX_BYTES = 20 << 20  # getFile; MAX_DOWNLOAD_FILE_SIZE in telegram-bot-api
CALLBACK_DATA_MAX_BYTES = 64
CALLBACK_ANSWER_MAX = 200
MEDIA_GROUP_SIZES = range(2, 11)
MAX_BUTTONS = 100  # stand-in choice for "reply markup is too long"

# Exactly one of these makes an inline button do something (InlineKeyboardButton).
BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def _button_error(detail: str) -> ApiError:
    return bad_request(f"can't parse inline keyboard button: {detail}")


def check_inline_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise _button_error("InlineKeyboardButton must be an Object")
    if not isinstance(button.get("text"), str):
        raise _button_error('Field "text" must be of type String')
    actions = [a for a in BUTTON_ACTIONS if button.get(a) not in (None, "", False)]
    if not actions:
        raise _button_error("Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:  # Telegram silently takes the first; a bot doing this has a bug
        raise _button_error(f"more than one action: {', '.join(actions)} (stand-in check)")
    if "callback_data" in actions:
        data = button["callback_data"]
        if not isinstance(data, str) or len(data.encode()) > CALLBACK_DATA_MAX_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in actions and not str(button["url"]).startswith(("http://", "https://", "tg://")):
        raise bad_request("BUTTON_URL_INVALID")


def check_reply_markup(markup: Any) -> None:
    """InlineKeyboardMarkup (list of rows of buttons), ReplyKeyboardMarkup, ReplyKeyboardRemove
    or ForceReply."""
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise bad_request("object expected as reply markup")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                check_inline_button(button)
        if sum(len(r) for r in rows) > MAX_BUTTONS:
            raise bad_request("reply markup is too long")
    elif "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request('field "keyboard" must be an Array of Arrays')
        for row in rows:
            for button in row:
                if not isinstance(button, (str, dict)):
                    raise bad_request(
                        "can't parse keyboard button: KeyboardButton must be a String or an Object"
                    )
    elif not (markup.get("remove_keyboard") or markup.get("force_reply")):
        raise bad_request("object expected as reply markup")


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) if Pillow can read the header, else None."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except (UnidentifiedImageError, OSError):
        return None


def check_photo(data: bytes) -> tuple[int, int]:
    """sendPhoto's rules: at most 10 MB, width + height ≤ 10000, ratio ≤ 20, a real image."""
    if len(data) > PHOTO_MAX_BYTES:
        raise bad_request("PHOTO_SAVE_FILE_INVALID")  # stand-in choice of wording
    size = image_size(data)
    if size is None:
        raise bad_request("IMAGE_PROCESS_FAILED")
    width, height = size
    if width + height > PHOTO_MAX_SIDES_SUM or max(width, height) > PHOTO_MAX_RATIO * min(
        width, height
    ):
        raise bad_request("PHOTO_INVALID_DIMENSIONS")
    return size


def check_upload(data: bytes) -> None:
    if len(data) > UPLOAD_MAX_BYTES:
        raise ApiError(413, "Request Entity Too Large")


def check_media_group(media: Any) -> list[dict[str, Any]]:
    if not isinstance(media, list):
        raise bad_request("expected an Array of InputMedia")
    if len(media) not in MEDIA_GROUP_SIZES:  # stand-in wording; Telegram's comes from tdlib
        raise bad_request(f"media group must have 2-10 items, got {len(media)}")
    types = set()
    for item in media:
        if not isinstance(item, dict) or item.get("type") not in (
            "photo",
            "video",
            "document",
            "audio",
        ):
            raise bad_request("can't parse InputMedia: unsupported media type")
        types.add(item["type"])
    # Documents and audio only group with their own kind (MEDIA_GROUPED_INVALID).
    if len(types) > 1 and types & {"document", "audio"}:
        raise bad_request("can't use the media of the specified type in the album")
    return media


def check_callback_answer_text(text: str | None) -> None:
    if text and utf16_len(text) > CALLBACK_ANSWER_MAX:
        raise bad_request("MESSAGE_TOO_LONG")  # stand-in choice of wording
