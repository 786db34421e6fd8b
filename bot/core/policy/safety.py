"""The safety gate: prompts screened for sexual or violent words before anything is spent.

The word list is glin-profanity's English dictionary (a maintained package, pinned in
requirements.txt; about 400 words and phrases, mostly sexual terms and slurs, plus some
swearing), matched by the package: case-insensitive, on word boundaries (so "classic",
"assassin's creed", "Scunthorpe" and "cocktail" pass), and through leetspeak, accents,
separators and stretched letters ("p0rn", "n.u.d.e", "nuuude" are caught), and lookalike letters
from other scripts (folded here first: "nakєd", "ɡore").

The package's list has almost no violent terms and lacks a few common sexual ones, so
`OWN_WORDS` adds a short list of our own (see there); `NOT_SCREENED` takes out the package's
entries that are neither sexual nor violent and are common in harmless portrait prompts
("girl on", "big black", "escort", "hardcore"...). A scope's own additions
(`ScopePolicy.blocked_words`) are matched the same way and always win over `NOT_SCREENED`.

A prompt that merely mentions a word ("no nudity") is refused too: the gate cannot tell, and
the member can rephrase. The tool's default negative prompt keeps ``nsfw`` regardless.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from glin_profanity import Filter

__all__ = ["NOT_SCREENED", "OWN_WORDS", "screen_prompt"]

# Violence, which the package's list lacks: gore, killing and mutilation as imagery. Words with
# common harmless uses in portrait prompts are left out on purpose: blood (blood moon, blood
# orange), bloody (Bloody Mary), kill/killer (killer whale), dead (Day of the Dead), murder
# (a murder of crows), corpse (Corpse Bride), suicide (Suicide Squad), explicit ("explicit
# detail"), war, battle, sword, gun, zombie, vampire.
VIOLENT_WORDS = (
    "gore",
    "gory",
    "goriest",
    "bloodbath",
    "blood bath",
    "blood-soaked",
    "blood soaked",
    "covered in blood",
    "pool of blood",
    "dripping blood",
    "blood splatter",
    "blood spatter",
    "bloodied",
    "decapitated",
    "decapitation",
    "beheaded",
    "beheading",
    "severed head",
    "severed limbs",
    "dismembered",
    "dismemberment",
    "disemboweled",
    "disembowelled",
    "disembowelment",
    "eviscerated",
    "evisceration",
    "mutilated",
    "mutilation",
    "entrails",
    "dead body",
    "dead bodies",
    "corpses",
    "murdered",
    "murdering",
    "slaughtered",
    "massacre",
    "massacred",
    "carnage",
    "torture",
    "tortured",
    "torturing",
    "lynching",
    "lynched",
    "impaled",
    "stabbed",
    "stabbing",
    "stab wound",
    "gunshot wound",
    "shot in the head",
    "slit throat",
    "slit wrists",
    "self-harm",
    "self harm",
    "suicide note",
    "mass shooting",
    "school shooting",
    "genocide",
    "cannibalism",
    "snuff film",
)
# Sexual terms the package's list lacks (it has "nude", "nudity", "topless", "porn"...).
SEXUAL_WORDS = (
    "naked",
    "nudes",
    "undressed",
    "unclothed",
    "no clothes",
    "without clothes",
    "nsfw",
    "breasts",
    "bare breasts",
    "buttocks",
    "genitalia",
    "pubic",
    "lingerie",
    "see-through",
    "erotica",
    "sexual",
    "sexually",
    "sexually explicit",
    "stripper",
    "striptease",
    "onlyfans",
    "rule34",
    "rule 34",
    "loli",
    "underage",
)
OWN_WORDS: tuple[str, ...] = VIOLENT_WORDS + SEXUAL_WORDS
"""Our additions to the package's list (matched the same way as the package's own)."""

NOT_SCREENED: frozenset[str] = frozenset(
    {
        # Innocent in portrait prompts far more often than not.
        "girl on",  # "a girl on a horse"
        "big black",  # "a big black dog"
        "hot chick",
        "huge fat",
        "tight white",
        "taste my",
        "tongue in a",
        "tied up",
        "domination",  # "world domination"
        "escort",  # "a royal escort"
        "scat",  # scat singing
        "hard core",
        "hardcore",  # "hardcore punk"
        "twinkie",
        "eunuch",  # historical figures
        "xx",  # "the XX century"
        # Chat abbreviations and mild swearing: neither sexual nor violent.
        "bs",
        "mf",
        "wtf",
        "lmfao",
        "omfg",
        "stfu",
        "simp",
        "suck",
        "sucks",
    }
)
"""Entries of the package's list the gate does not screen for (a scope may add them back)."""

