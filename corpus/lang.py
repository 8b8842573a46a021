"""Language of a paragraph, decided from its text: English or Korean.

Counting *words* rather than characters: a Hangul syllable carries as much as several Latin
letters, so "‘3국 동맹(trilateral alliance)’" in a Korean paragraph would look English by
character count. A word is a run of Hangul or of Latin letters.
"""

from __future__ import annotations

import re

from corpus.models import Language
from corpus.sentences import sentence_spans

_HANGUL = (
    "\u1100-\u11ff"  # Jamo
    "\u3130-\u318f"  # compatibility Jamo
    "\ua960-\ua97f"  # Jamo extended-A
    "\uac00-\ud7a3"  # syllables
    "\ud7b0-\ud7ff"  # Jamo extended-B
)
_HANGUL_RE = re.compile(f"[{_HANGUL}]")

# Share of Korean words at which a paragraph counts as Korean. Below one half on purpose:
# Korean opinion pieces quote English terms, while English translations rarely keep Hangul.
KOREAN_WORD_SHARE = 0.4


_HANGUL_RUN = re.compile(f"[{_HANGUL}]+")
_LATIN_RUN = re.compile(r"[A-Za-z\u00c0-\u024f]+")


def word_counts(text: str) -> tuple[int, int]:
    """(Korean words, Latin-script words) in ``text``, counted as runs of each script.

    Runs rather than whitespace words keep this a linear regex scan; "NATO가" counts once
    on each side, which does not move the balance of a real paragraph.
    """
    return len(_HANGUL_RUN.findall(text)), len(_LATIN_RUN.findall(text))


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


def split_by_language(text: str, min_words: int = 10) -> list[str]:
    """Split text whose sentences switch language into one piece per language run.

    Scrapes can glue the last English paragraph and the first Korean one into one line.
    Only runs of at least ``min_words`` words are split off, so a Korean paragraph that
    quotes a short English sentence stays whole.
    """
    spans = sentence_spans(text)
    # Runs of consecutive sentences in one language, as (language, start, end) in ``text``;
    # slicing the original keeps its spacing and punctuation exactly.
    runs: list[tuple[Language | None, int, int]] = []
    for a, b in spans:
        language = detect_language(text[a:b])
        if runs and (language is None or runs[-1][0] in (None, language)):
            runs[-1] = (runs[-1][0] or language, runs[-1][1], b)
        else:
            runs.append((language, a, b))
    pieces = [text[a:b].strip() for _, a, b in runs]
    if len(runs) < 2 or any(sum(word_counts(p)) < min_words for p in pieces):
        return [text.strip()] if text.strip() else []
    return pieces
