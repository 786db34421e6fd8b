"""Issue 12's owner controls probed end to end as administrators and mischievous members
would (QA pass), on both front ends: what must hold, and what was found open and closed."""

from __future__ import annotations

from bot.core.policy.model import PrivateStyles
from bot.core.policy.service import PolicyEditor
from bot.frontends.telegram_bot.callbacks import Action, ResultButton
from bot.frontends.telegram_bot.settings_menu import Do, Menu, data
from tests.support.images import selfie_jpeg
from tests.support.policy import OPEN, RUN, accepted, add_member, admin, ask, refusal, results
from tests.support.portrait_bot import portrait_bot
from tests.support.telegram_bot import telegram_bot
from tests.support.telegram_e2e import nothing_spent, reply_to, result_of

EDITOR = PolicyEditor(platform="telegram", requester="telegram:0", member_name="test")


def scope(chat) -> str:
    return f"telegram:chat:{chat.id}"


# ====================================================================== Discord


async def test_discord_a_negative_prompt_is_not_screened(discord_server, fake_wiro, tmp_path):
    # Words in the negative prompt keep things out of the picture: "nude" there is the
    # member being careful, not asking for it.
    async with portrait_bot(discord_server, fake_wiro, tmp_path, **OPEN):
        await accepted(await ask(discord_server, prompt="a knight", negative_prompt="nude, gore"))
        await discord_server.wait_for(results, timeout=15)
        assert fake_wiro.runs[0]["negativePrompt"] == "nude, gore"


async def test_discord_an_unsafe_default_prompt_is_screened_too(
    discord_server, fake_wiro, tmp_path
):
    async with portrait_bot(discord_server, fake_wiro, tmp_path, **OPEN):
        set_it = {"action": "default-prompt", "prompt": "a nude"}
        answer = await admin(discord_server, "styles", set_it)
        # The administrator is warned at once, not left to hear it from members.
        assert "“nude”" in answer.content and "safety gate" in answer.content, answer.content
        answer = await admin(discord_server, "styles", {**set_it, "prompt": "a knight"})
        assert "safety gate" not in answer.content
        await admin(discord_server, "styles", set_it)
        selfie = {"selfie": ("me.jpg", selfie_jpeg(), "image/jpeg")}
        rec = await discord_server.slash("portrait", attachments=selfie)  # no prompt
        text = await refusal(rec)
        assert "age-restricted" in text
        assert fake_wiro.calls["/File/Upload"] == 0 and fake_wiro.calls[RUN] == 0


# ====================================================================== Telegram


async def test_telegram_an_admin_demoted_after_opening_the_menu_changes_nothing(app, telegram):
    asked = telegram.send_text("/settings", chat=telegram.group, user=telegram.dave)
    menu = await reply_to(telegram, asked)
    assert "Settings of" in menu.text
    telegram.group.statuses[telegram.dave.id] = "member"  # demoted meanwhile
    answer = await telegram.wait_answer(
        telegram.press_button(menu, data(Menu.MAIN, Do.ADMINS_ONLY, "1"), user=telegram.dave)
    )
    assert answer.show_alert and "Only this chat's administrators" in answer.text
    assert not (await app.services.policies.get(scope(telegram.group))).admins_only


async def test_telegram_a_negative_prompt_is_not_screened(app, telegram, fake_wiro):
    asked = telegram.send_photo(
        selfie_jpeg(), caption="/portrait a knight --negative nude", chat=telegram.group
    )
    await result_of(telegram, asked)
    assert fake_wiro.runs[0]["negativePrompt"] == "nude"


async def test_telegram_a_captionless_photo_meets_an_unsafe_default_prompt(
    app, telegram, fake_wiro
):
    await app.services.policies.update(
        scope(telegram.private), {"default_prompt": "a gory scene"}, by=EDITOR
    )
    asked = telegram.send_photo(selfie_jpeg())  # private chat, no caption: the defaults
    answer = await reply_to(telegram, asked)
    assert answer.text.startswith("⚠️") and "isn't allowed" in answer.text
    assert nothing_spent(fake_wiro)


