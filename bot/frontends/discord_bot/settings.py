"""The Discord front end's settings, read from the environment like `bot.settings`.

Public interface (server owners put these names in `.env`):

* ``DISCORD_TOKEN``: the bot's token (Developer Portal → Bot → Reset Token); empty = no
  Discord front end.
* ``DISCORD_GUILD_ID``: sync the slash commands to this one server only (instant; for
  development); empty = global commands.
* ``DISCORD_API_BASE``: tests only: points discord.py at the local Discord stand-in.

Errors are `bot.settings.SettingsError`: one line naming the setting, never its value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.settings import SettingsReader

# Discord bot tokens are three base64url parts joined by dots.
_TOKEN = re.compile(r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+$")


@dataclass(frozen=True)
class DiscordSettings:
    token: str = field(repr=False)
    guild_id: int | None = None
    api_base: str | None = None

    @property
    def enabled(self) -> bool:
        """True when a token is set, i.e. the Discord front end should run."""
        return bool(self.token)


def load_discord_settings(env: Mapping[str, str], *, required: bool = False) -> DiscordSettings:
    """Read and check the ``DISCORD_*`` settings from ``env``; ``required``: the token must be
    set (``python -m bot sync``). Raises `SettingsError` for anything missing or malformed."""
    reader = SettingsReader(env)
    return DiscordSettings(
        token=reader.secret("DISCORD_TOKEN", _TOKEN, required=required),
        guild_id=reader.snowflake("DISCORD_GUILD_ID"),
        api_base=reader.optional_url("DISCORD_API_BASE", {"http", "https"}),
    )
