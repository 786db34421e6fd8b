"""Results Discord would not take anywhere, offered again from `/portrait-history`.

A kept result (state KEPT, images in `BOT_DATA_DIR/results/<job id>/`) gets a "Send again"
button in the member's history. The button is a `DynamicItem` (it works after restarts) and
only for the member who asked; it posts the portrait where the history was opened, through the
interaction (no channel permissions needed), and marks the job delivered. The job is claimed
(KEPT -> DELIVERING, a compare-and-set in the ledger) before anything is posted, so a double
click posts once; a post that fails puts it back to KEPT.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.core.jobs import PortraitImage
from bot.core.jobs.ledger import Job, JobState, StaleTransition
from bot.core.result.files import DEFAULT_UPLOAD_LIMIT, fit_within
from bot.frontends.discord_bot.address import member_id, message_ref
from bot.frontends.discord_bot.answers import always_answers
from bot.frontends.discord_bot.delivery import as_spoilers, result_embed, wants_spoilers
from bot.frontends.discord_bot.job_messages import job_result
from bot.frontends.discord_bot.result_buttons import result_view

if TYPE_CHECKING:
    from bot.frontends.discord_bot.app import PortraitBot

log = logging.getLogger(__name__)

ALREADY_DELIVERED = "This portrait has been delivered already."
# Discord allows 5 rows of 5 buttons under one message.
MAX_BUTTONS = 25


class SendAgainButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"portrait:again:(?P<job_id>[0-9]+)"
):
    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"Send #{job_id} again",
                emoji="📨",
                style=discord.ButtonStyle.primary,
                custom_id=f"portrait:again:{job_id}",
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str], /) -> SendAgainButton:  # type: ignore[override]
        return cls(int(match["job_id"]))

    @always_answers
    async def callback(self, interaction: discord.Interaction[PortraitBot]) -> None:  # type: ignore[override]
        bot = interaction.client
        job = await bot.services.ledger.get(self.job_id)
        refusal = _refusal(job, interaction.user.id)
        images = bot.results.load(self.job_id) if refusal is None else None
        if refusal is None and images is None:
            refusal = "I no longer have the images of this portrait. Use `/portrait` again."
        if refusal is not None or job is None or images is None:
            await interaction.response.send_message(refusal, ephemeral=True)
            return
        try:
            # The claim is the ledger's compare-and-set: of two clicks at once, one wins; the
            # other finds the job no longer KEPT and is told so. Nothing is posted before it.
            job = await bot.services.ledger.transition(
                job.id, JobState.DELIVERING, expected=JobState.KEPT, note="sent again"
            )
        except StaleTransition:
            await interaction.response.send_message(ALREADY_DELIVERED, ephemeral=True)
            return
        try:
            message = await self._post(interaction, job, images)
        except BaseException:
            # Not posted (Discord refused it, the bot is stopping): it stays kept for the member.
            await bot.services.ledger.transition(
                job.id, JobState.KEPT, expected=JobState.DELIVERING, note="send again failed"
            )
            raise
        await bot.services.ledger.transition(
            job.id,
            JobState.DELIVERED,
            expected=JobState.DELIVERING,
            result_message_ref=message_ref(message.id),
        )
        bot.results.delete(job.id)
        log.info("Kept result of job %s sent again as message %s", job.id, message.id)

    @staticmethod
    async def _post(
        interaction: discord.Interaction[PortraitBot], job: Job, images: tuple[PortraitImage, ...]
    ) -> discord.InteractionMessage:
        """Post the portrait where the history was opened, through the interaction."""
        bot = interaction.client
        await interaction.response.defer(thinking=True)  # public: the portrait is shown here
        guild = interaction.guild
        limit = guild.filesize_limit if guild is not None else DEFAULT_UPLOAD_LIMIT
        if wants_spoilers(job.params):
            images = as_spoilers(images)
        images = await asyncio.to_thread(fit_within, images, limit)
        catalog = bot.services.catalog
        result = job_result(job, images, discord.utils.utcnow())
        name = str(job.params.get("member_name") or interaction.user.display_name)
        return await interaction.edit_original_response(
            content=f"<@{member_id(job)}>, here is your portrait again!",
            embed=result_embed(result, catalog, name, job.id),
            attachments=[discord.File(io.BytesIO(i.data), filename=i.filename) for i in images],
            view=result_view(job.id, catalog, await bot.services.policies.effective(job.scope)),
            allowed_mentions=discord.AllowedMentions(users=[discord.Object(member_id(job))]),
        )


def _refusal(job: Job | None, user_id: int) -> str | None:
    if job is None:
        return "I no longer have this portrait (old portraits are forgotten after a while)."
    if member_id(job) != user_id:
        return f"Only <@{member_id(job)}> can have this portrait sent."
    if job.state is not JobState.KEPT:
        return ALREADY_DELIVERED
    return None


def history_view(jobs: list[Job]) -> discord.ui.View | None:
    """A "Send again" button for each kept result in the history, or None when there is none."""
    kept = [job for job in jobs if job.state is JobState.KEPT][:MAX_BUTTONS]
    if not kept:
        return None
    view = discord.ui.View(timeout=None)
    for job in kept:
        view.add_item(SendAgainButton(job.id))
    return view
