"""Fitting text to Discord's limits, showing members' words as text, the Details answer, and the
stand-in refusing what Discord refuses."""

from __future__ import annotations

import re
from types import SimpleNamespace

import discord
import pytest

from bot.core.catalog import Catalog
from bot.core.request.options import resolve_options
from bot.frontends.discord_bot import text
from bot.frontends.discord_bot.details import details_message
from bot.frontends.discord_bot.text import cut, fit, fit_embed, literal, visible
from tests.discord_standin.validation import validate_choices, validate_message, validate_modal

FAMILY = "👩\u200d👩\u200d👧"  # one grapheme of five code points
THUMB = "👍🏽"  # emoji with a skin-tone modifier


# -- fitting --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "limit",
    [
        text.CONTENT,
        text.EMBED_TITLE,
        text.EMBED_DESCRIPTION,
        text.EMBED_FIELD_NAME,
        text.EMBED_FIELD_VALUE,
        text.EMBED_FOOTER,
        text.SELECT_OPTION_LABEL,
        text.CHOICE_NAME,
        text.TEXT_INPUT_VALUE,
    ],
)
def test_fit_keeps_what_fits_and_cuts_the_rest_with_an_ellipsis(limit):
    assert fit("a" * limit, limit) == "a" * limit
    cut_text = fit("a" * (limit + 1), limit)
    assert len(cut_text) == limit and cut_text.endswith("…")


def test_cuts_never_split_a_grapheme():
    assert cut("ab" + FAMILY, 5) == "ab"
    assert cut("ab" + FAMILY, 7) == "ab" + FAMILY
    assert fit("ab" + THUMB + "cd", 4) == "ab…"
    assert fit("e\u0301" * 10, 6) == "e\u0301" * 2 + "…"  # an accent stays on its letter


def test_cuts_never_leave_half_an_escape():
    escaped = literal("a*b")  # a\*b
    assert cut(escaped, 2) == "a"
    assert fit(escaped + "cdef", 3) == "a…"
    assert cut(literal("a\\b"), 3) == "a\\\\"  # an escaped backslash stays whole


def test_a_result_sized_embed_fits_every_embed_limit():
    embed = discord.Embed(title="t" * 300, description="d" * 5000)
    for _ in range(30):
        embed.add_field(name="n" * 300, value="v" * 2000)
    embed.set_footer(text="job 1 · " + "f" * 3000)
    fit_embed(embed)
    assert len(embed) <= text.EMBED_TOTAL
    assert len(embed.fields) == text.EMBED_FIELDS
    assert len(embed.title or "") <= text.EMBED_TITLE
    assert all(len(f.name or "") <= 256 and len(f.value or "") <= 1024 for f in embed.fields)
    assert (embed.footer.text or "").startswith("job 1 · ")
    assert not validate_message({"embeds": [embed.to_dict()]}, creating=True, n_files=0)


def test_the_total_is_shared_so_short_parts_stay_whole():
    embed = discord.Embed(title="Portrait of Ana", description="p" * 4096)
    for index in range(7):
        embed.add_field(name=f"Field {index}", value="v" * 1024)
    embed.add_field(name="Seed", value="5")
    fit_embed(embed)
    assert len(embed) <= text.EMBED_TOTAL
    assert embed.title == "Portrait of Ana" and embed.fields[-1].value == "5"


def test_an_embed_that_fits_is_unchanged():
    embed = discord.Embed(title="T", description="D").add_field(name="N", value="V")
    embed.set_footer(text="F")
    assert fit_embed(embed).to_dict() == discord.Embed.from_dict(embed.to_dict()).to_dict()


def test_select_options_and_choices_fit_and_ids_are_never_cut():
    option = text.select_option("Model: " + "x" * 500, "model:1")
    assert option is not None and len(option.label) == 100
    assert text.select_option("a label", "model:" + "9" * 100) is None
    choices = text.choices(
        [("n" * 300, "1"), ("ok", "v" * 101)] + [("c", str(i)) for i in range(40)]
    )
    assert len(choices) == 25 and len(choices[0].name) == 100
    assert all(c.value != "v" * 101 for c in choices)


