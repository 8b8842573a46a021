"""Split paragraphs longer than the model's window into passages that each fit.

The model sees at most ``encoder.window`` tokens (512 for e5-small) and would silently cut
the rest, so a long paragraph becomes several overlapping passages, cut at sentence
boundaries (``corpus.sentences``), each a verbatim slice of the paragraph.
The caller keeps the passage -> paragraph link (``split_passage_spans`` gives offsets).

Splitting takes time linear in the paragraph's length, whatever its shape (no whitespace,
no punctuation, one giant line, mixed scripts): the text is cut into *units* (sentences;
inside a sentence too long for the window, clause pieces, then runs of words, then runs of
characters) of bounded size, the tokens of each unit are counted once, and units are packed
greedily into windows by summing their counts. Each window is then counted once to confirm
it fits (a sum can be off by a token or two where units meet); the rare one that does not
is shrunk. No single token count ever sees more than ``window * _COUNT_CHARS_PER_TOKEN``
characters, and every character is counted a bounded number of times.
"""

from __future__ import annotations

import re
from typing import NamedTuple, Protocol

from corpus.sentences import sentence_spans

# Fallback cut points inside an over-long sentence, best first.
_CLAUSE = re.compile(r"(?<=[,;:，、])\s+|(?<=\s[-–—])\s+")
_SPACE = re.compile(r"\s+")
# Share of the window a sentence may take to be repeated as overlap in the next passage.
_OVERLAP_SHARE = 0.25
# A text longer than window * this many characters is never counted in one call (it cannot
# fit: no tokeniser averages 16 characters a token); it is cut first.
_COUNT_CHARS_PER_TOKEN = 16
# Pieces of an over-long sentence are grouped into units of at most window * this many
# characters (256 for a 512-token window: far below the window in any script).
_UNIT_CHARS_PER_TOKEN = 0.5
# Consecutive sentences shorter than this share of a unit are counted together (a text of
# "Hi. Hi. Hi. …" would otherwise cost one count per two words).
_TINY_SENTENCE_SHARE = 0.25


class TokenCounter(Protocol):
    window: int

    def count_tokens(self, text: str, is_query: bool = False) -> int: ...


class _Unit(NamedTuple):
    start: int
    end: int
    tokens: int  # count_tokens(text[start:end].strip()): prompt and special tokens included
    sentence: bool  # whole sentence(s): may be repeated as the next passage's overlap


class _Sizes(NamedTuple):
    count_chars: int  # never count more characters than this at once
    unit_chars: int  # target size of a unit cut from an over-long sentence


def _sizes(encoder: TokenCounter) -> _Sizes:
    window = max(1, int(encoder.window))
    return _Sizes(count_chars=window * _COUNT_CHARS_PER_TOKEN,
                  unit_chars=max(8, int(window * _UNIT_CHARS_PER_TOKEN)))


def _count(text: str, start: int, end: int, encoder: TokenCounter, sizes: _Sizes) -> int | None:
    """Tokens of ``text[start:end]`` stripped, or None when it is too long to be worth counting."""
    if end - start > sizes.count_chars:
        return None
    return encoder.count_tokens(text[start:end].strip(), is_query=False)


def _contiguous(start: int, end: int, cuts: list[int]) -> list[tuple[int, int]]:
    pieces, prev = [], start
    for cut in cuts:
        pieces.append((prev, cut))
        prev = cut
    pieces.append((prev, end))
    return pieces


def _grouped(pieces: list[tuple[int, int]], limit: int) -> list[tuple[int, int]]:
    """Consecutive pieces merged while the merged span stays within ``limit`` characters."""
    out: list[tuple[int, int]] = []
    group_start, group_end = pieces[0]
    for start, end in pieces[1:]:
        if end - group_start <= limit:
            group_end = end
        else:
            out.append((group_start, group_end))
            group_start, group_end = start, end
    out.append((group_start, group_end))
    return out


_LEVELS = (_CLAUSE, _SPACE)


def _cut_long(text: str, start: int, end: int, encoder: TokenCounter, sizes: _Sizes,
              level: int = 0) -> list[_Unit]:
    """Units covering one over-long span: at clause breaks, then between words, then characters."""
    if level >= len(_LEVELS):
        return _char_runs(text, start, end, encoder, sizes.unit_chars)
    cuts = [m.end() for m in _LEVELS[level].finditer(text, start, end)
            if start < m.start() and m.end() < end]
    if not cuts:
        return _cut_long(text, start, end, encoder, sizes, level + 1)
    units: list[_Unit] = []
    for piece_start, piece_end in _grouped(_contiguous(start, end, cuts), sizes.unit_chars):
        tokens = _count(text, piece_start, piece_end, encoder, sizes)
        if tokens is not None and tokens <= encoder.window:
            units.append(_Unit(piece_start, piece_end, tokens, False))
        else:
            units.extend(_cut_long(text, piece_start, piece_end, encoder, sizes, level + 1))
    return units


