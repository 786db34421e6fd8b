"""A chat's own policy on Telegram, end to end (the real bot, the Telegram stand-in, the fake
Wiro): ``/settings`` for administrators only (``getChatMember`` at use, forged presses
too), every kind of setting, and its enforcement in ``/portrait``, ``/styles``, Restyle and
the buttons, always before anything is spent; the bot owner's ceilings; the safety gate,
spoilers, defaults, ``/log``, ``/stats`` and telling the bot's owner."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.catalog.refresh import CatalogProvider
from bot.core.policy.model import OwnerCaps, PrivateStyles, ScopePolicy
from bot.core.policy.service import PolicyEditor
from bot.frontends.telegram_bot.callbacks import (
    Action,
    RestylePage,
    ResultButton,
    pick_button,
    restyle_listing,
)
from bot.frontends.telegram_bot.settings import load_telegram_settings
from bot.frontends.telegram_bot.settings_menu import Do, Menu, data, style_arg
from bot.settings import SettingsError
from tests.support.images import selfie_jpeg
from tests.support.telegram_bot import telegram_bot
from tests.support.telegram_e2e import RUN, nothing_spent, reply_to, result_of

EDITOR = PolicyEditor(platform="telegram", requester="telegram:0", member_name="test")


def scope(chat) -> str:
    return f"telegram:chat:{chat.id}"


async def requests_logged(app, chat):
    """The audit log's refused requests in ``chat``, newest first."""
    entries = await app.services.audit.recent(scope(chat), limit=50)
    return [entry for entry in entries if entry.kind == "request" and entry.outcome == "refused"]


async def set_policy(app, chat, **changes) -> None:
    await app.services.policies.update(scope(chat), changes, by=EDITOR)


async def open_menu(telegram, user, chat=None):
    asked = telegram.send_text("/settings", chat=chat or telegram.group, user=user)
    return await reply_to(telegram, asked)


async def press(telegram, menu, payload, user, *, check=True):
    """Press a settings button; (the answer, whether the menu was edited since)."""
    edits = len(menu.edits)
    answer = await telegram.wait_answer(
        telegram.press_button(menu, payload, user=user, check=check)
    )
    if not answer.show_alert:
        await telegram.wait_for(lambda s: len(menu.edits) > edits)
    return answer


async def refused(telegram, fake_wiro, asked, says: str, *, earlier: int = 0):
    """The refusal of the member's message ``asked``; nothing fetched or spent for it
    (``earlier``: portraits made before it)."""
    answer = await reply_to(telegram, asked)
    assert answer.text.startswith("⚠️") and says in answer.text, answer.text
    if earlier == 0:
        assert nothing_spent(fake_wiro)
    assert fake_wiro.calls[RUN] == earlier
    assert len(telegram.requests_to("getFile")) == earlier
    return answer


# ====================================================================== who may change


async def test_a_member_gets_no_settings_and_a_forged_press_changes_nothing(app, telegram):
    asked = telegram.send_text("/settings", chat=telegram.group, user=telegram.alice)
    answer = await reply_to(telegram, asked)
    assert "Only this chat's administrators can use /settings" in answer.text
    assert answer.reply_markup is None
    for command in ("/stats", "/log", "/settings block dragon"):
        asked = telegram.send_text(command, chat=telegram.group, user=telegram.bob)
        assert "administrators" in (await reply_to(telegram, asked)).text
    menu = await open_menu(telegram, telegram.carol)  # the creator
    assert "Settings of Portrait Group" in menu.text
    checks = len(telegram.requests_to("getChatMember"))
    # A real button pressed by a member, then data no button carries (a modified client).
    for payload, check in (
        (data(Menu.MAIN, Do.ADMINS_ONLY, "1"), True),
        (data(Menu.LIMITS, Do.LIMIT, "m=1"), False),
    ):
        answer = await press(telegram, menu, payload, telegram.alice, check=check)
        assert answer.show_alert and "Only this chat's administrators" in answer.text
    assert len(telegram.requests_to("getChatMember")) == checks + 2  # asked at every press
    assert await app.services.policies.get(scope(telegram.group)) == ScopePolicy()
    assert menu.edits == []


