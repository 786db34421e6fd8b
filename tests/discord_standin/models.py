"""The stand-in's world: users, roles, channels, members and guilds as small dataclasses.

These are *fixtures* (what exists on "Discord"), not records of what the bot did; see
``records.py`` for those.  Payload shapes live in ``payloads.py``.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from enum import IntFlag

DISCORD_EPOCH_MS = 1_420_070_400_000


class Perm(IntFlag):
    """Discord permission bits (only the ones the stand-in reasons about are named)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CHANGE_NICKNAME = 1 << 26
    USE_APPLICATION_COMMANDS = 1 << 31
    SEND_MESSAGES_IN_THREADS = 1 << 38
    USE_EXTERNAL_APPS = 1 << 50


ALL_PERMISSIONS = (1 << 53) - 1

EVERYONE_DEFAULT = (
    Perm.CREATE_INSTANT_INVITE
    | Perm.ADD_REACTIONS
    | Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.CHANGE_NICKNAME
    | Perm.USE_APPLICATION_COMMANDS
    | Perm.SEND_MESSAGES_IN_THREADS
    | Perm.USE_EXTERNAL_APPS
)

BOT_ROLE_DEFAULT = (
    Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.ADD_REACTIONS
    | Perm.SEND_MESSAGES_IN_THREADS
)


class Intent(IntFlag):
    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    DIRECT_MESSAGES = 1 << 12
    MESSAGE_CONTENT = 1 << 15


PRIVILEGED_INTENTS = Intent.GUILD_MEMBERS | Intent.GUILD_PRESENCES | Intent.MESSAGE_CONTENT


class SnowflakeFactory:
    """Generates time-based snowflakes (discord.py derives timestamps from them)."""

    def __init__(self, worker: int = 1) -> None:
        self._worker = worker & 0x1F
        self._counter = itertools.count()
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            increment = next(self._counter) & 0xFFF
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (self._worker << 17) | increment


@dataclass
class User:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False
    avatar: str | None = None

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass
class Role:
    id: int
    name: str
    permissions: int = 0
    position: int = 0
    color: int = 0
    managed: bool = False
    bot_id: int | None = None

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"


@dataclass
class Overwrite:
    """A channel permission overwrite; ``type`` 0 = role, 1 = member."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0


@dataclass
class Channel:
    id: int
    name: str
    guild_id: int | None
    type: int = 0  # 0 text, 1 DM, 2 voice, 4 category, 5 news
    nsfw: bool = False
    position: int = 0
    topic: str | None = None
    parent_id: int | None = None
    overwrites: list[Overwrite] = field(default_factory=list)
    recipient_id: int | None = None  # DM channels only

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    @property
    def is_dm(self) -> bool:
        return self.type == 1


@dataclass
class Member:
    user: User
    guild_id: int
    role_ids: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = "2024-01-01T00:00:00.000000+00:00"

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def mention(self) -> str:
        return self.user.mention


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: list[Role] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)
    preferred_locale: str = "en-US"
    features: list[str] = field(default_factory=list)

    @property
    def everyone(self) -> Role:
        return self.role(self.id)

    def role(self, role_id: int) -> Role:
        for role in self.roles:
            if role.id == role_id:
                return role
        raise KeyError(f"no role {role_id} in guild {self.id}")

    def channel(self, channel_id: int) -> Channel | None:
        return next((c for c in self.channels if c.id == channel_id), None)

    def member(self, user_id: int) -> Member | None:
        return next((m for m in self.members if m.user.id == user_id), None)

    def base_permissions(self, member: Member) -> int:
        if member.user.id == self.owner_id:
            return ALL_PERMISSIONS
        perms = self.everyone.permissions
        for role_id in member.role_ids:
            perms |= self.role(role_id).permissions
        if perms & Perm.ADMINISTRATOR:
            return ALL_PERMISSIONS
        return perms

    def permissions_in(self, member: Member, channel: Channel | None) -> int:
        """Discord's permission algorithm: base permissions, then channel overwrites."""
        perms = self.base_permissions(member)
        if perms == ALL_PERMISSIONS or channel is None:
            return perms
        by_id = {o.id: o for o in channel.overwrites}
        everyone = by_id.get(self.id)
        if everyone:
            perms = (perms & ~everyone.deny) | everyone.allow
        allow = deny = 0
        for role_id in member.role_ids:
            ow = by_id.get(role_id)
            if ow and ow.type == 0:
                allow |= ow.allow
                deny |= ow.deny
        perms = (perms & ~deny) | allow
        own = by_id.get(member.user.id)
        if own and own.type == 1:
            perms = (perms & ~own.deny) | own.allow
        if not perms & Perm.VIEW_CHANNEL:
            return 0
        return perms


@dataclass
class TeamMember:
    """A member of the application's team; ``membership_state`` 1 = invited, 2 = accepted."""

    user: User
    membership_state: int = 2
    role: str = "admin"  # admin, developer, read_only


@dataclass
class Team:
    """An application owned by a team (Discord then reports a team pseudo-user as owner)."""

    id: int
    name: str
    owner_user_id: int
    members: list[TeamMember] = field(default_factory=list)


