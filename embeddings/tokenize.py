"""Language-aware tokeniser for the keyword (BM25) index.

Korean runs are cut into morphemes with kiwipiepy and only content morphemes are kept
(nouns, verb/adjective stems, roots, numbers, foreign words): particles and endings would
otherwise dominate BM25 because every Korean sentence is full of them. Latin text is
lowercased, stop words are dropped and a light suffix stripper folds plurals and common
inflections ("relations" → "relation", "cooperating" → "cooperat"). The choice (morphemes
versus character bigrams, stemming versus none) was measured: see ``docs/retrieval.md``.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Collection
from functools import lru_cache
from typing import Literal

from kiwipiepy import Kiwi

log = logging.getLogger(__name__)

KoreanMode = Literal["morph", "bigram"]

HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
# A word of Hangul syllables only (what kiwipiepy writes for a Korean noun or name).
HANGUL_WORD = re.compile(r"[\uac00-\ud7a3]+")
_HANGUL_RUN = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]+")
_LATIN_WORD = re.compile(r"[a-z0-9]+")
# Korean writes abbreviated compounds of one-syllable names with an interpunct (한·미·일
# "Korea–US–Japan", 남·북, 미·중, 여·야) and its readers type them without (한미일, 남북):
# kiwipiepy analyses the two spellings into different morphemes (한·일 / 한일, 남 북 / 남북),
# so the question and the text would not share a word. A chain whose words before each
# interpunct are single syllables (U+00B7, U+318D, U+30FB, U+2027) is written joined, with
# what follows the last (한·일관계 → 한일관계); an interpunct after a longer word separates
# a list (경제·사회) and becomes a space.
_INTERPUNCT = "\u00b7\u318d\u30fb\u2027"
_DOTTED = re.compile(rf"[\uac00-\ud7a3]+(?:[{_INTERPUNCT}][\uac00-\ud7a3]+)+")
_DOT = re.compile(f"[{_INTERPUNCT}]")
# What a keyword index's tokens depend on beyond its parameters: raised whenever a rule above
# changes the tokens of indexed text (2: the interpunct compounds). A generation tokenised
# otherwise keeps answering and the next refresh rebuilds its keyword side
# (``keyword.tokens_of``), as for BM25's parameters.
TOKENS_VERSION = 2
# A run of ASCII letters and digits: a number, a model name (S8, F-16's 16), an acronym.
_ALNUM = "0-9A-Za-z"
_ALNUM_RUN = re.compile(f"[{_ALNUM}]+")
# "U.S." would otherwise become the tokens "u" and "s", and "us" collides with the pronoun.
_US = re.compile(r"\bU\.\s?S\.?(?=\W|$)")
# Kiwi tags that carry meaning: general/proper nouns, numerals, verb and adjective stems,
# roots, foreign words, Chinese characters and numbers.
_CONTENT_TAGS = frozenset({"NNG", "NNP", "NR", "NP", "VV", "VA", "XR", "SL", "SH", "SN", "MAG"})

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each even ever every
    few for from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or other
    our ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up upon very was we
    were what when where which while who whom why will with would you your yours yourself
    yourselves s t don ll ve re d m o y whose shall may might must said says say mr ms one""".split()  # noqa: SIM905 - reads as text
)

# Of those, the tags of words that say what happens or how, not what a text is about: verb
# and adjective stems, adverbs (korean_predicates).
_PREDICATE_TAGS = frozenset({"VV", "VA", "MAG"})

_kiwi_lock = threading.Lock()


@lru_cache(maxsize=1)
def _kiwi() -> Kiwi:
    """The shared Kiwi analyser (loading its model takes a few seconds, so only once)."""
    log.debug("loading kiwipiepy model")
    return Kiwi()


def kiwi_sentences(text: str) -> list[str]:
    """Korean sentences of ``text`` as kiwipiepy splits them (stripped)."""
    with _kiwi_lock:
        return [s.text.strip() for s in _kiwi().split_into_sents(text)]


def joined_abbreviations(text: str) -> str:
    """``text`` with Korean interpunct compounds written as readers type them: "한·미·일" →
    "한미일", "경제·사회" → "경제 사회" (see ``_INTERPUNCT``). Only what kiwipiepy analyses
    changes; the text shown is the original."""
    def one(m: re.Match[str]) -> str:
        parts = _DOT.split(m.group())
        return ("" if all(len(p) == 1 for p in parts[:-1]) else " ").join(parts)

    return _DOTTED.sub(one, text) if HANGUL.search(text) else text


def _run_form(run: str) -> str:
    """A run of letters and digits as anchors are compared: lowercased, a number without
    its leading zeros."""
    return (run.lstrip("0") or "0") if run.isdigit() else run.lower()


def anchor_runs(text: str, *, latin: bool = True) -> set[str]:
    """The runs of ASCII letters and digits in ``text`` (after NFKC: full-width forms too)
    that hold a digit, and with ``latin`` also those of two characters or more that hold a
    letter, in their compared form (``_run_form``). What a question must share with its
    answer exactly (``question.anchor_terms``). Any other character separates runs, so a
    number is read alike however it is punctuated: 2.26 / 2·26, 1,200 / 1,200만, 2007.05 /
    2007년 5월."""
    out: set[str] = set()
    for run in _ALNUM_RUN.findall(unicodedata.normalize("NFKC", text)):
        if any(c.isdigit() for c in run) or (latin and len(run) >= 2):
            out.add(_run_form(run))
    return out


