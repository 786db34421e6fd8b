"""`/portrait-privacy` end to end on the Discord stand-in: the data statement for the bot's own
settings, and Forget me (confirmed, only by the member) leaving nothing in the data folder that
names the member."""

from __future__ import annotations

from bot.core.privacy.statement import FORGET_CONFIRM
from bot.frontends.discord_bot.address import requester
from bot.frontends.discord_bot.privacy import CANCELLED, NOT_YOURS
from tests.support.images import selfie_jpeg
from tests.support.portrait_bot import portrait_bot
from tests.test_forget import files_naming

PROMPT = "Zanzibar lighthouse at dusk"
FACE = "Quasar"


def results(server):
    return [m for m in server.messages.values() if m.attachments and not m.deleted]


async def save_face(server) -> None:
    await server.slash(
        "face save",
        {"name": FACE},
        attachments={"selfie": ("me.jpg", selfie_jpeg(), "image/jpeg")},
        user=server.member,
    )
    await server.wait_for(
        lambda s: any("Saved your face" in m.content for m in s.messages.values())
    )


async def privacy(server, user=None):
    rec = await server.slash("portrait-privacy", user=user or server.member)
    message = await rec.wait_original()
    assert message.ephemeral
    return message


async def confirmation(server, statement, user=None):
    user = user or server.member
    press = await server.click(statement, f"portrait:forget:{user.id}", user=user)
    message = await press.wait_original()
    assert message.ephemeral
    return message


async def test_the_statement_follows_the_settings(discord_server, fake_wiro, tmp_path):
    env = {"SELFIE_KEEP_HOURS": "48", "FACES_PER_MEMBER": "3", "DELETE_WIRO_FILES": "false"}
    async with portrait_bot(discord_server, fake_wiro, tmp_path, **env):
        message = await privacy(discord_server)
    (embed,) = message.embeds
    assert embed["title"] == "What Portrait Bot keeps about you"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert list(fields) == [
        "Your photo",
        "Saved faces",
        "Face check",
        "Your requests",
        "At Wiro",
        "Forget me",
    ]
    assert "kept for 2 days" in fields["Your photo"]
    assert "up to 3" in fields["Saved faces"]
    assert "turned off deleting files at Wiro" in fields["At Wiro"]
    assert message.custom_ids() == [f"portrait:forget:{discord_server.member.id}"]


async def test_only_the_member_can_forget_themselves_and_cancel_keeps_everything(
    bot, discord_server, fake_wiro
):
    server, member = discord_server, requester(discord_server.member.id)
    await save_face(server)
    statement = await privacy(server)
    stranger = await server.click(
        statement, f"portrait:forget:{server.member.id}", user=server.moderator
    )
    assert (await stranger.wait_original()).content == NOT_YOURS

    confirm = await confirmation(server, statement)
    assert confirm.content == FORGET_CONFIRM
    uid = server.member.id
    assert confirm.custom_ids() == [f"portrait:forget-yes:{uid}", f"portrait:forget-no:{uid}"]
    stranger = await server.click(confirm, f"portrait:forget-yes:{uid}", user=server.moderator)
    assert (await stranger.wait_original()).content == NOT_YOURS
    cancel = await server.click(confirm, f"portrait:forget-no:{uid}", user=server.member)
    cancelled = await cancel.wait_original(lambda m: m.content == CANCELLED)
    assert cancelled.custom_ids() == []
    assert [f.name for f in await bot.services.faces.list(member)] == [FACE]


async def test_forget_me_leaves_nothing_in_the_data_folder_that_names_the_member(
    discord_server, fake_wiro, tmp_path
):
    server = discord_server
    relaxed = {"MEMBER_COOLDOWN_SECONDS": "0"}
    async with portrait_bot(server, fake_wiro, tmp_path, **relaxed) as bot:
        await save_face(server)
        await server.slash("portrait", {"prompt": PROMPT}, user=server.member)  # the saved face
        await server.wait_for(results, timeout=15)
        await server.slash(
            "portrait",
            {"prompt": PROMPT + " again"},
            attachments={"selfie": ("me.jpg", selfie_jpeg(), "image/jpeg")},
            user=server.member,
        )
        await server.wait_for(lambda s: len(results(s)) == 2, timeout=15)
        needles = (str(server.member.id), PROMPT, FACE)
        assert files_naming(tmp_path, *needles)  # the search finds them before

        statement = await privacy(server)
        confirm = await confirmation(server, statement)
        press = await server.click(
            confirm, f"portrait:forget-yes:{server.member.id}", user=server.member
        )
        done = await press.wait_original(lambda m: m.content.startswith("Done"), timeout=30)
        assert done.ephemeral and done.custom_ids() == []
        assert "1 saved face, 2 requests, 2 tasks at Wiro" in done.content
        assert files_naming(tmp_path, *needles) == {}
        assert await bot.services.faces.list(requester(server.member.id)) == []
    assert files_naming(tmp_path, *needles) == {}  # after the bot stopped, too
