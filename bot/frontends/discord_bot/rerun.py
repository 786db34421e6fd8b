"""What the buttons under a result share: finding the job behind a click, checking that the
member is the one who asked, and queueing a new version with the kept selfie, or with the
saved face the job was made with (as long as the member keeps that face: no keep window)."""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING

import discord
from PIL import Image

from bot.core.faces import FACE_PARAM, SavedFace
from bot.core.jobs.actions import job_options, kept_selfie, revalidated
from bot.core.jobs.ledger import Job, utc_now
from bot.core.request.options import PortraitOptions
from bot.core.request.selfie import PreparedSelfie
from bot.frontends.discord_bot.address import member_id
from bot.frontends.discord_bot.policy_checks import policy_here, refused_request
from bot.frontends.discord_bot.text import fit_content

if TYPE_CHECKING:
    from bot.frontends.discord_bot.app import PortraitBot

__all__ = ["find_job", "job_options", "own_job", "prepared_of", "rerun", "revalidated"]

ON_ITS_WAY = "✅ On its way: watch its progress below."
NO_SELFIE = (
    "I no longer have the selfie for this portrait (selfies are kept for a limited time). "
    "Please use `/portrait` and attach it again."
)
FACE_GONE = (
    "This portrait was made with a saved face that has since been deleted, so I can't make "
    "new versions of it. Use `/portrait` with a photo or another saved face."
)


async def find_job(interaction: discord.Interaction[PortraitBot], job_id: int) -> Job | None:
    """The job behind a click; None (and the member told) when it was pruned."""
    job = await interaction.client.services.ledger.get(job_id)
    if job is None:
        await interaction.response.send_message(
            "I no longer have the details of this portrait (old portraits are forgotten after "
            "a while). Use `/portrait` to make a new one.",
            ephemeral=True,
        )
    return job


async def own_job(interaction: discord.Interaction[PortraitBot], job_id: int) -> Job | None:
    """The job behind a click when the clicking member asked for it; None (and told) if not."""
    job = await find_job(interaction, job_id)
    if job is not None and member_id(job) != interaction.user.id:
        await interaction.response.send_message(
            f"Only <@{member_id(job)}> can make new versions of this portrait. "
            "Use `/portrait` to make your own!",
            ephemeral=True,
        )
        return None
    return job


async def rerun(
    interaction: discord.Interaction[PortraitBot], job: Job, options: PortraitOptions
) -> None:
    """Queue a new job with `options` and the original job's kept selfie, if the server's
    policy and the safety gate accept it (checked here, where the click is made)."""
    bot = interaction.client
    here = await policy_here(interaction, bot.services)
    if await refused_request(interaction, bot.services, here, options):
        return
    if not interaction.response.is_done():
        await interaction.response.defer(ephemeral=True, thinking=True)
    if not bot.dispatcher.accepting:
        await interaction.edit_original_response(content="I'm restarting; try again in a minute.")
        return
    refusal = await bot.job_starter.over_limit(interaction)
    if refusal is not None:
        await interaction.edit_original_response(content=fit_content(refusal))
        return
    expires_at = job.selfie_expires_at
    selfie: PreparedSelfie | SavedFace
    if FACE_PARAM in job.params:
        face = await bot.services.faces.of_job(job)
        if face is None:
            await interaction.edit_original_response(content=FACE_GONE)
            return
        selfie, expires_at = face, None
    else:
        data = kept_selfie(job, bot.selfies, utc_now())
        if data is None:
            await interaction.edit_original_response(content=NO_SELFIE)
            return
        selfie = await asyncio.to_thread(prepared_of, data)
    await bot.job_starter.start(
        interaction,
        options,
        selfie,
        selfie_expires_at=expires_at,
        accepted=ON_ITS_WAY,
        spoiler=here.spoiler,
    )


def prepared_of(data: bytes) -> PreparedSelfie:
    """Bytes that were a `PreparedSelfie` (kept or held) as one again. Blocking (decodes the
    image's header)."""
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    return PreparedSelfie(data=data, width=width, height=height)
