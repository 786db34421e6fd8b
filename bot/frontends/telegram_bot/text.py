"""Telegram HTML that is always well formed and within Telegram's lengths.

Bot API rules (/work/shared/specs/telegram-facts.md, from core.telegram.org/bots/api):
``parse_mode=HTML`` needs ``<``, ``>`` and ``&`` escaped in text, and a malformed entity fails
the whole call ("Bad Request: can't parse entities"); a message's text is 1-4096 characters and
a caption 0-1024 *after entity parsing*, i.e. tags do not count and ``&amp;`` counts one. The
stand-in counts in UTF-16 code units, the unit of entity offsets (an emoji outside the BMP
counts 2), the stricter reading, so we count that way too.

A message is built from parts: plain strings (escaped here, kept whole), `Cut` strings (escaped
here, shortened with "…" when the whole does not fit) and `Tag` markup (never cut; closing
tags are kept when the text between them is cut). So a cut never lands inside a tag or an
entity (``&amp;``), and every tag opened is closed.

Invisible and direction-changing characters are removed from what members and Wiro wrote
by the core's ``bot.core.result.visible``, the same rule as on Discord.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import regex

from bot.core.result.visible import visible

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
ELLIPSIS = "…"

_GRAPHEME = regex.compile(r"\X")
_TAG_NAME = regex.compile(r"^</?([a-z-]+)")


@dataclass(frozen=True)
class Tag:
    """Raw HTML markup such as ``<b>``, ``</b>`` or ``<a href="...">`` (never cut, counts 0)."""

    markup: str

    @property
    def name(self) -> str:
        match = _TAG_NAME.match(self.markup)
        if match is None:
            raise ValueError(f"not a tag: {self.markup!r}")
        return match[1]

    @property
    def closing(self) -> bool:
        return self.markup.startswith("</")


@dataclass(frozen=True)
class Cut:
    """Plain text that may be shortened (with "…") so the message fits."""

    text: str


Part = str | Cut | Tag


def escape(text: str) -> str:
    """Text a member or Wiro wrote, safe inside Telegram HTML: invisibles removed, then
    ``&``, ``<`` and ``>`` escaped (quotes need no escaping outside attributes)."""
    return html.escape(visible(text), quote=False)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts message and caption lengths."""
    return len(text.encode("utf-16-le")) // 2


def cut_plain(text: str, limit: int) -> str:
    """The longest start of ``text`` of at most ``limit`` UTF-16 units ending on a whole
    grapheme (an emoji with its modifiers stays whole)."""
    if utf16_len(text) <= limit:
        return text
    end, used = 0, 0
    for grapheme in _GRAPHEME.finditer(text):
        size = utf16_len(grapheme[0])
        if used + size > limit:
            break
        used += size
        end = grapheme.end()
    return text[:end]


def shorten(text: str, limit: int) -> str:
    """``text`` within ``limit`` UTF-16 units, ending in "…" when it was shortened."""
    if utf16_len(text) <= limit:
        return text
    if limit < 2:
        return cut_plain(text, limit)
    return cut_plain(text, limit - 1).rstrip() + ELLIPSIS


def fit_html(parts: Sequence[Part], limit: int = MESSAGE_LIMIT) -> str:
    """The parts as one HTML string whose parsed text is at most ``limit`` UTF-16 units.

    `Cut` parts shrink first (the longest first, down to an equal share); only when the fixed
    text alone is too long is the end of the message cut, after which the tags still open are
    closed. Text is escaped here; `Tag` markup must be balanced by the caller.
    """
    texts = [
        visible(p) if isinstance(p, str) else visible(p.text)
        for p in parts
        if not isinstance(p, Tag)
    ]
    if sum(utf16_len(t) for t in texts) <= limit:
        return _render(parts)
    fixed = sum(utf16_len(visible(p)) for p in parts if isinstance(p, str))
    cuttable = [utf16_len(visible(p.text)) for p in parts if isinstance(p, Cut)]
    room = limit - fixed
    if room >= 0 and cuttable:
        cap = _water_level(cuttable, room)
        shrunk = [Cut(shorten(visible(p.text), cap)) if isinstance(p, Cut) else p for p in parts]
        return _render(shrunk)
    return _cut_tail([p for p in parts if not isinstance(p, Cut)], limit)


def _render(parts: Iterable[Part]) -> str:
    out = []
    for part in parts:
        if isinstance(part, Tag):
            out.append(part.markup)
        else:
            out.append(escape(part if isinstance(part, str) else part.text))
    return "".join(out)


def _water_level(lengths: list[int], total: int) -> int:
    """The largest cap such that the lengths, each cut to the cap, add up to ``total`` or less."""
    low, high = 0, max(lengths)
    while low < high:
        middle = (low + high + 1) // 2
        if sum(min(length, middle) for length in lengths) <= total:
            low = middle
        else:
            high = middle - 1
    return low


def _cut_tail(parts: Sequence[Part], limit: int) -> str:
    budget = limit - 1  # room kept for the ellipsis
    out: list[str] = []
    open_tags: list[str] = []
    for part in parts:
        if isinstance(part, Tag):
            out.append(part.markup)
            if not part.closing:
                open_tags.append(part.name)
            elif open_tags and open_tags[-1] == part.name:
                open_tags.pop()
            continue
        text = visible(part) if isinstance(part, str) else visible(part.text)
        if not text:
            continue
        if utf16_len(text) <= budget:
            out.append(escape(text))
            budget -= utf16_len(text)
            continue
        out.append(escape(cut_plain(text, budget).rstrip()) + ELLIPSIS)
        out.extend(f"</{name}>" for name in reversed(open_tags))
        return "".join(out)
    return "".join(out)
