"""Inline keyboards: the result's buttons, the paged restyle chooser and the status Cancel.

Bot API shape rules (/work/shared/specs/telegram-facts.md and the stand-in): every button has
a text and exactly one action; ``callback_data`` 1-64 bytes; at most 100 buttons. Telegram
publishes no limit for a button's text, but a phone shows about 30-40 characters on a full
row, so names are shortened to `BUTTON_TEXT_CHARS`; invisible and bidi characters are removed
(button texts are plain text, not HTML).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.catalog import Catalog

from .callbacks import (
    Action,
    CancelButton,
    RestylePage,
    ResultButton,
    StyleChoice,
    pick_button,
    restyle_listing,
)
from .text import shorten, visible

BUTTON_TEXT_CHARS = 40
STYLES_PER_PAGE = 8


def button(text: str, data: str) -> InlineKeyboardButton:
    """A callback button with ``text`` made plain and short."""
    return InlineKeyboardButton(
        text=shorten(" ".join(visible(text).split()), BUTTON_TEXT_CHARS) or "—",
        callback_data=data,
    )


def result_keyboard(
    job_id: int, *, can_less: bool = True, can_more: bool = True
) -> InlineKeyboardMarkup:
    """The buttons under a result (or after an album). ``can_less``/``can_more``: whether
    likeness can still go one step down/up (the buttons are left out at the range's ends)."""

    def of(action: Action, text: str) -> InlineKeyboardButton:
        return button(text, ResultButton(action=action, job=job_id).pack())

    likeness = [of(Action.LESS_LIKE_ME, "➖ Less like me")] if can_less else []
    likeness += [of(Action.MORE_LIKE_ME, "➕ More like me")] if can_more else []
    rows = [
        [of(Action.REROLL, "🎲 Re-roll"), *likeness],
        [
            button("🎨 Restyle", RestylePage(job=job_id, page=0).pack()),
            of(Action.EDIT_PROMPT, "✏️ Edit prompt"),
        ],
        [
            of(Action.DETAILS, "🔎 Details"),
            of(Action.ORIGINAL, "📄 Original file"),
            of(Action.DELETE, "🗑️ Delete"),
        ],
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def restyle_pages(
    catalog: Catalog,
    per_page: int = STYLES_PER_PAGE,
    offered: Callable[[StyleChoice], bool] | None = None,
) -> int:
    return max(1, math.ceil(len(_shown(catalog, offered)) / per_page))


def _shown(
    catalog: Catalog, offered: Callable[[StyleChoice], bool] | None
) -> list[tuple[int, StyleChoice]]:
    """The listing's (index, style) pairs shown: the indexes stay the full listing's."""
    listing = enumerate(restyle_listing(catalog))
    return [(index, choice) for index, choice in listing if offered is None or offered(choice)]


def restyle_keyboard(
    job_id: int,
    catalog: Catalog,
    page: int,
    *,
    current: tuple[str, str | None] | None = None,
    per_page: int = STYLES_PER_PAGE,
    offered: Callable[[StyleChoice], bool] | None = None,
) -> InlineKeyboardMarkup:
    """One page (0-based, clamped) of models and LoRAs, one per row, then ◀ page/pages ▶ and
    Back. ``current``: the job's (model id, LoRA id or None), marked with ✓. ``offered``:
    only the styles it accepts are shown (the chat's policy)."""
    shown = _shown(catalog, offered)
    pages = restyle_pages(catalog, per_page, offered)
    page = min(max(page, 0), pages - 1)
    rows: list[list[InlineKeyboardButton]] = []
    for index, choice in shown[page * per_page : (page + 1) * per_page]:
        kind = "Model" if choice.kind == "model" else "LoRA"
        chosen = current is not None and (
            (choice.kind == "model" and choice.id == current[0])
            or (choice.kind == "lora" and choice.id == current[1])
        )
        label = f"{'✓ ' if chosen else ''}{kind}: {choice.name}"
        rows.append([button(label, pick_button(job_id, index, choice).pack())])
    nav: list[InlineKeyboardButton] = []
    if page > 0:
        nav.append(button("◀", RestylePage(job=job_id, page=page - 1).pack()))
    if pages > 1:
        nav.append(button(f"{page + 1}/{pages}", RestylePage(job=job_id, page=page).pack()))
    if page < pages - 1:
        nav.append(button("▶", RestylePage(job=job_id, page=page + 1).pack()))
    nav.append(button("↩ Back", ResultButton(action=Action.BACK, job=job_id).pack()))
    rows.append(nav)
    return InlineKeyboardMarkup(inline_keyboard=rows)


def status_keyboard(job_id: int) -> InlineKeyboardMarkup:
    """The Cancel button under a status message."""
    return InlineKeyboardMarkup(
        inline_keyboard=[[button("✖ Cancel", CancelButton(job=job_id).pack())]]
    )
