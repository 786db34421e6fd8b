"""The Discord front end's settings, read from the environment like `bot.settings`.

Public interface (server owners put these names in `.env`):

* ``DISCORD_TOKEN``: the bot's token (Developer Portal → Bot → Reset Token); empty = no
  Discord front end.
* ``DISCORD_GUILD_ID``: sync the slash commands to this one server only (instant; for
  development); empty = global commands.
* ``DISCORD_SHARD_COUNT``: split the gateway into this many shards (discord.py's
  ``AutoShardedBot``); empty = one connection, as a small bot needs. Discord requires shards
  from 2,500 servers on (its "Sharding" docs).
* ``DISCORD_SHARD_IDS``: the shards this process runs (``0,1`` or ``0-3``), each below the
  count; empty = all of them. Several processes on one PostgreSQL database each take a part.
* ``DISCORD_API_BASE``: tests only: points discord.py at the local Discord stand-in.

Errors are `bot.settings.SettingsError`: one line naming the setting, never its value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.settings import SettingsError, SettingsReader

# Discord bot tokens are three base64url parts joined by dots.
_TOKEN = re.compile(r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+$")


@dataclass(frozen=True)
class DiscordSettings:
    token: str = field(repr=False)
    guild_id: int | None = None
    api_base: str | None = None
    shard_count: int | None = None  # None: one gateway connection, no sharding
    shard_ids: tuple[int, ...] | None = None  # None: every shard of shard_count

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
        **_shards(env, reader),
    )


MAX_SHARDS = 4096


def _number(text: str) -> bool:
    return text.isascii() and text.isdecimal()


def _shards(env: Mapping[str, str], reader: SettingsReader) -> dict[str, object]:
    count = reader.optional_whole("DISCORD_SHARD_COUNT", minimum=1, maximum=MAX_SHARDS)
    raw = env.get("DISCORD_SHARD_IDS", "").strip()
    if not raw:
        return {"shard_count": count, "shard_ids": None}
    if count is None:
        raise SettingsError("DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT (how many in all).")
    ids: list[int] = []
    wrong = SettingsError("DISCORD_SHARD_IDS must be shard numbers like 0,1 or 0-3.")
    for part in (item.strip() for item in raw.split(",")):
        first, dash, last = (text.strip() for text in part.partition("-"))
        if not _number(first) or (dash and not _number(last)):
            raise wrong
        low, high = int(first), int(last) if dash else int(first)
        if low > high:
            raise wrong
        if high >= count:  # checked before the range is made: "0-999999999" is refused here
            break
        ids.extend(range(low, high + 1))
    else:
        high = -1
    if not ids or high >= count or max(ids) >= count or len(set(ids)) != len(ids):
        raise SettingsError(
            f"DISCORD_SHARD_IDS must name each shard once, from 0 to {count - 1} "
            "(DISCORD_SHARD_COUNT - 1)."
        )
    return {"shard_count": count, "shard_ids": tuple(sorted(ids))}
