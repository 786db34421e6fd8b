"""Buttons that keep working after a restart: their custom id carries the job id, and the job
itself comes from the ledger (a `DynamicItem`, registered once at start-up)."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.core.jobs.dispatcher import CancelOutcome
from bot.frontends.discord_bot.address import member_id
from bot.frontends.discord_bot.answers import always_answers

if TYPE_CHECKING:
    from bot.frontends.discord_bot.app import PortraitBot

log = logging.getLogger(__name__)

_CANCEL_REPLIES = {
    CancelOutcome.CANCELLED: "Cancelled. It was still waiting in line, so nothing was spent.",
    CancelOutcome.STOPPING: "Stopping it at Wiro… the status message will say when it's done.",
    CancelOutcome.FINISHED: "Too late to cancel: this portrait has already finished.",
    CancelOutcome.UNKNOWN: "I can't find that portrait any more.",
}


class CancelButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"portrait:cancel:(?P<job_id>[0-9]+)"
):
    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Cancel",
                style=discord.ButtonStyle.secondary,
                custom_id=f"portrait:cancel:{job_id}",
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Button[Any],
        match: re.Match[str],
        /,
    ) -> CancelButton:
        return cls(int(match["job_id"]))

    @always_answers
    async def callback(self, interaction: discord.Interaction[PortraitBot]) -> None:  # type: ignore[override]
        bot = interaction.client
        job = await bot.services.ledger.get(self.job_id)
        if job is None:
            await interaction.response.send_message(
                _CANCEL_REPLIES[CancelOutcome.UNKNOWN], ephemeral=True
            )
            return
        moderator = interaction.permissions.manage_messages
        owner = member_id(job)
        if interaction.user.id != owner and not moderator:
            await interaction.response.send_message(
                f"Only <@{owner}> or a moderator can cancel this portrait.", ephemeral=True
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        outcome = await bot.dispatcher.cancel(job.id)
        log.info("Job %s: cancel by %s -> %s", job.id, interaction.user.id, outcome)
        await interaction.edit_original_response(content=_CANCEL_REPLIES[outcome])


def status_view(job_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(job_id))
    return view
