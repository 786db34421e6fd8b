"""LOCAL STAND-IN (branch i12-telegram) for core-policy's prompt screening: a tiny word list
so the Telegram front end's safety gate can be tested; the real one uses a maintained list."""

from __future__ import annotations

import re
from collections.abc import Iterable

_WORDS = ("nsfw", "nude", "naked", "porn", "sex", "gore", "blood", "kill")


def screen_prompt(text: str, extra_words: Iterable[str] = ()) -> str | None:
    """The first listed word/phrase found in ``text`` (whole words, any case), None if fine."""
    lowered = text.casefold()
    for word in (*_WORDS, *extra_words):
        if word and re.search(rf"(?<!\w){re.escape(word.casefold())}(?!\w)", lowered):
            return word
    return None
