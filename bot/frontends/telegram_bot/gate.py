"""The chat's policy in front of every request that would start work on Telegram: ``/portrait``
(and a captionless photo in a private chat), Edit prompt's reply and every result button.

Checked before a selfie is read, a limit is counted or anything is spent, in this order: who
may use the bot here (`EffectivePolicy.may_use`: only the chat's administrators when
``admins_only``), then the request itself (`Policies.check_request`: styles offered, private
styles, the LoRA URL allowlist, the safety gate unless the chat is for adults). A refusal is
recorded in the audit log (``outcome="refused"``, ``reason`` = the `RefusalKind`) and worded
here for the member (plain text; escape it before sending as HTML).

Who administers a chat comes from ``getChatMember`` at use (never remembered): in a private
chat the member is the administrator of their own chat.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Message

from bot.core.catalog import Catalog
from bot.core.insight.audit import place_of, style_of
from bot.core.policy.model import (
    EffectivePolicy,
    Place,
    PolicyRefusal,
    PrivateStyles,
    RefusalKind,
)
from bot.core.request.options import PortraitOptions
from bot.services import Services

from .address import PRIVATE, TelegramAddress

log = logging.getLogger(__name__)

ADMIN_STATUSES = frozenset({"creator", "administrator"})
ADMINS_ONLY = "In this chat only its administrators can use the bot."
PRIVATE_STYLES = (
    "Private models, private LoRAs and LoRA URLs can't be used here (the chat's settings or "
    "the bot's owner don't allow them for you)."
)
CHANNEL = "The bot doesn't answer here."
_ADMIN_MODES = (PrivateStyles.ADMINS, PrivateStyles.ROLES)  # ROLES: Discord's; admins here


async def administers(bot: Bot, chat_id: int, chat_type: str, user_id: int) -> bool:
    """Whether the user administers the chat (``getChatMember``: creator or administrator);
    True in a private chat (their own); False when Telegram cannot say."""
    if chat_type == PRIVATE:
        return True
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except TelegramAPIError as error:
        log.info("Could not check whether %s administers chat %s: %s", user_id, chat_id, error)
        return False
    return member.status in ADMIN_STATUSES


def anonymous_admin(message: Message) -> bool:
    """Sent by an anonymous administrator of its group: Telegram then puts the group itself
    in ``sender_chat`` (and a placeholder bot in ``from_user``, whom ``getChatMember`` does
    not know as an administrator). Only Telegram sets ``sender_chat``."""
    sender = message.sender_chat
    return sender is not None and sender.id == message.chat.id and message.chat.type != PRIVATE


def scope_of(chat_id: int) -> str:
    """The ledger's scope of a Telegram chat (as `TelegramAddress.requester.scope`)."""
    return f"telegram:chat:{chat_id}"


@dataclass(frozen=True)
class Gate:
    """One request's check: the chat's effective policy and where the member asks."""

    services: Services
    address: TelegramAddress
    effective: EffectivePolicy
    place: Place
    member_name: str

    @classmethod
    async def open(
        cls, services: Services, bot: Bot, address: TelegramAddress, member_name: str
    ) -> Gate:
        """Read the chat's policy, and ask Telegram whether the member administers the chat
        only when the policy depends on it (admins only, private styles for admins)."""
        scope = address.requester.scope
        effective = await services.policies.effective(scope)
        policy = effective.scope
        needs_admin = policy.admins_only or policy.private_styles in _ADMIN_MODES
        is_admin = address.is_private or (
            needs_admin
            and await administers(bot, address.chat_id, address.chat_type, address.user_id)
        )
        place = Place(
            channel=str(address.chat_id),
            age_restricted=False,  # Telegram has no age-restricted chats: `adult_chat`
            is_admin=is_admin,
        )
        return cls(services, address, effective, place, member_name)

    @property
    def spoiler(self) -> bool:
        return spoiler_results(self.effective)

    async def refuse_use(
        self, options: PortraitOptions | None = None, *, private_inputs: bool = False
    ) -> str | None:
        """The refusal (plain text) when the member may not use the bot in this chat (or,
        with `private_inputs`, the private styles they gave)."""
        refused = self.effective.may_use(self.place, private_inputs=private_inputs)
        if refused is None:
            return None
        return await self._refused(refused, options)

    async def refuse_request(self, options: PortraitOptions) -> str | None:
        """`refuse_use`, then the request's own checks; the refusal (plain text) or None."""
        refused = await self.refuse_use(options)
        if refused is not None:
            return refused
        try:
            await self.services.policies.check_request(
                self.address.requester.scope, self.place, options
            )
        except PolicyRefusal as refusal:
            return await self._refused(refusal, options)
        return None

    async def _refused(self, refusal: PolicyRefusal, options: PortraitOptions | None) -> str:
        log.info(
            "Telegram request by %s in chat %s refused by policy: %s",
            self.address.requester.requester,
            self.address.chat_id,
            refusal.kind.value,
        )
        try:
            await self.services.audit.request(
                self.address.requester,
                member_name=self.member_name,
                place=place_of(self.address.requester.reply_address),
                prompt=options.prompt if options is not None else "",
                style=style_of(options.to_params()) if options is not None else "",
                outcome="refused",
                reason=refusal.kind.value,
            )
        except Exception:  # the log must never stop the answer
            log.exception("Could not record a refused request in the audit log")
        return refusal_text(refusal, self.services.catalog, self.effective)


def spoiler_results(effective: EffectivePolicy) -> bool:
    """Results are posted as spoilers: the chat asks for it and is not for adults."""
    return effective.scope.spoiler_results and not effective.adult_chat


def refusal_text(refusal: PolicyRefusal, catalog: Catalog, effective: EffectivePolicy) -> str:
    """A policy refusal in a Telegram member's words (plain text)."""
    kind, detail = refusal.kind, refusal.detail
    if kind is RefusalKind.ADMINS_ONLY:
        return ADMINS_ONLY
    if kind in (RefusalKind.MODEL, RefusalKind.LORA):
        what = "model" if kind is RefusalKind.MODEL else "LoRA"
        lookup = catalog.model if kind is RefusalKind.MODEL else catalog.lora
        found = lookup(detail[0]) if detail else None
        name = found.readable_name if found else (detail[0] if detail else "that")
        return f"The {what} {name} isn't offered in this chat. /styles shows the ones you can use."
    if kind is RefusalKind.PRIVATE_STYLES:
        return PRIVATE_STYLES
    if kind is RefusalKind.LORA_URL_HOST:
        # The core's reason: what is wrong with this URL (its port, a password, the host...).
        if detail:
            return f"That LoRA URL can't be used. {detail[0]}"
        hosts = ", ".join(effective.caps.lora_url_hosts) or "none"
        return (
            "That LoRA URL can't be used: it must start with https:// and point at one of "
            f"these hosts: {hosts}."
        )
    if kind is RefusalKind.UNSAFE_PROMPT:
        word = f' ("{detail[0]}")' if detail else ""
        return (
            f"I can't make that here: the prompt has a word{word} that isn't allowed in this "
            "chat. Nothing was spent; please change the prompt."
        )
    return CHANNEL