async def test_discord_private_inputs_where_not_allowed_are_refused_as_such(
    discord_server, fake_wiro, tmp_path
):
    # The owner left LoRA URLs off: whatever the member typed, they are told that, not how to
    # shape a URL they could not use anyway; and the attempt is in the audit log.
    async with portrait_bot(discord_server, fake_wiro, tmp_path, **OPEN) as bot:
        for url in ("https://huggingface.co/a/b.bin", "http://169.254.169.254/latest"):
            text = await refusal(await ask(discord_server, lora_url=url))
            assert "turned off for this bot" in text, text
        entries = await bot.services.audit.recent(f"discord:guild:{discord_server.guild.id}", 9)
        assert [e.reason for e in entries] == ["private_styles", "private_styles"]
        assert fake_wiro.calls["/File/Upload"] == 0 and fake_wiro.calls[RUN] == 0


async def test_telegram_private_inputs_where_not_allowed_are_refused_as_such(
    app, telegram, fake_wiro
):
    asked = telegram.send_photo(
        selfie_jpeg(), caption="/portrait knight --lora-url http://10.0.0.1/x", chat=telegram.group
    )
    answer = await reply_to(telegram, asked)
    assert answer.text.startswith("⚠️") and "can't be used here" in answer.text, answer.text
    entries = await app.services.audit.recent(scope(telegram.group), limit=9)
    assert [e.reason for e in entries] == ["private_styles"]
    assert nothing_spent(fake_wiro)


async def test_telegram_a_too_long_default_prompt_is_refused_with_the_reason(app, telegram):
    long = "a castle " * 150  # 1350 characters; a prompt holds 1000
    asked = telegram.send_text(f"/settings default_prompt {long}", chat=telegram.group,
                               user=telegram.carol)  # fmt: skip
    answer = await reply_to(telegram, asked)
    assert answer.text.startswith("⚠️") and "1000 characters" in answer.text, answer.text
    assert (await app.services.policies.get(scope(telegram.group))).default_prompt is None


async def test_telegram_edit_prompt_flags_meet_private_styles_before_parsing(
    app, telegram, fake_wiro
):
    asked = telegram.send_photo(selfie_jpeg(), caption="/portrait a knight", chat=telegram.group)
    result = await result_of(telegram, asked)
    job = (await app.services.ledger.recent_for(f"telegram:{telegram.alice.id}"))[0]
    edit = ResultButton(action=Action.EDIT_PROMPT, job=job.id).pack()
    await telegram.wait_answer(telegram.press_button(result, edit))
    question = await telegram.wait_message(
        lambda m: "new prompt" in (m.text or ""), chat=telegram.group
    )
    telegram.reply_to_message(question, "a knight --lora-url http://10.0.0.1/x")
    answer = await telegram.wait_message(
        lambda m: (m.text or "").startswith("⚠️"), chat=telegram.group
    )
    assert "can't be used here" in answer.text, answer.text
    entries = await app.services.audit.recent(scope(telegram.group), limit=9)
    assert [e.reason for e in entries if e.outcome == "refused"] == ["private_styles"]
    assert fake_wiro.calls[RUN] == 1


async def test_telegram_log_is_never_posted_in_the_group(app, telegram, fake_wiro):
    await app.services.policies.update(
        scope(telegram.group), {"blocked_words": ("dragon",)}, by=EDITOR
    )
    asked = telegram.send_photo(
        selfie_jpeg(), caption="/portrait a dragon in my bed", chat=telegram.group
    )
    await reply_to(telegram, asked)  # refused
    telegram.block_bot(telegram.dave)  # an administrator the bot can't write to
    note = await reply_to(telegram, telegram.send_text("/log", chat=telegram.group,
                                                       user=telegram.dave))  # fmt: skip
    assert note.text.startswith("⚠️") and "press Start" in note.text
    assert not any("dragon in my bed" in (m.text or "") for m in telegram.sent())
    # In a private chat the log is simply the answer.
    await app.services.policies.update(scope(telegram.private), {"admins_only": True}, by=EDITOR)
    log = await reply_to(telegram, telegram.send_text("/log"))
    assert "Recent requests and changes here" in log.text


async def test_discord_a_server_quota_holds_when_the_owner_sets_none(
    discord_server, fake_wiro, tmp_path
):
    env = {**OPEN, "MEMBER_DAILY_QUOTA": "0", "GUILD_DAILY_QUOTA": "0"}
    async with portrait_bot(discord_server, fake_wiro, tmp_path, **env):
        answer = await admin(discord_server, "limits", {"server_daily": 1, "cooldown": 0})
        assert "1 per server" in answer.content, answer.content
        await accepted(await ask(discord_server))
        await discord_server.wait_for(results, timeout=15)
        other = add_member(discord_server, "zed", "Zed")
        rec = await ask(discord_server, other)
        limit = await rec.wait_original(lambda m: not m.loading, timeout=10)
        assert limit.ephemeral and "1 portrait" in limit.content, limit.content
        assert fake_wiro.calls[RUN] == 1 and fake_wiro.calls["/File/Upload"] == 1