async def test_in_a_private_chat_the_member_administers_their_own_chat(app, telegram):
    menu = await open_menu(telegram, telegram.alice, telegram.private)
    assert "Settings of your private chat" in menu.text
    await press(telegram, menu, data(Menu.SAFETY), telegram.alice)
    await press(telegram, menu, data(Menu.SAFETY, Do.SPOILERS, "1"), telegram.alice)
    assert (await app.services.policies.get(scope(telegram.private))).spoiler_results
    assert telegram.requests_to("getChatMember") == []  # no need to ask in a private chat


# ====================================================================== every kind of setting


@pytest.fixture
async def owner_allows_private_styles(telegram, fake_wiro, tmp_path):
    """The bot, its owner allowing private styles and LoRA URLs to huggingface.co only."""
    async with telegram_bot(
        telegram,
        fake_wiro,
        tmp_path / "data",
        ALLOW_LORA_URLS="true",
        LORA_URL_HOSTS="huggingface.co",
        ALLOW_ADULT_CHATS="true",
    ) as app:
        yield app


@pytest.fixture
async def owner_allows_adult_chats(telegram, fake_wiro, tmp_path):
    """The bot, its owner letting chats be marked for adults (`ALLOW_ADULT_CHATS`)."""
    async with telegram_bot(
        telegram, fake_wiro, tmp_path / "data", ALLOW_ADULT_CHATS="true"
    ) as app:
        yield app


async def test_a_chat_for_adults_needs_the_owners_consent(app, telegram, fake_wiro):
    dave = telegram.dave  # an administrator
    menu = await open_menu(telegram, dave)
    await press(telegram, menu, data(Menu.SAFETY), dave)
    assert "doesn't allow chats for adults" in menu.text, menu.text
    answer = await telegram.wait_answer(
        telegram.press_button(menu, data(Menu.SAFETY, Do.ADULT, "1"), user=dave)
    )
    assert answer.show_alert and "doesn't allow chats for adults" in answer.text
    assert not (await app.services.policies.get(scope(telegram.group))).adult_allowed
    # Any member administers their own private chat: the gate holds there too.
    asked = telegram.send_photo(
        selfie_jpeg(), caption="/portrait a nude portrait", chat=telegram.private
    )
    await refused(telegram, fake_wiro, asked, "isn't allowed in this chat")


async def test_an_admin_changes_each_kind_of_setting_in_place(
    owner_allows_private_styles, telegram
):
    app = owner_allows_private_styles
    catalog = app.services.catalog
    dave = telegram.dave  # an administrator
    menu = await open_menu(telegram, dave)
    first_id = menu.message_id

    answer = await press(telegram, menu, data(Menu.MAIN, Do.ADMINS_ONLY, "1"), dave)
    assert "administrators only" in answer.text
    assert "✓ 🛡 Admins only" in menu.button_texts()

    await press(telegram, menu, data(Menu.STYLES), dave)
    listing = restyle_listing(catalog)
    model = catalog.models[1]
    index = next(i for i, c in enumerate(listing) if c.id == model.id)
    arg = style_arg(index, listing[index])
    await press(telegram, menu, data(Menu.STYLES, Do.TOGGLE_STYLE, arg), dave)
    assert f"🚫 Model: {model.readable_name}"[:40] in " ".join(menu.button_texts())
    default = catalog.models[2]
    d_index = next(i for i, c in enumerate(listing) if c.id == default.id)
    await press(
        telegram,
        menu,
        data(Menu.STYLES, Do.DEFAULT_STYLE, style_arg(d_index, listing[d_index])),
        dave,
    )
    # A style not offered cannot become the default.
    answer = await press(telegram, menu, data(Menu.STYLES, Do.DEFAULT_STYLE, arg), dave)
    assert answer.show_alert and "Offer this style first" in answer.text

    await press(telegram, menu, data(Menu.MAIN), dave)
    await press(telegram, menu, data(Menu.LIMITS), dave)
    for payload in ("c=60", "m=3", "q=50"):
        await press(telegram, menu, data(Menu.LIMITS, Do.LIMIT, payload), dave)
    for menu_code, do, arg in (
        (Menu.MAIN, "", ""),
        (Menu.SAFETY, "", ""),
        (Menu.SAFETY, Do.ADULT, "1"),
        (Menu.SAFETY, Do.SPOILERS, "1"),
        (Menu.MAIN, "", ""),
        (Menu.PRIVATE, "", ""),
    ):
        await press(telegram, menu, data(menu_code, do, arg), dave)
    await press(telegram, menu, data(Menu.PRIVATE, Do.PRIVATE, "everyone"), dave)
    # One message edited in place (a group gets about 20 messages and edits a minute).
    assert menu.message_id == first_id and len(telegram.sent(telegram.group)) == 1
    policy = await app.services.policies.get(scope(telegram.group))
    assert policy.admins_only and policy.adult_allowed and policy.spoiler_results
    assert policy.models is not None and model.id not in policy.models
    assert policy.default_model == default.id
    assert (policy.member_cooldown, policy.member_max_active) == (60.0, None)
    assert (policy.member_daily_quota, policy.scope_daily_quota) == (3, 50)
    assert policy.private_styles is PrivateStyles.EVERYONE
    changes = await app.services.audit.recent(scope(telegram.group), limit=50)
    assert len(changes) == 9 and {c.member_name for c in changes} == {"Dave"}
    assert all(c.kind == "change" for c in changes)