# -- showing members' words as text ---------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("[Free Nitro](https://evil.example)", "\\[Free Nitro\\](https://evil.example)"),
        ("[a](x) then [b](y)", "\\[a\\](x) then \\[b\\](y)"),  # every link, not only the first
        ("# HEAD", "\\# HEAD"),
        ("ok\n## two\n   ### three", "ok\n\\## two\n   \\### three"),
        ("-# small print", "\\-# small print"),
        ("> quote\n>>> all", "\\> quote\n\\>>> all"),
        ("- item\n* star\n1. first", "\\- item\n\\* star\n1\\. first"),
        ("**bold** __u__ ~~s~~ ||spoiler|| `code`", None),
        ("@everyone and @here", "\\@everyone and \\@here"),
        ("<@123456789012345678> <#1> <t:1:R>", "\\<@123456789012345678> \\<#1> \\<t:1:R>"),
        ("a \\ backslash", "a \\\\ backslash"),
        ("see https://x.example/a_b*c", "see https://x.example/a_b*c"),  # links stay usable
        ("a # not a heading", "a # not a heading"),
    ],
)
def test_literal_escapes_every_markdown_construct(typed, shown):
    if shown is None:
        assert re.fullmatch(r"(\\[*_~|`]{1}|[^*_~|`])*", literal(typed))
    else:
        assert literal(typed) == shown


def test_bidi_controls_and_invisible_characters_are_removed_but_emoji_stay_whole():
    controls = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
    invisible = "\u200b\u200c\u2060\ufeff\u00ad\u3164"
    assert visible(f"a{controls}b{invisible}c") == "abc"
    assert visible("lone\u200djoiner") == "lonejoiner"
    assert visible(f"{FAMILY} {THUMB}") == f"{FAMILY} {THUMB}"
    scotland = "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
    assert visible(scotland + " hidden\U000e0041\U000e0042") == scotland + " hidden"
    assert literal("\u202eevil") == "evil"


@pytest.mark.parametrize(
    "typed",
    [
        "[x](https://evil.com)[x](https://evil.com)",
        "https://a.example)[x](https://evil.com)",
        "https://a.example/[x](https://evil.com)",
        "<https://a.example>[x](https://evil.com)",
        "<a:/[x](https://evil.com)>",
        "[https://a.example](https://evil.com)",
        "see https://a.example[x](<https://evil.com>)",
    ],
)
def test_no_masked_link_survives_whatever_comes_before_it(typed):
    # every "[" and "]" in the shown text is escaped, so no "[text](url)" can be live
    assert re.fullmatch(r"(\\[\[\]]|\\.|[^\[\]\\])*", literal(typed)), literal(typed)


def test_a_plain_url_stays_as_typed_before_and_after_markdown():
    assert literal("https://a.example/x_y [b](c)") == "https://a.example/x_y \\[b\\](c)"
    assert literal("https://a.example)[x](https://evil.com)") == (
        "https://a.example)\\[x\\](https://evil.com)"
    )


@pytest.mark.parametrize(
    "blank",
    [
        "\u2800",  # braille pattern blank
        "\u3164",  # Hangul filler
        "\u115f",  # Hangul choseong filler
        "\u1160",  # Hangul jungseong filler
        "\uffa0",  # halfwidth Hangul filler
        "\u180e",  # Mongolian vowel separator
        "\u2061\u2062\u2063\u2064",  # invisible operators
        "\u034f",  # combining grapheme joiner
        "\u17b4\u17b5",  # Khmer inherent vowels
        "\u206a\u206f",  # deprecated format characters
        "\ufff9\ufffa\ufffb",  # interlinear annotation
    ],
)
def test_blank_and_filler_characters_are_removed(blank):
    assert visible(f"a{blank}b") == "ab"
    assert literal(f"{blank}@everyone") == "\\@everyone"


