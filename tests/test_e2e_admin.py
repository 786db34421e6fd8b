"""`/portrait-admin` through the Discord stand-in and the real bot (issue 12): who may use it
(Manage Server, checked again on every call), what `show`, `stats` and `log` display, the
style picker, and the Discord owner contact for Wiro health alerts."""

from __future__ import annotations

import io

import discord
import pytest
from PIL import Image

from bot.core.insight.health import HealthState
from bot.frontends.discord_bot.address import quota_scope
from tests.discord_standin import Perm, Team, TeamMember, User
from tests.support.policy import OPEN, accepted, add_member, add_role, admin, ask, refusal
from tests.support.portrait_bot import portrait_bot

MANAGE_SERVER = str(int(Perm.MANAGE_GUILD))


@pytest.fixture
def eve(discord_server):
    return add_member(discord_server, "eve", "*Eve* [x](https://evil.example)")


@pytest.fixture
def manager(discord_server):
    """A member whose role grants Manage Server (not the owner, not Administrator)."""
    role = add_role(discord_server, "Managers")
    role.permissions = int(Perm.MANAGE_GUILD)
    member = add_member(discord_server, "manny", "Manny")
    member.role_ids.append(role.id)
    return member


@pytest.fixture
async def bot(discord_server, fake_wiro, tmp_path, eve, manager):
    async with portrait_bot(discord_server, fake_wiro, tmp_path, **OPEN) as bot:
        yield bot


def policy_scope(discord_server):
    return quota_scope(discord_server.guild.id)


async def test_the_group_is_for_manage_server_by_default_and_only_in_servers(bot, discord_server):
    (definition,) = [c for c in discord_server.synced_global if c["name"] == "portrait-admin"]
    assert definition["default_member_permissions"] == MANAGE_SERVER
    assert definition["contexts"] == [0]  # guilds only
    assert {o["name"] for o in definition["options"]} == {
        *("show", "channels", "roles", "styles", "limits", "safety"),
        *("private-styles", "stats", "log"),
    }


@pytest.mark.parametrize("who", ["member", "moderator"])
async def test_without_manage_server_the_command_is_refused_server_side(bot, discord_server, who):
    # Discord hides the command from them, but a server's Integrations settings can show it
    # to any role, and an interaction can be forged: the bot checks again.
    user = getattr(discord_server, who)
    nsfw = discord_server.nsfw_channel
    answer = await admin(discord_server, "channels", {"action": "add", "channel": nsfw}, user=user)
    assert "Manage Server" in answer.content
    policy = await bot.services.policies.get(policy_scope(discord_server))
    assert policy.channels == ()
    answer = await admin(discord_server, "log", user=user)
    assert "Manage Server" in answer.content and not answer.embeds


async def test_a_member_with_manage_server_through_a_role_may_change_settings(
    bot, discord_server, manager
):
    answer = await admin(discord_server, "limits", {"cooldown": 120}, user=manager)
    assert answer.content.startswith("✅") and "Cooldown: 120 s" in answer.content
    policy = await bot.services.policies.get(policy_scope(discord_server))
    assert policy.member_cooldown == 120


async def test_show_tells_server_owners_when_wiro_is_out_of_credit(bot, discord_server):
    await admin(discord_server, "channels", {"action": "add", "channel": discord_server.channel})
    (embed,) = (await admin(discord_server, "show")).embeds
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Channels"] == f"<#{discord_server.channel.id}>"
    assert "out of credit" not in embed.get("description", "")

    bot.services.health.state = HealthState.OUT_OF_CREDIT
    (embed,) = (await admin(discord_server, "show")).embeds
    assert "out of credit" in embed["description"]


async def test_the_log_lists_refusals_and_changes_with_names_as_text(bot, discord_server, eve):
    await admin(
        discord_server, "channels", {"action": "add", "channel": discord_server.nsfw_channel}
    )
    await refusal(await ask(discord_server, eve, prompt="**loud** prompt"))
    (embed,) = (await admin(discord_server, "log")).embeds
    lines = embed["description"].splitlines()
    assert len(lines) == 2
    newest, oldest = lines
    assert "refused (channel)" in newest
    assert r"\*Eve\* \[x\](https://evil.example)" in newest  # no markdown, no masked link
    assert r"\*\*loud\*\* prompt" in newest
    assert f"<@{eve.id}>" in newest and f"<#{discord_server.channel.id}>" in newest
    assert "changed" in oldest and "Guild Owner" in oldest


