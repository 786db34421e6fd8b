"""Every text the bot sends to Discord: fitted to Discord's limits, and shown as text when a
member or Wiro wrote it.

Discord refuses a whole message (400, code 50035 "Invalid Form Body") when one piece is over
its limit, so a paid portrait would be lost for one long model label. Limits come from the
Discord API documentation: "Message → Create Message" (content), "Embed Limits", "Component
Reference" (string select, button, text input), "Interactions → Autocomplete" and "Modal".
Discord counts Unicode code points, i.e. Python's ``len`` (staff answer in
discord/discord-api-docs#1315); it also trims surrounding whitespace, so a part must not be
blank.
"""

from __future__ import annotations

import bisect

import discord
import regex
from discord import app_commands

from bot.core.result.visible import visible

CONTENT = 2000
EMBED_TITLE = 256
EMBED_DESCRIPTION = 4096
EMBED_FIELDS = 25
EMBED_FIELD_NAME = 256
EMBED_FIELD_VALUE = 1024
EMBED_FOOTER = 2048
EMBED_AUTHOR = 256
EMBED_TOTAL = 6000  # title + description + field names and values + footer + author name
SELECT_OPTIONS = 25
SELECT_OPTION_LABEL = 100
SELECT_OPTION_VALUE = 100
SELECT_OPTION_DESCRIPTION = 100
SELECT_PLACEHOLDER = 150
BUTTON_LABEL = 80
CHOICES = 25  # autocomplete choices in one answer
CHOICE_NAME = 100
CHOICE_VALUE = 100  # for string choices
MODAL_TITLE = 45
TEXT_INPUT_LABEL = 45
TEXT_INPUT_VALUE = 4000  # also the longest default value and max_length

ELLIPSIS = "…"
BLANK = "—"  # stands for a part that would be empty: Discord refuses blank fields

_GRAPHEME = regex.compile(r"\X")
# discord.utils.escape_markdown (discord.py 2.7) leaves links alone and escapes * _ ~ | ` \,
# but only the first "[" of a masked link (so "[a](x) [b](y)" keeps the second one live),
# only "#" at the very start of a line, no ordered lists and no <@mentions>, <#channels> or
# <t:timestamps>. This one pass covers all of those: every markdown character is escaped
# with a backslash, which Discord honours before any ASCII punctuation.
# A URL is kept as typed (Discord shows its real address), but it never takes in a "[" or "]"
# (reserved characters, percent-encoded in real URLs): every bracket outside it is escaped, so
# "https://a.b)[x](https://evil.com)" cannot leave a masked link live after the URL.
_URL = r"<[^: >\[\]]+:/[^ >\[\]]+>|(?:https?|steam)://[^\s<\[\]]+[^<.,:;\"'\[\]\s]"
_MARKUP = regex.compile(
    rf"(?P<url>{_URL})"
    r"|[\\*_~|`\[\]<]"  # emphasis, underline, strike, spoiler, code, masked link, <@…> <t:…>
    r"|(?<=^[ \t]*)[#>+-]"  # heading, -# subtext, quote, list item at the start of a line
    r"|(?<=^[ \t]*\d+)[.)](?=\s)"  # ordered list "1. "
    r"|@(?=everyone|here)",
    regex.MULTILINE,
)


def literal(text: str) -> str:
    """Text a member or Wiro wrote, shown exactly as typed: invisible and bidi characters
    removed, every Discord markdown construct escaped (links, headings, ``-#`` subtext, quotes,
    lists, emphasis, code, spoilers, mentions). Never use it on what is sent to Wiro."""
    return _MARKUP.sub(_escape, visible(text))


def _escape(match: regex.Match[str]) -> str:
    return match["url"] or "\\" + match[0]


def cut(text: str, limit: int) -> str:
    """The longest start of ``text`` of at most ``limit`` code points that ends on a whole
    grapheme (an emoji with its modifiers, a letter with its accents) and not inside a
    backslash escape."""
    if len(text) <= limit:
        return text
    end = 0
    for grapheme in _GRAPHEME.finditer(text):
        if grapheme.end() > limit:
            break
        end = grapheme.end()
    return _without_dangling_escape(text[:end])


def _without_dangling_escape(text: str) -> str:
    trailing = len(text) - len(text.rstrip("\\"))
    return text[:-1] if trailing % 2 else text