def _char_runs(text: str, start: int, end: int, encoder: TokenCounter, size: int) -> list[_Unit]:
    """Runs of ``size`` characters (halved where a run still does not fit; 1 always does)."""
    units: list[_Unit] = []
    for run_start in range(start, end, size):
        run_end = min(run_start + size, end)
        tokens = encoder.count_tokens(text[run_start:run_end].strip(), is_query=False)
        if tokens <= encoder.window or run_end - run_start == 1:
            units.append(_Unit(run_start, run_end, tokens, False))
        else:
            units.extend(_char_runs(text, run_start, run_end, encoder,
                                    max(1, (run_end - run_start) // 2)))
    return units


def _units(text: str, encoder: TokenCounter, sizes: _Sizes) -> list[_Unit]:
    """Every sentence as a unit (tiny ones grouped), over-long sentences cut into pieces."""
    spans = sentence_spans(text) or [(0, len(text))]
    tiny = max(1, int(sizes.unit_chars * _TINY_SENTENCE_SHARE))
    grouped: list[tuple[int, int]] = []
    for start, end in spans:
        if grouped and end - grouped[-1][0] <= tiny:
            grouped[-1] = (grouped[-1][0], end)
        else:
            grouped.append((start, end))
    units: list[_Unit] = []
    for start, end in grouped:
        tokens = _count(text, start, end, encoder, sizes)
        if tokens is not None and tokens <= encoder.window:
            units.append(_Unit(start, end, tokens, True))
        else:
            units.extend(_cut_long(text, start, end, encoder, sizes))
    return units


def _pack(text: str, units: list[_Unit], encoder: TokenCounter, overlap: bool) -> list[tuple[int, int]]:
    """Group consecutive units into windows that fit, optionally overlapping by one sentence.

    A window's size is estimated by summing its units' counts (each unit's count less the
    prompt and special tokens every count includes), then confirmed with one count; a
    window that does not fit is shrunk by the overshoot and confirmed again. A single unit
    fits by construction (its count is of exactly the text the window would hold).
    """
    window = encoder.window
    base = encoder.count_tokens("", is_query=False)
    windows: list[tuple[int, int]] = []
    i, n = 0, len(units)
    while i < n:
        budget = window
        while True:
            estimate, j = units[i].tokens, i + 1
            while j < n:
                extra = max(1, units[j].tokens - base)
                if estimate + extra > budget:
                    break
                estimate += extra
                j += 1
            if j == i + 1:
                break
            actual = encoder.count_tokens(text[units[i].start:units[j - 1].end].strip(),
                                          is_query=False)
            if actual <= window:
                break
            budget -= actual - window
        windows.append((units[i].start, units[j - 1].end))
        if j >= n:
            break
        # Start the next window with the last sentence of this one, when it is short, so a
        # sentence that continues a thought keeps its context; always make progress.
        last = units[j - 1]
        small = last.sentence and last.tokens <= window * _OVERLAP_SHARE
        i = j - 1 if overlap and j - 1 > i and small else j
    return windows


def split_passage_spans(text: str, encoder: TokenCounter) -> list[tuple[int, int]]:
    """(start, end) offsets into ``text`` of passages that each fit the encoder's window.

    A text that fits is one span covering it. Otherwise passages are cut at sentence
    boundaries and overlap by one short sentence; a sentence too long on its own is cut at
    clause breaks, then between words, then between characters. Linear in ``len(text)``.
    """
    sizes = _sizes(encoder)
    if not text.strip():
        return [(0, len(text))]
    if len(text) <= sizes.count_chars and encoder.count_tokens(text, is_query=False) <= encoder.window:
        return [(0, len(text))]
    return _pack(text, _units(text, encoder, sizes), encoder, overlap=True)


def split_passages(text: str, encoder: TokenCounter) -> list[str]:
    """Passages of ``text`` that each fit the encoder's window; a text that fits is ``[text]``.

    Cut at sentence boundaries (English and Korean), overlapping a little; every passage is
    a verbatim slice of ``text``.
    """
    spans = split_passage_spans(text, encoder)
    if spans == [(0, len(text))]:
        return [text]
    return [text[start:end].strip() for start, end in spans]
