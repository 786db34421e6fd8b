"""Formatted text as Telegram parses it: ``parse_mode=HTML`` to plain text plus entities,
and lengths in UTF-16 code units.

Units: the Bot API manual gives entity offsets and lengths in UTF-16 code units and states
the limits as "characters after entities parsing" (text 1-4096, caption 0-1024). This
stand-in measures those limits in UTF-16 code units too, the stricter reading (an emoji
outside the BMP counts 2), so text accepted here is accepted by Telegram.

The HTML grammar follows tdlib's ``parse_html`` (the parser behind the Bot API): supported
tags b/strong, i/em, u/ins, s/strike/del, span class="tg-spoiler", tg-spoiler, a href, code,
pre (optionally with code class="language-x"), blockquote [expandable], tg-emoji emoji-id;
entities &lt; &gt; &amp; &quot; and numeric ones are decoded, any other ``&`` stays literal.
Errors use tdlib's wording ("Unsupported start tag "x" at byte offset N", ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, bad_request

TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_NAME = re.compile(r"[A-Za-z0-9-]*")
_ATTR = re.compile(r"\s*([A-Za-z0-9_-]*)")
_ENTITY = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]{1,10}));")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (what Telegram's offsets and limits count)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Open:
    tag: str
    attrs: dict[str, str]
    offset: int  # UTF-16 offset in the plain text where the entity starts


class HtmlError(ValueError):
    """Malformed HTML; ``str(exc)`` is tdlib's message."""


def _byte_offset(html: str, index: int) -> int:
    return len(html[:index].encode())


def _read_attrs(html: str, i: int, tag: str, start: int) -> tuple[dict[str, str], int]:
    """Attributes up to ``>``; returns them and the index after ``>``."""
    attrs: dict[str, str] = {}
    while True:
        while i < len(html) and html[i].isspace():
            i += 1
        if i >= len(html):
            raise HtmlError(f"Unclosed start tag at byte offset {_byte_offset(html, start)}")
        if html[i] == ">":
            return attrs, i + 1
        m = _ATTR.match(html, i)
        name = m.group(1).lower() if m else ""
        if not name:
            raise HtmlError(
                f'Empty attribute name in the tag "{tag}" at byte offset {_byte_offset(html, i)}'
            )
        i = m.end() if m else i
        while i < len(html) and html[i].isspace():
            i += 1
        if i >= len(html) or html[i] != "=":
            if i < len(html) and html[i] == ">":
                attrs[name] = ""
                continue
            raise HtmlError(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                f"at byte offset {_byte_offset(html, start)}"
            )
        i += 1
        while i < len(html) and html[i].isspace():
            i += 1
        if i < len(html) and html[i] in "\"'":
            quote = html[i]
            end = html.find(quote, i + 1)
            if end < 0:
                raise HtmlError(f"Unclosed start tag at byte offset {_byte_offset(html, start)}")
            attrs[name] = decode_entities(html[i + 1 : end])
            i = end + 1
        else:
            j = i
            while j < len(html) and not html[j].isspace() and html[j] != ">":
                j += 1
            attrs[name] = decode_entities(html[i:j])
            i = j


def decode_entities(text: str) -> str:
    """Decode &lt; &gt; &amp; &quot; and numeric references; others stay literal."""

    def replace(m: re.Match[str]) -> str:
        if m.group(1) or m.group(2):
            code = int(m.group(1)) if m.group(1) else int(m.group(2), 16)
            return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code < 0xE000 else m[0]
        return NAMED_ENTITIES.get(m.group(3).lower(), m[0])

    return _ENTITY.sub(replace, text)


def _entity(opened: _Open, end: int, nested_code_lang: str | None) -> dict[str, Any] | None:
    kind = TAG_TYPES[opened.tag]
    entity: dict[str, Any] = {"type": kind, "offset": opened.offset, "length": end - opened.offset}
    if kind == "text_link":
        entity["url"] = opened.attrs.get("href", "")
    elif kind == "pre" and nested_code_lang:
        entity["language"] = nested_code_lang
    elif kind == "blockquote" and "expandable" in opened.attrs:
        entity["type"] = "expandable_blockquote"
    elif kind == "custom_emoji":
        entity["custom_emoji_id"] = opened.attrs.get("emoji-id", "")
    return entity if entity["length"] > 0 else None


