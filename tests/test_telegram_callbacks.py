"""Button payloads fit Telegram's 64 bytes, carry only ids (so they survive restarts), and the
keyboards are accepted by the stand-in (Telegram's shape rules)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from aiogram import Bot

from bot.core.catalog import Catalog
from bot.frontends.telegram_bot.callbacks import (
    CALLBACK_DATA_MAX_BYTES,
    JOB_ID_MAX,
    Action,
    CancelButton,
    RestylePage,
    RestylePick,
    ResultButton,
    pick_button,
    resolve_pick,
    restyle_listing,
)
from bot.frontends.telegram_bot.keyboards import (
    BUTTON_TEXT_CHARS,
    restyle_keyboard,
    restyle_pages,
    result_keyboard,
    status_keyboard,
)
from tests.telegram_standin import TelegramStandIn
from tests.telegram_standin.harness import aiogram_bot


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.bundled()


@pytest.fixture
async def telegram(tmp_path) -> AsyncIterator[TelegramStandIn]:
    async with TelegramStandIn(save_dir=tmp_path / "sent") as server:
        yield server
        assert server.internal_errors == []


def longest_payloads(catalog: Catalog) -> list:
    listing = restyle_listing(catalog)
    return [
        *(ResultButton(action=action, job=JOB_ID_MAX) for action in Action),
        RestylePage(job=JOB_ID_MAX, page=999),
        pick_button(JOB_ID_MAX, 999, listing[-1]),
        CancelButton(job=JOB_ID_MAX),
    ]


def test_the_longest_of_each_fits_and_round_trips(catalog: Catalog) -> None:
    for payload in longest_payloads(catalog):
        packed = payload.pack()
        assert 1 <= len(packed.encode()) <= CALLBACK_DATA_MAX_BYTES, packed
        assert type(payload).unpack(packed) == payload  # a restarted bot reads it back


def test_prefixes_do_not_collide() -> None:
    prefixes = [cls.__prefix__ for cls in (ResultButton, RestylePage, RestylePick, CancelButton)]
    assert len(set(prefixes)) == len(prefixes)


def test_a_pick_resolves_only_while_the_listing_is_the_same(catalog: Catalog) -> None:
    listing = restyle_listing(catalog)
    index = len(catalog.models) + 2  # the second LoRA
    pick = RestylePick.unpack(pick_button(42, index, listing[index]).pack())
    assert resolve_pick(pick, catalog) == listing[index]
    reordered = replace(catalog, loras=catalog.loras[::-1])
    assert resolve_pick(pick, reordered) is None
    assert resolve_pick(pick.model_copy(update={"index": 999}), catalog) is None
    no_lora = listing.index(next(c for c in listing if c.kind == "lora" and c.id is None))
    assert resolve_pick(pick_button(1, no_lora, listing[no_lora]), catalog).id is None


def test_result_keyboard_leaves_out_likeness_at_the_ends() -> None:
    texts = [b.text for row in result_keyboard(5).inline_keyboard for b in row]
    assert texts == [
        "🎲 Re-roll",
        "➖ Less like me",
        "➕ More like me",
        "🎨 Restyle",
        "✏️ Edit prompt",
        "🔎 Details",
        "📄 Original file",
        "🗑️ Delete",
    ]
    top = [b.text for b in result_keyboard(5, can_more=False).inline_keyboard[0]]
    assert top == ["🎲 Re-roll", "➖ Less like me"]


def test_restyle_pages_cover_every_style_once(catalog: Catalog) -> None:
    pages = restyle_pages(catalog, per_page=4)
    seen = []
    for page in range(pages):
        rows = restyle_keyboard(7, catalog, page, per_page=4).inline_keyboard
        seen += [RestylePick.unpack(row[0].callback_data).index for row in rows[:-1]]
        nav = [b.text for b in rows[-1]]
        assert ("◀" in nav) == (page > 0) and ("▶" in nav) == (page < pages - 1)
        assert all(len(b.text) <= BUTTON_TEXT_CHARS for row in rows for b in row)
    assert seen == list(range(len(restyle_listing(catalog))))
    clamped = restyle_keyboard(7, catalog, 99, per_page=4)
    assert clamped == restyle_keyboard(7, catalog, pages - 1, per_page=4)
    current = (catalog.models[0].id, None)
    marked = restyle_keyboard(7, catalog, 0, current=current).inline_keyboard
    assert marked[0][0].text.startswith("✓ Model:")


async def test_keyboards_are_accepted_and_pressed_through_telegram(
    telegram: TelegramStandIn, catalog: Catalog
) -> None:
    async with aiogram_bot(telegram) as bot:
        bot: Bot
        chat = telegram.private.id
        for markup in (
            result_keyboard(JOB_ID_MAX),
            status_keyboard(JOB_ID_MAX),
            *(
                restyle_keyboard(JOB_ID_MAX, catalog, page)
                for page in range(restyle_pages(catalog))
            ),
        ):
            await bot.send_message(chat, "buttons", reply_markup=markup)
    sent = telegram.sent()
    assert len(sent) == 2 + restyle_pages(catalog)
    press = telegram.press_button(
        sent[0], ResultButton(action=Action.DELETE, job=JOB_ID_MAX).pack()
    )
    assert ResultButton.unpack(press.data) == ResultButton(action=Action.DELETE, job=JOB_ID_MAX)
