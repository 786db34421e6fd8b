"""A member's attached photo, taken in: its size checked before anything is fetched, then
fetched from Discord's CDN (its URLs expire), prepared (`prepare_selfie`: upright, metadata
stripped, downscaled) and face-checked (`check_faces`). The one intake of `/portrait` and
`/face save`."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import discord

from bot.core.request.face_check import NO_FACE, FaceCheck, check_faces
from bot.core.request.selfie import PreparedSelfie, SelfieLimits, SelfieRejected, prepare_selfie
from bot.frontends.discord_bot.text import fit_content

log = logging.getLogger(__name__)

__all__ = ["ATTACHMENT_TIMEOUT", "NO_FACE", "Intake", "take_in", "too_big"]

ATTACHMENT_TIMEOUT = 30.0  # seconds to fetch the selfie from Discord's CDN
NOT_FETCHED = "I couldn't download your photo from Discord. Please try again."


@dataclass(frozen=True)
class Intake:
    """A prepared photo and what the face check saw in it."""

    prepared: PreparedSelfie
    faces: FaceCheck


def too_big(selfie: discord.Attachment, limits: SelfieLimits) -> str | None:
    """The refusal for an attachment over the size limit (known before fetching it)."""
    if selfie.size <= limits.max_bytes:
        return None
    return (
        f"That file is {selfie.size / 1_048_576:.1f} MB; the limit is "
        f"{limits.max_bytes / 1_048_576:.0f} MB. Please attach a smaller photo."
    )


async def take_in(
    interaction: discord.Interaction, selfie: discord.Attachment, limits: SelfieLimits
) -> Intake | None:
    """Fetch, prepare and face-check the attachment; None when refused (the member has been
    told why, in the deferred answer). ``interaction`` must be deferred."""
    try:
        data = await asyncio.wait_for(selfie.read(), ATTACHMENT_TIMEOUT)
    except (discord.HTTPException, TimeoutError) as error:
        log.info("Could not fetch attachment %s: %s", selfie.id, error)
        await interaction.edit_original_response(content=NOT_FETCHED)
        return None
    try:
        prepared = await asyncio.to_thread(prepare_selfie, data, limits)
    except SelfieRejected as rejection:
        await interaction.edit_original_response(content=fit_content(rejection.message))
        return None
    return Intake(prepared, await check_faces(prepared.data))
