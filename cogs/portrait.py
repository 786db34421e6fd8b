"""`/portrait`: a member's selfie and choices become a posted InstantID portrait."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.catalog import Catalog, StyleOption
from bot.core.request.options import (
    GUIDANCE_RANGE,
    LIKENESS_RANGE,
    LORA_SCALE_RANGE,
    NEGATIVE_PROMPT_MAX_CHARS,
    PROMPT_MAX_CHARS,
    SAMPLES_RANGE,
    SEED_RANGE,
    STEPS_RANGE,
    OptionError,
    resolve_options,
)
from bot.frontends.discord_bot.address import requester
from bot.frontends.discord_bot.app import PortraitBot
from bot.frontends.discord_bot.faces import face_choices
from bot.frontends.discord_bot.history import HISTORY_LENGTH, history_embed
from bot.frontends.discord_bot.kept import history_view
from bot.frontends.discord_bot.policy_checks import policy_here, refused_request, refused_use
from bot.frontends.discord_bot.portrait_intake import (
    PICK_ONE,
    portrait_from_face,
    portrait_from_photo,
)
from bot.frontends.discord_bot.text import CHOICES, choices, fit_content

log = logging.getLogger(__name__)

RESTARTING = "I'm restarting right now. Please try again in a minute."
PRIVATE_ID_MAX_CHARS = 100  # a Wiro model or LoRA id
LORA_URL_MAX_CHARS = 500
FACE_NAME_MAX_CHARS = 100  # longer than any face's name (32): a clear "no such face" instead


def _scheduler_choices() -> list[app_commands.Choice[str]]:
    # Built from the bundled catalog so the synced command definition stays stable.
    return [app_commands.Choice(name=name, value=name) for name in Catalog.bundled().schedulers]


class PortraitCog(commands.Cog):
    def __init__(self, bot: PortraitBot) -> None:
        self.bot = bot
        self.services = bot.services

    @app_commands.command(name="portrait", description="Turn your selfie into an AI portrait")
    @app_commands.guild_only()
    @app_commands.describe(
        selfie="A clear photo of your face (JPEG, PNG, WebP, HEIC or AVIF); "
        "empty: your default saved face",
        prompt="What the portrait should show, e.g. 'astronaut on the moon, cinematic'",
        model="The base style model (start typing to search)",
        lora="An extra style to mix in (start typing to search)",
        lora_scale="How strongly the extra style applies (0 to 1)",
        negative_prompt="What to keep out of the picture",
        steps="Quality steps: more is slower (default 20)",
        guidance="How closely to follow the prompt (default 5)",
        likeness="How much it should look like you (default 0.8)",
        samples="How many portraits to make (1 to 4)",
        seed="A number to repeat a result exactly (random if empty)",
        scheduler="The sampling method (leave empty for the default)",
        private_model="A private model of the bot's Wiro account (if this server allows it)",
        private_lora="A private LoRA of the bot's Wiro account (if this server allows it)",
        lora_url="An https:// link to a LoRA .safetensors file (if this server allows it)",
        face="One of your saved faces instead of a photo (see /face list)",
    )
    @app_commands.choices(scheduler=_scheduler_choices())
    async def portrait(
        self,
        interaction: discord.Interaction,
        selfie: discord.Attachment | None = None,
        prompt: app_commands.Range[str, 1, PROMPT_MAX_CHARS] | None = None,
        model: str | None = None,
        lora: str | None = None,
        lora_scale: app_commands.Range[float, LORA_SCALE_RANGE[0], LORA_SCALE_RANGE[1]]
        | None = None,
        negative_prompt: app_commands.Range[str, 1, NEGATIVE_PROMPT_MAX_CHARS] | None = None,
        steps: app_commands.Range[int, STEPS_RANGE[0], STEPS_RANGE[1]] | None = None,
        guidance: app_commands.Range[float, GUIDANCE_RANGE[0], GUIDANCE_RANGE[1]] | None = None,
        likeness: app_commands.Range[float, LIKENESS_RANGE[0], LIKENESS_RANGE[1]] | None = None,
        samples: app_commands.Range[int, SAMPLES_RANGE[0], SAMPLES_RANGE[1]] | None = None,
        seed: app_commands.Range[int, SEED_RANGE[0], SEED_RANGE[1]] | None = None,
        scheduler: str | None = None,
        private_model: app_commands.Range[str, 1, PRIVATE_ID_MAX_CHARS] | None = None,
        private_lora: app_commands.Range[str, 1, PRIVATE_ID_MAX_CHARS] | None = None,
        lora_url: app_commands.Range[str, 1, LORA_URL_MAX_CHARS] | None = None,
        face: app_commands.Range[str, 1, FACE_NAME_MAX_CHARS] | None = None,
    ) -> None:
        services = self.services
        if not self.bot.dispatcher.accepting:
            await interaction.response.send_message(RESTARTING, ephemeral=True)
            return
        if selfie is not None and face is not None:
            await interaction.response.send_message(PICK_ONE, ephemeral=True)
            return
        # What can be checked without any I/O is answered at once, before acknowledging; the
        # server's policy is a cached lookup.
        here = await policy_here(interaction, services)
        if await refused_use(
            interaction,
            services,
            here,
            prompt=prompt or "",
            style=model or "",
            private_inputs=any((private_model, private_lora, lora_url)),
        ):
            return
        model, lora, prompt = here.with_defaults(
            services.catalog,
            model,
            lora,
            prompt,
            private_model=private_model,
            private_lora=private_lora,
            lora_url=lora_url,
        )
        try:
            options = resolve_options(
                services.catalog,
                prompt=prompt,
                negative_prompt=negative_prompt,
                model=model,
                lora=lora,
                lora_scale=lora_scale,
                steps=steps,
                guidance=guidance,
                likeness=likeness,
                samples=samples,
                seed=seed,
                scheduler=scheduler,
                private_model=private_model,
                private_lora=private_lora,
                lora_url=lora_url,
            )
        except OptionError as error:
            await interaction.response.send_message(fit_content(str(error)), ephemeral=True)
            return
        if await refused_request(interaction, services, here, options):
            return
        if selfie is not None:
            await portrait_from_photo(interaction, self.bot, options, selfie, here.spoiler)
        else:
            await portrait_from_face(interaction, self.bot, options, face, here.spoiler)

    @app_commands.command(
        name="portrait-history", description="Your last 10 portraits, with their settings"
    )
    async def portrait_history(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        jobs = await self.services.ledger.recent_for(
            requester(interaction.user.id), limit=HISTORY_LENGTH
        )
        await interaction.edit_original_response(
            embed=history_embed(jobs, self.services.catalog), view=history_view(jobs)
        )

    @portrait.autocomplete("face")
    async def face_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await face_choices(self.services, interaction, current)

    @portrait.autocomplete("model")
    async def model_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        # Only what this server offers (and the bot's owner allows).
        catalog = self.services.catalog
        here = await policy_here(interaction, self.services)
        styles = catalog.search_models(current, limit=len(catalog.models))
        if here.effective is not None:
            styles = [s for s in styles if here.effective.offers_model(s.id)]
        return _choices(styles[:CHOICES])

    @portrait.autocomplete("lora")
    async def lora_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        catalog = self.services.catalog
        here = await policy_here(interaction, self.services)
        styles = catalog.search_loras(current, limit=len(catalog.loras))
        if here.effective is not None:
            styles = [s for s in styles if here.effective.offers_lora(s.id)]
        return _choices(styles[:CHOICES])


def _choices(styles: list[StyleOption]) -> list[app_commands.Choice[str]]:
    # Names are Wiro's labels, fitted to Discord's limits; the value is the catalog id.
    return choices([(style.readable_name, style.id) for style in styles])


async def setup(bot: PortraitBot) -> None:
    await bot.add_cog(PortraitCog(bot))