# An acronym the question names (IRA, THAAD) is held by a text that spells it out instead,
# in capitalised words whose initials it is (Inflation Reduction Act, Terminal High-Altitude
# Area Defense), with the little words English leaves out of acronyms between them. At least
# three letters: any two capitalised words of a headline would spell some two-letter word.
_ACRONYM = re.compile(r"[a-z]{3,8}")
_ACRONYM_GLUE = r"(?:[\s\-]+(?:of|and|the|for|on|in|to|&))*[\s\-]+"


def _spelled_out(acronym: str) -> re.Pattern[str]:
    """The capitalised words whose initials are ``acronym`` (lowercase letters)."""
    words = _ACRONYM_GLUE.join(rf"{letter.upper()}[A-Za-z'’]*" for letter in acronym)
    return re.compile(rf"(?<![{_ALNUM}]){words}(?![{_ALNUM}])")


def anchor_finder(anchors: Collection[str]) -> Callable[[str], set[str]]:
    """A function telling which of ``anchors`` (as :func:`anchor_runs` writes them) a text
    holds: as whole runs, or for an acronym of three letters or more, spelled out in
    capitalised words (an English text writes "the Inflation Reduction Act" where a Korean
    question writes IRA). One regular expression for all the runs: a passage is scanned once
    in C instead of listing its every run in Python (an English paragraph has a hundred)."""
    if not anchors:
        return lambda text: set()
    alternatives = "|".join(("0*" if a.isdigit() else "") + re.escape(a)
                            for a in sorted(anchors, key=len, reverse=True))
    # Whole runs only (as _ALNUM_RUN cuts them): nothing of the run on either side.
    pattern = re.compile(rf"(?<![{_ALNUM}])(?:{alternatives})(?![{_ALNUM}])", re.IGNORECASE)
    spelled = [(a, _spelled_out(a)) for a in anchors if _ACRONYM.fullmatch(a)]

    def held(text: str) -> set[str]:
        text = unicodedata.normalize("NFKC", text)
        found = {_run_form(m) for m in pattern.findall(text)}
        return found | {a for a, words in spelled if a not in found and words.search(text)}

    return held


def korean_tags(text: str) -> list[tuple[str, str]]:
    """(morpheme, kiwipiepy tag) of every morpheme of ``text``."""
    text = joined_abbreviations(text)
    with _kiwi_lock:
        return [(t.form, t.tag) for t in _kiwi().tokenize(text)]


def korean_predicates(text: str) -> frozenset[str]:
    """The verb, adjective and adverb morphemes of ``text``'s Korean, as :func:`tokenize`
    writes them (kiwipiepy tags the text as a whole, as there); empty without Hangul."""
    if not HANGUL.search(text):
        return frozenset()
    return frozenset(form for form, tag in korean_tags(text) if tag in _PREDICATE_TAGS)


def stem(word: str) -> str:
    """Strip common English inflections; deliberately light (no Porter stemmer installed).

    Only suffixes whose removal rarely merges unrelated words are handled.
    """
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, repl, min_len in (
        ("ies", "y", 5),
        ("sses", "ss", 5),
        ("ness", "", 7),
        ("ments", "ment", 6),
        ("ing", "", 6),
        ("edly", "", 7),
        ("ed", "", 5),
        ("ly", "", 6),
        ("es", "e", 5),
        ("s", "", 4),
    ):
        if word.endswith(suffix) and len(word) >= min_len:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            return word[: len(word) - len(suffix)] + repl
    return word


def tokenize_latin(text: str, *, stemming: bool = True) -> list[str]:
    """Lowercased Latin/number tokens without stop words, optionally stemmed."""
    text = _US.sub(" USA ", text)
    words = _LATIN_WORD.findall(text.lower())
    out = [w for w in words if w not in STOPWORDS]
    return [stem(w) for w in out] if stemming else out


def _korean_morphemes(run: str, stemming: bool) -> list[str]:
    run = joined_abbreviations(run)
    with _kiwi_lock:  # Kiwi objects are not documented as thread-safe
        tokens = _kiwi().tokenize(run)
    out: list[str] = []
    for tok in tokens:
        if tok.tag not in _CONTENT_TAGS:
            continue
        if tok.tag == "SL":  # Latin words inside Korean text, e.g. "(trilateral alliance)"
            out.extend(tokenize_latin(tok.form, stemming=stemming))
        elif tok.tag == "MAG" and len(tok.form) < 2:
            continue  # one-syllable adverbs (잘, 더, 또) are noise
        else:
            out.append(tok.form)
    return out


def _korean_bigrams(run: str) -> list[str]:
    out: list[str] = []
    for word in _HANGUL_RUN.findall(run):
        if len(word) == 1:
            out.append(word)
        out.extend(word[i : i + 2] for i in range(len(word) - 1))
    return out


def tokenize(text: str, *, korean: KoreanMode = "morph", stemming: bool = True) -> list[str]:
    """Tokens of ``text`` for BM25, in order, for English, Korean or mixed text.

    Text containing Hangul goes through kiwipiepy as a whole (it also tags embedded Latin
    words as foreign, which are then normalised like English); other text uses the Latin
    tokeniser. ``korean="bigram"`` uses Hangul character bigrams instead of morphemes
    (kept for the measurement in ``docs/retrieval.md``).
    """
    if not text or not text.strip():
        return []
    if not HANGUL.search(text):
        return tokenize_latin(text, stemming=stemming)
    if korean == "bigram":
        latin = tokenize_latin(_HANGUL_RUN.sub(" ", text), stemming=stemming)
        return _korean_bigrams(text) + latin
    return _korean_morphemes(text, stemming)
