"""Talking back about one request, within and after its interaction token's 15-minute life.

A `Reply` is rebuilt from plain ids (so a job resumed after a restart can still answer): within
the token's life it speaks through the interaction webhook (follow-ups need no channel
permissions and may be ephemeral); after it, public messages go to the channel directly and
private ones become channel messages that mention the member.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import discord

from bot.frontends.discord_bot.refusals import DEAD_TOKEN_CODES
from bot.frontends.discord_bot.text import fit_content, fitted_message

# Discord invalidates interaction tokens after 15 minutes; keep a margin for slow uploads.
TOKEN_LIFETIME = dt.timedelta(minutes=15)
TOKEN_MARGIN = dt.timedelta(seconds=60)
# What a result post needs in a guild channel, by discord.Permissions attribute.
RESULT_PERMISSIONS = ("view_channel", "send_messages", "attach_files", "embed_links")


@dataclass(frozen=True)
class ReplyTarget:
    """Everything needed to answer a member, as plain values a database can keep."""

    application_id: int
    token: str
    expires_at: dt.datetime
    guild_id: int | None
    channel_id: int
    member_id: int
    member_name: str

    @classmethod
    def of(cls, interaction: discord.Interaction) -> ReplyTarget:
        return cls(
            application_id=interaction.application_id,
            token=interaction.token,
            expires_at=interaction.created_at + TOKEN_LIFETIME - TOKEN_MARGIN,
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id or 0,
            member_id=interaction.user.id,
            member_name=interaction.user.display_name,
        )


class Reply:
    def __init__(self, client: discord.Client, target: ReplyTarget) -> None:
        self.client = client
        self.target = target

    @property
    def mention(self) -> str:
        return f"<@{self.target.member_id}>"

    @property
    def member_name(self) -> str:
        return self.target.member_name

    @property
    def upload_limit(self) -> int | None:
        guild = self.client.get_guild(self.target.guild_id) if self.target.guild_id else None
        return guild.filesize_limit if guild is not None else None

    def token_alive(self) -> bool:
        return discord.utils.utcnow() < self.target.expires_at

    @property
    def _webhook(self) -> discord.Webhook:
        # The same application webhook discord.py builds for `interaction.followup`.
        data = {"id": self.target.application_id, "type": 3, "token": self.target.token}
        return discord.Webhook.from_state(data=data, state=self.client._connection)  # type: ignore[arg-type]

    @property
    def _channel(self) -> discord.PartialMessageable:
        return self.client.get_partial_messageable(
            self.target.channel_id, guild_id=self.target.guild_id
        )

    def _member_mentions(self) -> discord.AllowedMentions:
        return discord.AllowedMentions(users=[discord.Object(self.target.member_id)])

    def missing_permissions(self, wanted: tuple[str, ...] = RESULT_PERMISSIONS) -> list[str]:
        """Which of ``wanted`` the bot lacks in the channel, as far as the cached guild knows
        ([] when it does not know: a DM, or a channel not in the cache)."""
        permissions = self._permissions()
        if permissions is None:
            return []
        if self._is_thread() and "send_messages" in wanted:
            wanted = tuple(
                "send_messages_in_threads" if p == "send_messages" else p for p in wanted
            )
        return [name for name in wanted if not getattr(permissions, name)]

    def may_read_history(self) -> bool | None:
        """Whether the bot may read the channel's history; None when the cache cannot tell."""
        permissions = self._permissions()
        if permissions is None:
            return None
        return permissions.view_channel and permissions.read_message_history

    def _cached_channel(self) -> Any:
        guild = self.client.get_guild(self.target.guild_id) if self.target.guild_id else None
        if guild is None:
            return None
        return guild.get_channel_or_thread(self.target.channel_id)

    def _is_thread(self) -> bool:
        return isinstance(self._cached_channel(), discord.Thread)

    def _permissions(self) -> discord.Permissions | None:
        channel = self._cached_channel()
        if channel is None or channel.guild.me is None:
            return None
        return channel.permissions_for(channel.guild.me)

    async def channel_send(self, **kwargs: Any) -> discord.Message:
        """A message in the channel itself (needs the bot's own permissions there)."""
        return await self._channel.send(**fitted_message(kwargs))

    async def webhook_send(self, **kwargs: Any) -> discord.Message:
        """A follow-up through the interaction (needs no channel permissions); only while
        `token_alive()`."""
        return await self._webhook.send(wait=True, **fitted_message(kwargs))

    async def public(self, **kwargs: Any) -> discord.Message:
        """A message everyone in the channel sees (no files: they would be read twice)."""
        kwargs = fitted_message(kwargs)
        if self.token_alive():
            try:
                return await self._webhook.send(wait=True, **kwargs)
            except discord.HTTPException as error:
                if not _dead_token(error):
                    raise
                # The token died early (Discord's clock, not ours): use the channel.
        return await self._channel.send(**kwargs)

    async def private(self, content: str) -> None:
        """Ephemeral while the token lives, else a channel message that mentions the member."""
        content = fit_content(content)
        if self.token_alive():
            try:
                await self._webhook.send(content, ephemeral=True)
                return
            except discord.HTTPException as error:
                if not _dead_token(error):
                    raise
        await self._channel.send(
            fit_content(f"{self.mention} {content}"), allowed_mentions=self._member_mentions()
        )

    async def direct(self, **kwargs: Any) -> discord.Message:
        """A direct message to the member."""
        kwargs = fitted_message(kwargs)
        channel = await self.client.create_dm(discord.Object(self.target.member_id))
        return await channel.send(**kwargs)

    async def edit(self, message_id: int, **kwargs: Any) -> None:
        """Edit a message we posted, through the token while it lives, else the channel."""
        kwargs = fitted_message(kwargs)
        if self.token_alive():
            try:
                await self._webhook.edit_message(message_id, **kwargs)
                return
            except discord.HTTPException as error:
                if not _dead_token(error):
                    raise
        await self._channel.get_partial_message(message_id).edit(**kwargs)

    async def delete(self, message_id: int) -> None:
        """Delete a message we posted; one that is already gone is fine."""
        try:
            if self.token_alive():
                try:
                    await self._webhook.delete_message(message_id)
                    return
                except discord.HTTPException as error:
                    if not _dead_token(error):
                        raise
            await self._channel.get_partial_message(message_id).delete()
        except discord.NotFound:
            pass  # the member (or a moderator) deleted it already


def _dead_token(error: discord.HTTPException) -> bool:
    return error.code in DEAD_TOKEN_CODES or error.status == 401
