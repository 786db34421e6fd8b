"""`/portrait` once its options passed: from an attached photo (fetched, prepared and
face-checked; no face found holds it back with a "Use it anyway" button) or from one of the
member's saved faces (named with the ``face`` option, else their default face).

Both acknowledge privately first; whatever is refused from there on, only the member sees why,
and nothing reaches Wiro."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from bot.core.request.face_check import NO_FACE
from bot.core.request.options import PortraitOptions
from bot.frontends.discord_bot.address import requester
from bot.frontends.discord_bot.faces import no_such_face, quoted, with_several
from bot.frontends.discord_bot.held import PORTRAIT, USE_ANYWAY, hold_back
from bot.frontends.discord_bot.intake import take_in, too_big
from bot.frontends.discord_bot.requests import ACCEPTED
from bot.frontends.discord_bot.text import fit_content

if TYPE_CHECKING:
    from bot.frontends.discord_bot.app import PortraitBot

__all__ = ["NO_PHOTO", "PICK_ONE", "portrait_from_face", "portrait_from_photo"]

PICK_ONE = (
    "Pick one: attach a photo (`selfie`) or name a saved face (`face`), not both. Nothing was sent."
)
NO_PHOTO = (
    "Please attach a photo of your face (the `selfie` option). To skip that next time, save "
    "one once with `/face save`: `/portrait` then uses it when you attach no photo."
)
NO_PHOTO_FACES_OFF = "Please attach a photo of your face (the `selfie` option)."
FACE_ACCEPTED = (
    "✅ Using your saved face {name}. Your portrait is on its way: watch its progress below."
)


async def portrait_from_photo(
    interaction: discord.Interaction,
    bot: PortraitBot,
    options: PortraitOptions,
    selfie: discord.Attachment,
    spoiler: bool,
) -> None:
    """Take the photo in, check it for a face and queue the job (or hold it back)."""
    services = bot.services
    refusal = too_big(selfie, services.selfie_limits)
    if refusal is not None:
        await interaction.response.send_message(refusal, ephemeral=True)
        return
    # Acknowledge within Discord's 3 seconds, privately.
    await interaction.response.defer(ephemeral=True, thinking=True)
    refusal = await bot.job_starter.over_limit(interaction)
    if refusal is not None:
        await interaction.edit_original_response(content=fit_content(refusal))
        return
    intake = await take_in(interaction, selfie, services.selfie_limits)
    if intake is None:
        return
    if not intake.faces.found:
        params = {"kind": PORTRAIT, "options": options.to_params()}
        await hold_back(
            interaction, services, params, intake.prepared.data, text=NO_FACE, label=USE_ANYWAY
        )
        return
    await bot.job_starter.start(
        interaction,
        options,
        intake.prepared,
        accepted=with_several(ACCEPTED, intake.faces.several),
        spoiler=spoiler,
    )


async def portrait_from_face(
    interaction: discord.Interaction,
    bot: PortraitBot,
    options: PortraitOptions,
    name: str | None,
    spoiler: bool,
) -> None:
    """Queue the job with the saved face ``name``, or the member's default face when None.
    The face is decrypted only when the job starts (a deleted face or a lost key fails it
    then, unstarted, with the core's words)."""
    services = bot.services
    await interaction.response.defer(ephemeral=True, thinking=True)
    member = requester(interaction.user.id)
    if name is not None:
        face = await services.faces.get(member, name)
        missing = no_such_face(name)
    else:
        face = await services.faces.default(member)
        missing = NO_PHOTO if services.faces.per_member > 0 else NO_PHOTO_FACES_OFF
    if face is None:
        await interaction.edit_original_response(content=fit_content(missing))
        return
    refusal = await bot.job_starter.over_limit(interaction)
    if refusal is not None:
        await interaction.edit_original_response(content=fit_content(refusal))
        return
    await bot.job_starter.start(
        interaction,
        options,
        face,
        accepted=FACE_ACCEPTED.format(name=quoted(face.name)),
        spoiler=spoiler,
    )
