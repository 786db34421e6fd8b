"""Talking back about one interaction, within and after its token's 15-minute life.

Within the life of the token we answer through the interaction (follow-ups need no channel
permissions and may be ephemeral). After it, public messages go to the channel directly and
private ones become channel messages that mention the member.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import discord

# Discord invalidates interaction tokens after 15 minutes; keep a margin for slow uploads.
TOKEN_LIFETIME = dt.timedelta(minutes=15)
TOKEN_MARGIN = dt.timedelta(seconds=60)
# Unknown Webhook, Invalid Webhook Token, Unknown Interaction: the token, not the message, is gone.
_DEAD_TOKEN_CODES = {10015, 50027, 10062}


class Reply:
    def __init__(self, interaction: discord.Interaction) -> None:
        self.interaction = interaction
        self.member = interaction.user
        self.expires_at = interaction.created_at + TOKEN_LIFETIME - TOKEN_MARGIN

    def token_alive(self) -> bool:
        return discord.utils.utcnow() < self.expires_at

    @property
    def channel(self) -> discord.abc.Messageable:
        channel = self.interaction.channel
        if channel is None or not isinstance(channel, discord.abc.Messageable):
            raise RuntimeError("interaction has no messageable channel")
        return channel

    async def public(self, **kwargs: Any) -> discord.Message:
        """A message everyone in the channel sees."""
        if self.token_alive():
            try:
                return await self.interaction.followup.send(wait=True, **kwargs)
            except discord.HTTPException as error:
                if not _dead_token(error):
                    raise  # the token died early (Discord's clock, not ours): use the channel
        return await self.channel.send(**kwargs)

    async def private(self, content: str) -> None:
        """Ephemeral while the token lives, else a channel message that mentions the member."""
        if self.token_alive():
            try:
                await self.interaction.followup.send(content, ephemeral=True)
                return
            except discord.HTTPException as error:
                if not _dead_token(error):
                    raise
        await self.channel.send(
            f"{self.member.mention} {content}",
            allowed_mentions=discord.AllowedMentions(users=[self.member]),
        )

    async def edit(self, message: discord.Message, **kwargs: Any) -> None:
        """Edit a message we posted, through the token while it lives, else the channel."""
        if self.token_alive() and isinstance(message, discord.WebhookMessage):
            try:
                await message.edit(**kwargs)
                return
            except discord.HTTPException as error:
                if not _dead_token(error):
                    raise
        await self.channel.get_partial_message(message.id).edit(**kwargs)  # type: ignore[attr-defined]

    async def delete(self, message: discord.Message) -> None:
        try:
            if self.token_alive() and isinstance(message, discord.WebhookMessage):
                await message.delete()
            else:
                await self.channel.get_partial_message(message.id).delete()  # type: ignore[attr-defined]
        except discord.NotFound:
            pass  # already gone: the member deleted it


def _dead_token(error: discord.HTTPException) -> bool:
    return error.code in _DEAD_TOKEN_CODES or error.status == 401
