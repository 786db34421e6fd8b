"""What of a member's or Wiro's text is shown: the same rule on every front end.

Bidi controls reorder what follows them, and zero-width, filler and blank characters hide text
or fake blank names; they are removed from what is displayed (never from what is sent to Wiro).
"""

from __future__ import annotations

import regex

# Bidi controls (LRM, RLM, ALM, embeddings, overrides, isolates) reorder what follows them;
# zero-width, filler and blank characters hide text or fake blank names. Unicode's
# Default_Ignorable_Code_Point property lists them all (soft hyphen, CGJ, Hangul fillers,
# Mongolian vowel separator, invisible operators, bidi controls...); U+2800 (braille blank) and
# the interlinear annotation marks are blank too. Variation selectors stay (they pick an emoji's
# colour form), a zero-width joiner between two emoji builds one emoji (👩‍💻) and stays, and so
# do the tag characters of a subdivision flag.
_INVISIBLE = regex.compile(
    r"[\u2800\ufff9-\ufffb]"
    r"|(?![\u200d\U000e0000-\U000e007f])(?!\p{Variation_Selector})\p{Default_Ignorable_Code_Point}"
    r"|(?<!\p{Extended_Pictographic}[\U0001f3fb-\U0001f3ff\ufe0f]?)\u200d"
    r"|\u200d(?!\p{Extended_Pictographic})"
    r"|(?<!\U0001f3f4[\U000e0020-\U000e007e]*)[\U000e0000-\U000e007f]"
)
# Line and paragraph separators break a line in some clients and not in others: a plain space.
_SEPARATORS = regex.compile(r"[\u2028\u2029]")


def visible(text: str) -> str:
    """``text`` without bidi controls and invisible or blank characters, line and paragraph
    separators made spaces (for display only)."""
    return _SEPARATORS.sub(" ", _INVISIBLE.sub("", text))