@dataclass
class World:
    """Everything that exists on the stand-in: the bot, its application, guilds, DMs."""

    application_id: int
    bot_user: User
    owner: User
    team: Team | None = None  # set to make the application team-owned
    guilds: list[Guild] = field(default_factory=list)
    users: dict[int, User] = field(default_factory=dict)
    dm_channels: dict[int, Channel] = field(default_factory=dict)  # by recipient id

    def guild(self, guild_id: int) -> Guild | None:
        return next((g for g in self.guilds if g.id == guild_id), None)

    def channel(self, channel_id: int) -> Channel | None:
        for guild in self.guilds:
            found = guild.channel(channel_id)
            if found:
                return found
        return next((c for c in self.dm_channels.values() if c.id == channel_id), None)

    def user(self, user_id: int) -> User | None:
        return self.users.get(user_id)

    def add_user(self, user: User) -> User:
        self.users[user.id] = user
        return user

    def dm_channel(self, user: User, new_id: int) -> Channel:
        channel = self.dm_channels.get(user.id)
        if channel is None:
            channel = Channel(id=new_id, name="", guild_id=None, type=1, recipient_id=user.id)
            self.dm_channels[user.id] = channel
        return channel


@dataclass
class DefaultFixtures:
    """Handles on the default world's objects (exposed as attributes of the stand-in)."""

    world: World
    guild: Guild
    channel: Channel
    nsfw_channel: Channel
    no_files_channel: Channel
    everyone_role: Role
    moderator_role: Role
    bot_role: Role
    user: Member
    moderator: Member
    bot_member: Member


def build_default_world(new_id: SnowflakeFactory) -> DefaultFixtures:
    """One guild with #general, an age-restricted #nsfw-portraits, and #no-files where the
    bot may not attach files; members: a regular user, a moderator (Manage Messages), the bot."""
    app_id = new_id()
    bot_user = User(id=app_id, username="Portrait Bot", bot=True)  # bot user id == app id
    owner = User(id=new_id(), username="owner", global_name="Guild Owner")
    alice = User(id=new_id(), username="alice", global_name="Alice")
    mod = User(id=new_id(), username="mod", global_name="Moderator Mo")
    guild_id = new_id()
    everyone = Role(id=guild_id, name="@everyone", permissions=int(EVERYONE_DEFAULT))
    moderator_role = Role(
        id=new_id(), name="Moderator", permissions=int(Perm.MANAGE_MESSAGES), position=2
    )
    bot_role = Role(
        id=new_id(),
        name="Portrait Bot",
        permissions=int(BOT_ROLE_DEFAULT),
        position=1,
        managed=True,
        bot_id=bot_user.id,
    )
    general = Channel(id=new_id(), name="general", guild_id=guild_id, topic="portraits here")
    nsfw = Channel(id=new_id(), name="nsfw-portraits", guild_id=guild_id, nsfw=True, position=1)
    no_files = Channel(
        id=new_id(),
        name="no-files",
        guild_id=guild_id,
        position=2,
        overwrites=[Overwrite(id=bot_role.id, type=0, deny=int(Perm.ATTACH_FILES))],
    )
    user_member = Member(user=alice, guild_id=guild_id)
    mod_member = Member(user=mod, guild_id=guild_id, role_ids=[moderator_role.id])
    bot_member = Member(user=bot_user, guild_id=guild_id, role_ids=[bot_role.id])
    owner_member = Member(user=owner, guild_id=guild_id)
    guild = Guild(
        id=guild_id,
        name="Portrait Test Guild",
        owner_id=owner.id,
        roles=[everyone, bot_role, moderator_role],
        channels=[general, nsfw, no_files],
        members=[owner_member, user_member, mod_member, bot_member],
    )
    world = World(application_id=app_id, bot_user=bot_user, owner=owner, guilds=[guild])
    for u in (bot_user, owner, alice, mod):
        world.add_user(u)
    return DefaultFixtures(
        world=world,
        guild=guild,
        channel=general,
        nsfw_channel=nsfw,
        no_files_channel=no_files,
        everyone_role=everyone,
        moderator_role=moderator_role,
        bot_role=bot_role,
        user=user_member,
        moderator=mod_member,
        bot_member=bot_member,
    )


def add_guild(
    fixtures: DefaultFixtures,
    new_id: SnowflakeFactory,
    name: str,
    *,
    shard: tuple[int, int] | None = None,
) -> Guild:
    """Another guild like the default one (#general; the default member and the bot in it),
    owned by the same owner; with ``shard=(id, count)`` its id is drawn until Discord's rule
    puts it on that shard (``(guild_id >> 22) % count``)."""
    world = fixtures.world
    guild_id = new_id()
    while shard is not None and (guild_id >> 22) % shard[1] != shard[0]:
        time.sleep(0.001)  # the next millisecond gives the next shard
        guild_id = new_id()
    everyone = Role(id=guild_id, name="@everyone", permissions=int(EVERYONE_DEFAULT))
    bot_role = Role(
        id=new_id(),
        name="Portrait Bot",
        permissions=int(BOT_ROLE_DEFAULT),
        position=1,
        managed=True,
        bot_id=world.bot_user.id,
    )
    general = Channel(id=new_id(), name="general", guild_id=guild_id, topic="portraits here")
    guild = Guild(
        id=guild_id,
        name=name,
        owner_id=world.owner.id,
        roles=[everyone, bot_role],
        channels=[general],
        members=[
            Member(user=world.owner, guild_id=guild_id),
            Member(user=fixtures.user.user, guild_id=guild_id),
            Member(user=world.bot_user, guild_id=guild_id, role_ids=[bot_role.id]),
        ],
    )
    world.guilds.append(guild)
    return guild
