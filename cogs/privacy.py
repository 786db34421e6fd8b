"""`/portrait-privacy`: what the bot keeps about the member, and a Forget me button
(`bot.frontends.discord_bot.privacy`). Private, and open in servers and DMs alike."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.frontends.discord_bot.app import PortraitBot
from bot.frontends.discord_bot.privacy import privacy_view, statement_embed


class PrivacyCog(commands.Cog):
    def __init__(self, bot: PortraitBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="portrait-privacy", description="What Portrait Bot keeps about you, and Forget me"
    )
    async def portrait_privacy(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            embed=statement_embed(self.bot.services.settings),
            view=privacy_view(interaction.user.id),
            ephemeral=True,
        )


async def setup(bot: PortraitBot) -> None:
    await bot.add_cog(PrivacyCog(bot))
