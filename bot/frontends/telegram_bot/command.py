"""Commands in a Telegram message's text or caption, and ``/portrait`` flags as options.

A command is the first word when it starts with ``/``: ``/portrait`` or ``/portrait@BotName``
(Bot API: in groups with privacy mode on the bot receives ``/cmd`` and ``/cmd@BotName``; a
command addressed to another bot is not for us). ``/portrait`` takes free text (the prompt)
and flags, ``--flag value`` or ``--flag=value``. A value with spaces goes in double quotes
(``"..."``, also the curly quotes phones type); apostrophes are ordinary letters, so "a
knight's portrait" needs no quoting. Phones with smart punctuation turn ``--`` into an em or
en dash: those start a flag too. ``--model`` and ``--lora`` also take an unquoted name of
several words when those words name a catalog entry. The values then go through
`bot.core.request.options.resolve_options`, so ranges and name matching are exactly Discord's.
``--private-model``, ``--private-lora`` and ``--lora-url`` reach the tool's private inputs;
whether the member may use them (and the URL's host) is the chat's policy (`gate`). What the
member leaves empty (model, LoRA, prompt) takes the chat's defaults first (`with_chat_defaults`).
``--face <name>`` names one of the member's saved faces instead of a photo (`PortraitRequest.face`;
not an option of the tool, so it never reaches `resolve_options`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bot.core.catalog import Catalog
from bot.core.policy.model import EffectivePolicy
from bot.core.request.options import OptionError, PortraitOptions, resolve_options

PORTRAIT = "portrait"
FACE = "face"  # the --face flag's keyword in `split_arguments`' values
COMMANDS = ("start", "help", "styles", "history", "cancel", PORTRAIT)

# Flag (as typed, lower case) -> resolve_options keyword.
_FLAGS = {
    "model": "model",
    "lora": "lora",
    "lora-scale": "lora_scale",
    "negative": "negative_prompt",
    "steps": "steps",
    "guidance": "guidance",
    "likeness": "likeness",
    "samples": "samples",
    "seed": "seed",
    "scheduler": "scheduler",
    # Private styles (the seed's selectedModelPrivate, selectedLoraModelPrivate and
    # selectedLoraModelPrivateUrl): only where the owner and the chat's policy allow them.
    "private-model": "private_model",
    "private-lora": "private_lora",
    "lora-url": "lora_url",
    # A saved face (`bot.core.faces`), by name: taken out before the options are resolved.
    "face": FACE,
}
_ALIASES = {
    "lora_scale": "lora-scale",
    "negative-prompt": "negative",
    "negative_prompt": "negative",
    "private_model": "private-model",
    "private_lora": "private-lora",
    "lora_url": "lora-url",
}
KNOWN_FLAGS = tuple(f"--{name}" for name in _FLAGS)
_DECIMAL_FLAGS = {"lora-scale", "guidance", "likeness"}
_NAME_FLAGS = {"model", "lora"}
_FLAG_STARTS = ("--", "—", "–")  # "--", em dash, en dash (smart punctuation)
_QUOTES = {'"': '"', "“": "”", "„": "“", "«": "»"}  # quotes phones type


@dataclass(frozen=True)
class Command:
    """A command addressed to this bot: ``name`` lower case without ``/`` and ``@BotName``,
    ``args`` the rest of the text (stripped)."""

    name: str
    args: str


@dataclass(frozen=True)
class PortraitRequest:
    """The outcome of ``/portrait`` arguments: ``options`` or ``error`` (for the member);
    ``face``: the saved face named with ``--face`` (as typed), None when not given."""

    options: PortraitOptions | None = None
    error: str | None = None
    face: str | None = None


class _Token(str):
    """A word of the arguments; ``quoted`` when it was in quotes (never a flag then)."""

    quoted: bool = False


def parse_command(text: str | None, bot_username: str) -> Command | None:
    """The command at the start of ``text``; None when there is none, or it names another
    bot (``/portrait@OtherBot``). Unknown commands addressed to us are returned as they are,
    so the caller can answer them."""
    if not text or not text.startswith("/"):
        return None
    head, *rest = text.split(maxsplit=1)
    name, at, target = head[1:].partition("@")
    if at and target.casefold() != bot_username.casefold():
        return None
    if not name:
        return None
    return Command(name=name.casefold(), args=rest[0].strip() if rest else "")


def parse_portrait(
    args: str,
    catalog: Catalog,
    *,
    rng: random.Random | None = None,
    policy: EffectivePolicy | None = None,
) -> PortraitRequest:
    """``/portrait`` arguments as checked options with the defaults filled in (the chat's
    default model, LoRA and prompt from ``policy`` where the member left them empty, then the
    catalog's), or the member-facing reason they can't be used. No network, no Wiro call."""
    try:
        prompt, values = split_arguments(args, catalog)
        face = values.pop(FACE, None)
        check_names(values, catalog)
        if policy is not None:
            prompt = with_chat_defaults(policy, prompt, values, catalog)
        options = resolve_options(catalog, prompt=prompt or None, rng=rng, **values)
    except OptionError as error:
        return PortraitRequest(error=error.message)
    return PortraitRequest(options=options, face=face)


def gives_private_inputs(args: str, catalog: Catalog) -> bool:
    """Whether ``/portrait`` arguments give a private model, a private LoRA or a LoRA URL
    (checked against the chat's policy before they are parsed); False when the arguments
    can't be read (`parse_portrait` then says why)."""
    try:
        _, values = split_arguments(args, catalog)
    except OptionError:
        return False
    return any(values.get(keyword) for keyword in ("private_model", "private_lora", "lora_url"))


def with_chat_defaults(
    policy: EffectivePolicy, prompt: str, values: dict[str, str], catalog: Catalog
) -> str:
    """Fill ``values`` (in place) and the prompt with the chat's defaults where the member
    left them empty (`EffectivePolicy.with_defaults`: a private model or LoRA the member gave
    is never joined by a default from the list, and with no model default the first model
    offered here stands in for a catalog default the chat does not offer). Returns the
    prompt."""
    fallback = [catalog.defaults.model_id, *(m.id for m in catalog.models)]
    model, lora, filled = policy.with_defaults(
        values.get("model"),
        values.get("lora"),
        prompt,
        private_model=values.get("private_model"),
        private_lora=values.get("private_lora"),
        lora_url=values.get("lora_url"),
        fallback_models=fallback,
    )
    if model:
        values["model"] = model
    if lora:
        values["lora"] = lora
    return filled or ""


def split_arguments(args: str, catalog: Catalog | None = None) -> tuple[str, dict[str, str]]:
    """The prompt (the free text, words joined by one space) and each flag's value as text,
    keyed by `resolve_options`'s keyword. Raises `OptionError` for an unknown or repeated flag,
    a flag without a value or an unclosed quote."""
    tokens = _tokens(args)
    prompt: list[str] = []
    values: dict[str, str] = {}
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        flag = _flag_name(token)
        if flag is None:
            prompt.append(str(token))
            continue
        flag, eq, inline = flag.partition("=")
        canonical = _ALIASES.get(flag, flag)
        if canonical not in _FLAGS:
            raise OptionError(
                f"I don't know the option --{_short(flag)}. The options are: "
                f"{', '.join(KNOWN_FLAGS)}."
            )
        keyword = _FLAGS[canonical]
        if keyword in values:
            raise OptionError(f"--{canonical} is given twice; keep one.")
        if eq:
            value = inline
        elif index < len(tokens) and _flag_name(tokens[index]) is None:
            value, index = _value(canonical, tokens, index, catalog)
        else:
            value = ""
        if not value.strip():
            raise OptionError(
                f"--{canonical} needs a value, like --{canonical} {_example(canonical)}."
            )
        if canonical in _DECIMAL_FLAGS:
            value = value.replace(",", ".")
        values[keyword] = value
    return " ".join(prompt), values


def check_names(values: dict[str, str], catalog: Catalog) -> None:
    """Unknown model or LoRA names, refused with a hint that fits Telegram (Discord's own
    message points at its autocomplete)."""
    for keyword, what, lookup in (
        ("model", "model", catalog.model),
        ("lora", "LoRA", catalog.lora),
    ):
        name = values.get(keyword)
        if name is not None and lookup(name) is None:
            raise OptionError(
                f'I don\'t know a {what} called "{_short(" ".join(name.split()), 60)}". '
                "Send /styles to see the names you can use."
            )


def parse_rename(args: str) -> tuple[str, str] | None:
    """``/face rename`` arguments, ``<name> to <new name>``, as (name, new name); quotes
    (straight or curly) group words, so a name with the word "to" in it can be quoted. None
    when there is not exactly one unquoted "to" with words on both sides (or a quote is not
    closed)."""
    try:
        tokens = _tokens(args)
    except OptionError:
        return None
    cuts = [i for i, token in enumerate(tokens) if not token.quoted and token.casefold() == "to"]
    if len(cuts) != 1 or not 0 < cuts[0] < len(tokens) - 1:
        return None
    cut = cuts[0]
    return " ".join(tokens[:cut]), " ".join(tokens[cut + 1 :])


def parse_name(args: str) -> str:
    """A face's name as the member typed it after ``/face save|default|delete``: quotes
    (straight or curly) removed as in ``--face "at work"``; the text as it is when a quote is
    not closed (the name check then judges it)."""
    try:
        return " ".join(_tokens(args))
    except OptionError:
        return args.strip()


def _tokens(args: str) -> list[_Token]:
    """Whitespace-separated words; double quotes (straight or curly) group words and are
    removed. Raises `OptionError` for a quote that is never closed."""
    tokens: list[_Token] = []
    current: list[str] = []
    quoted = False
    closing: str | None = None
    for char in args:
        if closing is not None:
            if char == closing or (closing != '"' and char == '"'):
                closing = None
            else:
                current.append(char)
        elif char in _QUOTES and not current:
            closing, quoted = _QUOTES[char], True
        elif char.isspace():
            if current or quoted:
                tokens.append(_make_token("".join(current), quoted))
            current, quoted = [], False
        else:
            current.append(char)
    if closing is not None:
        raise OptionError('A quote (") is not closed; put one at the end of the quoted text.')
    if current or quoted:
        tokens.append(_make_token("".join(current), quoted))
    return tokens


def _make_token(text: str, quoted: bool) -> _Token:
    token = _Token(text)
    token.quoted = quoted
    return token


def _flag_name(token: _Token) -> str | None:
    """``"steps"`` for ``--steps`` (or with a dash phones substitute), lower case; None for
    anything else (a quoted word is never a flag; a lone ``--`` is text)."""
    if token.quoted:
        return None
    for start in _FLAG_STARTS:
        if token.startswith(start) and len(token) > len(start) and token[len(start)].isalpha():
            name, eq, value = token[len(start) :].partition("=")
            return name.casefold() + eq + value
    return None


def _value(flag: str, tokens: list[_Token], index: int, catalog: Catalog | None) -> tuple[str, int]:
    """The value after a flag and the index after it. ``--model``/``--lora`` take the longest
    run of unquoted words that names a catalog entry; otherwise one word."""
    first = tokens[index]
    if flag in _NAME_FLAGS and catalog is not None and not first.quoted:
        lookup = catalog.model if flag == "model" else catalog.lora
        end = index
        while end < len(tokens) and _flag_name(tokens[end]) is None and not tokens[end].quoted:
            end += 1
        for stop in range(end, index + 1, -1):  # longest first; one word is the fallback
            name = " ".join(tokens[index:stop])
            if lookup(name) is not None:
                return name, stop
    return str(first), index + 1


def _example(flag: str) -> str:
    return {
        "model": "DreamShaper-XL",
        "lora": "Pixel",
        "negative": '"blurry, text"',
        "scheduler": "EulerAncestralDiscreteScheduler",
        "lora-scale": "0.5",
        "guidance": "5",
        "likeness": "0.8",
        "private-model": "my-model",
        "private-lora": "my-lora",
        "lora-url": "https://huggingface.co/.../file.safetensors",
        "face": '"my face"',
    }.get(flag, "20" if flag == "steps" else "1" if flag == "samples" else "42")


def _short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
