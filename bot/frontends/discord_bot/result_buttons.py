"""The buttons under a posted portrait: re-roll, likeness more/less, restyle, edit prompt,
details and delete.

Each is a `DynamicItem` whose custom id carries the job id, so they keep working after a restart
and after days: the job's parameters come from the ledger. Buttons that start new work are for
the member who asked and go through the same limits, quotas and queue as `/portrait`; they reuse
the prepared selfie kept for `SELFIE_KEEP_HOURS`.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.core.catalog import Catalog
from bot.core.faces import FACE_PARAM
from bot.core.jobs.actions import LIKENESS_STEP, ActionRefused, likeness_step, rerolled
from bot.core.policy.model import EffectivePolicy
from bot.frontends.discord_bot.address import member_id
from bot.frontends.discord_bot.answers import always_answers
from bot.frontends.discord_bot.details import details_message
from bot.frontends.discord_bot.refusals import THREAD_ARCHIVED
from bot.frontends.discord_bot.rerun import find_job, job_options, own_job, rerun
from bot.frontends.discord_bot.result_edits import EditPromptButton, RestyleSelect

if TYPE_CHECKING:
    from bot.frontends.discord_bot.app import PortraitBot

log = logging.getLogger(__name__)

__all__ = ["DYNAMIC_ITEMS", "LIKENESS_STEP", "result_view"]


# -- the view under a result ------------------------------------------------------------------


def result_view(
    job_id: int, catalog: Catalog, policy: EffectivePolicy | None = None
) -> discord.ui.View:
    """The buttons under a result; the Restyle menu offers only what `policy` offers."""
    view = discord.ui.View(timeout=None)
    for item in (
        RerollButton(job_id),
        LikenessButton(job_id, "down"),
        LikenessButton(job_id, "up"),
        EditPromptButton(job_id),
        DetailsButton(job_id),
        DeleteButton(job_id),
        RestyleSelect(job_id, catalog, policy),
    ):
        view.add_item(item)
    return view


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
        job = await own_job(interaction, self.job_id)
        if job is not None:
            await rerun(interaction, job, rerolled(job_options(job)))


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
        job = await own_job(interaction, self.job_id)
        if job is None:
            return
        try:
            options = likeness_step(job_options(job), up=self.direction == "up")
        except ActionRefused as refused:
            await interaction.response.send_message(refused.message, ephemeral=True)
            return
        await rerun(interaction, job, options)


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
        job = await find_job(interaction, self.job_id)
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
        owner = member_id(job) if job is not None else None
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
        made_with_face = job is not None and FACE_PARAM in job.params
        await interaction.edit_original_response(
            content=DELETED_SAVED_FACE_KEPT if made_with_face else DELETED
        )


DELETED = "Deleted. The kept copy of the selfie is gone too."
DELETED_SAVED_FACE_KEPT = (
    "Deleted. The saved face it was made with is not affected (`/face delete` deletes a saved "
    "face)."
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