def fit(text: str, limit: int, *, ellipsis: str = ELLIPSIS) -> str:
    """``text`` if it fits in ``limit`` code points, else cut (see `cut`) with ``ellipsis``."""
    if len(text) <= limit:
        return text
    if limit < len(ellipsis) * 2:
        return cut(text, limit)
    return _without_dangling_escape(cut(text, limit - len(ellipsis)).rstrip()) + ellipsis


def fit_content(text: str) -> str:
    """Message content within Discord's 2,000 code points."""
    return fit(text, CONTENT)


def fit_embed(embed: discord.Embed) -> discord.Embed:
    """``embed`` (changed in place) within every Embed Limit: each part to its own limit, at
    most 25 fields, then the 6,000 in all by cutting the longest parts first. Expects one
    embed per message (the 6,000 are shared by all embeds of a message)."""
    if embed.title:
        embed.title = fit(embed.title, EMBED_TITLE)
    if embed.description:
        embed.description = fit(embed.description, EMBED_DESCRIPTION)
    fields = [
        (
            fit(f.name or "", EMBED_FIELD_NAME) or BLANK,
            fit(f.value or "", EMBED_FIELD_VALUE) or BLANK,
            bool(f.inline),
        )
        for f in embed.fields[:EMBED_FIELDS]
    ]
    footer = fit(embed.footer.text, EMBED_FOOTER) if embed.footer.text else None
    author = fit(embed.author.name, EMBED_AUTHOR) if embed.author.name else None

    parts = [embed.title or "", embed.description or "", footer or "", author or ""]
    parts += [piece for name, value, _ in fields for piece in (name, value)]
    cap = _water_level([len(part) for part in parts], EMBED_TOTAL)
    if cap is not None:

        def shrink(text: str) -> str:
            return fit(text, cap) if text else text

        embed.title = shrink(embed.title or "") or None
        embed.description = shrink(embed.description or "") or None
        footer, author = shrink(footer or "") or None, shrink(author or "") or None
        fields = [(shrink(n) or BLANK, shrink(v) or BLANK, inline) for n, v, inline in fields]
    embed.clear_fields()
    for name, value, inline in fields:
        embed.add_field(name=name, value=value, inline=inline)
    if footer is not None or embed.footer.icon_url:
        embed.set_footer(text=footer, icon_url=embed.footer.icon_url)
    if author is not None:
        embed.set_author(name=author, url=embed.author.url, icon_url=embed.author.icon_url)
    return embed


def _water_level(lengths: list[int], total: int) -> int | None:
    """The largest cap such that the lengths, each cut to the cap, add up to at most ``total``
    (with room for a fitted part growing by nothing); None when they fit already."""
    if sum(lengths) <= total:
        return None
    ordered = sorted(lengths)
    low, high = 1, ordered[-1]
    while low < high:  # the largest cap whose sum still fits
        middle = (low + high + 1) // 2
        below = bisect.bisect_left(ordered, middle)
        if sum(ordered[:below]) + middle * (len(ordered) - below) <= total:
            low = middle
        else:
            high = middle - 1
    return low


def select_option(label: str, value: str) -> discord.SelectOption | None:
    """A select option with ``label`` fitted (no markdown there: invisible characters are
    removed, nothing escaped); None when ``value`` is too long to send (an id cannot be cut)."""
    if not value or len(value) > SELECT_OPTION_VALUE:
        return None
    return discord.SelectOption(
        label=fit(visible(label), SELECT_OPTION_LABEL) or BLANK, value=value
    )


def choices(items: list[tuple[str, str]], limit: int = CHOICES) -> list[app_commands.Choice[str]]:
    """Autocomplete choices from ``(name, value)`` pairs: names fitted to 100 code points,
    items whose value (an id) is over 100 left out, at most 25."""
    made = [
        app_commands.Choice(name=fit(visible(name), CHOICE_NAME) or BLANK, value=value)
        for name, value in items
        if value and len(value) <= CHOICE_VALUE
    ]
    return made[: min(limit, CHOICES)]


def fitted_message(kwargs: dict[str, object]) -> dict[str, object]:
    """Message keyword arguments (``content``, ``embed``, ``embeds``) fitted to Discord's
    limits, for the one path that posts and edits job messages."""
    fitted = dict(kwargs)
    content = fitted.get("content")
    if isinstance(content, str):
        fitted["content"] = fit_content(content)
    embed = fitted.get("embed")
    if isinstance(embed, discord.Embed):
        fitted["embed"] = fit_embed(embed)
    return fitted
