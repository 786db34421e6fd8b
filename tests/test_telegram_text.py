"""Telegram HTML: escaped, well formed (checked with the stand-in's tdlib-grammar parser) and
within 4096/1024 UTF-16 units after entity parsing, however long or odd the member's text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.catalog import Catalog
from bot.core.jobs.runner import Phase
from bot.core.request.options import resolve_options
from bot.core.result.summary import summarize
from bot.core.wiro import TaskProgress
from bot.frontends.telegram_bot.command import parse_portrait, split_arguments
from bot.frontends.telegram_bot.messages import (
    HistoryEntry,
    ask_new_prompt,
    details,
    help_text,
    history_text,
    portrait_line,
    refusal,
    result_caption,
    status_text,
    styles_pages,
)
from bot.frontends.telegram_bot.text import (
    CAPTION_LIMIT,
    MESSAGE_LIMIT,
    Cut,
    Tag,
    escape,
    fit_html,
    utf16_len,
)
from tests.telegram_standin.text import parse_html

NASTY = "<b>bold</b> & <a href='x'>link</a> \u202eevil\u200b 👩‍💻 😀 &amp; "


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.bundled()


def parsed(html: str) -> str:
    plain, _ = parse_html(html)  # raises on anything Telegram would refuse
    return plain


def test_escape_keeps_text_literal_and_drops_invisibles() -> None:
    shown = parsed(escape(NASTY))
    assert shown == NASTY.replace("\u202e", "").replace("\u200b", "")
    assert utf16_len("😀a") == 3


@pytest.mark.parametrize("limit", [1, 2, 10, 50, 1024])
def test_fit_never_cuts_a_tag_or_an_entity(limit: int) -> None:
    parts = [Tag("<b>"), "head & <tail> ", Tag("<i>"), NASTY * 40, Tag("</i>"), Tag("</b>")]
    html = fit_html(parts, limit)
    plain = parsed(html)
    assert utf16_len(plain) <= limit
    assert plain.endswith("…")


def test_cut_parts_shrink_first_and_fixed_text_stays() -> None:
    parts = ["Model: X\n", Tag("<i>"), Cut("😀" * 2000), Tag("</i>"), "\nSeed: 42"]
    plain = parsed(fit_html(parts, 100))
    assert plain.startswith("Model: X\n") and plain.endswith("…\nSeed: 42")
    assert utf16_len(plain) <= 100
    assert "\ufffd" not in plain  # no surrogate cut in half


def test_caption_fits_1024_with_every_setting(catalog: Catalog) -> None:
    options = resolve_options(catalog, prompt=NASTY * 15, lora=catalog.loras[0].id, seed=5)
    caption = result_caption(summarize(options, catalog, elapsed=38), member_name="<Ana> & co")
    plain = parsed(caption)
    assert utf16_len(plain) <= CAPTION_LIMIT
    assert plain.startswith("Portrait for <Ana> & co\n")
    for label in ("Model:", "LoRA:", "Seed: 5", "Steps:", "Guidance:", "Likeness:", "Time taken"):
        assert label in plain


def test_status_shows_queue_stage_progress_and_cooldown() -> None:
    waiting = parsed(status_text(Phase.WAITING, position=3, member_name="Ana"))
    assert "Waiting in line… 2 ahead of you." in waiting
    assert "You're next." in parsed(status_text(Phase.WAITING, position=1))
    cooldown = parsed(status_text(Phase.WAITING, position=1, starts_in=12.4))
    assert "Starts in 12 s" in cooldown
    progress = TaskProgress(percentage=42, remaining_seconds=12)
    generating = parsed(status_text(Phase.GENERATING, progress=progress))
    assert "Generating…" in generating and "42% · about 12 s left" in generating
    assert "█" * 8 + "░" * 12 in generating


def test_details_in_a_message_and_the_line_parses_back(catalog: Catalog) -> None:
    options = parse_portrait(
        f'"a knight\'s --portrait" --lora "{catalog.loras[1].readable_name}" --lora-scale 0.5',
        catalog,
    ).options
    assert options is not None
    answer = details(options, 7, catalog)
    assert answer.document is None
    plain = parsed(answer.html)
    assert "seed: " in plain and "/portrait" in plain
    line = portrait_line(options, catalog)
    assert parse_portrait(line.removeprefix("/portrait"), catalog).options == options
    prompt, _ = split_arguments(line.removeprefix("/portrait"), catalog)
    assert prompt == options.prompt


def test_details_too_long_for_a_message_come_as_a_document(catalog: Catalog) -> None:
    options = resolve_options(catalog, prompt="p" * 1000, negative_prompt="n" * 1000, seed=1)
    short = details(options, 8, catalog)
    assert short.document is None
    long = details(
        resolve_options(catalog, prompt="😀" * 1000, negative_prompt="😀" * 1000, seed=1),
        9,
        catalog,
    )
    assert long.filename == "details-9.txt" and long.document is not None
    assert "😀" * 1000 in long.document.decode()
    assert "details-9.txt" in parsed(long.html)


def test_help_styles_history_and_refusals_are_valid_html(catalog: Catalog) -> None:
    assert "/portrait astronaut" in parsed(help_text("PortraitTestBot"))
    pages = styles_pages(catalog)
    assert all(utf16_len(parsed(page)) <= MESSAGE_LIMIT for page in pages)
    assert catalog.loras[0].readable_name in "".join(parsed(p) for p in pages)
    small_pages = styles_pages(catalog, limit=200)
    assert len(small_pages) > 1 and all(utf16_len(parsed(p)) <= 200 for p in small_pages)
    entries = [
        HistoryEntry(n, "failed", datetime(2026, 1, 1, tzinfo=UTC), NASTY * 50, "<m>", n, NASTY)
        for n in range(12)
    ]
    history = parsed(history_text(entries))
    assert utf16_len(history) <= MESSAGE_LIMIT and "#9" in history and "#10" not in history
    assert parsed(refusal("Steps must be <= 50 & more")) == "⚠️ Steps must be <= 50 & more"


def test_the_edit_prompt_question_shows_the_current_prompt() -> None:
    plain = parsed(ask_new_prompt("<x> " * 2000))
    assert plain.startswith("✏️ Reply to this message") and utf16_len(plain) <= MESSAGE_LIMIT
