"""A local Telegram Bot API stand-in (127.0.0.1) for end-to-end tests of the real,
unmodified aiogram client.

    async with TelegramStandIn() as telegram:
        bot = Bot(telegram.token, session=AiohttpSession(
            api=TelegramAPIServer.from_base(telegram.base_url)))
        photo = telegram.send_photo(png, caption="/portrait oil")
        reply = await telegram.wait_message(lambda m: m.photo is not None)
"""

from .errors import BLOCKED, NOT_MODIFIED, ApiError
from .faults import Fault, Faults, RateLimits
from .models import Chat, StoredFile, User, World
from .records import (
    CallbackAnswer,
    CallbackQueryRecord,
    CommandsCall,
    EditRecord,
    RequestRecord,
    SavedFile,
    StoredMessage,
    WebhookDelivery,
)
from .server import TelegramStandIn
from .text import parse_html, utf16_len
from .updates import SECRET_HEADER, UpdateQueue, Webhook

__all__ = [
    "BLOCKED",
    "NOT_MODIFIED",
    "SECRET_HEADER",
    "ApiError",
    "CallbackAnswer",
    "CallbackQueryRecord",
    "Chat",
    "CommandsCall",
    "EditRecord",
    "Fault",
    "Faults",
    "RateLimits",
    "RequestRecord",
    "SavedFile",
    "StoredFile",
    "StoredMessage",
    "TelegramStandIn",
    "UpdateQueue",
    "User",
    "Webhook",
    "WebhookDelivery",
    "World",
    "parse_html",
    "utf16_len",
]
