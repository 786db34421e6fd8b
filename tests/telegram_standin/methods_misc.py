"""getMe, getUpdates, webhooks, answerCallbackQuery, getFile, commands, getChatMember, and
the table of every method the stand-in answers."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from . import methods_edit, methods_send, payloads
from .errors import bad_request
from .params import Params
from .records import CallbackAnswer, CommandsCall
from .updates import Webhook
from .validation import DOWNLOAD_MAX_BYTES, check_callback_answer_text

if TYPE_CHECKING:
    from .server import TelegramStandIn

Handler = Callable[["TelegramStandIn", Params], Awaitable[Any]]
COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


async def get_me(server: TelegramStandIn, params: Params) -> dict[str, Any]:
    return server.world.bot_user.to_dict() | {
        "can_join_groups": True,
        "can_read_all_group_messages": False,  # privacy mode on, the default
        "supports_inline_queries": False,
    }


async def get_updates(server: TelegramStandIn, params: Params) -> list[dict[str, Any]]:
    if params.has("allowed_updates"):
        server.updates.allowed_updates = params.obj("allowed_updates")
    timeout = min(float(params.integer("timeout", 0) or 0), 50.0)  # LONG_POLL_MAX_TIMEOUT
    return await server.updates.get_updates(
        params.integer("offset"),
        params.integer("limit", 100) or 100,
        timeout * server.poll_timeout_scale,
        server.closing,
    )


async def set_webhook(server: TelegramStandIn, params: Params) -> bool:
    """Any http(s) URL is accepted (Telegram wants HTTPS on 443/80/88/8443; tests serve
    plain HTTP on 127.0.0.1)."""
    url = params.text("url") or ""
    if not url:
        await server.updates.delete_webhook(drop_pending=params.flag("drop_pending_updates"))
        return True
    if not url.startswith(("http://", "https://")):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = params.text("secret_token")
    if secret and not SECRET_TOKEN.match(secret):
        raise bad_request("secret token contains unallowed characters")
    webhook = Webhook(
        url,
        secret or None,
        params.obj("allowed_updates"),
        params.integer("max_connections", 40) or 40,
    )
    server.updates.set_webhook(webhook, drop_pending=params.flag("drop_pending_updates"))
    return True


async def delete_webhook(server: TelegramStandIn, params: Params) -> bool:
    await server.updates.delete_webhook(drop_pending=params.flag("drop_pending_updates"))
    return True


async def get_webhook_info(server: TelegramStandIn, params: Params) -> dict[str, Any]:
    webhook = server.updates.webhook
    info: dict[str, Any] = {
        "url": webhook.url if webhook else "",
        "has_custom_certificate": False,
        "pending_update_count": len(server.updates.pending),
    }
    if webhook:
        info["max_connections"] = webhook.max_connections
        if webhook.allowed_updates:
            info["allowed_updates"] = webhook.allowed_updates
    return info


async def answer_callback_query(server: TelegramStandIn, params: Params) -> bool:
    """One answer per query; later or unknown ids get Telegram's "query is too old" error."""
    query = server.callback_queries.get(params.text("callback_query_id") or "")
    if query is None or query.answered:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = params.text("text")
    check_callback_answer_text(text)
    query.answers.append(
        CallbackAnswer(
            time.monotonic(),
            text,
            params.flag("show_alert"),
            params.text("url"),
            params.integer("cache_time"),
        )
    )
    server.notifier.notify()
    return True


async def get_file(server: TelegramStandIn, params: Params) -> dict[str, Any]:
    stored = server.world.files.get(params.required_text("file_id"))
    if stored is None:
        raise bad_request("invalid file_id")
    if stored.size > DOWNLOAD_MAX_BYTES:
        raise bad_request("file is too big")
    return stored.file_object()


CHAT_ACTIONS = frozenset(
    (
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    )
)


async def send_chat_action(server: TelegramStandIn, params: Params) -> bool:
    """Recorded in ``server.chat_actions`` as (monotonic time, chat id, action, thread id)."""
    chat = methods_send.resolve_chat(server, params)
    action = params.required_text("action")
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    thread_id = params.integer("message_thread_id")
    server.chat_actions.append((time.monotonic(), chat.id, action, thread_id))
    server.notifier.notify()
    return True


def _scope_key(scope: Any) -> str:
    if not isinstance(scope, dict):
        return "default"
    parts = [str(scope.get("type", "default"))]
    parts += [str(scope[k]) for k in ("chat_id", "user_id") if k in scope]
    return ":".join(parts)


async def set_my_commands(server: TelegramStandIn, params: Params) -> bool:
    commands = params.obj("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("commands must be an Array of at most 100 BotCommand")
    for command in commands:
        name = command.get("command", "") if isinstance(command, dict) else ""
        description = command.get("description", "") if isinstance(command, dict) else ""
        if not COMMAND_NAME.match(name.lower()):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(description) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    scope, language = params.obj("scope"), params.text("language_code") or ""
    server.commands[(_scope_key(scope), language)] = commands
    server.commands_calls.append(CommandsCall(time.monotonic(), commands, scope, language))
    server.notifier.notify()
    return True


async def get_my_commands(server: TelegramStandIn, params: Params) -> list[dict[str, Any]]:
    key = (_scope_key(params.obj("scope")), params.text("language_code") or "")
    return server.commands.get(key, [])


async def delete_my_commands(server: TelegramStandIn, params: Params) -> bool:
    key = (_scope_key(params.obj("scope")), params.text("language_code") or "")
    server.commands.pop(key, None)
    server.commands_calls.append(CommandsCall(time.monotonic(), [], params.obj("scope"), key[1]))
    return True


async def get_chat_member(server: TelegramStandIn, params: Params) -> dict[str, Any]:
    chat_id = params.integer("chat_id")
    chat = server.world.chats.get(chat_id or 0)
    if chat is None:
        raise bad_request("chat not found")
    user = server.world.users.get(params.integer("user_id") or 0)
    if user is None:
        raise bad_request("user not found")
    return payloads.chat_member(chat, user)


METHODS: dict[str, Handler] = {
    name.lower(): handler
    for name, handler in {
        "getMe": get_me,
        "getUpdates": get_updates,
        "setWebhook": set_webhook,
        "deleteWebhook": delete_webhook,
        "getWebhookInfo": get_webhook_info,
        "sendMessage": methods_send.send_message,
        "sendPhoto": methods_send.send_photo,
        "sendDocument": methods_send.send_document,
        "sendMediaGroup": methods_send.send_media_group,
        "editMessageText": methods_edit.edit_message_text,
        "editMessageCaption": methods_edit.edit_message_caption,
        "editMessageReplyMarkup": methods_edit.edit_message_reply_markup,
        "deleteMessage": methods_edit.delete_message,
        "sendChatAction": send_chat_action,
        "answerCallbackQuery": answer_callback_query,
        "getFile": get_file,
        "setMyCommands": set_my_commands,
        "getMyCommands": get_my_commands,
        "deleteMyCommands": delete_my_commands,
        "getChatMember": get_chat_member,
    }.items()
}
