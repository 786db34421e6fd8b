"""The safety gate: prompts screened for sexual or violent words before anything is spent.

The word list is glin-profanity's English dictionary (a maintained package, pinned in
requirements.txt; about 400 words and phrases, mostly sexual terms and slurs, plus some
swearing), matched by the package: case-insensitive, on word boundaries (so "classic",
"assassin's creed", "Scunthorpe" and "cocktail" pass), and through leetspeak, accents,
separators and stretched letters ("p0rn", "n.u.d.e", "nuuude" are caught).

The package's list has almost no violent terms and lacks a few common sexual ones, so
`OWN_WORDS` adds a short list of our own (see there); `NOT_SCREENED` takes out the package's
entries that are neither sexual nor violent and are common in harmless portrait prompts
("girl on", "big black", "escort", "hardcore"...). A scope's own additions
(`ScopePolicy.blocked_words`) are matched the same way and always win over `NOT_SCREENED`.

A prompt that merely mentions a word ("no nudity") is refused too: the gate cannot tell, and
the member can rephrase. The tool's default negative prompt keeps ``nsfw`` regardless.
"""

from __future__ import annotations

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


def screen_prompt(text: str, extra_words: Iterable[str] = ()) -> str | None:
    """The first sexual or violent word or phrase found in `text` (as listed, lower case),
    or None when the prompt is fine. `extra_words`: the scope's own additions
    (`ScopePolicy.blocked_words`; blank entries and ones over 100 characters are ignored)."""
    if not text or not text.strip():
        return None
    # Runs of spaces and line breaks as one space, so "covered  in\nblood" is a phrase too.
    result = _filter(_extras(extra_words)).check_profanity(" ".join(text.split()))
    matches = result.get("matches") or []
    if matches:
        return str(matches[0]["word"]).lower()
    words = result.get("profane_words") or []
    return str(words[0]).lower() if words else None


def _extras(words: Iterable[str]) -> tuple[str, ...]:
    found = {
        " ".join(word.split()).lower()
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
