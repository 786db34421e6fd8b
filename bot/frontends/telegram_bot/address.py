"""Where a Telegram job answers: the Telegram ids a job keeps in the ledger's platform-neutral
fields, and back.

The ledger stores ``platform`` = ``"telegram"``, ``requester`` = ``"telegram:<user id>"`` (a
Telegram user and a Discord user are different members), ``scope`` =
``"telegram:chat:<chat id>"``, ``reply_address`` = ``{"user_id", "chat_id", "chat_type",
"thread_id", "message_id"}`` (``thread_id``: the forum topic, or None; ``message_id``: the
member's message the answers reply to) and message references as ``"<message id>"`` or, for an
album, the ids joined by commas. Telegram has no per-request secret: ``reply_secret`` is "".
A group's daily quota (`GUILD_DAILY_QUOTA`) applies per chat; a private chat is the member's
own, where only their own limits apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.core.jobs.admission import Requester
from bot.core.jobs.ledger import Job

if TYPE_CHECKING:
    from aiogram.types import Message

PLATFORM = "telegram"
PRIVATE = "private"


def requester(user_id: int) -> str:
    """The ledger's requester key for a Telegram user."""
    return f"{PLATFORM}:{user_id}"


def message_ref(*message_ids: int) -> str:
    """Telegram message ids as the ledger's text message reference."""
    return ",".join(str(message_id) for message_id in message_ids)


def message_ids(ref: str | None) -> list[int]:
    """A ledger message reference of a Telegram job back as message ids ([] for none)."""
    return [int(part) for part in ref.split(",") if part] if ref else []


@dataclass(frozen=True)
class TelegramAddress:
    """The Telegram ids a job answers through."""

    user_id: int
    chat_id: int
    chat_type: str  # "private", "group", "supergroup" (Bot API Chat.type)
    thread_id: int | None = None  # the forum topic the request was made in
    message_id: int | None = None  # the member's message the answers reply to

    @property
    def is_private(self) -> bool:
        return self.chat_type == PRIVATE

    @property
    def requester(self) -> Requester:
        """Who asks, in the core's terms (a group's chat is the shared quota scope)."""
        scope = f"{PLATFORM}:chat:{self.chat_id}"
        return Requester(
            platform=PLATFORM,
            requester=requester(self.user_id),
            scope=scope,
            quota_scope=None if self.is_private else scope,
            reply_address={
                "user_id": self.user_id,
                "chat_id": self.chat_id,
                "chat_type": self.chat_type,
                "thread_id": self.thread_id,
                "message_id": self.message_id,
            },
        )

    @classmethod
    def of(cls, job: Job) -> TelegramAddress:
        """A Telegram job's address, read back from its ``reply_address``."""
        address = job.reply_address
        thread_id = address.get("thread_id")
        message_id = address.get("message_id")
        chat_id = int(address["chat_id"])
        # A stored address without its type: Telegram's group ids are negative, private
        # chats' are the member's own (positive) id. Never a group taken for a private chat.
        chat_type = address.get("chat_type") or (PRIVATE if chat_id > 0 else "group")
        return cls(
            user_id=int(address["user_id"]),
            chat_id=chat_id,
            chat_type=str(chat_type),
            thread_id=int(thread_id) if thread_id is not None else None,
            message_id=int(message_id) if message_id is not None else None,
        )


def thread_of(message: Message) -> int | None:
    """The forum topic a message was sent in (None outside forum topics: a supergroup's reply
    threads are not topics)."""
    return message.message_thread_id if message.is_topic_message else None


def address_of(message: Message) -> TelegramAddress:
    """Where the answers to a member's message go: replies to it, in its chat and topic."""
    user_id = message.from_user.id if message.from_user is not None else message.chat.id
    return TelegramAddress(
        user_id=user_id,
        chat_id=message.chat.id,
        chat_type=str(message.chat.type),
        thread_id=thread_of(message),
        message_id=message.message_id,
    )
