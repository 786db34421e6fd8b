"""Helpers for the issue-12 tests: a server's owner sending `/portrait-admin`, members asking
for portraits in a chosen channel, and what the bot answered them privately."""

from __future__ import annotations

from typing import Any

from tests.discord_standin import (
    Channel,
    DiscordStandIn,
    InteractionRecord,
    Member,
    Role,
    StoredMessage,
    User,
)
from tests.support.images import selfie_jpeg

RUN = "/Run/wiro/instant-id-lora"
UPLOAD = "/File/Upload"
DEFERRED = 5
MESSAGE = 4
# Only what a test is about limits the members; everything else is let through.
OPEN = {"MEMBER_COOLDOWN_SECONDS": "0", "MEMBER_MAX_ACTIVE_JOBS": "3"}
SELFIE = selfie_jpeg()


def owner_of(server: DiscordStandIn) -> Member:
    """The server's owner (every permission, Manage Server included)."""
    member = server.guild.member(server.world.owner.id)
    assert member is not None
    return member


def add_member(server: DiscordStandIn, name: str, shown: str | None = None) -> Member:
    """A plain member (no role), added before the bot connects."""
    user = server.world.add_user(User(id=server.new_id(), username=name, global_name=shown))
    member = Member(user=user, guild_id=server.guild.id)
    server.guild.members.append(member)
    return member


def add_role(server: DiscordStandIn, name: str) -> Role:
    """A role without permissions, added before the bot connects (so its cache knows it)."""
    role = Role(id=server.new_id(), name=name, position=1)
    server.guild.roles.append(role)
    return role


async def admin(
    server: DiscordStandIn,
    subcommand: str,
    options: dict[str, Any] | None = None,
    *,
    user: Member | None = None,
) -> StoredMessage:
    """`/portrait-admin <subcommand>` by the owner (or `user`); the final private answer."""
    rec = await server.slash(
        f"portrait-admin {subcommand}", options or {}, user=user or owner_of(server)
    )
    answer = await rec.wait_original(lambda m: not m.loading, timeout=10)
    assert answer.ephemeral
    return answer


async def ask(
    server: DiscordStandIn,
    user: Member | None = None,
    channel: Channel | None = None,
    **options: Any,
) -> InteractionRecord:
    """`/portrait` with a good selfie."""
    return await server.slash(
        "portrait",
        {"prompt": "a lighthouse keeper, oil painting", **options},
        attachments={"selfie": ("me.jpg", SELFIE, "image/jpeg")},
        user=user,
        channel=channel,
    )


async def refusal(rec: InteractionRecord) -> str:
    """The private answer of a request refused at once (before acknowledging)."""
    assert await rec.wait_ack() == MESSAGE, rec.describe()
    assert rec.original is not None and rec.original.ephemeral
    return rec.original.content


async def accepted(rec: InteractionRecord) -> StoredMessage:
    return await rec.wait_original(lambda m: "Selfie accepted" in m.content, timeout=10)


def results(server: DiscordStandIn) -> list[StoredMessage]:
    """Public messages that carry files (the portrait posts)."""
    return [
        m for m in server.messages.values() if m.attachments and not m.ephemeral and not m.deleted
    ]