def test_line_and_paragraph_separators_become_spaces_and_emoji_keep_their_selectors():
    assert visible("one\u2028two\u2029three") == "one two three"
    assert literal("x\u2028# head") == "x # head"  # not a line start any more
    assert visible("\u2764\ufe0f") == "\u2764\ufe0f"  # red heart keeps its emoji form


# -- the Details answer ---------------------------------------------------------------------


def _job(**options):
    catalog = Catalog.bundled()
    params = resolve_options(catalog, seed=5, **options).to_params()
    return SimpleNamespace(id=7, params={"options": params})


def _well_formed(content: str) -> bool:
    return (
        len(content) <= 2000
        and content.count("```") % 2 == 0
        and (
            all("```" not in block for block in re.findall(r"```\n(.*?)\n```", content, re.DOTALL))
        )
    )


def test_details_of_ordinary_settings_are_one_message():
    details = details_message(_job(prompt="a viking queen"))
    assert details.file is None and _well_formed(details.content)
    assert "seed: 5" in details.content and "/portrait prompt:a viking queen " in details.content


@pytest.mark.parametrize(
    "prompt",
    ["`" * 1000, "```" + "a" * 996 + "```"[:1], ("``` " * 250).strip(), "x" * 1000],
)
def test_details_always_fit_and_stay_well_formed(prompt):
    details = details_message(_job(prompt=prompt, negative_prompt="n, " * 333))
    assert _well_formed(details.content)
    assert details.file is not None and details.file.filename == "details-7.txt"
    assert "details-7.txt" in details.content


def test_details_with_every_setting_at_its_longest_still_fit():
    job = _job(prompt="p" * 1000, negative_prompt="n" * 1000)
    options = job.params["options"]
    options.update(private_model="m" * 500, private_lora="l" * 500, lora_url="u" * 500)
    options.update(scheduler="s" * 500, model_id="i" * 500)
    details = details_message(job)
    assert _well_formed(details.content)
    assert "p" * 100 in details.content and "n" * 100 in details.content


# -- the stand-in refuses what Discord refuses ----------------------------------------------


def test_the_stand_in_refuses_an_over_limit_field_or_select_option():
    field = {"embeds": [{"fields": [{"name": "Model", "value": "x" * 1025}]}]}
    assert validate_message(field, creating=True, n_files=0)
    total = {
        "embeds": [{"description": "d" * 4096, "fields": [{"name": "n", "value": "v" * 1024}] * 2}]
    }
    assert validate_message(total, creating=True, n_files=0)
    row = {"type": 1, "components": [{"type": 3, "custom_id": "s", "options": []}]}
    row["components"][0]["options"] = [{"label": "l" * 101, "value": "v"}]
    assert validate_message({"components": [row]}, creating=True, n_files=0)


def test_the_stand_in_refuses_over_limit_choices_and_modal_defaults():
    assert validate_choices([{"name": "n" * 101, "value": "1"}])
    assert validate_choices([{"name": "n", "value": "v" * 101}])
    assert not validate_choices([{"name": "n" * 100, "value": "v" * 100}])
    text_input = {"type": 4, "custom_id": "p", "label": "Prompt", "value": "x" * 1001}
    text_input["max_length"] = 1000
    modal = {"title": "Edit", "custom_id": "m", "components": [{"components": [text_input]}]}
    assert validate_modal(modal)


def test_a_long_face_list_says_how_many_more_instead_of_cutting_a_name() -> None:
    from datetime import UTC, datetime

    from bot.core.faces.store import SavedFace
    from bot.frontends.discord_bot.faces import DESCRIPTION_MAX, faces_embed

    names = ["*_" * 16] * 50  # 50 names that each escape to 64 characters
    faces = [
        SavedFace(i, "discord:1", n, i == 0, datetime.now(UTC), "f") for i, n in enumerate(names)
    ]
    description = faces_embed(faces, 50).description or ""
    assert len(description) <= DESCRIPTION_MAX
    shown = description.count(" — saved ")
    assert shown < 50 and description.endswith(f"…and {50 - shown} more")
