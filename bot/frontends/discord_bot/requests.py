"""Turning an acknowledged Discord request into a queued job: the one path shared by `/portrait`
and every result button that starts new work, so all of them go through the same limits,
quotas and queue."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import discord

from bot.core.jobs.ledger import Job, LedgerError, utc_now
from bot.core.jobs.limits import LimitReached, check_fair_use
from bot.core.request.options import PortraitOptions
from bot.core.request.selfie import PreparedSelfie
from bot.frontends.discord_bot.address import DiscordAddress, message_ref, quota_scope, requester
from bot.frontends.discord_bot.reply import ReplyTarget
from bot.frontends.discord_bot.text import fit_content

if TYPE_CHECKING:
    from bot.frontends.discord_bot.app import PortraitBot

log = logging.getLogger(__name__)

ACCEPTED = (
    "✅ Selfie accepted. Your portrait is on its way: watch its progress below.\n"
    "-# Location data and other metadata were removed from your photo."
)
NOT_SAVED = (
    "❌ I couldn't save your request: the bot's storage is full or failing. Nothing was sent "
    "to Wiro; please try again later."
)


class JobStarter:
    def __init__(self, bot: PortraitBot) -> None:
        self._bot = bot
        self._admission = asyncio.Lock()

    async def over_limit(self, interaction: discord.Interaction) -> str | None:
        """The message for the first fair-use limit the member is over, if any (a cooldown
        is not one: the job waits for it)."""
        try:
            await self._start_time(interaction)
        except LimitReached as limit:
            return limit.message
        return None

    async def _start_time(self, interaction: discord.Interaction) -> datetime | None:
        """When a new job of this member may start (None: now); raises `LimitReached`."""
        services = self._bot.services
        return await check_fair_use(
            services.ledger,
            services.fair_use,
            requester=requester(interaction.user.id),
            quota_scope=quota_scope(interaction.guild_id),
            now=utc_now(),
        )

    async def start(
        self,
        interaction: discord.Interaction,
        options: PortraitOptions,
        selfie: PreparedSelfie,
        *,
        selfie_expires_at: datetime | None = None,
        accepted: str = ACCEPTED,
    ) -> Job | None:
        """Save the selfie, queue the job and post its status message; None if refused.

        `interaction` must already be deferred (ephemerally). The selfie waits in the data
        folder (owner-only) and goes to Wiro only when the job is started, right before its run
        call: Wiro can delete files only with their task, so a job refused, cancelled or lost
        before then never leaves the member's face at a public URL. The saved copy is kept for
        the result buttons until `selfie_expires_at` (default: `SELFIE_KEEP_HOURS` from now)."""
        services = self._bot.services
        store = self._bot.selfies
        try:
            path = await asyncio.to_thread(store.save, selfie.data)
        except OSError as error:
            log.error("Cannot save a selfie in %s: %s", store.folder, error)
            await interaction.edit_original_response(content=NOT_SAVED)
            return None
        hours = services.settings.selfie_keep_hours
        expires_at = selfie_expires_at or utc_now() + timedelta(hours=hours)
        try:
            job = await self._queue(interaction, options, path, expires_at)
        except LedgerError as error:
            log.error("Cannot queue a job: %s", error)
            job = NOT_SAVED
        if not isinstance(job, Job):  # refused: the selfie goes, nothing was queued
            await asyncio.to_thread(store.delete, path)
            await interaction.edit_original_response(content=fit_content(job))
            return None
        await interaction.edit_original_response(content=accepted)
        position = await services.ledger.queue_position(job.id)
        status_id = await self._bot.job_messages.post_status(job, position)
        job = await services.ledger.update(job.id, status_message_ref=message_ref(status_id))
        self._bot.dispatcher.wake()
        return job

    async def _queue(
        self,
        interaction: discord.Interaction,
        options: PortraitOptions,
        selfie_path: str,
        selfie_expires_at: datetime,
    ) -> Job | str:
        """The new QUEUED job, or the message refusing it (a fair-use limit)."""
        target = ReplyTarget.of(interaction)
        # Checked again under a lock: two quick requests must not both slip past a limit.
        async with self._admission:
            try:
                not_before = await self._start_time(interaction)
            except LimitReached as limit:
                return limit.message
            address = DiscordAddress(
                user_id=interaction.user.id,
                guild_id=interaction.guild_id,
                channel_id=target.channel_id,
                interaction_id=interaction.id,
                token_expires_at=target.expires_at,
            )
            return await self._bot.services.ledger.create(
                **address.job_fields(interaction.token),
                params={"options": options.to_params(), "member_name": target.member_name},
                selfie_path=selfie_path,
                selfie_expires_at=selfie_expires_at,
                not_before=not_before,
            )
