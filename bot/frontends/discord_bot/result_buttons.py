"""The buttons under a posted portrait: re-roll, likeness more/less, restyle, edit prompt,
details and delete.

Each is a `DynamicItem` whose custom id carries the job id, so they keep working after a restart
and after days: the job's parameters come from the ledger. Buttons that start new work are for
the member who asked and go through the same limits, quotas and queue as `/portrait`; they reuse
the prepared selfie kept for `SELFIE_KEEP_HOURS`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import random
import re
from typing import TYPE_CHECKING, Any

import discord
from PIL import Image

from bot.core.catalog import Catalog
from bot.core.jobs.ledger import Job, utc_now
from bot.core.request.options import (
    LIKENESS_RANGE,
    NEGATIVE_PROMPT_MAX_CHARS,
    PROMPT_MAX_CHARS,
    SEED_RANGE,
    OptionError,
    PortraitOptions,
    resolve_options,
)
from bot.core.request.selfie import PreparedSelfie
from bot.frontends.discord_bot.answers import always_answers, answer_failure
from bot.frontends.discord_bot.details import details_message
from bot.frontends.discord_bot.refusals import THREAD_ARCHIVED
from bot.frontends.discord_bot.text import (
    SELECT_OPTIONS,
    TEXT_INPUT_VALUE,
    cut,
    fit_content,
    select_option,
)

if TYPE_CHECKING:
    from bot.frontends.discord_bot.app import PortraitBot

log = logging.getLogger(__name__)

LIKENESS_STEP = 0.1
ON_ITS_WAY = "✅ On its way: watch its progress below."
BLANK_PROMPT = "The prompt can't be empty: write what the portrait should show, then submit again."
NO_SELFIE = (
    "I no longer have the selfie for this portrait (selfies are kept for a limited time). "
    "Please use `/portrait` and attach it again."
)


# -- the view under a result ------------------------------------------------------------------


def result_view(job_id: int, catalog: Catalog) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for item in (
        RerollButton(job_id),
        LikenessButton(job_id, "down"),
        LikenessButton(job_id, "up"),
        EditPromptButton(job_id),
        DetailsButton(job_id),
        DeleteButton(job_id),
        RestyleSelect(job_id, catalog),
    ):
        view.add_item(item)
    return view


# -- helpers shared by the buttons ------------------------------------------------------------


async def _job(interaction: discord.Interaction[PortraitBot], job_id: int) -> Job | None:
    job = await interaction.client.services.ledger.get(job_id)
    if job is None:
        await interaction.response.send_message(
            "I no longer have the details of this portrait (old portraits are forgotten after "
            "a while). Use `/portrait` to make a new one.",
            ephemeral=True,
        )
    return job


async def _own_job(interaction: discord.Interaction[PortraitBot], job_id: int) -> Job | None:
    job = await _job(interaction, job_id)
    if job is not None and job.user_id != interaction.user.id:
        await interaction.response.send_message(
            f"Only <@{job.user_id}> can make new versions of this portrait. "
            "Use `/portrait` to make your own!",
            ephemeral=True,
        )
        return None
    return job


def _options(job: Job) -> PortraitOptions:
    return PortraitOptions.from_params(job.params["options"])


async def _rerun(
    interaction: discord.Interaction[PortraitBot], job: Job, options: PortraitOptions
) -> None:
    """Queue a new job with `options` and the original job's kept selfie."""
    bot = interaction.client
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
    data = bot.selfies.load(job.selfie_path) if expires_at and expires_at > utc_now() else None
    if data is None:
        await interaction.edit_original_response(content=NO_SELFIE)
        return
    selfie = await asyncio.to_thread(_prepared, data)
    await bot.job_starter.start(
        interaction, options, selfie, selfie_expires_at=expires_at, accepted=ON_ITS_WAY
    )


def _prepared(data: bytes) -> PreparedSelfie:
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    return PreparedSelfie(data=data, width=width, height=height)


# -- the buttons ------------------------------------------------------------------------------


class RerollButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"portrait:reroll:(?P<job_id>[0-9]+)"
):
    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Re-roll", emoji="🎲", custom_id=f"portrait:reroll:{job_id}", row=0
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str], /) -> RerollButton:  # type: ignore[override]
        return cls(int(match["job_id"]))

    @always_answers
    async def callback(self, interaction: discord.Interaction[PortraitBot]) -> None:  # type: ignore[override]
        job = await _own_job(interaction, self.job_id)
        if job is not None:
            seed = random.randint(*SEED_RANGE)
            await _rerun(interaction, job, dataclasses.replace(_options(job), seed=seed))


class LikenessButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"portrait:likeness:(?P<job_id>[0-9]+):(?P<direction>up|down)",
):
    def __init__(self, job_id: int, direction: str) -> None:
        label = "More like me" if direction == "up" else "Less like me"
        super().__init__(
            discord.ui.Button(
                label=label,
                emoji="➕" if direction == "up" else "➖",
                custom_id=f"portrait:likeness:{job_id}:{direction}",
                row=0,
            )
        )
        self.job_id = job_id
        self.direction = direction

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str], /) -> LikenessButton:  # type: ignore[override]
        return cls(int(match["job_id"]), match["direction"])

    @always_answers
    async def callback(self, interaction: discord.Interaction[PortraitBot]) -> None:  # type: ignore[override]
        job = await _own_job(interaction, self.job_id)
        if job is None:
            return
        options = _options(job)
        step = LIKENESS_STEP if self.direction == "up" else -LIKENESS_STEP
        low, high = LIKENESS_RANGE
        likeness = round(min(high, max(low, options.likeness + step)), 2)
        if likeness == options.likeness:
            await interaction.response.send_message(
                f"Likeness is already at its {'highest' if step > 0 else 'lowest'} "
                f"({options.likeness:g}).",
                ephemeral=True,
            )
            return
        await _rerun(interaction, job, dataclasses.replace(options, likeness=likeness))


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
        job = await _own_job(interaction, self.job_id)
        if job is not None:
            await interaction.response.send_modal(EditPromptModal(job))


