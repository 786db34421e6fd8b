"""Every click gets an answer: one wrapper for button, select and form callbacks.

discord.py only logs an exception raised in a `DynamicItem` callback or a modal, leaving the
member's click on "thinking…" forever. `always_answers` ends every such interaction with a final,
private message: Discord's own refusals (an archived thread, a missing permission, a rate limit)
are named and logged once at WARNING; anything else is a bug, logged with its traceback.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import discord

from bot.frontends.discord_bot.errors import SORRY
from bot.frontends.discord_bot.refusals import Verdict, read_refusal

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Callback = Callable[[Item, discord.Interaction[Any]], Awaitable[None]]

DISCORD_ERRORS = (discord.HTTPException, discord.RateLimited, aiohttp.ClientError, OSError)


def always_answers(callback: Callback[Item]) -> Callback[Item]:
    """Wrap a component callback so that whatever it raises, the member gets a final word."""

    @functools.wraps(callback)
    async def answered(item: Item, interaction: discord.Interaction[Any]) -> None:
        try:
            await callback(item, interaction)
        except Exception as error:
            await answer_failure(interaction, error, what=type(item).__name__)

    return answered


async def answer_failure(
    interaction: discord.Interaction[Any], error: Exception, *, what: str
) -> None:
    """Log ``error`` once and end the interaction with a private message about it."""
    if isinstance(error, DISCORD_ERRORS):
        refusal = read_refusal(error)
        log.warning("%s: Discord refused a request (%s)", what, refusal.detail)
        if refusal.verdict is Verdict.DEAD_TOKEN:
            return  # the interaction itself is gone: nobody is waiting for an answer
        if refusal.verdict is Verdict.LATER:
            text = "Discord is busy right now, so I couldn't finish that. Please try again soon."
        else:
            text = f"I couldn't finish that: {refusal.cause}."
    else:
        log.error("Unexpected error in %s", what, exc_info=error)
        text = SORRY
    await final_word(interaction, text)


async def final_word(interaction: discord.Interaction[Any], text: str) -> None:
    """A private message that ends the interaction: the first answer, or the "thinking…"
    message replaced, or (after a form was shown) a follow-up."""
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(text, ephemeral=True)
            return
        try:
            await interaction.edit_original_response(content=text)
        except discord.HTTPException:
            await interaction.followup.send(text, ephemeral=True)
    except (*DISCORD_ERRORS, RuntimeError) as failure:
        # RuntimeError: the HTTP session is already closed (the bot is shutting down).
        log.warning("Could not give the member a final answer: %s", failure)
