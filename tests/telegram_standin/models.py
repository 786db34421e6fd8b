"""The world the stand-in serves: the bot user, members, chats (private, group, forum
supergroup), chat member statuses and the files members or the bot uploaded.

Ids follow Telegram's conventions: users and private chats share positive ids, basic groups
are negative, supergroups are ``-100…``; message ids count up per chat; forum topics are
identified by the id of the message that created them (``message_thread_id``).
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from typing import Any

from .records import StoredMessage

MEMBER_STATUSES = ("creator", "administrator", "member", "left", "kicked")


@dataclass(eq=False)  # hashable by identity: used as dict keys
class User:
    id: int
    first_name: str
    username: str | None = None
    is_bot: bool = False
    language_code: str | None = "en"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.username:
            data["username"] = self.username
        if self.language_code and not self.is_bot:
            data["language_code"] = self.language_code
        return data


@dataclass
class Chat:
    id: int
    type: str  # "private", "group", "supergroup"
    title: str | None = None
    user: User | None = None  # the other side of a private chat
    is_forum: bool = False
    statuses: dict[int, str] = field(default_factory=dict)  # user id -> member status
    topics: dict[int, str] = field(default_factory=dict)  # message_thread_id -> topic name
    blocked_bot: bool = False  # private chat whose user blocked the bot
    next_message_id: int = 1

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private" and self.user is not None:
            data["first_name"] = self.user.first_name
            if self.user.username:
                data["username"] = self.user.username
        else:
            data["title"] = self.title or ""
        if self.is_forum:
            data["is_forum"] = True
        return data

    def new_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


@dataclass
class StoredFile:
    """A file Telegram keeps: served by ``getFile`` and ``/file/bot<token>/<file_path>``."""

    file_id: str
    file_unique_id: str
    data: bytes = field(repr=False)
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None
    width: int | None = None
    height: int | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    def photo_size(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "width": self.width or 0,
            "height": self.height or 0,
            "file_size": self.size,
        }

    def document(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
        }
        if self.file_name:
            data["file_name"] = self.file_name
        if self.mime_type:
            data["mime_type"] = self.mime_type
        return data

    def file_object(self, *, with_path: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
        }
        if with_path:
            data["file_path"] = self.file_path
        return data


class World:
    """Users, chats and files. ``add_*`` before or while the bot runs."""

    def __init__(self, bot_id: int, bot_username: str) -> None:
        self.bot_user = User(bot_id, "Portrait Test Bot", bot_username, is_bot=True)
        self.users: dict[int, User] = {bot_id: self.bot_user}
        self.chats: dict[int, Chat] = {}
        self.files: dict[str, StoredFile] = {}
        self.messages: dict[tuple[int, int], StoredMessage] = {}  # (chat id, message id)
        self._user_ids = itertools.count(1001)
        self._group_ids = itertools.count(4_000_001)
        self._supergroup_ids = itertools.count(1_000_000_001)
        self._file_numbers = itertools.count(1)

    def add_user(self, first_name: str, username: str | None = None) -> User:
        user = User(next(self._user_ids), first_name, username)
        self.users[user.id] = user
        return user

    def private_chat(self, user: User) -> Chat:
        """The private chat of ``user`` with the bot (created on first use)."""
        chat = self.chats.get(user.id)
        if chat is None:
            chat = Chat(user.id, "private", user=user)
            chat.statuses = {user.id: "member", self.bot_user.id: "member"}
            self.chats[chat.id] = chat
        return chat

    def add_group(
        self,
        title: str,
        members: dict[User, str] | None = None,
        *,
        supergroup: bool = False,
        forum: bool = False,
        bot_status: str = "member",
    ) -> Chat:
        """A group (``supergroup=True`` or ``forum=True`` for a supergroup); ``members`` maps
        users to statuses from ``MEMBER_STATUSES``."""
        if supergroup or forum:
            chat_id = -(1_000_000_000_000 + next(self._supergroup_ids))
            chat = Chat(chat_id, "supergroup", title, is_forum=forum)
        else:
            chat = Chat(-next(self._group_ids), "group", title)
        chat.statuses[self.bot_user.id] = bot_status
        for user, status in (members or {}).items():
            if status not in MEMBER_STATUSES:
                raise ValueError(f"unknown member status {status!r}")
            chat.statuses[user.id] = status
        self.chats[chat.id] = chat
        return chat

    def add_topic(self, chat: Chat, name: str) -> int:
        """A forum topic; returns its ``message_thread_id`` (the id of its creation message)."""
        if not chat.is_forum:
            raise ValueError(f"chat {chat.id} is not a forum")
        thread_id = chat.new_message_id()
        chat.topics[thread_id] = name
        return thread_id

    def add_file(
        self,
        data: bytes,
        *,
        kind: str,
        mime_type: str | None = None,
        file_name: str | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> StoredFile:
        """Store bytes under a fresh ``file_id``; ``kind`` names the folder of ``file_path``
        ("photos", "documents")."""
        number = next(self._file_numbers)
        digest = hashlib.sha256(data).hexdigest()
        ext = _extension(kind, mime_type, file_name)
        stored = StoredFile(
            file_id=f"{'AgAC' if kind == 'photos' else 'BQAC'}{number:06d}{digest[:24]}",
            file_unique_id=f"AQAD{digest[:12]}{number}",
            data=data,
            file_path=f"{kind}/file_{number}{ext}",
            mime_type=mime_type,
            file_name=file_name,
            width=width,
            height=height,
        )
        self.files[stored.file_id] = stored
        return stored

    def file_by_path(self, file_path: str) -> StoredFile | None:
        return next((f for f in self.files.values() if f.file_path == file_path), None)


def _extension(kind: str, mime_type: str | None, file_name: str | None) -> str:
    if file_name and "." in file_name:
        return "." + file_name.rsplit(".", 1)[1].lower()
    if kind == "photos":
        return ".jpg"
    known = {"image/png": ".png", "image/jpeg": ".jpg", "image/heic": ".heic"}
    return known.get(mime_type or "", "")
