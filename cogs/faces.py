"""`/face`: a member's saved faces, so `/portrait` works without attaching a photo.

``/face save name:<text> selfie:<attachment>``, ``/face list``, ``/face default name:<text>``,
``/face rename name:<text> new_name:<text>``, ``/face delete name:<text>``. Names autocomplete
over the member's own faces; every answer is private. Saving takes the photo in like
`/portrait` (size, format, prepared) and checks it for a face: none found → not saved, with
tips and a "Save it anyway" button (`bot.frontends.discord_bot.held`); several → saved, with a
note that the largest face is used. The store (`services.faces`) keeps only the prepared
photo, encrypted; a lost or changed key is answered (`save_face`), never raised: the other
commands read only the faces' records, never their photos."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.faces import FaceError, FaceNameInvalid, clean_name
from bot.core.request.face_check import NO_FACE
from bot.frontends.discord_bot.address import requester
from bot.frontends.discord_bot.app import PortraitBot
from bot.frontends.discord_bot.faces import (
    FACES_OFF,
    NO_FACES_YET,
    face_choices,
    face_error_message,
    faces_embed,
    limit_text,
    quoted,
    save_face,
    with_several,
)
from bot.frontends.discord_bot.held import FACE_SAVE, SAVE_ANYWAY, hold_back
from bot.frontends.discord_bot.intake import take_in, too_big
from bot.frontends.discord_bot.text import fit_content

log = logging.getLogger(__name__)

# Longer than any face's name (32), so a long one gets the clear "1 to 32 characters".
NAME_OPTION_MAX = 100
SAVE_ANYWAY_TIP = NO_FACE.replace("use it anyway", "save it anyway")


class FacesCog(
    commands.GroupCog,
    group_name="face",
    group_description="Your saved faces: use /portrait without attaching a photo",
):
    def __init__(self, bot: PortraitBot) -> None:
        self.bot = bot
        self.services = bot.services
        super().__init__()

    async def _tell(self, interaction: discord.Interaction, text: str, **extra: object) -> None:
        if interaction.response.is_done():
            await interaction.edit_original_response(content=fit_content(text), **extra)  # type: ignore[arg-type]
        else:
            await interaction.response.send_message(fit_content(text), ephemeral=True, **extra)  # type: ignore[arg-type]

    @app_commands.command(name="save", description="Save a photo of your face for /portrait")
    @app_commands.describe(
        name="A name for this face, e.g. 'me' or 'beard' (up to 32 characters)",
        selfie="A clear photo of your face (JPEG, PNG, WebP, HEIC or AVIF)",
    )
    async def save(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, NAME_OPTION_MAX],
        selfie: discord.Attachment,
    ) -> None:
        faces = self.services.faces
        member = requester(interaction.user.id)
        # Everything that needs no download is answered at once and costs nothing.
        if faces.per_member <= 0:
            await self._tell(interaction, FACES_OFF)
            return
        try:
            name = clean_name(name)
        except FaceNameInvalid as error:
            await self._tell(interaction, face_error_message(error))
            return
        mine = await faces.list(member)
        if any(face.name.casefold() == name.casefold() for face in mine):
            await self._tell(
                interaction, f"You already have a face called {quoted(name)}: pick another name."
            )
            return
        if len(mine) >= faces.per_member:
            await self._tell(interaction, limit_text(faces.per_member))
            return
        refusal = too_big(selfie, self.services.selfie_limits)
        if refusal is not None:
            await self._tell(interaction, refusal)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        intake = await take_in(interaction, selfie, self.services.selfie_limits)
        if intake is None:
            return
        if not intake.faces.found:
            params = {"kind": FACE_SAVE, "name": name}
            await hold_back(
                interaction,
                self.services,
                params,
                intake.prepared.data,
                text=SAVE_ANYWAY_TIP,
                label=SAVE_ANYWAY,
            )
            return
        text = await save_face(self.services, interaction.user.id, name, intake.prepared.data)
        await self._tell(interaction, with_several(text, intake.faces.several))

    @app_commands.command(name="list", description="Your saved faces")
    async def list_faces(self, interaction: discord.Interaction) -> None:
        faces = await self.services.faces.list(requester(interaction.user.id))
        if not faces:
            await self._tell(interaction, NO_FACES_YET)
            return
        embed = faces_embed(faces, self.services.faces.per_member)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(
        name="default", description="The face /portrait uses when you attach no photo"
    )
    @app_commands.describe(name="One of your saved faces")
    async def default(
        self, interaction: discord.Interaction, name: app_commands.Range[str, 1, NAME_OPTION_MAX]
    ) -> None:
        try:
            face = await self.services.faces.set_default(requester(interaction.user.id), name)
        except FaceError as error:
            await self._tell(interaction, face_error_message(error))
            return
        await self._tell(
            interaction, f"⭐ {quoted(face.name)} is now your default face for `/portrait`."
        )

    @app_commands.command(name="rename", description="Rename one of your saved faces")
    @app_commands.describe(name="One of your saved faces", new_name="Its new name")
    async def rename(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, NAME_OPTION_MAX],
        new_name: app_commands.Range[str, 1, NAME_OPTION_MAX],
    ) -> None:
        member = requester(interaction.user.id)
        try:
            old = await self.services.faces.get(member, name)
            face = await self.services.faces.rename(member, name, new_name)
        except FaceError as error:
            await self._tell(interaction, face_error_message(error))
            return
        before = quoted(old.name) if old is not None else quoted(name)
        await self._tell(interaction, f"Renamed {before} to {quoted(face.name)}.")

    @app_commands.command(name="delete", description="Delete one of your saved faces")
    @app_commands.describe(name="One of your saved faces")
    async def delete(
        self, interaction: discord.Interaction, name: app_commands.Range[str, 1, NAME_OPTION_MAX]
    ) -> None:
        member = requester(interaction.user.id)
        try:
            face = await self.services.faces.delete(member, name)
        except FaceError as error:
            await self._tell(interaction, face_error_message(error))
            return
        text = f"🗑️ Deleted your saved face {quoted(face.name)}; its photo is gone."
        if face.is_default:
            new_default = await self.services.faces.default(member)
            if new_default is not None:
                text += f" Your default face is now {quoted(new_default.name)}."
        await self._tell(interaction, text)

    @default.autocomplete("name")
    @rename.autocomplete("name")
    @delete.autocomplete("name")
    async def name_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await face_choices(self.services, interaction, current)


async def setup(bot: PortraitBot) -> None:
    await bot.add_cog(FacesCog(bot))
