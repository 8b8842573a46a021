"""Language of a paragraph, decided from its text: English or Korean.

Counting *words* rather than characters: a Hangul syllable carries as much as several Latin
letters, so "‘3국 동맹(trilateral alliance)’" in a Korean paragraph would look English by
character count. A word is a run of letters; it is Korean if it contains Hangul.
"""

from __future__ import annotations

import re

from corpus.models import Language

_HANGUL = (
    "\u1100-\u11ff"  # Jamo
    "\u3130-\u318f"  # compatibility Jamo
    "\ua960-\ua97f"  # Jamo extended-A
    "\uac00-\ud7a3"  # syllables
    "\ud7b0-\ud7ff"  # Jamo extended-B
)
_HANGUL_RE = re.compile(f"[{_HANGUL}]")
_LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")
# A "word": a run of letters (digits and punctuation split words and are ignored).
_WORD_RE = re.compile(r"[^\W\d_]+")

# Share of Korean words at which a paragraph counts as Korean. Below one half on purpose:
# Korean opinion pieces quote English terms, while English translations rarely keep Hangul.
KOREAN_WORD_SHARE = 0.4


def word_counts(text: str) -> tuple[int, int]:
    """(Korean words, Latin-script words) in ``text``."""
    ko = en = 0
    for word in _WORD_RE.findall(text):
        if _HANGUL_RE.search(word):
            ko += 1
        elif _LATIN_RE.search(word):
            en += 1
    return ko, en


def detect_language(text: str) -> Language | None:
    """``"ko"`` or ``"en"`` from the text; ``None`` when it has no Hangul or Latin letters.

    Mixed text goes to the language with the larger share of words, with Korean winning
    from 40 % up (a Korean paragraph citing English names stays Korean).
    """
    ko, en = word_counts(text)
    if ko == 0 and en == 0:
        return None
    return "ko" if ko / (ko + en) >= KOREAN_WORD_SHARE else "en"


def has_hangul(text: str) -> bool:
    """True if the text contains any Hangul."""
    return _HANGUL_RE.search(text) is not None
