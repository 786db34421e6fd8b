"""Turning an acknowledged Discord request into a queued job: the one path shared by `/portrait`
and every result button that starts new work, so all of them go through the same limits,
quotas and queue."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import discord

from bot.channel.reply import ReplyTarget
from bot.channel.text import fit_content
from bot.jobs.failures import explain
from bot.jobs.ledger import Job, utc_now
from bot.jobs.limits import LimitReached, check_fair_use
from bot.request.options import PortraitOptions
from bot.request.selfie import PreparedSelfie
from bot.wiro import WiroError

if TYPE_CHECKING:
    from bot.app import PortraitBot

log = logging.getLogger(__name__)

ACCEPTED = (
    "✅ Selfie accepted. Your portrait is on its way: watch its progress below.\n"
    "-# Location data and other metadata were removed from your photo."
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
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
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
        """Upload the selfie, queue the job and post its status message; None if refused.

        `interaction` must already be deferred (ephemerally). The selfie goes to Wiro at once
        (uploads are not billed), so a queued job survives a restart with only its URL."""
        services = self._bot.services
        try:
            uploaded = await services.wiro.upload_file(
                selfie.data, filename=selfie.filename, content_type=selfie.content_type
            )
        except WiroError as error:
            failure = explain(error)
            level = logging.ERROR if failure.owner_should_act else logging.INFO
            log.log(level, "Selfie upload failed: %s", failure.detail)
            await interaction.edit_original_response(content=fit_content(f"❌ {failure.message}"))
            return None
        target = ReplyTarget.of(interaction)
        # Checked again under a lock: two quick requests must not both slip past a limit.
        async with self._admission:
            try:
                not_before = await self._start_time(interaction)
            except LimitReached as limit:
                await interaction.edit_original_response(content=fit_content(limit.message))
                return None
            job = await services.ledger.create(
                user_id=interaction.user.id,
                guild_id=interaction.guild_id,
                channel_id=target.channel_id,
                interaction_id=interaction.id,
                interaction_token=interaction.token,
                token_expires_at=target.expires_at,
                params={"options": options.to_params(), "member_name": target.member_name},
                input_url=uploaded.url,
                not_before=not_before,
            )
        job = await self._keep_selfie(job, selfie, selfie_expires_at)
        await interaction.edit_original_response(content=accepted)
        position = await services.ledger.queue_position(job.id)
        status_id = await self._bot.job_messages.post_status(job, position)
        job = await services.ledger.update(job.id, status_message_id=status_id)
        self._bot.dispatcher.wake()
        return job

    async def _keep_selfie(
        self, job: Job, selfie: PreparedSelfie, expires_at: datetime | None
    ) -> Job:
        hours = self._bot.services.settings.selfie_keep_hours
        if hours <= 0:
            return job
        expires_at = expires_at or utc_now() + timedelta(hours=hours)
        path = await asyncio.to_thread(self._bot.selfies.save, job.id, selfie.data)
        return await self._bot.services.ledger.update(
            job.id, selfie_path=path, selfie_expires_at=expires_at
        )