async def test_an_admin_blocks_words_and_sets_the_default_prompt(app, telegram):
    dave = telegram.dave
    for command, says in (
        ("/settings block <b>Dragon</b>", "Blocked: “<b>dragon</b>”."),
        ("/settings block wyvern", "Blocked"),
        ("/settings unblock wyvern", "Unblocked"),
        ("/settings unblock wyvern", "isn't blocked here"),
        ("/settings default_prompt a <i>watercolour</i> of me", "Default prompt"),
        ("/settings frobnicate", "I know /settings"),
    ):
        answer = await reply_to(
            telegram, telegram.send_text(command, chat=telegram.group, user=dave)
        )
        assert says in answer.text, answer.text
    policy = await app.services.policies.get(scope(telegram.group))
    assert policy.blocked_words == ("<b>dragon</b>",)
    assert policy.default_prompt == "a <i>watercolour</i> of me"
    changes = await app.services.audit.recent(scope(telegram.group), limit=50)
    assert (changes[0].kind, changes[0].member_name) == ("change", "Dave")


async def test_the_owners_caps_cannot_be_exceeded(telegram, fake_wiro, tmp_path):
    disabled = CatalogProvider().get().models[0].id
    async with telegram_bot(
        telegram,
        fake_wiro,
        tmp_path / "data",
        GUILD_DAILY_QUOTA="20",
        MEMBER_DAILY_QUOTA="5",
        DISABLED_MODELS=disabled,
    ) as app:
        menu = await open_menu(telegram, telegram.carol)
        await press(telegram, menu, data(Menu.LIMITS), telegram.carol)
        for payload, says in (
            ("q=25", "at most 20 portraits per chat a day"),
            ("m=10", "at most 5 portraits per member a day"),
            ("c=10", "at least 30 s between"),
        ):
            answer = await press(
                telegram, menu, data(Menu.LIMITS, Do.LIMIT, payload), telegram.carol
            )
            assert answer.show_alert and says in answer.text, answer.text
        await press(telegram, menu, data(Menu.MAIN), telegram.carol)
        await press(telegram, menu, data(Menu.PRIVATE), telegram.carol)
        answer = await press(
            telegram, menu, data(Menu.PRIVATE, Do.PRIVATE, "everyone"), telegram.carol
        )
        await press(telegram, menu, data(Menu.MAIN), telegram.carol)
        assert answer.show_alert and "doesn't allow private" in answer.text
        # The owner's disabled model is not even listed, and a forged toggle is refused.
        await press(telegram, menu, data(Menu.STYLES), telegram.carol)
        name = app.services.catalog.models[0].readable_name
        assert not any(name[:20] in text for text in menu.button_texts())
        arg = style_arg(0, restyle_listing(app.services.catalog)[0])
        answer = await press(
            telegram, menu, data(Menu.STYLES, Do.TOGGLE_STYLE, arg), telegram.carol, check=False
        )
        assert answer.show_alert and "owner turned that style off" in answer.text
        assert await app.services.policies.get(scope(telegram.group)) == ScopePolicy()
        # The chat can still be stricter.
        await press(telegram, menu, data(Menu.MAIN), telegram.carol)
        await press(telegram, menu, data(Menu.LIMITS), telegram.carol)
        await press(telegram, menu, data(Menu.LIMITS, Do.LIMIT, "q=10"), telegram.carol)
        assert (
            await app.services.policies.effective(scope(telegram.group))
        ).fair_use.guild_daily_quota == 10


# ====================================================================== enforcement


