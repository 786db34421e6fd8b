"""What the bot did: messages (sent, edited, deleted), callback answers, command lists,
webhook deliveries and every HTTP request. Timestamps are ``time.monotonic()``.

Waiting is event based (the Discord stand-in's ``Notifier``): records notify on every
change and ``wait_for`` re-checks its predicate only then.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.discord_standin.records import Notifier

__all__ = [
    "CallbackAnswer",
    "CallbackQueryRecord",
    "CommandsCall",
    "EditRecord",
    "Notifier",
    "RequestRecord",
    "SavedFile",
    "StoredMessage",
    "WebhookDelivery",
]


@dataclass
class SavedFile:
    """A file the bot uploaded (multipart part), bytes as received."""

    field: str
    filename: str
    data: bytes = field(repr=False)
    content_type: str | None
    path: Path | None = None  # set when the stand-in was given a save_dir

    @property
    def size(self) -> int:
        return len(self.data)

    def open_image(self) -> Any:
        """The upload as a Pillow image (Pillow imported lazily)."""
        from PIL import Image

        return Image.open(io.BytesIO(self.data))


@dataclass
class EditRecord:
    """One accepted edit: the method and the fields it changed."""

    at: float
    method: str
    changes: dict[str, Any]


@dataclass
class StoredMessage:
    """A message in a chat, from a member (``from_bot=False``) or from the bot."""

    chat_id: int
    message_id: int
    from_id: int
    from_bot: bool
    date: int
    method: str | None = None  # the bot's method that created it ("sendPhoto"), else None
    text: str | None = None  # plain text after entity parsing
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    raw: str | None = None  # text/caption exactly as the bot sent it (HTML source)
    parse_mode: str | None = None
    photo: list[dict[str, Any]] | None = None  # PhotoSize dicts, the last is the largest
    document: dict[str, Any] | None = None
    has_media_spoiler: bool = False  # a photo sent with has_spoiler (blurred until tapped)
    media_group_id: str | None = None
    reply_to_message_id: int | None = None
    reply_parameters: dict[str, Any] | None = None
    message_thread_id: int | None = None
    is_topic_message: bool = False
    reply_markup: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)  # every parameter of the call
    files: list[SavedFile] = field(default_factory=list)  # what the bot uploaded for it
    created_at: float = field(default_factory=time.monotonic)
    edit_date: int | None = None
    edits: list[EditRecord] = field(default_factory=list)
    deleted: bool = False
    deleted_at: float | None = None
    update_id: int | None = None  # member messages: the update that carried it (None: the
    # bot never got it, e.g. group chatter hidden by privacy mode)

    @property
    def content(self) -> str:
        """Text or caption (plain), "" if none."""
        return self.text if self.text is not None else (self.caption or "")

    def callback_datas(self) -> list[str]:
        """Every ``callback_data`` of the inline keyboard, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [b["callback_data"] for row in rows for b in row if "callback_data" in b]

    def button_texts(self) -> list[str]:
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [b.get("text", "") for row in rows for b in row]

    def entity_types(self) -> list[str]:
        return [e["type"] for e in (self.entities or self.caption_entities)]


@dataclass
class CallbackAnswer:
    at: float
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None


@dataclass
class CallbackQueryRecord:
    """A button press made by ``press_button``; ``answers`` holds answerCallbackQuery calls."""

    id: str
    update_id: int
    chat_id: int
    message_id: int
    user_id: int
    data: str
    sent_at: float = field(default_factory=time.monotonic)
    answers: list[CallbackAnswer] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return bool(self.answers)


@dataclass
class CommandsCall:
    at: float
    commands: list[dict[str, Any]]
    scope: dict[str, Any] | None
    language_code: str | None


@dataclass
class WebhookDelivery:
    at: float
    update_id: int
    status: int | None  # None: connection failed
    secret_header: str | None


@dataclass
class RequestRecord:
    """Every HTTP request the stand-in answered, in arrival order (tokens left out)."""

    http_method: str
    method: str  # Bot API method name as sent ("sendMessage"), or "file" for downloads
    started_at: float
    params: dict[str, Any] = field(default_factory=dict)
    files: list[SavedFile] = field(default_factory=list)
    status: int = 0
    description: str | None = None  # the error description when ok=false
    finished_at: float | None = None
    fault: str | None = None  # the injected fault that answered, if any

    @property
    def has_files(self) -> bool:
        return bool(self.files)

    @property
    def chat_id(self) -> str | None:
        value = self.params.get("chat_id")
        return None if value is None else str(value)
