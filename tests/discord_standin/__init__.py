"""A local Discord stand-in (REST API v10 + gateway over 127.0.0.1) for end-to-end tests
and benchmarks of the real, unmodified discord.py client.

    async with DiscordStandIn() as discord_server:
        async with running_bot(bot, discord_server):
            rec = await discord_server.slash("echo", {"text": "hi"})
            msg = await rec.wait_original()
"""

from .faults import Fault, Faults
from .harness import running_bot
from .interactions import Upload
from .models import (
    Channel,
    Guild,
    Intent,
    Member,
    Overwrite,
    Perm,
    Role,
    Team,
    TeamMember,
    User,
    World,
)
from .records import (
    CallbackRecord,
    EditRecord,
    InteractionRecord,
    RequestRecord,
    StoredAttachment,
    StoredMessage,
    SyncCall,
)
from .server import DiscordStandIn

__all__ = [
    "CallbackRecord",
    "Channel",
    "DiscordStandIn",
    "EditRecord",
    "Fault",
    "Faults",
    "Guild",
    "Intent",
    "InteractionRecord",
    "Member",
    "Overwrite",
    "Perm",
    "RequestRecord",
    "Role",
    "StoredAttachment",
    "StoredMessage",
    "SyncCall",
    "Team",
    "TeamMember",
    "Upload",
    "User",
    "World",
    "running_bot",
]