async def test_admins_only_refuses_a_member_before_anything_is_spent(app, telegram, fake_wiro):
    before = telegram.send_photo(selfie_jpeg(), caption="/portrait oil", chat=telegram.group)
    result = await result_of(telegram, before)  # asked while everyone could
    await set_policy(app, telegram.group, admins_only=True)
    asked = telegram.send_photo(
        selfie_jpeg(), caption="/portrait oil", chat=telegram.group, user=telegram.alice
    )
    await refused(telegram, fake_wiro, asked, "only its administrators can use the bot", earlier=1)
    (entry,) = await requests_logged(app, telegram.group)
    assert (entry.outcome, entry.reason, entry.member_name) == ("refused", "admins_only", "Alice")
    # Her result's buttons that start work are refused the same way.
    job = (await app.services.ledger.recent_for(f"telegram:{telegram.alice.id}"))[0]
    reroll = ResultButton(action=Action.REROLL, job=job.id).pack()
    answer = await telegram.wait_answer(telegram.press_button(result, reroll))
    assert answer.show_alert and "only its administrators" in answer.text
    assert fake_wiro.calls[RUN] == 1
    asked = telegram.send_photo(
        selfie_jpeg(), caption="/portrait oil", chat=telegram.group, user=telegram.dave
    )
    await result_of(telegram, asked)
    assert fake_wiro.calls[RUN] == 2


async def test_a_style_not_offered_is_refused_if_typed_and_hidden(app, telegram, fake_wiro):
    catalog = app.services.catalog
    hidden = catalog.models[3]
    offered = tuple(m.id for m in catalog.models if m.id != hidden.id)
    for chat in (telegram.group, telegram.private):
        await set_policy(app, chat, models=offered)
    asked = telegram.send_photo(
        selfie_jpeg(), caption=f"/portrait oil --model {hidden.readable_name}", chat=telegram.group
    )
    answer = await refused(telegram, fake_wiro, asked, "isn't offered in this chat")
    assert hidden.readable_name in answer.text
    (entry,) = await requests_logged(app, telegram.group)
    assert entry.reason == "model"
    styles = telegram.send_text("/styles", chat=telegram.group)
    listed = await reply_to(telegram, styles)
    assert catalog.models[2].readable_name in listed.text
    assert hidden.readable_name not in listed.text
    # Restyle on a result in the private chat: the style is not offered, and a forged pick
    # of it is refused with nothing spent.
    asked = telegram.send_photo(selfie_jpeg(), caption="/portrait oil --seed 3")
    result = await result_of(telegram, asked)
    job = (await app.services.ledger.recent_for(f"telegram:{telegram.alice.id}"))[0]
    await telegram.wait_answer(
        telegram.press_button(result, RestylePage(job=job.id, page=0).pack())
    )
    await telegram.wait_for(lambda s: any(d.startswith("ps:") for d in result.callback_datas()))
    listing = restyle_listing(catalog)
    index = next(i for i, c in enumerate(listing) if c.id == hidden.id)
    forged = pick_button(job.id, index, listing[index]).pack()
    assert forged not in result.callback_datas()
    assert pick_button(job.id, 0, listing[0]).pack() in result.callback_datas()
    answer = await telegram.wait_answer(telegram.press_button(result, forged, check=False))
    assert answer.show_alert and "isn't offered" in answer.text
    assert fake_wiro.calls[RUN] == 1


async def test_a_tightened_quota_holds(app, telegram, fake_wiro):
    await set_policy(app, telegram.group, member_daily_quota=1)
    first = telegram.send_photo(selfie_jpeg(), caption="/portrait oil", chat=telegram.group)
    await result_of(telegram, first)
    second = telegram.send_photo(selfie_jpeg(), caption="/portrait oil", chat=telegram.group)
    answer = await reply_to(telegram, second)
    assert "limit of 1 portrait" in answer.text
    assert fake_wiro.calls[RUN] == 1
    (entry,) = await requests_logged(app, telegram.group)  # with who asked and what
    assert (entry.reason, entry.member_name, entry.prompt) == ("member_daily", "Alice", "oil")


