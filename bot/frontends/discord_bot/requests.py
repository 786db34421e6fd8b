"""Turning an acknowledged Discord request into a queued job through the core's `Admission`:
the one path shared by `/portrait` and every result button that starts new work, so all of
them go through the same limits, quotas and queue."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import discord

from bot.core.faces import SavedFace
from bot.core.jobs.admission import LimitReached, NotSaved, Requester
from bot.core.jobs.ledger import Job
from bot.core.request.options import PortraitOptions
from bot.core.request.selfie import PreparedSelfie
from bot.frontends.discord_bot.address import DiscordAddress, quota_scope
from bot.frontends.discord_bot.reply import ReplyTarget
from bot.frontends.discord_bot.text import fit_content
from bot.frontends.discord_bot.wording import limit_message

if TYPE_CHECKING:
    from bot.frontends.discord_bot.app import PortraitBot

ACCEPTED = (
    "✅ Selfie accepted. Your portrait is on its way: watch its progress below.\n"
    "-# Location data and other metadata were removed from your photo."
)
NOT_SAVED = (
    "❌ I couldn't save your request: the bot's storage is full or failing. Nothing was sent "
    "to Wiro; please try again later."
)


def requester_of(interaction: discord.Interaction) -> Requester:
    """Who asks and where the answer goes, in the ledger's terms."""
    target = ReplyTarget.of(interaction)
    address = DiscordAddress(
        user_id=interaction.user.id,
        guild_id=interaction.guild_id,
        channel_id=target.channel_id,
        interaction_id=interaction.id,
        token_expires_at=target.expires_at,
    )
    fields = address.job_fields(interaction.token)
    return Requester(
        platform=fields["platform"],
        requester=fields["requester"],
        scope=fields["scope"],
        quota_scope=quota_scope(interaction.guild_id),
        reply_address=fields["reply_address"],
        reply_secret=fields["reply_secret"],
    )


class JobStarter:
    def __init__(self, bot: PortraitBot) -> None:
        self._bot = bot

    async def over_limit(self, interaction: discord.Interaction) -> str | None:
        """The message for the first fair-use limit the member is over, if any (a cooldown
        is not one: the job waits for it)."""
        limit = await self._bot.services.admission.over_limit(requester_of(interaction))
        return limit_message(limit) if limit is not None else None

    async def start(
        self,
        interaction: discord.Interaction,
        options: PortraitOptions,
        selfie: PreparedSelfie | SavedFace,
        *,
        selfie_expires_at: datetime | None = None,
        accepted: str = ACCEPTED,
        spoiler: bool = False,
    ) -> Job | None:
        """Queue the job (`Admission.admit`) and post its status message; None if refused.
        `spoiler`: post the result's images as spoilers (the server's policy, outside
        age-restricted channels). `selfie` may be one of the member's saved faces: the job
        then names it, and it is decrypted only when the job starts.

        `interaction` must already be deferred (ephemerally)."""
        target = ReplyTarget.of(interaction)

        async def post_status(job: Job, position: int | None) -> str | None:
            await interaction.edit_original_response(content=accepted)
            return await self._bot.job_messages.post_status(job, position)

        try:
            return await self._bot.services.admission.admit(
                requester_of(interaction),
                {
                    "options": options.to_params(),
                    "member_name": target.member_name,
                    **({"spoiler": True} if spoiler else {}),
                },
                selfie if isinstance(selfie, SavedFace) else selfie.data,
                selfie_expires_at=selfie_expires_at,
                post_status=post_status,
            )
        except LimitReached as limit:
            await interaction.edit_original_response(content=fit_content(limit_message(limit)))
        except NotSaved:
            await interaction.edit_original_response(content=NOT_SAVED)
        return None