EXTRA_WORD_MAX_CHARS = 100

# Lookalikes the package's homoglyph table leaves out (it folds accents, zero-width
# characters and most Cyrillic and small-capital letters): Cyrillic, Greek and IPA letters
# read as Latin ones, blank characters that are not spaces, and (below, by Unicode name)
# every Latin letter with a hook, stroke, bar or tail ("ɠ", "ƞ", "ɍ" ...).
_LOOKALIKE_LETTERS = {
    "\u0454": "e",  # є Cyrillic Ukrainian ie
    "\u0501": "d",  # ԁ Cyrillic komi de
    "\u0457": "i",  # ї Cyrillic yi
    "\u04bb": "h",  # һ Cyrillic shha
    "\u04cf": "l",  # ӏ Cyrillic palochka
    "\u051b": "q",  # ԛ Cyrillic qa
    "\u051d": "w",  # ԝ Cyrillic we
    "\u0455": "s",  # ѕ Cyrillic dze
    "\u0456": "i",  # і Cyrillic Byelorussian-Ukrainian i
    "\u0458": "j",  # ј Cyrillic je
    "\u0261": "g",  # ɡ Latin script g
    "\u0251": "a",  # ɑ Latin alpha
    "\u0269": "i",  # ɩ Latin iota
    "\u0131": "i",  # ı dotless i
    "\u0237": "j",  # ȷ dotless j
    "\u03b1": "a",  # α Greek alpha
    "\u03b5": "e",  # ε Greek epsilon
    "\u03b9": "i",  # ι Greek iota
    "\u03ba": "k",  # κ Greek kappa
    "\u03bd": "v",  # ν Greek nu
    "\u03c1": "p",  # ρ Greek rho
    "\u03c4": "t",  # τ Greek tau
    "\u2800": None,  # braille blank, inside a word
}
_LATIN_LETTER = re.compile(r"LATIN (?:SMALL|CAPITAL) LETTER ([A-Z])(?: WITH .*)?")


# A whole token of digits (with , or . inside: "1,000", "2.5"), not part of a word ("p0rn").
_NUMBER = re.compile(r"(?<!\w)\d+(?:[.,]\d+)*(?!\w)")


@lru_cache(maxsize=1)
def _lookalikes() -> dict[int, str | None]:
    """`str.translate` table: each lookalike to its Latin letter (None: removed)."""
    table: dict[int, str | None] = {ord(k): v for k, v in _LOOKALIKE_LETTERS.items()}
    for code in range(0x80, 0x2C00):
        match = _LATIN_LETTER.fullmatch(unicodedata.name(chr(code), ""))
        if match:
            table.setdefault(code, match[1].lower())
    return table


def screen_prompt(text: str, extra_words: Iterable[str] = ()) -> str | None:
    """The first sexual or violent word or phrase found in `text` (as listed, lower case),
    or None when the prompt is fine. `extra_words`: the scope's own additions
    (`ScopePolicy.blocked_words`; blank entries and ones over 100 characters are ignored)."""
    if not text or not text.strip():
        return None
    # Lookalike letters as the Latin ones they pass for; runs of spaces and line breaks as
    # one space, so "covered  in\nblood" is a phrase too.
    folded = " ".join(text.translate(_lookalikes()).split())
    # A number is a number (a year, a count, a seed), not leetspeak: "bench 455" is not "ass".
    folded = _NUMBER.sub("#", folded)
    result = _filter(_extras(extra_words)).check_profanity(folded)
    matches = result.get("matches") or []
    if matches:
        return str(matches[0]["word"]).lower()
    words = result.get("profane_words") or []
    return str(words[0]).lower() if words else None


def _extras(words: Iterable[str]) -> tuple[str, ...]:
    found = {
        " ".join(word.translate(_lookalikes()).split()).lower()  # folded as the prompt is
        for word in words
        if isinstance(word, str) and word.strip() and len(word) <= EXTRA_WORD_MAX_CHARS
    }
    return tuple(sorted(found))


@lru_cache(maxsize=64)
def _filter(extra_words: tuple[str, ...]) -> Filter:
    """One filter per set of scope additions (building one takes ~20 ms; a scan ~1 ms per
    100 characters). Filters are read-only after construction, so they are shared."""
    return Filter(
        {
            "languages": ["english"],
            "detect_leetspeak": True,
            "custom_words": [*OWN_WORDS, *extra_words],
            "ignore_words": sorted(NOT_SCREENED - set(extra_words)),
        }
    )