async def test_private_styles_and_the_lora_url_allowlist(
    owner_allows_private_styles, telegram, fake_wiro
):
    app = owner_allows_private_styles
    good = "https://huggingface.co/someone/lora/resolve/main/style.safetensors"
    asked = telegram.send_photo(
        selfie_jpeg(), caption=f"/portrait oil --lora-url {good}", chat=telegram.group
    )
    await refused(telegram, fake_wiro, asked, "Private models, private LoRAs and LoRA URLs")
    await set_policy(app, telegram.group, private_styles=PrivateStyles.ADMINS)
    asked = telegram.send_photo(
        selfie_jpeg(), caption="/portrait oil --private-model mine", chat=telegram.group
    )
    await refused(telegram, fake_wiro, asked, "can't be used here")  # Alice is no admin
    await set_policy(app, telegram.group, private_styles=PrivateStyles.EVERYONE)
    for url, says in (
        ("http://huggingface.co/x.safetensors", "https://"),  # refused with the options
        ("https://evil.example/x.safetensors", "only point at these sites: huggingface.co"),
    ):
        asked = telegram.send_photo(
            selfie_jpeg(), caption=f"/portrait oil --lora-url {url}", chat=telegram.group
        )
        await refused(telegram, fake_wiro, asked, says)
    reasons = [e.reason for e in await requests_logged(app, telegram.group)]
    assert reasons == ["lora_url_host", "private_styles", "private_styles"]
    asked = telegram.send_photo(
        selfie_jpeg(), caption=f"/portrait oil --lora-url {good}", chat=telegram.group
    )
    await result_of(telegram, asked)
    assert fake_wiro.runs[0]["selectedLoraModelPrivateUrl"] == good


@pytest.mark.parametrize("adult", [False, True])
async def test_the_safety_gate_in_a_normal_and_an_adult_chat(
    owner_allows_adult_chats, telegram, fake_wiro, adult
):
    app = owner_allows_adult_chats
    await set_policy(app, telegram.group, adult_allowed=adult, blocked_words=("dragon",))
    for prompt, user in (("a nude portrait", telegram.alice), ("a DRAGON rider", telegram.bob)):
        asked = telegram.send_photo(
            selfie_jpeg(), caption=f"/portrait {prompt}", chat=telegram.group, user=user
        )
        if adult:
            await result_of(telegram, asked)
        else:
            await refused(telegram, fake_wiro, asked, "isn't allowed in this chat")
    if not adult:
        entries = await requests_logged(app, telegram.group)
        assert [e.reason for e in entries] == ["unsafe_prompt", "unsafe_prompt"]
        assert entries[0].prompt == "a DRAGON rider"
    else:
        assert fake_wiro.calls[RUN] == 2


@pytest.mark.parametrize("adult", [False, True])
async def test_spoilers_on_the_result(owner_allows_adult_chats, telegram, fake_wiro, adult):
    app = owner_allows_adult_chats
    await set_policy(app, telegram.group, spoiler_results=True, adult_allowed=adult)
    asked = telegram.send_photo(selfie_jpeg(), caption="/portrait oil", chat=telegram.group)
    result = await result_of(telegram, asked)
    assert result.has_media_spoiler is not adult
    assert ("has_spoiler" in result.params) is not adult


async def test_the_chats_defaults_fill_what_the_member_leaves_empty(app, telegram, fake_wiro):
    catalog = app.services.catalog
    await set_policy(
        app, telegram.private, default_model=catalog.models[2].id, default_prompt="a watercolour"
    )
    asked = telegram.send_photo(selfie_jpeg())  # no caption: every default
    await result_of(telegram, asked)
    run = fake_wiro.runs[0]
    assert run["selectedModel"] == catalog.models[2].id
    assert run["prompt"].startswith("a watercolour")
    asked = telegram.send_photo(
        selfie_jpeg(), caption=f"/portrait knight --model {catalog.models[4].readable_name}"
    )
    assert not (await reply_to(telegram, asked)).text.startswith("⚠️")  # queued (cooldown)
    newest = (await app.services.ledger.recent_for(f"telegram:{telegram.alice.id}"))[0]
    options = newest.params["options"]
    assert options["model_id"] == catalog.models[4].id and options["prompt"] == "knight"


# ====================================================================== /log, /stats, owners


async def private_log(telegram, admin):
    """``/log`` sent in the group by ``admin``: the group is told it went privately, and the
    log itself is in the administrator's private chat."""
    private = telegram.private_chat(admin)  # they have a private chat with the bot
    note = await reply_to(telegram, telegram.send_text("/log", chat=telegram.group, user=admin))
    assert "sent you this chat's log" in note.text and "refused" not in note.text
    return await telegram.wait_message(lambda m: "Recent requests" in (m.text or ""), chat=private)


