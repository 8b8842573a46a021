"""Paragraph alignment of an article's English translation with its Korean original.

Translations keep the order of the original but merge, split and drop paragraphs, so the
alignment is a monotone path found by dynamic programming over beads 1–1, 1–2, 2–1, 1–0
and 0–1 (Gale & Church 1993, with a semantic score on top). Each bead earns:

* semantic evidence: cosine similarity of the multilingual embeddings minus a baseline
  taken from the article's own similarity matrix (most pairs in it are *not* translations,
  so its median is what "unrelated but same topic" looks like), times the number of
  paragraphs the bead covers — so a bead that explains more text earns more;
* a length prior: translated paragraphs have proportional lengths; the ratio is estimated
  from the article itself, the penalty grows with the log of the deviation;
* anchors: numbers and Latin words (names, quoted English) found on both sides;
* a small fixed cost for merges and skips, which are rarer than 1–1 beads.

The similarity matrix is computed by the caller (this module must not depend on the
encoder); for merged beads an optional callback scores the concatenated paragraphs,
otherwise the parts' similarities are combined by length.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence

import numpy as np

from corpus.models import AlignmentPair

log = logging.getLogger(__name__)

# Score of a group: (0-based English indices, 0-based Korean indices) -> cosine similarity.
GroupSimilarity = Callable[[Sequence[int], Sequence[int]], float]

BEADS: tuple[tuple[int, int], ...] = ((1, 1), (2, 1), (1, 2), (1, 0), (0, 1))
LENGTH_WEIGHT = 0.08  # per unit of |log(length ratio / expected ratio)|
ANCHOR_WEIGHT = 0.06  # per unit of anchor overlap (Dice coefficient)
MERGE_COST = 0.04  # 2–1 / 1–2 beads are about ten times rarer than 1–1 in translations
SKIP_GAIN = 0.0  # an unmatched paragraph neither earns nor costs: it explains nothing
# Without embeddings every paragraph explained by a bead earns this, so that matching
# proportionate paragraphs beats skipping them (plain Gale–Church).
LENGTH_ONLY_GAIN = 0.1

_NUMBER = re.compile(r"\d+")
_LATIN = re.compile(r"[A-Za-z]{3,}")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _anchors(text: str) -> set[str]:
    """Numbers, and in Korean text the Latin words (names, quoted English), as anchors."""
    found = set(_NUMBER.findall(text))
    if _HANGUL.search(text):
        found |= {w.lower() for w in _LATIN.findall(text)}
    return found


def _anchor_score(en_text: str, ko_text: str) -> float:
    a, b = _anchors(en_text), _anchors(ko_text)
    if not a or not b:
        return 0.0
    en_words = set(re.findall(r"[a-z]+", en_text.lower())) | a
    shared = len(b & en_words)
    return 2.0 * shared / (len(a) + len(b))


def _length_penalty(en_len: int, ko_len: int, ratio: float) -> float:
    if en_len == 0 or ko_len == 0:
        return 0.0
    return abs(math.log(ko_len / (en_len * ratio)))


class _BeadScorer:
    """Gain of aligning English paragraphs ``ei`` with Korean paragraphs ``kj`` (one bead)."""

    def __init__(self, en: Sequence[str], ko: Sequence[str], similarity: np.ndarray | None,
                 group_similarity: GroupSimilarity | None) -> None:
        self.en, self.ko = en, ko
        self.similarity = similarity
        self.group_similarity = group_similarity
        if similarity is not None:
            self.baseline = float(np.median(similarity))
            # Groups whose parts look no better than this are not worth encoding.
            self.worth_encoding = float(np.percentile(similarity, 75))
        else:
            self.baseline = self.worth_encoding = 0.0
        self.en_len = [max(1, len(t)) for t in en]
        self.ko_len = [max(1, len(t)) for t in ko]
        self.ratio = sum(self.ko_len) / sum(self.en_len)

    def group_sim(self, ei: Sequence[int], kj: Sequence[int]) -> float:
        similarity = self.similarity
        if similarity is None:
            return self.baseline
        if len(ei) == 1 and len(kj) == 1:
            return float(similarity[ei[0], kj[0]])
        # Each part's similarity weighted by its share of the text approximates the group's.
        if len(ei) > 1:
            w = np.array([self.en_len[i] for i in ei], dtype=np.float64)
            approx = float(np.dot(w, [similarity[i, kj[0]] for i in ei]) / w.sum())
        else:
            w = np.array([self.ko_len[j] for j in kj], dtype=np.float64)
            approx = float(np.dot(w, [similarity[ei[0], j] for j in kj]) / w.sum())
        # The callback encodes text, which is slow: only ask it about plausible groups.
        if self.group_similarity is not None and approx > self.worth_encoding:
            return float(self.group_similarity(ei, kj))
        return approx

    def gain(self, i: int, j: int, di: int, dj: int) -> float:
        if di == 0 or dj == 0:
            return SKIP_GAIN
        ei, kj = list(range(i, i + di)), list(range(j, j + dj))
        if self.similarity is None:
            semantic = LENGTH_ONLY_GAIN * (di + dj)
        else:
            semantic = (self.group_sim(ei, kj) - self.baseline) * (di + dj)
        e_text = " ".join(self.en[k] for k in ei)
        k_text = " ".join(self.ko[k] for k in kj)
        length = _length_penalty(sum(self.en_len[k] for k in ei), sum(self.ko_len[k] for k in kj),
                                 self.ratio)
        gain = semantic - LENGTH_WEIGHT * length + ANCHOR_WEIGHT * _anchor_score(e_text, k_text)
        if di + dj > 2:
            gain -= MERGE_COST
        return gain


Back = dict[tuple[int, int], tuple[int, int, float]]


def _best_path(n: int, m: int, scorer: _BeadScorer) -> Back:
    """Dynamic programme over beads: for each cell, the bead that reached it best."""
    best = np.full((n + 1, m + 1), -np.inf)
    back: Back = {}
    best[0, 0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            if best[i, j] == -np.inf:
                continue
            for di, dj in BEADS:
                ni, nj = i + di, j + dj
                if ni > n or nj > m:
                    continue
                gain = scorer.gain(i, j, di, dj)
                if best[i, j] + gain > best[ni, nj]:
                    best[ni, nj] = best[i, j] + gain
                    back[(ni, nj)] = (di, dj, gain)
    return back


def _trace_back(n: int, m: int, back: Back) -> list[AlignmentPair]:
    pairs: list[AlignmentPair] = []
    i, j = n, m
    while (i, j) != (0, 0):
        di, dj, gain = back[(i, j)]
        pairs.append(AlignmentPair(
            en=tuple(range(i - di + 1, i + 1)), ko=tuple(range(j - dj + 1, j + 1)),
            score=round(float(gain), 4),
        ))
        i, j = i - di, j - dj
    pairs.reverse()
    return pairs


def align(
    en: Sequence[str],
    ko: Sequence[str],
    similarity: np.ndarray | None = None,
    *,
    group_similarity: GroupSimilarity | None = None,
) -> list[AlignmentPair]:
    """Align English paragraphs ``en`` with Korean paragraphs ``ko`` of one article.

    ``similarity`` is the n_en × n_ko cosine matrix of the paragraphs' embeddings (None:
    length and anchors only, i.e. plain Gale–Church). ``group_similarity``, if given,
    scores merged beads (e.g. by encoding the concatenated paragraphs). Returns the beads
    in order, with 1-based positions; unmatched paragraphs come as pairs with one side empty.
    """
    n, m = len(en), len(ko)
    if n == 0 or m == 0:
        return [AlignmentPair(en=(i + 1,), ko=()) for i in range(n)] + [
            AlignmentPair(en=(), ko=(j + 1,)) for j in range(m)
        ]
    if similarity is not None:
        similarity = np.asarray(similarity, dtype=np.float64)
        if similarity.shape != (n, m):
            raise ValueError(f"similarity has shape {similarity.shape}, expected {(n, m)}")
    pairs = _trace_back(n, m, _best_path(n, m, _BeadScorer(en, ko, similarity, group_similarity)))
    log.debug("aligned %d en / %d ko paragraphs into %d beads", n, m, len(pairs))
    return pairs


def counterparts(pairs: Sequence[AlignmentPair]) -> dict[tuple[str, int], tuple[int, ...]]:
    """Map (language, 1-based position) to the aligned positions in the other language."""
    out: dict[tuple[str, int], tuple[int, ...]] = {}
    for pair in pairs:
        if not pair.en or not pair.ko:
            continue
        for p in pair.en:
            out[("en", p)] = pair.ko
        for p in pair.ko:
            out[("ko", p)] = pair.en
    return out
