"""`/portrait`: a member's selfie and choices become a posted InstantID portrait."""

from __future__ import annotations

import asyncio
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import PortraitBot
from bot.catalog import Catalog
from bot.channel.delivery import post_failure, post_result
from bot.channel.reply import Reply, ReplyTarget
from bot.channel.status import StatusMessage
from bot.jobs import FailureReason, PortraitFailed, make_portrait
from bot.request.options import (
    GUIDANCE_RANGE,
    LIKENESS_RANGE,
    LORA_SCALE_RANGE,
    NEGATIVE_PROMPT_MAX_CHARS,
    PROMPT_MAX_CHARS,
    SAMPLES_RANGE,
    SEED_RANGE,
    STEPS_RANGE,
    OptionError,
    PortraitOptions,
    resolve_options,
)
from bot.request.selfie import PreparedSelfie, SelfieRejected, prepare_selfie

log = logging.getLogger(__name__)

ATTACHMENT_TIMEOUT = 30.0  # seconds to fetch the selfie from Discord's CDN
ACCEPTED = (
    "✅ Selfie accepted. Your portrait is on its way: watch its progress below.\n"
    "-# Location data and other metadata were removed from your photo, and it isn't kept."
)

UNDELIVERED = PortraitFailed(
    FailureReason.UNDELIVERED,
    "Your portrait was made, but I couldn't post it here or send it to you by DM. "
    "Please ask a server admin to let me attach files in this channel.",
)

INTERRUPTED = PortraitFailed(
    FailureReason.CANCELLED,
    "The bot was restarted before your portrait was finished. Please try again.",
)


def _scheduler_choices() -> list[app_commands.Choice[str]]:
    # Built from the bundled catalog so the synced command definition stays stable.
    return [app_commands.Choice(name=name, value=name) for name in Catalog.bundled().schedulers]


class PortraitCog(commands.Cog):
    def __init__(self, bot: PortraitBot) -> None:
        self.bot = bot
        self.services = bot.services
        self._running: set[asyncio.Task[object]] = set()

    async def cog_unload(self) -> None:
        """On shutdown, stop the jobs still running so each member is told (and Wiro stops)."""
        for task in self._running:
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    @app_commands.command(name="portrait", description="Turn your selfie into an AI portrait")
    @app_commands.guild_only()
    @app_commands.describe(
        selfie="A clear photo of your face (JPEG, PNG or WebP)",
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
    )
    @app_commands.choices(scheduler=_scheduler_choices())
    async def portrait(
        self,
        interaction: discord.Interaction,
        selfie: discord.Attachment,
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
    ) -> None:
        services = self.services
        # Everything that needs no I/O is checked before acknowledging: a clear answer, at once.
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
            )
        except OptionError as error:
            await interaction.response.send_message(str(error), ephemeral=True)
            return
        max_bytes = services.selfie_limits.max_bytes
        if selfie.size > max_bytes:
            await interaction.response.send_message(
                f"That file is {selfie.size / 1_048_576:.1f} MB; the limit is "
                f"{max_bytes / 1_048_576:.0f} MB. Please attach a smaller photo.",
                ephemeral=True,
            )
            return

        # Acknowledge privately: if the selfie is rejected, only the member sees why.
        await interaction.response.defer(ephemeral=True, thinking=True)
        prepared = await self._intake(interaction, selfie)
        if prepared is None:
            return
        await interaction.edit_original_response(content=ACCEPTED)
        job = asyncio.current_task()
        assert job is not None
        self._running.add(job)
        try:
            await self._run_job(Reply(self.bot, ReplyTarget.of(interaction)), options, prepared)
        finally:
            self._running.discard(job)

    async def _intake(
        self, interaction: discord.Interaction, selfie: discord.Attachment
    ) -> PreparedSelfie | None:
        """Fetch the selfie now (Discord's URLs expire) and check it; None if rejected."""
        try:
            data = await asyncio.wait_for(selfie.read(), ATTACHMENT_TIMEOUT)
        except (discord.HTTPException, TimeoutError) as error:
            log.info("Could not fetch attachment %s: %s", selfie.id, error)
            await interaction.edit_original_response(
                content="I couldn't download your photo from Discord. Please try again."
            )
            return None
        try:
            return await asyncio.to_thread(prepare_selfie, data, self.services.selfie_limits)
        except SelfieRejected as rejection:
            await interaction.edit_original_response(content=rejection.message)
            return None

    async def _run_job(
        self, reply: Reply, options: PortraitOptions, selfie: PreparedSelfie
    ) -> None:
        services = self.services
        member = reply.target.member_id
        status = await StatusMessage.post(reply, interval=services.settings.status_edit_interval)
        try:
            result = await make_portrait(
                services.wiro,
                services.catalog,
                options,
                selfie,
                on_progress=status.update,
                limits=services.job_limits,
            )
            await post_result(reply, result, services.catalog)
        except PortraitFailed as failure:
            level = logging.ERROR if failure.owner_should_act else logging.INFO
            log.log(
                level, "Portrait for member %s failed: %s", reply.target.member_id, failure.detail
            )
            await status.remove()
            await post_failure(reply, failure)
        except discord.HTTPException as error:
            log.error(
                "Portrait for member %s made but not delivered: %s", reply.target.member_id, error
            )
            await status.remove()
            await post_failure(reply, UNDELIVERED)
        except asyncio.CancelledError:
            log.warning("Portrait for member %s interrupted by shutdown", member)
            await status.remove()
            await post_failure(reply, INTERRUPTED)
            raise
        else:
            log.info(
                "Portrait of task %s delivered to member %s", result.task_id, reply.target.member_id
            )
        finally:
            await status.remove()

    @portrait.autocomplete("model")
    async def model_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=style.readable_name[:100], value=style.id)
            for style in self.services.catalog.search_models(current)
        ]

    @portrait.autocomplete("lora")
    async def lora_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=style.readable_name[:100], value=style.id)
            for style in self.services.catalog.search_loras(current)
        ]


async def setup(bot: PortraitBot) -> None:
    await bot.add_cog(PortraitCog(bot))