def parse_html(html: str) -> tuple[str, list[dict[str, Any]]]:
    """``parse_mode=HTML`` text → (plain text, MessageEntity dicts). Raises ``HtmlError``."""
    out: list[str] = []
    pos = 0  # UTF-16 length of the plain text so far
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    code_lang: dict[int, str] = {}  # id(pre _Open) -> language of a nested <code class>
    i = 0
    while i < len(html):
        ch = html[i]
        if ch == "&":
            m = _ENTITY.match(html, i)
            piece = decode_entities(m[0]) if m else "&"
            i = m.end() if m else i + 1
            out.append(piece)
            pos += utf16_len(piece)
            continue
        if ch != "<":
            j = i
            while j < len(html) and html[j] not in "<&":
                j += 1
            out.append(html[i:j])
            pos += utf16_len(html[i:j])
            i = j
            continue
        start = i
        if html.startswith("</", i):
            m = _TAG_NAME.match(html, i + 2)
            name = m[0].lower() if m else ""
            j = m.end() if m else i + 2
            while j < len(html) and html[j].isspace():
                j += 1
            if j >= len(html) or html[j] != ">":
                raise HtmlError(f"Unclosed end tag at byte offset {_byte_offset(html, start)}")
            if not stack:
                raise HtmlError(f"Unexpected end tag at byte offset {_byte_offset(html, start)}")
            opened = stack[-1]
            if name and name != opened.tag:
                raise HtmlError(
                    f"Unmatched end tag at byte offset {_byte_offset(html, start)}, "
                    f'expected "</{opened.tag}>", found "</{name}>"'
                )
            stack.pop()
            lang = code_lang.pop(id(opened), None)
            if opened.tag == "code" and stack and stack[-1].tag == "pre":
                cls = opened.attrs.get("class", "")
                if cls.startswith("language-") and stack[-1].offset == opened.offset:
                    code_lang[id(stack[-1])] = cls.removeprefix("language-")
                    i = j + 1
                    continue
            entity = _entity(opened, pos, lang)
            if entity:
                entities.append(entity)
            i = j + 1
            continue
        m = _TAG_NAME.match(html, i + 1)
        name = m[0].lower() if m else ""
        if name not in TAG_TYPES:
            raise HtmlError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(html, start)}'
            )
        attrs, i = _read_attrs(html, m.end() if m else i + 1, name, start)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise HtmlError(
                f'Tag "span" must have class "tg-spoiler" at byte offset '
                f"{_byte_offset(html, start)}"
            )
        stack.append(_Open(name, attrs, pos))
    if stack:
        raise HtmlError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _strip(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Telegram trims leading/trailing whitespace; entities are shifted and clipped."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    kept = []
    for e in entities:
        start = max(0, e["offset"] - shift)
        end = min(size, e["offset"] - shift + e["length"])
        if end > start:
            kept.append({**e, "offset": start, "length": end - start})
    return stripped, kept


def formatted_text(
    raw: str, parse_mode: str | None, entities: list[dict[str, Any]] | None
) -> tuple[str, list[dict[str, Any]]]:
    """(plain text, entities) as Telegram stores them; raises ``ApiError`` 400 like it does.

    MarkdownV2/Markdown are refused: the Portrait Bot only sends HTML (see the README)."""
    mode = (parse_mode or "").lower()
    if raw and mode and mode != "none":
        if mode in ("markdown", "markdownv2"):
            raise bad_request("can't parse entities: the stand-in supports parse_mode HTML only")
        if mode != "html":
            raise bad_request("unsupported parse_mode")
        try:
            plain, parsed = parse_html(raw)
        except HtmlError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
        return _strip(plain, parsed)
    checked = []
    size = utf16_len(raw)
    for e in entities or []:
        if not isinstance(e, dict) or "type" not in e:
            raise bad_request("can't parse MessageEntity: expected an Object with a type")
        offset, length = int(e.get("offset", -1)), int(e.get("length", 0))
        if offset < 0 or length <= 0 or offset + length > size:
            raise bad_request("entity begins after the end of the text")  # stand-in wording
        checked.append(e)
    return _strip(raw, checked)


def check_length(plain: str, *, caption: bool) -> None:
    """Text 1-4096, caption 0-1024 UTF-16 code units after parsing (Bot API manual)."""
    if caption:
        if utf16_len(plain) > 1024:
            raise bad_request("message caption is too long")
        return
    if not plain:
        raise bad_request("message text is empty")
    if utf16_len(plain) > 4096:
        raise bad_request("message is too long")


__all__ = ["ApiError", "HtmlError", "check_length", "formatted_text", "parse_html", "utf16_len"]
