"""The ``/settings`` menus without a network: every payload within Telegram's 64 bytes and
carrying no chat, what each press changes, and forged or outdated payloads refused."""

from __future__ import annotations

import pytest

from bot.core.catalog.refresh import CatalogProvider
from bot.core.policy.model import OwnerCaps, PrivateStyles, ScopePolicy, effective_policy
from bot.frontends.telegram_bot.callbacks import restyle_listing
from bot.frontends.telegram_bot.settings_changes import (
    LAST_MODEL,
    STYLES_CHANGED,
    ChangeRefused,
    change_for,
)
from bot.frontends.telegram_bot.settings_menu import (
    Do,
    Menu,
    SettingsButton,
    limits_keyboard,
    main_keyboard,
    main_text,
    private_keyboard,
    safety_keyboard,
    style_arg,
    styles_keyboard,
)

CATALOG = CatalogProvider().get()


def effective(caps: OwnerCaps | None = None, **policy):
    return effective_policy(ScopePolicy(**policy), caps or OwnerCaps())


def press(menu: str, do: str = "", arg: str = "") -> SettingsButton:
    return SettingsButton(menu=menu, do=do, arg=arg)


def test_every_button_fits_and_names_no_chat():
    policy = effective(default_prompt="x")
    pages = -(-len(restyle_listing(CATALOG)) // 8)
    keyboards = [main_keyboard(policy), limits_keyboard(policy), safety_keyboard(policy)]
    keyboards += [private_keyboard(policy)]
    keyboards += [styles_keyboard(policy, CATALOG, page) for page in range(pages)]
    datas = [b.callback_data for k in keyboards for row in k.inline_keyboard for b in row]
    assert datas and all(d is not None and len(d.encode()) <= 64 for d in datas)
    assert all(d.startswith("cs:") and "-100" not in d for d in datas if d)


def test_the_styles_menu_lists_only_what_the_owner_allows():
    disabled = CATALOG.models[0].id
    policy = effective(OwnerCaps(disabled_models=frozenset({disabled})))
    keyboard = styles_keyboard(policy, CATALOG, 0)
    texts = [b.text for row in keyboard.inline_keyboard for b in row]
    assert not any(CATALOG.models[0].readable_name[:25] in text for text in texts)
    assert any(CATALOG.models[1].readable_name[:25] in text for text in texts)


def _arg(style_id: str) -> str:
    listing = restyle_listing(CATALOG)
    index = next(i for i, c in enumerate(listing) if c.id == style_id)
    return style_arg(index, listing[index])


def test_style_toggles_and_defaults():
    model, other = CATALOG.models[0].id, CATALOG.models[1].id
    changes, _ = change_for(press(Menu.STYLES, Do.TOGGLE_STYLE, _arg(model)), effective(), CATALOG)
    assert model not in changes["models"] and other in changes["models"]
    # Turning off the default model clears the default too.
    policy = effective(default_model=model)
    changes, _ = change_for(press(Menu.STYLES, Do.TOGGLE_STYLE, _arg(model)), policy, CATALOG)
    assert changes["default_model"] is None
    # Back on: offered again, in catalog order.
    policy = effective(models=(other,))
    changes, said = change_for(press(Menu.STYLES, Do.TOGGLE_STYLE, _arg(model)), policy, CATALOG)
    assert changes == {"models": (model, other)} and "is offered" in said
    with pytest.raises(ChangeRefused, match=LAST_MODEL):
        change_for(press(Menu.STYLES, Do.TOGGLE_STYLE, _arg(other)), policy, CATALOG)
    lora = CATALOG.loras[0].id
    changes, _ = change_for(press(Menu.STYLES, Do.DEFAULT_STYLE, _arg(lora)), effective(), CATALOG)
    assert changes == {"default_lora": lora}
    policy = effective(default_lora=lora)
    changes, _ = change_for(press(Menu.STYLES, Do.DEFAULT_STYLE, _arg(lora)), policy, CATALOG)
    assert changes == {"default_lora": None}


@pytest.mark.parametrize(
    "forged",
    [
        press(Menu.STYLES, Do.TOGGLE_STYLE, "0.0000"),  # a changed catalog (wrong check)
        press(Menu.STYLES, Do.TOGGLE_STYLE, "99999.abcd"),
        press(Menu.STYLES, Do.DEFAULT_STYLE, "x"),
        press(Menu.LIMITS, Do.LIMIT, "m=7"),  # not a preset
        press(Menu.LIMITS, Do.LIMIT, "z=1"),
        press(Menu.LIMITS, Do.LIMIT, "m=-1"),
        press(Menu.PRIVATE, Do.PRIVATE, "roles"),  # Discord's only
        press(Menu.SAFETY, Do.ADULT, "yes"),
        press(Menu.MAIN, "?", "1"),
    ],
)
def test_forged_or_outdated_payloads_change_nothing(forged):
    with pytest.raises(ChangeRefused):
        change_for(forged, effective(), CATALOG)


def test_limits_safety_and_private_styles():
    assert change_for(press(Menu.LIMITS, Do.LIMIT, "c=60"), effective(), CATALOG)[0] == {
        "member_cooldown": 60.0
    }
    assert change_for(press(Menu.LIMITS, Do.LIMIT, "q=-"), effective(), CATALOG)[0] == {
        "scope_daily_quota": None
    }
    assert change_for(press(Menu.SAFETY, Do.SPOILERS, "1"), effective(), CATALOG)[0] == {
        "spoiler_results": True
    }
    changes, _ = change_for(press(Menu.PRIVATE, Do.PRIVATE, "admins"), effective(), CATALOG)
    assert changes == {"private_styles": PrivateStyles.ADMINS}


def test_the_overview_escapes_what_members_wrote():
    text = main_text(
        effective(default_prompt="<b>x</b>", blocked_words=("a&b",)), CATALOG, chat_title="<i>"
    )
    assert "&lt;b&gt;x&lt;/b&gt;" in text and "a&amp;b" in text and "&lt;i&gt;" in text
    assert STYLES_CHANGED  # worded for members


def test_the_overview_tells_administrators_when_wiro_is_out_of_credit():
    from types import SimpleNamespace

    from bot.core.insight.health import HealthState
    from bot.frontends.telegram_bot.chat_admin import menu_view

    for state, says in ((HealthState.OUT_OF_CREDIT, "out of Wiro credit"), (HealthState.OK, None)):
        services = SimpleNamespace(catalog=CATALOG, health=SimpleNamespace(state=state))
        text, _ = menu_view(Menu.MAIN, effective(), services, page=0, title="G")  # type: ignore[arg-type]
        assert (says in text) if says else "⚠️" not in text
