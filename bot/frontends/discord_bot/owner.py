"""Telling the bot's owner directly on Discord: a direct message to the application's owner,
or to each member of its team who accepted the invitation (`Client.application_info()`).
Registered with the core's `FrontEnds` as an `OwnerContact` (used for Wiro health alerts)."""

from __future__ import annotations

import asyncio
import logging

import discord

from bot.frontends.discord_bot.text import fit_content

log = logging.getLogger(__name__)

READY_WAIT = 60.0  # seconds an alert at start-up waits for the bot to log in
READY_POLL = 0.25  # seconds between two looks


class DiscordOwners:
    """`OwnerContact` for Discord: `tell_owners(text)` sends `text` by DM to the owners."""

    def __init__(self, client: discord.Client) -> None:
        self._client = client

    async def owner_ids(self) -> list[int]:
        """The application owner's id, or the ids of its team's accepted members."""
        info = await self._client.application_info()
        if info.team is not None:
            return [
                member.id
                for member in info.team.members
                if member.membership_state is discord.TeamMembershipState.accepted
            ]
        return [info.owner.id]

    async def _connected(self) -> None:
        """Wait (up to READY_WAIT) for the bot to be logged in: a start-up alert may come
        before it is (`wait_until_ready` refuses to wait before login)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_WAIT
        while not self._client.is_ready():
            if loop.time() >= deadline:
                raise TimeoutError("not connected to Discord yet")
            await asyncio.sleep(READY_POLL)

    async def tell_owners(self, text: str) -> None:
        """DM every owner; one whose DMs are closed is logged and skipped. Raises the last
        error when no owner could be reached (the caller, `FrontEnds.tell_owners`, logs it)."""
        await self._connected()
        reached, last_error = 0, None
        for user_id in await self.owner_ids():
            try:
                channel = await self._client.create_dm(discord.Object(user_id))
                await channel.send(
                    fit_content(text), allowed_mentions=discord.AllowedMentions.none()
                )
                reached += 1
            except discord.HTTPException as error:
                log.warning("Could not send a direct message to owner %s: %s", user_id, error)
                last_error = error
        if not reached and last_error is not None:
            raise last_error
