"""The test side: act as members (send text, photos, files; reply; press buttons) and as
Telegram (block the bot, add users and chats). Each action stores the member's message and
queues the update the bot would get, served by getUpdates or pushed to the webhook.

Privacy mode (on by default, as for a new bot): in groups the bot gets only commands
(``/cmd``, ``/cmd@PortraitTestBot``; a photo whose caption starts with a command counts),
replies to its own messages and messages mentioning it; a bot that is an administrator gets
everything (core.telegram.org/bots/features#privacy-mode). Private chats deliver everything.
Set ``standin.privacy_mode = False`` for a bot with privacy mode disabled.
"""

from __future__ import annotations

import itertools
import mimetypes
import re
import time
from typing import TYPE_CHECKING, Any

from . import payloads
from .models import Chat, User
from .records import CallbackQueryRecord, StoredMessage
from .text import utf16_len

if TYPE_CHECKING:
    from .models import World
    from .records import Notifier
    from .updates import UpdateQueue

COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]+))?")
_query_ids = itertools.count(4_200_000_000_000_000_001)

ChatLike = Chat | int | None
UserLike = User | int | None


class MemberActions:
    """Mixed into ``TelegramStandIn``."""

    world: World
    updates: UpdateQueue
    notifier: Notifier
    callback_queries: dict[str, CallbackQueryRecord]
    private: Chat
    alice: User
    privacy_mode: bool = True

    # --- world --------------------------------------------------------------------------
    def add_user(self, first_name: str, username: str | None = None) -> User:
        return self.world.add_user(first_name, username)

    def add_group(
        self,
        title: str,
        members: dict[User, str] | None = None,
        *,
        supergroup: bool = False,
        forum: bool = False,
        bot_status: str = "member",
    ) -> Chat:
        """Statuses: "creator", "administrator", "member", "left", "kicked"."""
        return self.world.add_group(
            title, members, supergroup=supergroup, forum=forum, bot_status=bot_status
        )

    def add_topic(self, chat: Chat, name: str) -> int:
        return self.world.add_topic(chat, name)

    def private_chat(self, user: User) -> Chat:
        return self.world.private_chat(user)

    def block_bot(self, user: User, blocked: bool = True) -> None:
        """``user`` blocks the bot: sends to their private chat get 403 "Forbidden: bot was
        blocked by the user" (``blocked=False`` unblocks)."""
        self.world.private_chat(user).blocked_bot = blocked

    # --- resolving --------------------------------------------------------------------------
    def _chat(self, chat: ChatLike) -> Chat:
        if chat is None:
            return self.private
        return chat if isinstance(chat, Chat) else self.world.chats[int(chat)]

    def _user(self, user: UserLike, chat: Chat) -> User:
        if user is None:
            return chat.user if chat.type == "private" and chat.user else self.alice
        return user if isinstance(user, User) else self.world.users[int(user)]

    def _message(self, chat: Chat, message: StoredMessage | int) -> StoredMessage:
        message_id = message.message_id if isinstance(message, StoredMessage) else message
        msg = payloads.find_message(self.world, chat.id, message_id)
        if msg is None:
            raise ValueError(f"no message {message_id} in chat {chat.id}")
        return msg

    # --- acting as members ----------------------------------------------------------------------
    def _post(
        self,
        chat: ChatLike,
        user: UserLike,
        reply_to: StoredMessage | int | None,
        thread_id: int | None,
        fill: dict[str, Any],
    ) -> StoredMessage:
        target = self._chat(chat)
        sender = self._user(user, target)
        reply_msg = self._message(target, reply_to) if reply_to is not None else None
        if thread_id is None and reply_msg is not None:
            thread_id = reply_msg.message_thread_id
        if thread_id is not None and thread_id not in target.topics:
            raise ValueError(f"chat {target.id} has no topic {thread_id}")
        msg = StoredMessage(
            chat_id=target.id,
            message_id=target.new_message_id(),
            from_id=sender.id,
            from_bot=False,
            date=int(time.time()),
            reply_to_message_id=reply_msg.message_id if reply_msg else None,
            message_thread_id=thread_id,
            is_topic_message=thread_id is not None,
            **fill,
        )
        self.world.messages[(target.id, msg.message_id)] = msg
        if self._bot_sees(target, msg, reply_msg):
            update = self.updates.push("message", payloads.message(msg, self.world))
            msg.update_id = update["update_id"]
        self.notifier.notify()
        return msg

    def _bot_sees(self, chat: Chat, msg: StoredMessage, reply_to: StoredMessage | None) -> bool:
        if chat.type == "private" or not self.privacy_mode:
            return True
        bot_status = chat.statuses.get(self.world.bot_user.id)
        if bot_status in ("left", "kicked"):
            return False
        if bot_status == "administrator":  # privacy mode does not apply to admin bots
            return True
        content = msg.content
        command = COMMAND.match(content)
        username = self.world.bot_user.username or ""
        if command and (command[2] is None or command[2].lower() == username.lower()):
            return True
        if reply_to is not None and reply_to.from_bot:
            return True
        return f"@{username}".lower() in content.lower()

    @staticmethod
    def _command_entities(text: str) -> list[dict[str, Any]]:
        match = COMMAND.match(text)
        return (
            [{"type": "bot_command", "offset": 0, "length": utf16_len(match[0])}] if match else []
        )

    def send_text(
        self,
        text: str,
        *,
        chat: ChatLike = None,
        user: UserLike = None,
        reply_to: StoredMessage | int | None = None,
        thread_id: int | None = None,
    ) -> StoredMessage:
        """A text message (``/command`` gets its bot_command entity). Default chat: alice's
        private chat; default user: the private chat's user, else alice."""
        fill = {"text": text, "entities": self._command_entities(text)}
        return self._post(chat, user, reply_to, thread_id, fill)

    def send_photo(
        self,
        image: bytes,
        *,
        caption: str | None = None,
        chat: ChatLike = None,
        user: UserLike = None,
        reply_to: StoredMessage | int | None = None,
        thread_id: int | None = None,
        as_document: bool = False,
        file_name: str = "photo.jpg",
        mime_type: str | None = None,
        keep_original: bool = False,
        media_group_id: str | None = None,
    ) -> StoredMessage:
        """A photo as the app sends it: compressed (``message.photo``: JPEG sizes up to 1280
        px, the largest last; ``keep_original=True`` keeps the given bytes as the largest)
        or, with ``as_document=True``, untouched as ``message.document`` (HEIC stays HEIC).
        ``media_group_id``: one item of an album the member sent at once (Telegram gives the
        caption to one item only and delivers each item as its own update)."""
        if as_document:
            return self.send_document(
                image,
                file_name=file_name,
                mime_type=mime_type,
                caption=caption,
                chat=chat,
                user=user,
                reply_to=reply_to,
                thread_id=thread_id,
            )
        sizes = payloads.photo_sizes(self.world, image, keep_original=keep_original)
        fill: dict[str, Any] = {"photo": [f.photo_size() for f in sizes]}
        if media_group_id is not None:
            fill["media_group_id"] = media_group_id
        if caption:
            fill |= {"caption": caption, "caption_entities": self._command_entities(caption)}
        return self._post(chat, user, reply_to, thread_id, fill)

    def send_document(
        self,
        data: bytes,
        *,
        file_name: str,
        mime_type: str | None = None,
        caption: str | None = None,
        chat: ChatLike = None,
        user: UserLike = None,
        reply_to: StoredMessage | int | None = None,
        thread_id: int | None = None,
    ) -> StoredMessage:
        """A file sent "as a file": ``message.document`` with ``file_name`` and ``mime_type``
        (guessed from the name if not given)."""
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        stored = self.world.add_file(data, kind="documents", mime_type=mime, file_name=file_name)
        fill: dict[str, Any] = {"document": stored.document()}
        if caption:
            fill |= {"caption": caption, "caption_entities": self._command_entities(caption)}
        return self._post(chat, user, reply_to, thread_id, fill)

    def reply_to_message(
        self,
        message: StoredMessage,
        text: str,
        *,
        user: UserLike = None,
    ) -> StoredMessage:
        """A text reply to ``message`` (in its chat and topic)."""
        return self.send_text(text, chat=message.chat_id, user=user, reply_to=message)

    def press_button(
        self,
        message: StoredMessage,
        callback_data: str,
        *,
        user: UserLike = None,
        check: bool = True,
    ) -> CallbackQueryRecord:
        """Press the inline button carrying ``callback_data`` on the bot's ``message``: a
        ``callback_query`` update. ``check=False`` allows data that is not on the message
        (an old keyboard, a forged press)."""
        chat = self._chat(message.chat_id)
        presser = self._user(user, chat)
        current = self._message(chat, message)
        if check and callback_data not in current.callback_datas():
            raise ValueError(f"no button {callback_data!r} on message {current.message_id}")
        query_id = str(next(_query_ids))
        payload = {
            "id": query_id,
            "from": presser.to_dict(),
            "message": payloads.message(current, self.world),
            "chat_instance": str(abs(chat.id) * 7919),
            "data": callback_data,
        }
        update = self.updates.push("callback_query", payload)
        record = CallbackQueryRecord(
            query_id, update["update_id"], chat.id, current.message_id, presser.id, callback_data
        )
        self.callback_queries[query_id] = record
        return record
