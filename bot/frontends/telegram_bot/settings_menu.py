"""``/settings``: the chat's policy as inline-keyboard menus (texts and keyboards only; the
handlers are `chat_admin`).

One message, edited in place: the overview (who may use the bot, and a button per menu),
then Styles (paged like Restyle: ✅/🚫 offers a style, ⭐ makes it the chat's default), Limits
(presets; "Owner's" goes back to the bot owner's value), Safety (adult chat, spoilers; the
blocked words are text subcommands) and Private styles (off / admins / everyone).

Payloads (`SettingsButton`) carry only the menu, an action and a short argument (a style is
its index in `restyle_listing` plus `style_check` of its id, as Restyle's picks), never the
chat: a press changes the chat the pressed message is in, and only after ``getChatMember``
says the member administers it. The longest payload, ``"cs:s:t:123.ffff:99"``, is 18 bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.catalog import Catalog, StyleOption
from bot.core.policy.model import EffectivePolicy, PrivateStyles

from .callbacks import StyleChoice, restyle_listing, style_check
from .keyboards import button
from .messages import BOLD, BOLD_, CODE, CODE_
from .text import Cut, Part, fit_html
from .wording import wait_text

STYLES_PER_PAGE = 8


class Menu:
    MAIN = "m"
    STYLES = "s"
    LIMITS = "l"
    SAFETY = "f"
    PRIVATE = "p"


class Do:
    SHOW = ""
    ADMINS_ONLY = "a"  # arg "1"/"0"
    TOGGLE_STYLE = "t"  # arg "<index>.<check>"
    DEFAULT_STYLE = "d"  # arg "<index>.<check>"
    LIMIT = "l"  # arg "<Limit code>=<value or '-' for the owner's>"
    ADULT = "x"  # arg "1"/"0"
    SPOILERS = "v"  # arg "1"/"0"
    PRIVATE = "p"  # arg a PrivateStyles value


class SettingsButton(CallbackData, prefix="cs"):
    menu: str
    do: str = ""
    arg: str = ""
    page: int = 0


# Limit code -> (ScopePolicy field, label, presets). Cooldowns in seconds.
LIMITS: dict[str, tuple[str, str, tuple[int, ...]]] = {
    "c": ("member_cooldown", "⏱ Wait between portraits", (10, 30, 60, 300, 900)),
    "a": ("member_max_active", "⏳ Portraits at once per member", (1, 2, 3, 5)),
    "m": ("member_daily_quota", "👤 Per member per day", (1, 3, 5, 10, 20, 50)),
    "q": ("scope_daily_quota", "👥 Per chat per day", (10, 25, 50, 100, 250, 1000)),
}
PRIVATE_LABELS = {
    PrivateStyles.OFF: "off",
    PrivateStyles.ADMINS: "administrators",
    PrivateStyles.EVERYONE: "everyone",
}
TEXT_COMMANDS = (
    "/settings block <word>, /settings unblock <word>, /settings default_prompt <text> "
    "(empty: none)"
)


def data(menu: str, do: str = Do.SHOW, arg: str = "", page: int = 0) -> str:
    return SettingsButton(menu=menu, do=do, arg=arg, page=page).pack()


def _onoff(value: bool) -> str:
    return "on" if value else "off"


def _mark(chosen: bool, text: str) -> str:
    return f"✓ {text}" if chosen else text


def _back() -> list[InlineKeyboardButton]:
    return [button("↩ Back", data(Menu.MAIN))]


# ------------------------------------------------------------------ overview


def _default(style: StyleOption | None, offered: Callable[[str], bool]) -> str:
    """A default style as enforced: one turned off since is not used, and shown so."""
    if style is None:
        return "—"
    if not offered(style.id):
        return f"— ({style.readable_name} is turned off, so it isn't used)"
    return style.readable_name


def main_text(
    policy: EffectivePolicy, catalog: Catalog, *, chat_title: str, notice: str | None = None
) -> str:
    """The overview; ``notice``: a warning shown first (the bot out of Wiro credit)."""
    scope, fair = policy.scope, policy.fair_use
    models = policy.offered_models(m.id for m in catalog.models)
    loras = policy.offered_loras(lo.id for lo in catalog.loras)
    parts: list[Part] = [BOLD, "⚙️ Settings of ", Cut(chat_title), BOLD_, "\n\n"]
    if notice:
        parts += ["⚠️ ", notice, "\n\n"]
    parts += ["Who may use the bot: ", "administrators only" if scope.admins_only else "everyone"]
    parts += [f"\nStyles: {len(models)} models, {len(loras)} LoRAs offered"]
    default_model = catalog.model(scope.default_model) if scope.default_model else None
    default_lora = catalog.lora(scope.default_lora) if scope.default_lora else None
    parts += ["\nDefault model: ", Cut(_default(default_model, policy.offers_model))]
    parts += [", LoRA: ", Cut(_default(default_lora, policy.offers_lora))]
    parts += ["\nDefault prompt: ", Cut(scope.default_prompt or "—")]
    parts += [
        f"\nLimits: wait {wait_text(fair.member_cooldown).removeprefix('in ')}, "
        f"{fair.member_max_active} at once, "
        f"{_quota(fair.member_daily_quota)} per member and "
        f"{_quota(fair.guild_daily_quota)} per chat a day"
    ]
    parts += [f"\nAdult chat: {_adult(policy)}"]
    parts += [f", results as spoilers: {_onoff(scope.spoiler_results)}"]
    parts += ["\nBlocked words: ", Cut(", ".join(scope.blocked_words) or "—")]
    private = PRIVATE_LABELS.get(scope.private_styles, scope.private_styles.value)
    if not policy.caps.allow_private_styles:
        private = "off (the bot's owner doesn't allow them)"
    parts += ["\nPrivate styles: ", private, "\n\n", CODE, TEXT_COMMANDS, CODE_]
    return fit_html(parts)


def _quota(value: int) -> str:
    return "no limit" if value == 0 else str(value)


def main_keyboard(policy: EffectivePolicy) -> InlineKeyboardMarkup:
    admins = policy.scope.admins_only
    rows = [
        [
            button(_mark(not admins, "👥 Everyone"), data(Menu.MAIN, Do.ADMINS_ONLY, "0")),
            button(_mark(admins, "🛡 Admins only"), data(Menu.MAIN, Do.ADMINS_ONLY, "1")),
        ],
        [button("🎨 Styles", data(Menu.STYLES)), button("⏱ Limits", data(Menu.LIMITS))],
        [button("🔞 Safety", data(Menu.SAFETY)), button("🔒 Private styles", data(Menu.PRIVATE))],
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


# ------------------------------------------------------------------ styles


def allowed_styles(policy: EffectivePolicy, catalog: Catalog) -> list[tuple[int, StyleChoice]]:
    """The styles the owner allows (index in `restyle_listing`, style); "No LoRA" left out."""
    caps = policy.caps
    return [
        (index, choice)
        for index, choice in enumerate(restyle_listing(catalog))
        if choice.id is not None
        and choice.id
        not in (caps.disabled_models if choice.kind == "model" else caps.disabled_loras)
    ]


def style_arg(index: int, choice: StyleChoice) -> str:
    return f"{index}.{style_check(choice.id)}"


def style_of(arg: str, catalog: Catalog) -> StyleChoice | None:
    """The style an argument names; None when the catalog changed since (or forged data)."""
    index_text, _, check = arg.partition(".")
    listing = restyle_listing(catalog)
    if not index_text.isdigit() or int(index_text) >= len(listing):
        return None
    choice = listing[int(index_text)]
    return choice if choice.id is not None and style_check(choice.id) == check else None


def styles_text(policy: EffectivePolicy) -> str:
    return fit_html(
        [
            BOLD, "🎨 Styles", BOLD_, "\n✅ offered here, 🚫 not offered: press a name to switch. ",
            "⭐ marks the chat's default model and LoRA (used when a member names none); press ",
            "☆ to make one the default, ⭐ again to clear it. Styles the bot's owner turned off ",
            "are not listed.",
        ]
    )  # fmt: skip


def styles_keyboard(policy: EffectivePolicy, catalog: Catalog, page: int) -> InlineKeyboardMarkup:
    shown = allowed_styles(policy, catalog)
    pages = max(1, math.ceil(len(shown) / STYLES_PER_PAGE))
    page = min(max(page, 0), pages - 1)
    scope = policy.scope
    rows: list[list[InlineKeyboardButton]] = []
    for index, choice in shown[page * STYLES_PER_PAGE : (page + 1) * STYLES_PER_PAGE]:
        assert choice.id is not None
        model = choice.kind == "model"
        on = policy.offers_model(choice.id) if model else policy.offers_lora(choice.id)
        default = choice.id == (scope.default_model if model else scope.default_lora)
        arg = style_arg(index, choice)
        label = f"{'✅' if on else '🚫'} {'Model' if model else 'LoRA'}: {choice.name}"
        rows.append(
            [
                button(label, data(Menu.STYLES, Do.TOGGLE_STYLE, arg, page)),
                button("⭐" if default else "☆", data(Menu.STYLES, Do.DEFAULT_STYLE, arg, page)),
            ]
        )
    nav = _pages(Menu.STYLES, page, pages)
    rows.append([*nav, *_back()])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _pages(menu: str, page: int, pages: int) -> Sequence[InlineKeyboardButton]:
    nav: list[InlineKeyboardButton] = []
    if page > 0:
        nav.append(button("◀", data(menu, page=page - 1)))
    if pages > 1:
        nav.append(button(f"{page + 1}/{pages}", data(menu, page=page)))
    if page < pages - 1:
        nav.append(button("▶", data(menu, page=page + 1)))
    return nav


# ------------------------------------------------------------------ limits


def limits_text(policy: EffectivePolicy) -> str:
    owner = policy.caps.fair_use
    return fit_html(
        [
            BOLD, "⏱ Limits", BOLD_, "\nOne row per limit: ",
            "the wait between a member's portraits; portraits at once per member; portraits per ",
            "member and per chat in 24 hours. ✓ marks the chat's choice; \"Owner's\" uses the ",
            "bot owner's value. The chat can only be stricter than the bot's owner: at least ",
            f"{wait_text(owner.member_cooldown).removeprefix('in ')} between portraits, at most ",
            f"{owner.member_max_active} at once, {_quota(owner.member_daily_quota)} per member ",
            f"and {_quota(owner.guild_daily_quota)} per chat a day.",
        ]
    )  # fmt: skip


def limits_keyboard(policy: EffectivePolicy) -> InlineKeyboardMarkup:
    rows: list[list[InlineKeyboardButton]] = []
    for code, (field, label, presets) in LIMITS.items():
        current = getattr(policy.scope, field)
        icon = label.split()[0]
        row = [
            button(
                _mark(current is None, f"{icon} Owner's"), data(Menu.LIMITS, Do.LIMIT, f"{code}=-")
            )
        ]
        for value in presets:
            text = _seconds(value) if code == "c" else str(value)
            chosen = current is not None and current == value
            row.append(button(_mark(chosen, text), data(Menu.LIMITS, Do.LIMIT, f"{code}={value}")))
        rows.append(row)
    rows.append(_back())
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _seconds(value: int) -> str:
    return f"{value} s" if value < 60 else f"{value // 60} min"


def limit_label(code: str) -> str:
    return LIMITS[code][1].split(" ", 1)[1]


# ------------------------------------------------------------------ safety, private styles


def safety_text(policy: EffectivePolicy) -> str:
    scope = policy.scope
    filter_state = "on" if policy.caps.safety_filter else "off (turned off by the bot's owner)"
    adults = (
        "In a chat for adults sexual and violent prompts are not refused."
        if policy.caps.allow_adult_chats
        else "The bot's owner doesn't allow chats for adults, so it stays on here."
    )
    return fit_html(
        [
            BOLD, "🔞 Safety", BOLD_, f"\nPrompt screening: {filter_state}. {adults} ",
            "Results as spoilers: photos are blurred ",
            "until tapped (not in a chat for adults).\nBlocked words here: ",
            Cut(", ".join(scope.blocked_words) or "—"), "\n", CODE,
            "/settings block <word>", CODE_, " and ", CODE, "/settings unblock <word>", CODE_,
            " change them.",
        ]
    )  # fmt: skip


def _adult(policy: EffectivePolicy) -> str:
    if not policy.caps.allow_adult_chats:
        return "off (the bot's owner doesn't allow chats for adults)"
    return _onoff(policy.scope.adult_allowed)


def safety_keyboard(policy: EffectivePolicy) -> InlineKeyboardMarkup:
    scope = policy.scope
    adult = "1" if not scope.adult_allowed else "0"
    spoil = "1" if not scope.spoiler_results else "0"
    rows = [
        [button(f"Adult chat: {_adult(policy)}", data(Menu.SAFETY, Do.ADULT, adult))],
        [
            button(
                f"Results as spoilers: {_onoff(scope.spoiler_results)}",
                data(Menu.SAFETY, Do.SPOILERS, spoil),
            )
        ],
        _back(),
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def private_text(policy: EffectivePolicy) -> str:
    allowed = policy.caps.allow_private_styles
    return fit_html(
        [
            BOLD, "🔒 Private styles", BOLD_, "\nWho may use ", CODE, "--private-model", CODE_,
            ", ", CODE, "--private-lora", CODE_, " and ", CODE, "--lora-url", CODE_, " here. ",
            "LoRA URLs must be https:// links to an allowed host. "
            if allowed else "The bot's owner doesn't allow them, so they stay off.",
        ]
    )  # fmt: skip


def private_keyboard(policy: EffectivePolicy) -> InlineKeyboardMarkup:
    current = policy.scope.private_styles
    row = [
        button(
            _mark(current is mode, label.capitalize()), data(Menu.PRIVATE, Do.PRIVATE, mode.value)
        )
        for mode, label in PRIVATE_LABELS.items()
    ]
    return InlineKeyboardMarkup(inline_keyboard=[row, _back()])
