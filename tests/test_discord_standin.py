"""End-to-end tests of the Discord stand-in with the real discord.py client.

A tiny bot (``/echo``, ``/probe ...``, a dynamic button, a persistent select, a modal) runs
against ``DiscordStandIn`` over 127.0.0.1; the tests assert on what Discord would have seen
and on what discord.py raised inside the bot.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands
from PIL import Image

from tests.discord_standin import DiscordStandIn, StoredMessage, running_bot

TIMEOUT = 5.0


def png_bytes(color: str = "red", size: tuple[int, int] = (8, 6)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


@dataclass
class Probe:
    """What the bot observed, so tests can assert on discord.py's side too."""

    downloads: list[bytes] = field(default_factory=list)
    outcomes: asyncio.Queue[tuple[str, Any]] = field(default_factory=asyncio.Queue)
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def outcome(self) -> tuple[str, Any]:
        return await asyncio.wait_for(self.outcomes.get(), TIMEOUT)


async def record(probe: Probe, coro: Any) -> None:
    try:
        result = await coro
    except discord.HTTPException as exc:
        await probe.outcomes.put(("error", exc))
    else:
        await probe.outcomes.put(("ok", result))


class EchoAgain(discord.ui.DynamicItem[discord.ui.Button], template=r"echo:again:(?P<n>\d+)"):
    def __init__(self, n: int) -> None:
        super().__init__(discord.ui.Button(label="Again", custom_id=f"echo:again:{n}"))
        self.n = n

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> EchoAgain:
        return cls(int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.edit_message(content=f"again #{self.n + 1}")


class StyleSelect(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.select(
        custom_id="echo:style",
        options=[discord.SelectOption(label=s, value=s) for s in ("oil", "sketch")],
    )
    async def style(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
        await interaction.response.send_message(f"style={select.values[0]}", ephemeral=True)

    @discord.ui.select(cls=discord.ui.UserSelect, custom_id="echo:who")
    async def who(self, interaction: discord.Interaction, select: discord.ui.UserSelect) -> None:
        member = select.values[0]
        await interaction.response.send_message(f"who={member.id} {member.display_name}")


class Feedback(discord.ui.Modal, title="Feedback"):
    text = discord.ui.TextInput(label="Your feedback", custom_id="feedback")

    def __init__(self, probe: Probe) -> None:
        super().__init__()
        self.probe = probe

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"thanks: {self.text.value}")


class EchoBot(commands.Bot):
    def __init__(self, probe: Probe, **kwargs: Any) -> None:
        kwargs.setdefault("intents", discord.Intents.default())
        super().__init__(command_prefix=commands.when_mentioned, guild_ready_timeout=0.05, **kwargs)
        self.probe = probe
        self._install_commands()

    async def setup_hook(self) -> None:
        self.add_dynamic_items(EchoAgain)
        self.add_view(StyleSelect())

    async def on_ready(self) -> None:
        self.probe.ready.set()

    def _install_commands(self) -> None:
        probe = self.probe

        @app_commands.command(description="Echo text and a picture back")
        @app_commands.describe(text="What to say", file="A picture", style="Painting style")
        async def echo(
            interaction: discord.Interaction,
            text: str,
            file: discord.Attachment,
            style: str | None = None,
        ) -> None:
            await interaction.response.defer(thinking=True)
            data = await file.read()
            probe.downloads.append(data)
            view = discord.ui.View(timeout=None)
            view.add_item(EchoAgain(1))
            await interaction.edit_original_response(
                content=f"echo: {text} ({style or 'plain'})",
                attachments=[discord.File(io.BytesIO(data), filename="echo.png")],
                view=view,
            )
            await interaction.followup.send("follow-up", ephemeral=True)
            assert interaction.channel is not None
            await interaction.channel.send(f"channel: {text}", view=StyleSelect())
            await probe.outcomes.put(("ok", "echo done"))

        @echo.autocomplete("style")
        async def style_autocomplete(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            styles = ["dreamy", "dreamlike", "oil", "sketch"]
            return [app_commands.Choice(name=s, value=s) for s in styles if s.startswith(current)]

        probe_group = app_commands.Group(name="probe", description="Stand-in probes")

        @probe_group.command(description="Reply, wait for the test, then edit")
        async def reply(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("original")
            await probe.gate.wait()
            await record(probe, interaction.edit_original_response(content="edited"))

        @probe_group.command(description="Wait for the test, then defer")
        async def late(interaction: discord.Interaction) -> None:
            await probe.gate.wait()
            await record(probe, interaction.response.defer())

        @probe_group.command(description="Acknowledge twice")
        async def twice(interaction: discord.Interaction) -> None:
            await interaction.response.defer()
            # bypass discord.py's own InteractionResponded guard to hit Discord's check
            interaction.response._response_type = None
            await record(probe, interaction.response.defer())

        @probe_group.command(description="Post a file in a channel")
        @app_commands.describe(where="Channel to post in")
        async def upload(interaction: discord.Interaction, where: discord.TextChannel) -> None:
            await interaction.response.defer(ephemeral=True)
            channel = interaction.client.get_channel(where.id)
            assert isinstance(channel, discord.TextChannel)
            file = discord.File(io.BytesIO(b"hello"), filename="hello.txt")
            await record(probe, channel.send("file", file=file))

        @probe_group.command(description="Open a modal")
        async def modal(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(Feedback(probe))

        @probe_group.command(description="Describe the invocation, then fetch the reply")
        async def whoami(interaction: discord.Interaction) -> None:
            nsfw = getattr(interaction.channel, "nsfw", False)
            await interaction.response.send_message(
                f"nsfw={nsfw} guild={interaction.guild_id} user={interaction.user.id} "
                f"manage={interaction.permissions.manage_messages} "
                f"attach={interaction.app_permissions.attach_files}"
            )
            fetched = await interaction.original_response()  # GET @original
            await probe.outcomes.put(("ok", fetched.content))

        @probe_group.command(description="Too long a message")
        async def long(interaction: discord.Interaction) -> None:
            await record(probe, interaction.response.send_message("x" * 2001))

        self.tree.add_command(echo)
        self.tree.add_command(probe_group)


@pytest.fixture
async def discord_server() -> AsyncIterator[DiscordStandIn]:
    async with DiscordStandIn() as server:
        yield server
        assert server.internal_errors == []


@pytest.fixture
async def bot(discord_server: DiscordStandIn) -> AsyncIterator[EchoBot]:
    async with running_bot(EchoBot(Probe()), discord_server) as running:
        await running.tree.sync()
        yield running


async def test_login_ready_and_guild_create(discord_server: DiscordStandIn) -> None:
    bot = EchoBot(Probe())
    async with running_bot(bot, discord_server, wait="ready"):
        assert bot.probe.ready.is_set()
        assert bot.user is not None and bot.user.id == discord_server.bot_user_id
        assert bot.application_id == discord_server.application_id
        guild = bot.get_guild(discord_server.guild.id)
        assert guild is not None and not guild.unavailable
        assert guild.name == discord_server.guild.name
        names = {c.name: c for c in guild.text_channels}
        assert set(names) == {"general", "nsfw-portraits", "no-files"}
        assert names["nsfw-portraits"].is_nsfw() and not names["general"].is_nsfw()
        assert guild.member_count == len(discord_server.guild.members)
        # default intents (no GUILD_MEMBERS): Discord only sends the bot's own member
        assert guild.me is not None and guild.me.id == discord_server.bot_user_id
        me_perms = names["general"].permissions_for(guild.me)
        assert me_perms.send_messages and me_perms.attach_files and me_perms.embed_links
        assert not names["no-files"].permissions_for(guild.me).attach_files
        moderator_role = guild.get_role(discord_server.moderator_role.id)
        assert moderator_role is not None and moderator_role.permissions.manage_messages
        # discord.py asked for zlib-stream transport compression and got it
        conn = next(iter(discord_server.gateway.connections))
        assert conn.requested_compression == "zlib-stream" and conn.compression == "zlib-stream"
        assert discord_server.requests_to("GET", "/users/@me")
        assert discord_server.unknown_routes == []


async def test_members_intent_sees_all_members(discord_server: DiscordStandIn) -> None:
    intents = discord.Intents.default()
    intents.members = True
    bot = EchoBot(Probe(), intents=intents)
    async with running_bot(bot, discord_server, wait="ready"):
        guild = bot.get_guild(discord_server.guild.id)
        assert guild is not None
        assert {m.id for m in guild.members} == {m.id for m in discord_server.guild.members}
        moderator = guild.get_member(discord_server.moderator.id)
        assert moderator is not None and moderator.guild_permissions.manage_messages


async def test_bad_token_is_login_failure(discord_server: DiscordStandIn) -> None:
    with pytest.raises(discord.LoginFailure):
        async with running_bot(EchoBot(Probe()), discord_server, token="wrong"):
            pass


async def test_tree_sync_is_recorded(discord_server: DiscordStandIn) -> None:
    bot = EchoBot(Probe())
    async with running_bot(bot, discord_server):
        synced = await bot.tree.sync()
        assert discord_server.sync_calls == 1
        echo = next(c for c in discord_server.synced_global if c["name"] == "echo")
        assert echo["description"] == "Echo text and a picture back"
        options = {o["name"]: o for o in echo["options"]}
        assert options["text"]["type"] == 3 and options["text"]["required"]
        assert options["text"]["description"] == "What to say"
        assert options["file"]["type"] == 11
        assert options["style"]["autocomplete"] and not options["style"]["required"]
        probe = next(c for c in discord_server.synced_global if c["name"] == "probe")
        assert {o["name"] for o in probe["options"]} >= {"reply", "upload", "modal"}
        assert all(o["type"] == 1 for o in probe["options"])
        assert {c.id for c in synced} == {int(c["id"]) for c in discord_server.synced_global}

        guild = discord.Object(discord_server.guild.id)
        bot.tree.copy_global_to(guild=guild)
        await bot.tree.sync(guild=guild)
        assert discord_server.sync_calls == 2
        assert len(discord_server.synced_guild[discord_server.guild.id]) == 2
        fetched = await bot.tree.fetch_commands()
        assert {c.name for c in fetched} == {"echo", "probe"}
        again = await bot.tree.sync()  # ids are stable across re-syncs, as on Discord
        assert {c.id for c in again} == {c.id for c in synced}


async def test_slash_round_trip_with_attachment(
    bot: EchoBot, discord_server: DiscordStandIn
) -> None:
    selfie = png_bytes("blue")
    rec = await discord_server.slash(
        "echo", {"text": "hello"}, attachments={"file": ("selfie.png", selfie, "image/png")}
    )
    assert await bot.probe.outcome() == ("ok", "echo done")
    assert bot.probe.downloads == [selfie]  # the bot downloaded the file the stand-in served

    assert rec.callback_type == 5 and rec.ack_at is not None and rec.ack_at >= rec.sent_at
    assert rec.callbacks[0].with_response  # discord.py 2.7 always asks ?with_response=1
    original = await rec.wait_original()
    assert original.content == "echo: hello (plain)"
    assert not original.loading and len(original.edits) == 1
    [att] = original.attachments
    assert att.filename == "echo.png" and att.data == selfie
    with att.open_image() as img:
        assert img.size == (8, 6)
    assert original.custom_ids() == ["echo:again:1"]

    [followup] = await rec.wait_followups(1)
    assert followup.content == "follow-up" and followup.ephemeral
    [channel_msg] = [m for m in discord_server.channel_messages() if not m.interaction_id]
    assert channel_msg.content == "channel: hello"
    assert channel_msg.custom_ids() == ["echo:style", "echo:who"]
    assert original.created_at <= followup.created_at <= channel_msg.created_at


async def test_subcommand_and_default_user(bot: EchoBot, discord_server: DiscordStandIn) -> None:
    bot.probe.gate.set()
    rec = await discord_server.slash("probe reply", user=discord_server.moderator)
    assert (await bot.probe.outcome())[0] == "ok"
    msg = await rec.wait_original(lambda m: m.content == "edited")
    assert msg.extra["interaction_metadata"]["user"]["id"] == str(discord_server.moderator.id)
    with pytest.raises(ValueError, match="unknown option"):
        await discord_server.slash("probe reply", {"nope": 1})
    with pytest.raises(ValueError, match="required"):
        await discord_server.slash("echo", {"text": "no file"})


async def test_autocomplete_choices(bot: EchoBot, discord_server: DiscordStandIn) -> None:
    rec = await discord_server.autocomplete(
        "echo", focused="style", value="dream", options={"text": "hi"}
    )
    choices = await rec.wait_choices()
    assert [c["value"] for c in choices] == ["dreamy", "dreamlike"]
    assert rec.callback_type == 8


async def test_button_click_and_select_reach_the_bot(
    bot: EchoBot, discord_server: DiscordStandIn
) -> None:
    rec = await discord_server.slash("echo", {"text": "x"}, attachments={"file": png_bytes()})
    await bot.probe.outcome()
    original = await rec.wait_original()

    click = await discord_server.click(original, "echo:again:1")
    assert await click.wait_ack() == 7  # UPDATE_MESSAGE edits the clicked message
    assert original.content == "again #2" and click.original is original

    [channel_msg] = [m for m in discord_server.channel_messages() if not m.interaction_id]
    chosen = await discord_server.select(channel_msg, "echo:style", ["sketch"])
    reply = await chosen.wait_original()
    assert reply.content == "style=sketch" and reply.ephemeral

    picked = await discord_server.select(channel_msg, "echo:who", [discord_server.moderator])
    reply = await picked.wait_original()
    assert reply.content == f"who={discord_server.moderator.id} Moderator Mo"

    with pytest.raises(ValueError, match="not in options"):
        await discord_server.select(channel_msg, "echo:style", ["watercolour"])
    with pytest.raises(ValueError, match="no component"):
        await discord_server.click(original, "does-not-exist")


async def test_modal_submit(bot: EchoBot, discord_server: DiscordStandIn) -> None:
    opener = await discord_server.slash("probe modal")
    assert await opener.wait_ack() == 9
    assert opener.modal is not None and opener.modal["title"] == "Feedback"
    submitted = await discord_server.submit_modal(opener, {"feedback": "lovely"})
    reply = await submitted.wait_original()
    assert reply.content == "thanks: lovely"


async def test_rate_limited_edit_is_retried(bot: EchoBot, discord_server: DiscordStandIn) -> None:
    fault = discord_server.faults.rate_limit(
        "PATCH", "/webhooks/*/messages/@original", times=2, retry_after=0.05
    )
    rec = await discord_server.slash("probe reply")
    await rec.wait_original()
    bot.probe.gate.set()
    assert (await bot.probe.outcome())[0] == "ok"
    assert len(fault.hits) == 2
    patches = discord_server.requests_to("PATCH", "/webhooks/*/messages/@original")
    assert [r.status for r in patches] == [429, 429, 200]
    assert rec.original is not None and rec.original.content == "edited"


async def test_global_rate_limit_is_retried(bot: EchoBot, discord_server: DiscordStandIn) -> None:
    fault = discord_server.faults.rate_limit(
        "POST", "/channels/*/messages", times=1, retry_after=0.05, is_global=True
    )
    channel = bot.get_channel(discord_server.channel.id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("after a global limit")
    assert len(fault.hits) == 1
    assert discord_server.messages[sent.id].content == "after a global limit"


async def test_deleted_message_raises_not_found(
    bot: EchoBot, discord_server: DiscordStandIn
) -> None:
    rec = await discord_server.slash("probe reply")
    original = await rec.wait_original()
    await discord_server.delete_message(original)  # a moderator deletes it
    bot.probe.gate.set()
    kind, exc = await bot.probe.outcome()
    assert kind == "error" and isinstance(exc, discord.NotFound) and exc.code == 10008


async def test_missing_permissions_raise_forbidden(
    bot: EchoBot, discord_server: DiscordStandIn
) -> None:
    # real permission model: the bot role is denied Attach Files in #no-files
    await discord_server.slash("probe upload", {"where": discord_server.no_files_channel})
    kind, exc = await bot.probe.outcome()
    assert kind == "error" and isinstance(exc, discord.Forbidden) and exc.code == 50013

    # injected fault: uploads to #general are forbidden, text is not
    discord_server.faults.forbidden("POST", "/channels/*/messages", when=lambda r: r.has_files)
    await discord_server.slash("probe upload", {"where": discord_server.channel})
    kind, exc = await bot.probe.outcome()
    assert kind == "error" and isinstance(exc, discord.Forbidden)
    channel = bot.get_channel(discord_server.channel.id)
    assert isinstance(channel, discord.TextChannel)
    await channel.send("text still works")


async def test_expired_token_raises_not_found(bot: EchoBot, discord_server: DiscordStandIn) -> None:
    rec = await discord_server.slash("probe late")
    discord_server.expire_interaction(rec)
    bot.probe.gate.set()
    kind, exc = await bot.probe.outcome()
    assert kind == "error" and isinstance(exc, discord.NotFound) and exc.code == 10062
    assert rec.rejected_callbacks and not rec.acknowledged


async def test_expired_token_on_webhook_is_invalid_token(
    bot: EchoBot, discord_server: DiscordStandIn
) -> None:
    rec = await discord_server.slash("probe reply")
    await rec.wait_original()
    discord_server.expire_interaction(rec)
    bot.probe.gate.set()
    kind, exc = await bot.probe.outcome()
    assert kind == "error" and exc.status == 401 and exc.code == 50027


async def test_late_acknowledgement_is_unknown_interaction(
    bot: EchoBot, discord_server: DiscordStandIn
) -> None:
    discord_server.ack_timeout = 0.05  # Discord's 3 s window, shortened
    rec = await discord_server.slash("probe late")
    await asyncio.sleep(0.1)
    bot.probe.gate.set()
    kind, exc = await bot.probe.outcome()
    assert kind == "error" and isinstance(exc, discord.NotFound) and exc.code == 10062
    assert not rec.acknowledged and rec.rejected_callbacks[0].error_code == 10062


async def test_second_acknowledgement_is_rejected(
    bot: EchoBot, discord_server: DiscordStandIn
) -> None:
    rec = await discord_server.slash("probe twice")
    kind, exc = await bot.probe.outcome()
    assert kind == "error" and exc.status == 400 and exc.code == 40060
    assert [c.status for c in rec.callbacks] == [200, 400]


async def test_invalid_message_is_rejected(bot: EchoBot, discord_server: DiscordStandIn) -> None:
    rec = await discord_server.slash("probe long")
    kind, exc = await bot.probe.outcome()
    assert kind == "error" and exc.status == 400 and exc.code == 50035
    assert "content" in str(exc) and not rec.acknowledged


async def test_unknown_route_is_recorded(bot: EchoBot, discord_server: DiscordStandIn) -> None:
    with pytest.raises(discord.NotFound) as info:
        await bot.http.request(discord.http.Route("GET", "/nothing/{x}", x=1))
    assert info.value.code == 0
    assert discord_server.unknown_routes == ["GET /nothing/1"]


async def test_gateway_reconnect_resumes(bot: EchoBot, discord_server: DiscordStandIn) -> None:
    await discord_server.request_reconnect()
    await discord_server.wait_for(lambda s: s.gateway.resume_count == 1 and s.gateway.connected)
    rec = await discord_server.slash("probe modal")
    assert await rec.wait_ack() == 9


async def test_message_events_reach_the_bot_cache(
    bot: EchoBot, discord_server: DiscordStandIn
) -> None:
    channel = bot.get_channel(discord_server.channel.id)
    assert isinstance(channel, discord.TextChannel)
    deleted = asyncio.get_running_loop().create_future()

    async def on_message_delete(message: discord.Message) -> None:
        if not deleted.done():
            deleted.set_result(message.id)

    bot.add_listener(on_message_delete)
    sent = await channel.send("cache me")
    stored: StoredMessage = discord_server.messages[sent.id]
    await discord_server.delete_message(stored)
    assert await asyncio.wait_for(deleted, TIMEOUT) == sent.id
    with pytest.raises(discord.NotFound):
        await sent.edit(content="too late")


async def test_interaction_carries_channel_and_permissions(
    bot: EchoBot, discord_server: DiscordStandIn
) -> None:
    gid, mod = discord_server.guild.id, discord_server.moderator.id
    rec = await discord_server.slash(
        "probe whoami", user=discord_server.moderator, channel=discord_server.nsfw_channel
    )
    expected = f"nsfw=True guild={gid} user={mod} manage=True attach=True"
    assert await bot.probe.outcome() == ("ok", expected)
    assert rec.original is not None and rec.original.channel_id == discord_server.nsfw_channel.id

    await discord_server.slash("probe whoami", channel=discord_server.no_files_channel)
    user = discord_server.member.id
    expected = f"nsfw=False guild={gid} user={user} manage=False attach=False"
    assert await bot.probe.outcome() == ("ok", expected)


async def test_dm_interaction(bot: EchoBot, discord_server: DiscordStandIn) -> None:
    dm = discord_server.dm_channel(discord_server.member)
    rec = await discord_server.slash("probe whoami", channel=dm)
    user = discord_server.member.id
    assert await bot.probe.outcome() == (
        "ok",
        f"nsfw=False guild=None user={user} manage=False attach=True",
    )
    assert rec.original is not None and rec.original.guild_id is None


async def test_channel_routes_history_typing_delay_and_save_dir(tmp_path: Any) -> None:
    async with (
        DiscordStandIn(save_dir=tmp_path) as discord_server,
        running_bot(EchoBot(Probe()), discord_server) as bot,
    ):
        channel = bot.get_channel(discord_server.channel.id)
        assert isinstance(channel, discord.TextChannel)
        slow = discord_server.faults.delay("POST", "/channels/*/messages", 0.05, times=1)
        async with channel.typing():
            first = await channel.send("one", file=discord.File(io.BytesIO(png_bytes()), "a.png"))
        assert len(slow.hits) == 1 and discord_server.typing
        second = await channel.send("two")
        edited = await second.edit(content="two (edited)")
        assert edited.content == "two (edited)"
        history = [m.content async for m in channel.history(limit=10)]
        assert history == ["two (edited)", "one"]
        [att] = discord_server.messages[first.id].attachments
        assert att.path is not None and att.path.read_bytes() == att.data
        assert await first.attachments[0].read() == att.data  # served by the stand-in
        with pytest.raises(discord.HTTPException) as info:
            await channel.send("x" * 2001)
        assert info.value.code == 50035
        assert discord_server.unknown_routes == []


async def test_autosharded_bot_follows_gateway_bot(discord_server: DiscordStandIn) -> None:
    # Only Route.BASE is configured: AutoShardedBot asks GET /gateway/bot for the URL.
    old_base = discord.http.Route.BASE
    discord.http.Route.BASE = discord_server.api_base
    try:
        bot = commands.AutoShardedBot(
            command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05
        )
        async with running_bot(bot, discord_server, patch=False):
            assert bot.get_guild(discord_server.guild.id) is not None
            assert bot.shard_count == 1
    finally:
        discord.http.Route.BASE = old_base
    assert discord_server.requests_to("GET", "/gateway/bot")


async def test_disallowed_privileged_intents_are_refused() -> None:
    intents = discord.Intents.default()
    intents.members = True
    async with DiscordStandIn(allowed_privileged_intents=0) as discord_server:
        with pytest.raises(discord.PrivilegedIntentsRequired):
            async with running_bot(EchoBot(Probe(), intents=intents), discord_server):
                pass


async def test_raw_gateway_permessage_deflate_and_zlib_stream(
    discord_server: DiscordStandIn,
) -> None:
    """Clients that ask for permessage-deflate get it, on top of zlib-stream."""
    url = discord_server.gateway_url + "?v=10&encoding=json&compress=zlib-stream"
    inflator = zlib.decompressobj()

    async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
        msg = await ws.receive(timeout=TIMEOUT)
        assert msg.type is aiohttp.WSMsgType.BINARY
        assert msg.data.endswith(b"\x00\x00\xff\xff")
        return json.loads(inflator.decompress(msg.data))

    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, compress=15) as ws:
            assert ws.compress == 15
            hello = await receive(ws)
            assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
            await ws.send_json({"op": 1, "d": None})
            assert (await receive(ws))["op"] == 11
            identify = {"token": discord_server.token, "intents": 1, "properties": {}}
            await ws.send_json({"op": 2, "d": identify})
            ready, guild = await receive(ws), await receive(ws)
            assert ready["t"] == "READY" and ready["d"]["application"]["id"]
            assert guild["t"] == "GUILD_CREATE" and guild["s"] == 2
            nsfw = [c["name"] for c in guild["d"]["channels"] if c["nsfw"]]
            assert nsfw == ["nsfw-portraits"]
        conn_log = [entry for _, kind, entry in discord_server.gateway.log if kind == "connect"]
        assert conn_log[-1]["permessage_deflate"] and conn_log[-1]["compression"] == "zlib-stream"

        async with session.ws_connect(discord_server.gateway_url + "?v=10") as ws:
            await ws.receive_json(timeout=TIMEOUT)  # HELLO, plain text without compress=
            await ws.send_json({"op": 6, "d": {"session_id": "nope", "seq": 1, "token": "x"}})
            assert await ws.receive_json(timeout=TIMEOUT) == {"op": 9, "d": False}
            await ws.send_json({"op": 2, "d": {"token": "wrong", "intents": 1}})
            closed = await ws.receive(timeout=TIMEOUT)
            assert closed.type is aiohttp.WSMsgType.CLOSE and closed.data == 4004
