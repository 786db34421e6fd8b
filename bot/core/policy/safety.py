"""LOCAL STAND-IN (branch i12-discord) for core-policy's prompt screening: a tiny word list,
only so the Discord front end can be tested; core-policy's version (a maintained list) wins."""

from __future__ import annotations

import re
from collections.abc import Iterable

_WORDS = ("nude", "naked", "porn", "sex", "nsfw", "gore", "decapitated", "bloodbath")


def screen_prompt(text: str, extra_words: Iterable[str] = ()) -> str | None:
    """The first blocked word or phrase in `text` (whole words, any case); None = fine."""
    lowered = text.lower()
    for word in (*_WORDS, *extra_words):
        if word and re.search(rf"(?<!\w){re.escape(word.lower())}(?!\w)", lowered):
            return word
    return None