async def test_discord_reroll_of_a_style_disabled_since_is_refused(
    discord_server, fake_wiro, tmp_path
):
    async with portrait_bot(discord_server, fake_wiro, tmp_path, **OPEN):
        await accepted(await ask(discord_server, model="850", seed=5))
        (result,) = await discord_server.wait_for(results, timeout=15)
        await admin(discord_server, "styles", {"action": "disable", "style": "model:850"})
        for prefix in ("portrait:reroll:", "portrait:likeness:"):
            custom = next((c for c in result.custom_ids() if c.startswith(prefix)), None)
            if custom is None:
                continue
            rec = await discord_server.click(result, custom, user=discord_server.member)
            answer = await rec.wait_original(lambda m: not m.loading)
            assert answer.ephemeral and "isn't offered" in answer.content, answer.content
        assert fake_wiro.calls[RUN] == 1 and fake_wiro.calls["/File/Upload"] == 1


async def test_telegram_an_unsafe_default_prompt_warns_the_administrator(app, telegram):
    for text, warned in (("a gory scene", True), ("a castle", False)):
        asked = telegram.send_text(
            f"/settings default_prompt {text}", chat=telegram.group, user=telegram.carol
        )
        answer = await reply_to(telegram, asked)
        assert answer.text.startswith("✅")
        assert ("“gory”" in answer.text and "safety gate" in answer.text) is warned, answer.text


async def test_telegram_a_refused_lora_url_is_told_what_is_wrong(telegram, fake_wiro, tmp_path):
    env = {"ALLOW_LORA_URLS": "true", "LORA_URL_HOSTS": "huggingface.co"}
    async with telegram_bot(telegram, fake_wiro, tmp_path / "data", **env) as app:
        await app.services.policies.update(
            scope(telegram.group), {"private_styles": PrivateStyles.EVERYONE}, by=EDITOR
        )
        for url, says in (
            ("https://huggingface.co:8443/a/b.safetensors", "must not name a port"),
            ("https://1.2.3.4/a/b.safetensors", "not an IP address"),
            ("https://evil.example/b.safetensors", "only point at these sites: huggingface.co"),
        ):
            asked = telegram.send_photo(
                selfie_jpeg(), caption=f"/portrait oil --lora-url {url}", chat=telegram.group
            )
            answer = await reply_to(telegram, asked)
            assert answer.text.startswith("⚠️") and says in answer.text, answer.text
        assert nothing_spent(fake_wiro)


async def test_discord_show_says_a_default_turned_off_since_is_not_used(
    discord_server, fake_wiro, tmp_path
):
    async with portrait_bot(discord_server, fake_wiro, tmp_path, **OPEN):
        await admin(discord_server, "styles", {"action": "default", "style": "model:850"})
    # The owner turns the model off afterwards (a restart with DISABLED_MODELS).
    async with portrait_bot(discord_server, fake_wiro, tmp_path, DISABLED_MODELS="850", **OPEN):
        (embed,) = (await admin(discord_server, "show")).embeds
        defaults = next(f["value"] for f in embed["fields"] if f["name"] == "Defaults")
        assert "Model: the bot's default (DreamShaper" in defaults, defaults
        assert "isn't used" in defaults


async def test_telegram_settings_say_a_default_turned_off_since_is_not_used(
    telegram, fake_wiro, tmp_path
):
    async with telegram_bot(telegram, fake_wiro, tmp_path / "data") as app:
        model = app.services.catalog.models[2]
        await app.services.policies.update(
            scope(telegram.group), {"default_model": model.id}, by=EDITOR
        )
    async with telegram_bot(telegram, fake_wiro, tmp_path / "data", DISABLED_MODELS=model.id):
        asked = telegram.send_text("/settings", chat=telegram.group, user=telegram.carol)
        menu = await reply_to(telegram, asked)
        assert f"Default model: — ({model.readable_name} is turned off" in menu.text, menu.text
