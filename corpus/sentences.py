"""The one sentence splitter: where English and Korean sentences end.

Every part of Dari that needs sentences calls this module — splitting scraped lines that
switch language (``corpus.lang``), packing long paragraphs into passages
(``embeddings.passages``), the sentences stored and used to trim answers
(``embeddings.sentences``, which adds a morphological pass for Korean sentences written
without final punctuation) and cutting text to Discord's limits (``bot.format``).

A sentence ends at . ! ? … (or their full-width forms), possibly followed by closing quotes
or brackets, then whitespace — but never after a title or an initial ("Dr. Kim",
"Joe R. Biden"), and after an abbreviation ("U.S.", "e.g.") only when a word that usually
opens a sentence follows ("… the U.S. The next day …", not "U.S. Forces Korea").

Linear in the text: each candidate end looks back at most ``_TAIL`` characters and forward
at most ``_AHEAD``, so a text of nothing but "Mr. Mr. …" costs what any text does.
"""

from __future__ import annotations

import re

# The end of a sentence: punctuation, optional closing quotes/brackets, then whitespace —
# or no whitespace before a Hangul syllable: scrapes glue an English line to the Korean one
# ("…as a result.미·중의 …"), and Korean text missing the space after "다." still ends there.
_END = re.compile(r"(?<=[.!?…。！？])[\"'”’»」』)\]]*(?:\s+|(?=[\uac00-\ud7a3]))")
# Words after which a period never ends a sentence: a name follows.
_TITLES = frozenset("mr mrs ms dr prof st gen col lt sgt gov sen rep".split())
# Abbreviations after which a period ends the sentence only if a sentence opener follows.
_ABBREVIATIONS = frozenset("""u.s u.k u.n jr sr no vs etc e.g i.e inc co corp ltd jan feb mar
apr jun jul aug sep sept oct nov dec a.m p.m""".split())
# After "U.S." and the like a capitalised word usually continues the sentence ("U.S. Forces
# Korea", "U.S. President"); these words are the ones that usually start a new one.
_STARTERS = frozenset("""the this that these those it its he she we they i you but and or
however in on at as if when while so yet a an there such moreover meanwhile still even now
since after before thus therefore instead rather what why how who otherwise""".split())
# The longest title or abbreviation is 5 characters; looking further back is never needed
# and would make a text full of abbreviations quadratic.
_TAIL = 16
_AHEAD = 40
_NEXT_WORD = re.compile(r"[\"'“‘(]*([A-Za-z]+)")
_NON_SPACE = re.compile(r"\S")


def _last_word(text: str, start: int, end: int) -> str:
    tail = text[max(start, end - _TAIL):end]
    words = tail.split()
    # "Korea-U.S." ends in the abbreviation "U.S.": the word after the last hyphen counts.
    return re.split(r"[-–/]", words[-1])[-1].rstrip(".").lower() if words else ""


def _continues(text: str, start: int, end: int, following: int) -> bool:
    """True when the period at ``end`` does not end the sentence begun at ``start``."""
    if text[end - 1] != ".":
        return False
    word = _last_word(text, start, end)
    if word in _TITLES or re.fullmatch(r"[a-z]", word):
        return True  # "Dr. Kim", "Joe R. Biden": a name follows
    if word in _ABBREVIATIONS:
        after = text[following:following + 1]
        if after.islower() or after.isdigit():
            return True
        match = _NEXT_WORD.match(text, following, following + _AHEAD)
        return (match.group(1).lower() if match else "") not in _STARTERS
    return False


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of ``text``: each slice is one sentence, from
    its first character to its last non-space one (closing quotes included)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _END.finditer(text):
        stop = match.start() + len(match.group(0).rstrip())
        if _continues(text, start, match.start(), match.end()):
            continue
        first = _NON_SPACE.search(text, start, stop)
        if first:
            spans.append((first.start(), stop))
        start = match.end()
    first = _NON_SPACE.search(text, start)
    if first:
        spans.append((first.start(), len(text.rstrip())))
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, each stripped of surrounding whitespace."""
    return [text[a:b] for a, b in sentence_spans(text)]


def sentence_ends(text: str) -> list[int]:
    """Offsets just past each sentence's last character (for cutting at a sentence end)."""
    return [end for _, end in sentence_spans(text)]
