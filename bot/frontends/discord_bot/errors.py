"""One path for unexpected errors in any app command: a friendly word to the member, the detail
to the log."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from bot.frontends.discord_bot.text import fit_content

log = logging.getLogger(__name__)

UNKNOWN_INTERACTION = 10062
# discord.Permissions attributes by the names Discord's own settings show.
PERMISSION_NAMES = {"manage_guild": "Manage Server", "manage_messages": "Manage Messages"}
SORRY = "Something went wrong on my side and I couldn't finish that. Please try again in a moment."


async def on_app_command_error(
    interaction: discord.Interaction, error: app_commands.AppCommandError
) -> None:
    original = getattr(error, "original", None)
    if isinstance(original, discord.NotFound) and original.code == UNKNOWN_INTERACTION:
        # Discord gave up on the interaction (not acknowledged within 3 s): nobody to tell.
        log.warning("An interaction expired before the bot could answer it (bot overloaded?)")
        return
    message = _member_message(error)
    if message is None:
        command = interaction.command.qualified_name if interaction.command else "?"
        log.error("Unexpected error in /%s", command, exc_info=error)
        message = SORRY
    await tell_privately(interaction, message)


def _member_message(error: app_commands.AppCommandError) -> str | None:
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little: try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.BotMissingPermissions):
        missing = ", ".join(p.replace("_", " ") for p in error.missing_permissions)
        return f"I need these permissions in this channel: {missing}."
    if isinstance(error, app_commands.MissingPermissions):
        names = " and ".join(
            PERMISSION_NAMES.get(p, p.replace("_", " ").title()) for p in error.missing_permissions
        )
        return f"You need the {names} permission on this server to do that."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command only works in a server."
    if isinstance(error, app_commands.TransformerError):
        return f"I couldn't understand the value {error.value!r}. Please pick one from the list."
    if isinstance(error, app_commands.CheckFailure):
        return "You can't use this command here."
    return None


async def tell_privately(interaction: discord.Interaction, message: str) -> None:
    """An ephemeral message, whether or not the interaction was already answered."""
    message = fit_content(message)
    try:
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)
    except (discord.HTTPException, RuntimeError) as error:
        # RuntimeError: the HTTP session is already closed (the bot is shutting down).
        log.warning("Could not tell the member about an error: %s", error)