class EditPromptModal(discord.ui.Modal, title="Edit the prompt"):
    def __init__(self, job: Job) -> None:
        super().__init__(custom_id=f"portrait:edit-modal:{job.id}", timeout=None)
        self.job = job
        options = _options(job)
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
        options = dataclasses.replace(_options(self.job), prompt=prompt, negative_prompt=negative)
        try:
            options = _revalidated(options, interaction.client.services.catalog)
        except OptionError as error:
            await interaction.response.send_message(fit_content(str(error)), ephemeral=True)
            return
        if not negative:  # emptied on purpose: no negative prompt, not the tool's default
            options = dataclasses.replace(options, negative_prompt="")
        await _rerun(interaction, self.job, options)

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction[PortraitBot], error: Exception, /
    ) -> None:
        await answer_failure(interaction, error, what="EditPromptModal")


def _revalidated(options: PortraitOptions, catalog: Catalog) -> PortraitOptions:
    """The same checks `/portrait` makes, on options changed by a member."""
    return resolve_options(
        catalog,
        prompt=options.prompt,
        negative_prompt=options.negative_prompt,
        model=options.model_id,
        lora=options.lora_id,
        lora_scale=options.lora_scale,
        steps=options.steps,
        guidance=options.guidance,
        likeness=options.likeness,
        samples=options.samples,
        seed=options.seed,
        scheduler=options.scheduler,
    )


class RestyleSelect(
    discord.ui.DynamicItem[discord.ui.Select[Any]],
    template=r"portrait:restyle:(?P<job_id>[0-9]+)",
):
    def __init__(self, job_id: int, catalog: Catalog | None = None) -> None:
        options = _style_choices(catalog) if catalog is not None else []
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
        job = await _own_job(interaction, self.job_id)
        if job is None:
            return
        values = interaction.data.get("values", []) if interaction.data else []
        choice = str(values[0]) if values else ""
        kind, _, style_id = choice.partition(":")
        options = _options(job)
        if kind == "model":
            options = dataclasses.replace(options, model_id=style_id)
        elif kind == "lora":
            options = dataclasses.replace(options, lora_id=style_id or None, lora_scale=None)
        try:
            options = _revalidated(options, interaction.client.services.catalog)
        except OptionError as error:
            await interaction.response.send_message(fit_content(str(error)), ephemeral=True)
            return
        await _rerun(interaction, job, options)


def _style_choices(catalog: Catalog) -> list[discord.SelectOption]:
    """The restyle menu: labels from Wiro fitted to Discord's 100; a style whose id does not
    fit in an option value is left out (an id cannot be cut); at most 25 options."""
    pairs = [(f"Model: {style.readable_name}", f"model:{style.id}") for style in catalog.models]
    pairs.append(("No extra style (LoRA)", "lora:"))
    pairs += [(f"LoRA: {style.readable_name}", f"lora:{style.id}") for style in catalog.loras]
    choices = [option for label, value in pairs if (option := select_option(label, value))]
    return choices[:SELECT_OPTIONS]


class DetailsButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"portrait:details:(?P<job_id>[0-9]+)"
):
    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Details", emoji="🔎", custom_id=f"portrait:details:{job_id}", row=1
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str], /) -> DetailsButton:  # type: ignore[override]
        return cls(int(match["job_id"]))

    @always_answers
    async def callback(self, interaction: discord.Interaction[PortraitBot]) -> None:  # type: ignore[override]
        job = await _job(interaction, self.job_id)
        if job is not None:
            details = details_message(job)
            extra = {"file": details.file} if details.file is not None else {}
            await interaction.response.send_message(details.content, ephemeral=True, **extra)


class DeleteButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"portrait:delete:(?P<job_id>[0-9]+)"
):
    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Delete",
                emoji="🗑️",
                style=discord.ButtonStyle.danger,
                custom_id=f"portrait:delete:{job_id}",
                row=1,
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str], /) -> DeleteButton:  # type: ignore[override]
        return cls(int(match["job_id"]))

    @always_answers
    async def callback(self, interaction: discord.Interaction[PortraitBot]) -> None:  # type: ignore[override]
        bot = interaction.client
        job = await bot.services.ledger.get(self.job_id)
        owner = job.user_id if job is not None else None
        if interaction.user.id != owner and not interaction.permissions.manage_messages:
            await interaction.response.send_message(
                "Only the member who asked for this portrait or a moderator can delete it.",
                ephemeral=True,
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        if interaction.message is not None:
            try:
                await interaction.message.delete()
            except discord.NotFound:
                pass  # already gone
            except discord.HTTPException as error:
                if error.code != THREAD_ARCHIVED:
                    raise
                log.info("Result of job %s is in an archived thread; not deleted", self.job_id)
                await interaction.edit_original_response(content=ARCHIVED)
                return
        if job is not None and job.selfie_path:
            bot.selfies.delete(job.selfie_path)
            await bot.services.ledger.update(job.id, selfie_path=None, selfie_expires_at=None)
        log.info("Result of job %s deleted by %s", self.job_id, interaction.user.id)
        await interaction.edit_original_response(
            content="Deleted. The kept copy of the selfie is gone too."
        )


ARCHIVED = (
    "That thread is archived, so I can't delete the message; a moderator can unarchive the "
    "thread, then press Delete again."
)

DYNAMIC_ITEMS = (
    RerollButton,
    LikenessButton,
    EditPromptButton,
    RestyleSelect,
    DetailsButton,
    DeleteButton,
)