async def test_stats_come_as_an_embed_with_a_png_chart(bot, discord_server, eve):
    await admin(discord_server, "safety", {"block": "clown"})
    await refusal(await ask(discord_server, eve, prompt="a clown"))
    answer = await admin(discord_server, "stats")
    (embed,) = answer.embeds
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Refused"] == "1" and fields["Delivered"] == "0"
    assert "Spend (Wiro)" in fields
    (chart,) = answer.attachments
    assert chart.filename == "portrait-stats.png"
    assert embed["image"]["url"] == "attachment://portrait-stats.png"
    with Image.open(io.BytesIO(chart.data)) as image:
        assert image.format == "PNG"


async def test_the_style_picker_offers_only_what_the_owner_allows(
    discord_server, fake_wiro, tmp_path
):
    async with portrait_bot(discord_server, fake_wiro, tmp_path, DISABLED_MODELS="850", **OPEN):
        owner = discord_server.guild.member(discord_server.world.owner.id)
        rec = await discord_server.autocomplete(
            "portrait-admin styles",
            focused="style",
            value="",
            options={"action": "disable"},
            user=owner,
        )
        values = [c["value"] for c in await rec.wait_choices()]
        assert "model:850" not in values and "model:606" in values and "lora:540" in values
        answer = await admin(discord_server, "styles", {"action": "enable", "style": "model:850"})
        assert "turned off DreamShaper-XL (Lykon) for every server" in answer.content

        await admin(discord_server, "styles", {"action": "disable", "style": "model:606"})
        rec = await discord_server.autocomplete(
            "portrait-admin styles",
            focused="style",
            value="",
            options={"action": "enable"},
            user=owner,
        )
        assert [c["value"] for c in await rec.wait_choices()] == ["model:606"]
        # A member can't list the catalog through the admin picker.
        rec = await discord_server.autocomplete(
            "portrait-admin styles", focused="style", value="", options={"action": "enable"}
        )
        assert await rec.wait_choices() == []
        # And the member's default (the catalog's 606, now off) becomes an offered model.
        await accepted(await ask(discord_server))
        await discord_server.wait_for(lambda s: fake_wiro.runs, timeout=15)
        assert fake_wiro.runs[0]["selectedModel"] not in ("606", "850")


async def test_owner_alerts_go_by_dm_to_the_application_owner(bot, discord_server):
    # Registered with the core's front ends, which the Wiro health alerts go through.
    assert await bot.services.frontends.tell_owners("Wiro says the balance is empty.") == 1
    dm = discord_server.dm_channel(discord_server.world.owner)
    (message,) = await discord_server.wait_for(lambda s: s.channel_messages(dm))
    assert message.content == "Wiro says the balance is empty."


async def test_out_of_credit_at_start_up_reaches_the_owner_and_server_owners(
    discord_server, fake_wiro, tmp_path
):
    fake_wiro.fail("/Task/List", code=97, message="Insufficient balance", times=100)
    async with portrait_bot(discord_server, fake_wiro, tmp_path):
        dm = discord_server.dm_channel(discord_server.world.owner)
        (alert,) = await discord_server.wait_for(lambda s: s.channel_messages(dm), timeout=10)
        assert "Wiro balance is too low" in alert.content
        (embed,) = (await admin(discord_server, "show")).embeds
        assert "out of credit" in embed["description"]


async def test_an_owner_alert_nobody_received_is_an_error_for_the_caller(bot, discord_server):
    discord_server.faults.forbidden("POST", "/channels/*/messages")
    with pytest.raises(discord.Forbidden):
        await bot.owners.tell_owners("Wiro says the balance is empty.")


async def test_owner_alerts_go_to_the_teams_accepted_members(discord_server, fake_wiro, tmp_path):
    world = discord_server.world
    ana = world.add_user(User(id=discord_server.new_id(), username="ana"))
    ben = world.add_user(User(id=discord_server.new_id(), username="ben"))
    world.team = Team(
        id=discord_server.new_id(),
        name="Portrait Team",
        owner_user_id=ana.id,
        members=[TeamMember(ana), TeamMember(ben, membership_state=1)],  # ben: only invited
    )
    async with portrait_bot(discord_server, fake_wiro, tmp_path) as bot:
        await bot.owners.tell_owners("Wiro refuses the keys.")
        (message,) = await discord_server.wait_for(lambda s: s.channel_messages(s.dm_channel(ana)))
        assert message.content == "Wiro refuses the keys."
        assert discord_server.channel_messages(discord_server.dm_channel(ben)) == []
        assert discord_server.channel_messages(discord_server.dm_channel(world.owner)) == []
