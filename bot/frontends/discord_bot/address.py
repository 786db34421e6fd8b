"""Where a Discord job answers: the Discord ids a job keeps in the ledger's platform-neutral
fields, and back.

The ledger stores ``platform`` = ``"discord"``, ``requester`` = ``"discord:<user id>"``,
``scope`` = ``"discord:guild:<guild id>"`` (``"discord:dm:<user id>"`` in DMs),
``reply_address`` = ``{"user_id", "guild_id", "channel_id", "interaction_id",
"token_expires_at"}`` (ints, None, ISO-8601 UTC text), ``reply_secret`` = the interaction token
(it can post as the bot for 15 minutes) and message references as the message id in text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.core.jobs.ledger import Job

__all__ = [
    "PLATFORM",
    "DiscordAddress",
    "member_id",
    "message_id",
    "message_ref",
    "quota_scope",
    "requester",
]

PLATFORM = "discord"


def requester(user_id: int) -> str:
    """The ledger's requester key for a Discord member."""
    return f"{PLATFORM}:{user_id}"


def quota_scope(guild_id: int | None) -> str | None:
    """The shared scope whose daily quota a request counts against: its server, none in DMs."""
    return f"{PLATFORM}:guild:{guild_id}" if guild_id is not None else None


def message_ref(message_id: int | None) -> str | None:
    """A Discord message id as the ledger's text message reference."""
    return str(message_id) if message_id is not None else None


def message_id(ref: str | None) -> int | None:
    """A ledger message reference of a Discord job back as the message id."""
    return int(ref) if ref else None


@dataclass(frozen=True)
class DiscordAddress:
    """The Discord ids a job answers through (not the token: that is the job's reply_secret)."""

    user_id: int
    guild_id: int | None  # None in DMs
    channel_id: int
    interaction_id: int
    token_expires_at: datetime  # timezone-aware UTC

    @property
    def requester(self) -> str:
        return requester(self.user_id)

    @property
    def scope(self) -> str:
        return quota_scope(self.guild_id) or f"{PLATFORM}:dm:{self.user_id}"

    def job_fields(self, token: str) -> dict[str, Any]:
        """The keyword arguments of `JobLedger.create` that say who asked and where to answer."""
        return {
            "platform": PLATFORM,
            "requester": self.requester,
            "scope": self.scope,
            "reply_address": {
                "user_id": self.user_id,
                "guild_id": self.guild_id,
                "channel_id": self.channel_id,
                "interaction_id": self.interaction_id,
                "token_expires_at": _iso(self.token_expires_at),
            },
            "reply_secret": token,
        }

    @classmethod
    def of(cls, job: Job) -> DiscordAddress:
        """A Discord job's address, read back from its ``reply_address``."""
        address = job.reply_address
        return cls(
            user_id=int(address["user_id"]),
            guild_id=int(address["guild_id"]) if address.get("guild_id") is not None else None,
            channel_id=int(address["channel_id"]),
            interaction_id=int(address["interaction_id"]),
            token_expires_at=datetime.fromisoformat(address["token_expires_at"]).astimezone(UTC),
        )


def _iso(moment: datetime) -> str:
    """ISO-8601 UTC text with microseconds and a Z, as the ledger writes its own times."""
    plain = moment.astimezone(UTC).replace(tzinfo=None)
    return plain.isoformat(timespec="microseconds") + "Z"


def member_id(job: Job) -> int:
    """The Discord user id of the member who asked for a Discord job."""
    return DiscordAddress.of(job).user_id
