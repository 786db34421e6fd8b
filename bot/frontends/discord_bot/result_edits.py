"""The result buttons that change the settings: Edit prompt (a form prefilled with the prompt
and negative prompt) and the Restyle menu (another model or LoRA, same face and seed). Both go
through the same checks as `/portrait` and the same queue."""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.core.catalog import Catalog
from bot.core.jobs.ledger import Job
from bot.core.policy.model import EffectivePolicy
from bot.core.request.options import NEGATIVE_PROMPT_MAX_CHARS, PROMPT_MAX_CHARS, OptionError
from bot.frontends.discord_bot.answers import always_answers, answer_failure
from bot.frontends.discord_bot.rerun import job_options, own_job, rerun, revalidated
from bot.frontends.discord_bot.text import (
    SELECT_OPTIONS,
    TEXT_INPUT_VALUE,
    cut,
    fit_content,
    select_option,
)

if TYPE_CHECKING:
    from bot.frontends.discord_bot.app import PortraitBot

BLANK_PROMPT = "The prompt can't be empty: write what the portrait should show, then submit again."


class EditPromptButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"portrait:edit:(?P<job_id>[0-9]+)"
):
    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Edit prompt", emoji="✏️", custom_id=f"portrait:edit:{job_id}", row=0
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str], /) -> EditPromptButton:  # type: ignore[override]
        return cls(int(match["job_id"]))

    @always_answers
    async def callback(self, interaction: discord.Interaction[PortraitBot]) -> None:  # type: ignore[override]
        job = await own_job(interaction, self.job_id)
        if job is not None:
            await interaction.response.send_modal(EditPromptModal(job))


class EditPromptModal(discord.ui.Modal, title="Edit the prompt"):
    def __init__(self, job: Job) -> None:
        super().__init__(custom_id=f"portrait:edit-modal:{job.id}", timeout=None)
        self.job = job
        options = job_options(job)
        self.prompt = discord.ui.TextInput(
            label="Prompt",
            style=discord.TextStyle.paragraph,
            default=cut(options.prompt, min(PROMPT_MAX_CHARS, TEXT_INPUT_VALUE)),
            max_length=PROMPT_MAX_CHARS,
        )
        self.negative_prompt = discord.ui.TextInput(
            label="Negative prompt (what to keep out)",
            style=discord.TextStyle.paragraph,
            default=cut(options.negative_prompt, min(NEGATIVE_PROMPT_MAX_CHARS, TEXT_INPUT_VALUE)),
            max_length=NEGATIVE_PROMPT_MAX_CHARS,
            required=False,
        )
        self.add_item(self.prompt)
        self.add_item(self.negative_prompt)

    async def on_submit(self, interaction: discord.Interaction[PortraitBot]) -> None:  # type: ignore[override]
        prompt, negative = self.prompt.value.strip(), self.negative_prompt.value.strip()
        if not prompt:
            # Left blank, the tool's own default prompt would run, paid and unasked for.
            await interaction.response.send_message(BLANK_PROMPT, ephemeral=True)
            return
        options = dataclasses.replace(
            job_options(self.job), prompt=prompt, negative_prompt=negative
        )
        try:
            options = revalidated(options, interaction.client.services.catalog)
        except OptionError as error:
            await interaction.response.send_message(fit_content(str(error)), ephemeral=True)
            return
        if not negative:  # emptied on purpose: no negative prompt, not the tool's default
            options = dataclasses.replace(options, negative_prompt="")
        await rerun(interaction, self.job, options)

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction[PortraitBot], error: Exception, /
    ) -> None:
        await answer_failure(interaction, error, what="EditPromptModal")


class RestyleSelect(
    discord.ui.DynamicItem[discord.ui.Select[Any]],
    template=r"portrait:restyle:(?P<job_id>[0-9]+)",
):
    def __init__(
        self, job_id: int, catalog: Catalog | None = None, policy: EffectivePolicy | None = None
    ) -> None:
        options = _style_choices(catalog, policy) if catalog is not None else []
        super().__init__(
            discord.ui.Select(
                custom_id=f"portrait:restyle:{job_id}",
                placeholder="🎨 Restyle: same face and seed, another style…",
                options=options or [discord.SelectOption(label="…", value="none")],
                row=2,
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str], /) -> RestyleSelect:  # type: ignore[override]
        return cls(int(match["job_id"]))

    @always_answers
    async def callback(self, interaction: discord.Interaction[PortraitBot]) -> None:  # type: ignore[override]
        job = await own_job(interaction, self.job_id)
        if job is None:
            return
        values = interaction.data.get("values", []) if interaction.data else []
        choice = str(values[0]) if values else ""
        kind, _, style_id = choice.partition(":")
        options = job_options(job)
        if kind == "model":
            options = dataclasses.replace(options, model_id=style_id)
        elif kind == "lora":
            options = dataclasses.replace(options, lora_id=style_id or None, lora_scale=None)
        try:
            options = revalidated(options, interaction.client.services.catalog)
        except OptionError as error:
            await interaction.response.send_message(fit_content(str(error)), ephemeral=True)
            return
        await rerun(interaction, job, options)


def _style_choices(
    catalog: Catalog, policy: EffectivePolicy | None = None
) -> list[discord.SelectOption]:
    """The restyle menu: the styles `policy` offers (all without one), labels from Wiro
    fitted to Discord's 100; a style whose id does not fit in an option value is left out (an
    id cannot be cut); at most 25 options."""
    models = [s for s in catalog.models if policy is None or policy.offers_model(s.id)]
    loras = [s for s in catalog.loras if policy is None or policy.offers_lora(s.id)]
    pairs = [(f"Model: {style.readable_name}", f"model:{style.id}") for style in models]
    pairs.append(("No extra style (LoRA)", "lora:"))
    pairs += [(f"LoRA: {style.readable_name}", f"lora:{style.id}") for style in loras]
    choices = [option for label, value in pairs if (option := select_option(label, value))]
    return choices[:SELECT_OPTIONS]
