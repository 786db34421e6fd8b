"""The chat administrators' commands: ``/settings`` (the menus of `settings_menu`, and the text
subcommands ``block``, ``unblock`` and ``default_prompt``), ``/stats`` (figures and a chart
photo) and ``/log`` (recent audit entries).

Every command and every press of a settings button asks Telegram (``getChatMember``) whether
the member administers the chat, each time (in a private chat the member administers their
own chat). A press changes the chat of the pressed message (``callback_data`` is whatever
the client sends, so it never names a chat). Every change goes through `Policies.update` with
a `PolicyEditor`, so it is logged; a value over the bot owner's ceiling is refused
(`CapExceeded`) with that ceiling.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message, User

from bot.core.insight.chart import render_chart
from bot.core.insight.health import HealthState
from bot.core.policy.model import EffectivePolicy
from bot.core.policy.safety import EXTRA_WORD_MAX_CHARS
from bot.core.policy.service import BLOCKED_WORDS_MAX, CapExceeded, PolicyEditor
from bot.core.request.options import PROMPT_MAX_CHARS
from bot.services import Services

from .address import PLATFORM, address_of, requester
from .delivery import Where, post_text
from .gate import administers, anonymous_admin, scope_of
from .insight_text import LOG_LENGTH, chart_caption, log_text, stats_text
from .messages import refusal
from .presses import Tools, alert
from .settings_changes import ChangeRefused, change_for
from .settings_menu import (
    Menu,
    SettingsButton,
    limits_keyboard,
    limits_text,
    main_keyboard,
    main_text,
    private_keyboard,
    private_text,
    safety_keyboard,
    safety_text,
    styles_keyboard,
    styles_text,
)
from .text import fit_html
from .throttle import Pacer

log = logging.getLogger(__name__)

ADMIN_COMMANDS = ("settings", "stats", "log")
NOT_ADMIN = "Only this chat's administrators can use /{name}."
NOT_ADMIN_PRESS = "Only this chat's administrators can change its settings."
SUBCOMMANDS = (
    "I know /settings (the menus), /settings block <word>, /settings unblock <word> and "
    "/settings default_prompt <text>."
)
# What administrators are told about Wiro's health (`services.health.state`).
HEALTH_NOTICES = {
    HealthState.OUT_OF_CREDIT: (
        "The bot is out of Wiro credit: portraits fail until its owner tops up."
    ),
    HealthState.KEYS_REFUSED: (
        "Wiro refuses the bot's keys: portraits fail until its owner fixes them."
    ),
}
WORD_MAX_CHARS = EXTRA_WORD_MAX_CHARS
UNSAFE_DEFAULT = (
    "unless the chat is marked for adults, members who leave the prompt empty are refused by "
    "the safety gate."
)
LOG_SENT = "I sent you this chat's log in our private chat."
STATS_SENT = "I sent you this chat's figures in our private chat."
NOT_SENT = (
    "{what} is sent privately, and I can't write to you: open a chat with me, press Start, "
    "then send {command} here again."
)
ANONYMOUS = (
    "{what} is sent privately, and you are posting anonymously: send {command} as yourself "
    "(turn off Remain anonymous for a moment)."
)


def editor_of(user: User) -> PolicyEditor:
    return PolicyEditor(platform=PLATFORM, requester=requester(user.id), member_name=user.full_name)


def menu_view(
    menu: str, policy: EffectivePolicy, services: Services, *, page: int, title: str
) -> tuple[str, InlineKeyboardMarkup]:
    """The text and keyboard of one menu."""
    catalog = services.catalog
    if menu == Menu.STYLES:
        return styles_text(policy), styles_keyboard(policy, catalog, page)
    if menu == Menu.LIMITS:
        return limits_text(policy), limits_keyboard(policy)
    if menu == Menu.SAFETY:
        return safety_text(policy), safety_keyboard(policy)
    if menu == Menu.PRIVATE:
        return private_text(policy), private_keyboard(policy)
    notice = HEALTH_NOTICES.get(services.health.state)
    return main_text(policy, catalog, chat_title=title, notice=notice), main_keyboard(policy)


def chat_title(message: Message) -> str:
    chat = message.chat
    if chat.type == "private":
        return "your private chat"
    return chat.title or "this chat"


class AdminCommands:
    """``/settings``, ``/stats`` and ``/log`` sent as messages."""

    def __init__(self, services: Services, pacer: Pacer) -> None:
        self._services = services
        self._pacer = pacer

    async def handle(self, bot: Bot, message: Message, name: str, args: str) -> None:
        user = message.from_user
        assert user is not None
        if not anonymous_admin(message) and not await administers(
            bot, message.chat.id, message.chat.type, user.id
        ):
            await self._say(bot, message, refusal(NOT_ADMIN.format(name=name)))
            return
        if name == "stats":
            await self._stats(bot, message)
        elif name == "log":
            await self._log(bot, message)
        elif not args:
            await self._menu(bot, message)
        else:
            await self._subcommand(bot, message, user, args)

    async def _say(
        self, bot: Bot, message: Message, html: str, keyboard: InlineKeyboardMarkup | None = None
    ) -> None:
        where = Where.of(address_of(message))
        try:
            await post_text(bot, self._pacer, where, html, keyboard, retry=True)
        except TelegramAPIError as error:
            log.info("Cannot answer in chat %s: %s", message.chat.id, error)

    async def _menu(self, bot: Bot, message: Message) -> None:
        policy = await self._services.policies.effective(scope_of(message.chat.id))
        text, keyboard = menu_view(
            Menu.MAIN, policy, self._services, page=0, title=chat_title(message)
        )
        await self._say(bot, message, text, keyboard)

    async def _subcommand(self, bot: Bot, message: Message, user: User, args: str) -> None:
        head, _, rest = args.partition(" ")
        head, rest = head.casefold().replace("-", "_"), " ".join(rest.split())
        scope = scope_of(message.chat.id)
        policy = await self._services.policies.get(scope)
        changes: dict[str, Any]
        if head in ("block", "unblock"):
            word = rest.casefold()
            if not word or len(word) > WORD_MAX_CHARS:
                await self._say(
                    bot,
                    message,
                    refusal(f"Give a word or phrase of at most {WORD_MAX_CHARS} characters."),
                )
                return
            words = [w for w in policy.blocked_words if w != word]
            if head == "block":
                words.append(word)
            if len(words) > BLOCKED_WORDS_MAX or (
                head == "unblock" and word not in policy.blocked_words
            ):
                problem = (
                    f"A chat can block at most {BLOCKED_WORDS_MAX} words; unblock some first."
                    if head == "block"
                    else f"“{word}” isn't blocked here."
                )
                await self._say(bot, message, refusal(problem))
                return
            changes, done = {"blocked_words": tuple(words)}, f"{head.capitalize()}ed: “{word}”."
        elif head == "default_prompt":
            if len(rest) > PROMPT_MAX_CHARS:
                too_long = (
                    f"A default prompt holds at most {PROMPT_MAX_CHARS} characters "
                    f"(this one has {len(rest)})."
                )
                await self._say(bot, message, refusal(too_long))
                return
            changes = {"default_prompt": rest or None}
            done = f"Default prompt: “{rest}”." if rest else "No default prompt any more."
        else:
            await self._say(bot, message, refusal(SUBCOMMANDS))
            return
        refused = await _update(self._services, scope, changes, user)
        if refused is None and head == "default_prompt" and rest:
            policies = self._services.policies
            word = policies.screened_word(await policies.effective(scope), rest)
            if word is not None:
                done += f" Note: it contains “{word}”, so {UNSAFE_DEFAULT}"
        await self._say(bot, message, refusal(refused) if refused else fit_html(["✅ ", done]))

    async def _stats(self, bot: Bot, message: Message) -> None:
        """The figures and their chart; in a group they go to the administrator privately
        (they name the most active members and what the bot spends)."""
        figures = await self._services.insight.stats(scope_of(message.chat.id))
        title = chat_title(message)
        png = await asyncio.to_thread(render_chart, figures, title=title)
        chart = BufferedInputFile(png, filename="portraits-30-days.png")
        in_group = message.chat.type != "private"
        text = stats_text(figures, chat=title if in_group else None)

        async def send(chat_id: int, kwargs: dict[str, Any], group: bool) -> None:
            await self._pacer.send(
                chat_id,
                lambda: bot.send_message(chat_id, text, parse_mode="HTML", **kwargs),
                group=group,
            )
            await self._pacer.send(
                chat_id,
                lambda: bot.send_photo(chat_id, chart, caption=chart_caption(), **kwargs),
                group=group,
            )

        await self._to_administrator(bot, message, send, ("The chat's figures", "/stats"))

    async def _log(self, bot: Bot, message: Message) -> None:
        """The log goes to the administrator privately: in a group, members' prompts and
        refusals are not for everyone to read."""
        entries = await self._services.audit.recent(scope_of(message.chat.id), limit=LOG_LENGTH)
        in_group = message.chat.type != "private"
        text = log_text(entries, chat=chat_title(message) if in_group else None)

        async def send(chat_id: int, kwargs: dict[str, Any], group: bool) -> None:
            await self._pacer.send(
                chat_id,
                lambda: bot.send_message(chat_id, text, parse_mode="HTML", **kwargs),
                group=group,
            )

        await self._to_administrator(bot, message, send, ("The log", "/log"))

    async def _to_administrator(
        self,
        bot: Bot,
        message: Message,
        send: Callable[[int, dict[str, Any], bool], Awaitable[None]],
        named: tuple[str, str],
    ) -> None:
        """`send` here in a private chat, or to the administrator's private chat from a group
        (the group is told; `named`: what is sent and its command, for that note)."""
        what, command = named
        user = message.from_user
        if message.chat.type == "private" or user is None:
            where = Where.of(address_of(message))
            try:
                await send(where.chat_id, where.kwargs(), where.group)
            except TelegramAPIError as error:
                log.info("Cannot answer %s in chat %s: %s", command, message.chat.id, error)
            return
        if anonymous_admin(message):  # no one to write to
            await self._say(bot, message, refusal(ANONYMOUS.format(what=what, command=command)))
            return
        try:
            await send(user.id, {}, False)
        except TelegramAPIError as error:
            log.info("Cannot send %s of chat %s privately: %s", command, message.chat.id, error)
            await self._say(bot, message, refusal(NOT_SENT.format(what=what, command=command)))
            return
        await self._say(bot, message, fit_html([LOG_SENT if command == "/log" else STATS_SENT]))


async def _update(
    services: Services, scope: str, changes: Mapping[str, Any], user: User
) -> str | None:
    """Store the change (logged with who made it); the refusal (plain text) or None."""
    try:
        await services.policies.update(scope, changes, by=editor_of(user))
    except CapExceeded as capped:
        return capped_text(capped)
    except ValueError as error:
        log.warning("Settings change %s refused: %s", dict(changes), error)
        return "That setting can't be changed."
    log.info("Settings of %s changed by %s: %s", scope, requester(user.id), sorted(changes))
    return None


def capped_text(capped: CapExceeded) -> str:
    """The bot owner's ceiling, in the administrators' words."""
    field, cap = capped.field, capped.cap
    if field == "member_cooldown":
        return f"The bot's owner asks for at least {cap:g} s between a member's portraits."
    if field == "member_max_active":
        return f"The bot's owner allows at most {cap} portraits at once per member."
    if field == "member_daily_quota":
        return f"The bot's owner allows at most {cap} portraits per member a day."
    if field == "scope_daily_quota":
        return f"The bot's owner allows at most {cap} portraits per chat a day."
    if field == "private_styles":
        return "The bot's owner doesn't allow private models and LoRA URLs."
    if field == "adult_allowed":
        return "The bot's owner doesn't allow chats for adults (the prompt screening stays on)."
    if field in ("models", "loras", "default_model", "default_lora"):
        return "The bot's owner turned that style off."
    return f"The bot's owner doesn't allow that ({field})."


def settings_router(tools: Tools) -> Router:
    """The settings buttons; include it before the router answering unknown buttons."""
    router = Router(name="telegram-settings")
    services = tools.services

    @router.callback_query(SettingsButton.filter())
    async def pressed(query: CallbackQuery, callback_data: SettingsButton) -> None:
        message = query.message
        if not isinstance(message, Message):
            await alert(query, "This menu is too old; send /settings again.")
            return
        chat = message.chat
        if not await administers(tools.bot, chat.id, chat.type, query.from_user.id):
            await alert(query, NOT_ADMIN_PRESS)
            return
        scope = scope_of(chat.id)
        saved = None
        if callback_data.do:
            effective = await services.policies.effective(scope)
            try:
                changes, saved = change_for(callback_data, effective, services.catalog)
            except ChangeRefused as refused:
                await alert(query, refused.message)
                return
            problem = await _update(services, scope, changes, query.from_user)
            if problem is not None:
                await alert(query, problem)
                return
        await query.answer(saved)
        policy = await services.policies.effective(scope)
        text, keyboard = menu_view(
            callback_data.menu, policy, services, page=callback_data.page, title=chat_title(message)
        )
        await _edit(tools, message, text, keyboard)

    return router


async def _edit(tools: Tools, message: Message, text: str, keyboard: InlineKeyboardMarkup) -> None:
    chat_id, message_id = message.chat.id, message.message_id

    def call() -> Any:
        return tools.bot.edit_message_text(
            text=text, chat_id=chat_id, message_id=message_id, reply_markup=keyboard
        )

    try:
        await tools.frontend.pacer.edit(
            chat_id, message_id, call, group=message.chat.type != "private"
        )
    except TelegramAPIError as error:
        log.info("Could not update the settings menu in chat %s: %s", chat_id, error)


__all__ = ["ADMIN_COMMANDS", "AdminCommands", "settings_router"]
