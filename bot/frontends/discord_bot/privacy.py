"""`/portrait-privacy` on Discord: the data statement, and Forget me.

The statement is `bot.core.privacy.statement.data_statement` for the bot's own settings, as an
embed (one field per section). Under it, **Forget me** asks for confirmation (**Yes, forget
me** / **Cancel**); yes runs `services.forgetting.forget_member` (it can take up to ~20 s:
the confirmation says it is working) and answers with `forget_summary`.

The three buttons are `DynamicItem`s whose custom id names the member they were shown to
(``portrait:forget:<user id>``, ``portrait:forget-yes:<user id>``,
``portrait:forget-no:<user id>``), so they work after a restart and only that member's presses
count: anyone else is told so and nothing happens.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.core.privacy.statement import FORGET_CONFIRM, data_statement, forget_summary
from bot.frontends.discord_bot.address import requester
from bot.frontends.discord_bot.answers import always_answers
from bot.frontends.discord_bot.text import fit_embed

if TYPE_CHECKING:
    from bot.frontends.discord_bot.app import PortraitBot
    from bot.settings import Settings

log = logging.getLogger(__name__)

__all__ = [
    "CANCELLED",
    "FORGETTING",
    "NOT_YOURS",
    "PRIVACY_ITEMS",
    "privacy_view",
    "statement_embed",
]

NOT_YOURS = "This button is for the member who opened it. Use `/portrait-privacy` yourself."
FORGETTING = "⏳ Forgetting you… this can take a few seconds."
CANCELLED = "Cancelled: nothing was deleted."
FORGET_FAILED = (
    "❌ I couldn't finish forgetting you: the bot's storage is failing. Some of your data may "
    "remain; please try again later, or ask the bot's owner."
)


def statement_embed(settings: Settings) -> discord.Embed:
    """The data statement for this bot's settings."""
    statement = data_statement(
        selfie_keep_hours=settings.selfie_keep_hours,
        retention_days=settings.retention_days,
        faces_per_member=settings.faces_per_member,
        delete_wiro_files=settings.delete_wiro_files,
    )
    embed = discord.Embed(title=statement.title)
    for heading, text in statement.sections:
        embed.add_field(name=heading, value=text, inline=False)
    return fit_embed(embed)


def privacy_view(user_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ForgetMeButton(user_id))
    return view


def _confirm_view(user_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ForgetYesButton(user_id))
    view.add_item(ForgetNoButton(user_id))
    return view


async def _is_theirs(interaction: discord.Interaction, user_id: int) -> bool:
    if interaction.user.id == user_id:
        return True
    await interaction.response.send_message(NOT_YOURS, ephemeral=True)
    return False


class ForgetMeButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"portrait:forget:(?P<user_id>[0-9]+)",
):
    def __init__(self, user_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Forget me",
                emoji="🧹",
                style=discord.ButtonStyle.danger,
                custom_id=f"portrait:forget:{user_id}",
            )
        )
        self.user_id = user_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str], /) -> ForgetMeButton:  # type: ignore[override]
        return cls(int(match["user_id"]))

    @always_answers
    async def callback(self, interaction: discord.Interaction[PortraitBot]) -> None:  # type: ignore[override]
        if await _is_theirs(interaction, self.user_id):
            await interaction.response.send_message(
                FORGET_CONFIRM, view=_confirm_view(self.user_id), ephemeral=True
            )


class ForgetYesButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"portrait:forget-yes:(?P<user_id>[0-9]+)",
):
    def __init__(self, user_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Yes, forget me",
                style=discord.ButtonStyle.danger,
                custom_id=f"portrait:forget-yes:{user_id}",
            )
        )
        self.user_id = user_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str], /) -> ForgetYesButton:  # type: ignore[override]
        return cls(int(match["user_id"]))

    @always_answers
    async def callback(self, interaction: discord.Interaction[PortraitBot]) -> None:  # type: ignore[override]
        if not await _is_theirs(interaction, self.user_id):
            return
        # The confirmation loses its buttons at once (a second press has nothing to press).
        await interaction.response.edit_message(content=FORGETTING, view=None)
        forgetting = interaction.client.services.forgetting
        try:
            report = await forgetting.forget_member(requester(self.user_id))
        except Exception:
            log.exception("Forget me failed")
            await interaction.edit_original_response(content=FORGET_FAILED)
            return
        await interaction.edit_original_response(content=forget_summary(report))


class ForgetNoButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"portrait:forget-no:(?P<user_id>[0-9]+)",
):
    def __init__(self, user_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Cancel",
                style=discord.ButtonStyle.secondary,
                custom_id=f"portrait:forget-no:{user_id}",
            )
        )
        self.user_id = user_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str], /) -> ForgetNoButton:  # type: ignore[override]
        return cls(int(match["user_id"]))

    @always_answers
    async def callback(self, interaction: discord.Interaction[PortraitBot]) -> None:  # type: ignore[override]
        if await _is_theirs(interaction, self.user_id):
            await interaction.response.edit_message(content=CANCELLED, view=None)


PRIVACY_ITEMS = (ForgetMeButton, ForgetYesButton, ForgetNoButton)
