"""A Discord job's ids kept in the ledger's platform-neutral fields, and read back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from bot.core.jobs.sqlite_ledger import LEDGER_FILENAME, SqliteLedger
from bot.frontends.discord_bot.address import (
    DiscordAddress,
    member_id,
    message_id,
    message_ref,
    quota_scope,
    requester,
)

TOKEN = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDpzZWNyZXQtdG9rZW4tZG8tbm90LWxvZw"


async def test_a_discord_job_round_trips_through_the_ledger(tmp_path) -> None:
    eastern = timezone(timedelta(hours=-5))
    expires = datetime(2025, 3, 1, 7, 15, 0, 1, tzinfo=eastern)
    in_a_server = DiscordAddress(
        user_id=2**62,  # Discord snowflakes need 64-bit integers
        guild_id=2**61,
        channel_id=2**60 + 7,
        interaction_id=123,
        token_expires_at=expires,
    )
    in_dms = DiscordAddress(
        user_id=2**62, guild_id=None, channel_id=5, interaction_id=6, token_expires_at=expires
    )
    async with await SqliteLedger.open(tmp_path / LEDGER_FILENAME) as ledger:
        server_job = await ledger.create(**in_a_server.job_fields(TOKEN), params={})
        dm_job = await ledger.create(**in_dms.job_fields(TOKEN), params={})

    assert DiscordAddress.of(server_job) == in_a_server
    assert DiscordAddress.of(server_job).token_expires_at.tzinfo is UTC
    assert DiscordAddress.of(dm_job) == in_dms
    assert server_job.platform == dm_job.platform == "discord"
    assert server_job.requester == dm_job.requester == f"discord:{2**62}"
    assert server_job.scope == f"discord:guild:{2**61}"
    assert dm_job.scope == f"discord:dm:{2**62}"  # never shares a server's quota
    assert member_id(dm_job) == 2**62
    # The token is the secret part: kept apart from the address and out of repr.
    assert server_job.reply_secret == TOKEN
    assert TOKEN not in json.dumps(server_job.reply_address)
    assert TOKEN not in repr(server_job)


def test_keys_and_message_references() -> None:
    assert requester(42) == "discord:42"
    assert quota_scope(7) == "discord:guild:7"
    assert quota_scope(None) is None  # a DM: only the member's own limits apply
    assert message_ref(2**62) == str(2**62) and message_id(str(2**62)) == 2**62
    assert message_ref(None) is None and message_id(None) is None