async def test_log_and_stats_for_administrators(app, telegram, fake_wiro):
    await set_policy(app, telegram.group, blocked_words=("dragon",))
    asked = telegram.send_photo(
        selfie_jpeg(), caption="/portrait <b>dragon</b> & co", chat=telegram.group
    )
    await refused(telegram, fake_wiro, asked, "isn't allowed")
    done = telegram.send_photo(selfie_jpeg(), caption="/portrait oil", chat=telegram.group)
    await result_of(telegram, done)
    await delivered(app, telegram.alice)
    log = await private_log(telegram, telegram.dave)
    assert "Recent requests and changes in Portrait Group" in log.text
    assert "refused (unsafe_prompt)" in log.text and "<b>dragon</b> & co" in log.text
    assert "&lt;b&gt;dragon" in log.raw and log.parse_mode == "HTML"
    # The figures name the most active members and the spend: sent privately too.
    private = telegram.private_chat(telegram.carol)
    photos_in_group = [m for m in telegram.sent(telegram.group) if m.photo is not None]
    asked = telegram.send_text("/stats", chat=telegram.group, user=telegram.carol)
    note = await reply_to(telegram, asked)
    assert "sent you this chat's figures" in note.text
    figures = await telegram.wait_message(lambda m: "Portraits in" in (m.text or ""), chat=private)
    assert "Portraits in Portrait Group" in figures.text and "Delivered: 1" in figures.text
    chart = await telegram.wait_message(lambda m: m.photo is not None, chat=private)
    assert chart.files[0].open_image().format == "PNG"
    assert [m for m in telegram.sent(telegram.group) if m.photo is not None] == photos_in_group
    for command in ("/log", "/stats"):  # a member gets neither
        asked = telegram.send_text(command, chat=telegram.group, user=telegram.bob)
        assert "administrators" in (await reply_to(telegram, asked)).text


async def test_log_fits_telegrams_length(app, telegram):
    audit = app.services.audit
    who = telegram.group
    from bot.frontends.telegram_bot.address import TelegramAddress

    requester = TelegramAddress(telegram.alice.id, who.id, "group").requester
    for _ in range(20):
        await audit.request(
            requester, member_name="<i>" * 60, place=str(who.id), prompt="x" * 1000,
            style="s", outcome="refused", reason="unsafe_prompt",
        )  # fmt: skip
    log = await private_log(telegram, telegram.dave)
    assert len(log.text) <= 4096 and log.text.count("refused") == 15


async def test_the_owner_is_told_on_telegram(telegram, fake_wiro, tmp_path):
    for owner in (telegram.carol, telegram.dave):
        telegram.world.private_chat(owner)
    ids = f"{telegram.carol.id}, {telegram.dave.id}"
    async with telegram_bot(telegram, fake_wiro, tmp_path / "d", TELEGRAM_OWNER_IDS=ids) as app:
        # The path Wiro's health alerts take: every front end's contact.
        assert await app.services.frontends.tell_owners("Wiro: out of credit <now>") == 1
        for owner in (telegram.carol, telegram.dave):
            told = await telegram.wait_message(chat=telegram.world.chats[owner.id])
            assert told.text == "🔔 Wiro: out of credit <now>" and told.parse_mode == "HTML"
        telegram.block_bot(telegram.dave)  # one owner can't be written to: the other still is
        assert await app.services.frontends.tell_owners("again") == 1
        telegram.block_bot(telegram.carol)
        assert await app.services.frontends.tell_owners("nobody") == 0
    with pytest.raises(SettingsError, match="TELEGRAM_OWNER_IDS"):
        load_telegram_settings({"TELEGRAM_OWNER_IDS": "12,@carol"})


async def delivered(app, user) -> None:
    """Until the member's newest job is recorded as delivered (the photo is posted first)."""
    for _ in range(200):
        (job,) = await app.services.ledger.recent_for(f"telegram:{user.id}", 1)
        if job.state.value == "delivered":
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the job was never recorded as delivered")


def test_settings_payloads_fit_in_64_bytes():
    longest = data(Menu.STYLES, Do.TOGGLE_STYLE, "999.ffff", 999)
    assert len(longest.encode()) <= 64
    assert len(data(Menu.LIMITS, Do.LIMIT, "q=1000").encode()) <= 64
    assert OwnerCaps().allow_private_styles is False  # private styles are off unless allowed
