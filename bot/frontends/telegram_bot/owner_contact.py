"""Telling the bot's owner on Telegram (`OwnerContact`, used by the Wiro health checks): a
message to each user id of ``TELEGRAM_OWNER_IDS``. A user who never started the bot cannot be
written to (Bot API: 403 "bot can't initiate conversation with a user"): that is logged, and
the other owners are still told."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError

from .text import fit_html
from .throttle import Pacer

log = logging.getLogger(__name__)


class OwnerNotTold(Exception):
    """No owner could be written to (each refusal is logged)."""


class TelegramOwnerContact:
    """`OwnerContact` for Telegram: ``await contact.tell_owners("Wiro: out of credit")``."""

    def __init__(self, bot: Bot, pacer: Pacer, owner_ids: Sequence[int]) -> None:
        self._bot = bot
        self._pacer = pacer
        self.owner_ids = tuple(owner_ids)

    async def tell_owners(self, text: str) -> None:
        """Send ``text`` (plain; escaped here, within 4096) to every owner, one by one. Raises
        `OwnerNotTold` when none of them could be written to (`FrontEnds.tell_owners` logs
        it and counts this contact out)."""
        html = fit_html(["🔔 ", text])
        told = 0
        for owner_id in self.owner_ids:
            try:
                await self._pacer.send(
                    owner_id, lambda o=owner_id: self._bot.send_message(o, html), group=False
                )
            except TelegramAPIError as error:
                log.warning("Could not tell the bot's owner %s on Telegram: %s", owner_id, error)
            else:
                told += 1
        if self.owner_ids and told == 0:
            raise OwnerNotTold("no TELEGRAM_OWNER_IDS user could be written to")
