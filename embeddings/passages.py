"""Split paragraphs longer than the model's window into passages that each fit.

The model sees at most ``encoder.window`` tokens (512 for e5-small) and would silently cut
the rest, so a long paragraph becomes several overlapping passages, cut at sentence
boundaries (English and Korean punctuation), each a verbatim slice of the paragraph.
The caller keeps the passage -> paragraph link (``split_passage_spans`` gives offsets).
"""

from __future__ import annotations

import re
from typing import Protocol

# A sentence ends at . ! ? … 。 ！ ？ (optionally followed by closing quotes/brackets)
# when whitespace follows. Korean sentences end the same way ("…했다. 그러나 …").
_BOUNDARY = re.compile(r"(?<=[.!?…。！？])[\"'”’»)\]」』]*\s+")
# Abbreviations after which a period does not end a sentence.
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "e.g", "i.e", "no",
    "gen", "col", "lt", "sgt", "gov", "sen", "rep", "inc", "co", "corp", "ltd", "jan", "feb",
    "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k",
    "u.n", "a.m", "p.m",
}
# Fallback cut points inside an over-long sentence, best first.
_CLAUSE = re.compile(r"(?<=[,;:，、])\s+|(?<=\s[-–—])\s+")
_SPACE = re.compile(r"\s+")
# Share of the window a sentence may take to be repeated as overlap in the next passage.
_OVERLAP_SHARE = 0.25
# Characters per unit when a run has no whitespace at all; always far below the window.
_CHAR_UNIT = 32


class TokenCounter(Protocol):
    window: int

    def count_tokens(self, text: str, is_query: bool = False) -> int: ...


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of ``text`` (end excludes trailing whitespace)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.start()
        # The match starts after the punctuation (and closing quotes are in the match),
        # so the sentence is text[start:end] plus those quotes.
        piece = text[start:end]
        last_word = piece.rsplit(None, 1)[-1].rstrip(".").lower() if piece.split() else ""
        if last_word in _ABBREVIATIONS or re.fullmatch(r"[a-z]", last_word):
            continue  # "Mr. Kim", "U.S. forces", initials: not a sentence end
        stop = match.start() + len(match.group(0).rstrip())
        if text[start:stop].strip():
            spans.append((start, stop))
        start = match.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return spans


def _fits(encoder: TokenCounter, text: str) -> bool:
    return encoder.count_tokens(text, is_query=False) <= encoder.window


def _cut_long(text: str, start: int, end: int, encoder: TokenCounter) -> list[tuple[int, int]]:
    """Split one over-long sentence span at clause breaks, then words, then characters."""
    if _fits(encoder, text[start:end]):
        return [(start, end)]
    for pattern in (_CLAUSE, _SPACE):
        cuts = [m.end() for m in pattern.finditer(text, start, end) if start < m.start() < end]
        if cuts:
            pieces = []
            prev = start
            for cut in cuts:
                pieces.append((prev, cut))
                prev = cut
            pieces.append((prev, end))
            return _pack(text, pieces, encoder, overlap=False)
    # No whitespace at all (e.g. a long run of CJK or symbols): pack short character runs.
    step = _CHAR_UNIT
    units = [(k, min(k + step, end)) for k in range(start, end, step)]
    return _pack(text, units, encoder, overlap=False)


def _pack(
    text: str, units: list[tuple[int, int]], encoder: TokenCounter, overlap: bool
) -> list[tuple[int, int]]:
    """Greedily group consecutive spans into windows that fit, optionally overlapping by one."""
    expanded: list[tuple[int, int]] = []
    for start, end in units:
        expanded.extend(_cut_long(text, start, end, encoder))
    windows: list[tuple[int, int]] = []
    i = 0
    while i < len(expanded):
        # Largest j such that units i..j-1 fit together (expanded[i] fits on its own by
        # construction); binary search keeps long paragraphs to O(log n) token counts each.
        lo, hi = i + 1, len(expanded)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if _fits(encoder, text[expanded[i][0] : expanded[mid - 1][1]].strip()):
                lo = mid
            else:
                hi = mid - 1
        j = lo
        windows.append((expanded[i][0], expanded[j - 1][1]))
        if j >= len(expanded):
            break
        # Start the next window with the last unit of this one, when it is short, so a
        # sentence that continues a thought keeps its context; always make progress.
        last = expanded[j - 1]
        small = encoder.count_tokens(text[last[0] : last[1]]) <= encoder.window * _OVERLAP_SHARE
        i = j - 1 if overlap and j - 1 > i and small else j
    return windows


def split_passage_spans(text: str, encoder: TokenCounter) -> list[tuple[int, int]]:
    """(start, end) offsets into ``text`` of passages that each fit the encoder's window.

    A text that fits is one span covering it. Otherwise passages are cut at sentence
    boundaries and overlap by one short sentence; a sentence too long on its own is cut at
    clause breaks, then between words.
    """
    if not text.strip() or _fits(encoder, text):
        return [(0, len(text))]
    spans = sentence_spans(text) or [(0, len(text))]
    return _pack(text, spans, encoder, overlap=True)


def split_passages(text: str, encoder: TokenCounter) -> list[str]:
    """Passages of ``text`` that each fit the encoder's window; a text that fits is ``[text]``.

    Cut at sentence boundaries (English and Korean), overlapping a little; every passage is
    a verbatim slice of ``text``.
    """
    spans = split_passage_spans(text, encoder)
    if spans == [(0, len(text))]:
        return [text]
    return [text[start:end].strip() for start, end in spans]
