"""What every Telegram button handler shares: the job behind a press (from the ledger, so a
button works after restarts and for days), who pressed it, alerts for refusals
(``answerCallbackQuery`` with ``show_alert``: plain text, 200 characters at most) and queueing
a new version of a portrait with its kept selfie through the same limits as ``/portrait``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery

from bot.core.faces import FACE_PARAM, SavedFace
from bot.core.jobs.actions import kept_selfie
from bot.core.jobs.ledger import Job
from bot.core.request.options import PortraitOptions
from bot.services import Services

from .address import PLATFORM, TelegramAddress, requester
from .delivery import Where, post_text
from .face_views import FACE_GONE
from .gate import Gate
from .job_messages import TelegramJobMessages
from .requests import TelegramJobStarter
from .text import shorten
from .wording import limit_message

log = logging.getLogger(__name__)

ALERT_LIMIT = 200  # answerCallbackQuery text
FORGOTTEN = (
    "I no longer have this portrait (old portraits are forgotten after a while). "
    "Send a selfie with /portrait to make a new one."
)
RESTARTING = "I'm restarting; try again in a minute."
NO_SELFIE = (
    "I no longer have the selfie for this portrait (selfies are kept for a limited time). "
    "Send it again with /portrait as its caption."
)
ON_ITS_WAY = "✅ On its way!"
ADMINS = frozenset({"creator", "administrator"})


@dataclass(frozen=True)
class Tools:
    """What the handlers are given (the router's closures)."""

    services: Services
    frontend: TelegramJobMessages
    starter: TelegramJobStarter

    @property
    def bot(self) -> Bot:
        return self.frontend.bot


async def alert(query: CallbackQuery, text: str) -> None:
    """Answer the press with an alert the member has to dismiss."""
    await query.answer(shorten(text, ALERT_LIMIT), show_alert=True)


async def find_job(tools: Tools, query: CallbackQuery, job_id: int) -> Job | None:
    """The job behind a press; None (and the member told) when it is gone."""
    job = await tools.services.ledger.get(job_id)
    if job is None or job.platform != PLATFORM:
        await alert(query, FORGOTTEN)
        return None
    return job


def pressed_by_owner(job: Job, query: CallbackQuery) -> bool:
    return job.requester == requester(query.from_user.id)


async def is_chat_admin(bot: Bot, chat_id: int, chat_type: str, user_id: int) -> bool:
    """Whether the user administers the group (``getChatMember``); False in private chats and
    when Telegram cannot say."""
    if chat_type == "private":
        return False
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except TelegramAPIError as error:
        log.info("Could not check whether %s administers chat %s: %s", user_id, chat_id, error)
        return False
    return member.status in ADMINS


def pressed_where(job: Job, query: CallbackQuery) -> Where:
    """A reply to the pressed message, in its chat and (when it is the job's chat) topic."""
    message = query.message
    if message is None:
        return Where.of(TelegramAddress.of(job))
    old = TelegramAddress.of(job)
    same_chat = message.chat.id == old.chat_id
    return Where(
        chat_id=message.chat.id,
        group=message.chat.type != "private",
        thread_id=old.thread_id if same_chat else None,
        reply_to=message.message_id,
    )


def address_of_press(job: Job, query: CallbackQuery) -> TelegramAddress:
    """Where a new version asked by a press answers: the pressed message's chat and topic, as a
    reply to the pressed message."""
    where = pressed_where(job, query)
    # Without the pressed message the chat is the job's, and so is its type (never taken for
    # a private chat, where the member would administer it).
    message = query.message
    chat_type = message.chat.type if message is not None else TelegramAddress.of(job).chat_type
    return TelegramAddress(
        user_id=query.from_user.id,
        chat_id=where.chat_id,
        chat_type=str(chat_type),
        thread_id=where.thread_id,
        message_id=where.reply_to,
    )


async def start_again(
    tools: Tools,
    job: Job,
    options: PortraitOptions,
    address: TelegramAddress,
    accepted: Callable[[], Awaitable[object]] | None = None,
    origin: str | None = None,
) -> str | None:
    """Queue a new version of ``job`` with ``options`` and its kept selfie. Returns the refusal
    for the member (plain text), or None once it was queued (its status message replies at
    ``address``) or refused by the queue itself (the member is told there). Checked before
    anything is saved or spent: the bot restarting, the chat's policy (`gate`), the member's
    limits, the selfie's keep window (or, for a job made with a saved face, that the face
    still exists); ``accepted`` runs once those checks passed.
    ``origin``: the update that asked (`bot.frontends.telegram_bot.inbox`): an update handled
    again after a restart that had already queued its job queues nothing more."""
    services = tools.services
    if origin is not None and await services.ledger.job_by_origin(origin) is not None:
        log.info("Update %s already made its job; not queueing it again", origin)
        return None
    if not services.dispatcher.accepting:
        return RESTARTING
    name = str(job.params.get("member_name") or "") or "a member"
    gate = await Gate.open(services, tools.bot, address, name)
    refused = await gate.refuse_request(options)  # the chat's policy, as for /portrait
    if refused is not None:
        return refused
    now = tools.frontend.clock()
    params = {"options": options.to_params(), "member_name": name}  # for the audit log
    limit = await services.admission.over_limit(address.requester, params)
    if limit is not None:
        return limit_message(limit, now)
    selfie: bytes | SavedFace | None
    if job.params.get(FACE_PARAM) is not None:  # made with a saved face: while it exists
        selfie = await services.faces.of_job(job)
        if selfie is None:
            return FACE_GONE
    else:
        selfie = kept_selfie(job, services.selfies, now)
        if selfie is None:
            return NO_SELFIE
    if accepted is not None:
        await accepted()
    started = await tools.starter.start(
        address,
        options,
        selfie,
        member_name=name,
        selfie_expires_at=job.selfie_expires_at,
        origin=origin,
    )
    if isinstance(started, str):  # a limit reached meanwhile, or the storage failing
        await tell(tools, Where.of(address), started)
    return None


async def start_from_press(
    tools: Tools,
    query: CallbackQuery,
    job: Job,
    options: PortraitOptions,
    origin: str | None = None,
) -> None:
    """`start_again` for a button: an alert when refused, a short "on its way" when queued."""
    address = address_of_press(job, query)
    refused = await start_again(
        tools, job, options, address, accepted=lambda: query.answer(ON_ITS_WAY), origin=origin
    )
    if refused is not None:
        await alert(query, refused)


async def tell(tools: Tools, where: Where, html: str) -> None:
    """A message (Telegram HTML) at ``where``; refusals by Telegram are only logged."""
    try:
        await post_text(tools.bot, tools.frontend.pacer, where, html, retry=True)
    except TelegramAPIError as error:
        log.warning("Could not answer in chat %s: %s", where.chat_id, error)
