"""Fusion of dense and keyword evidence, and the "nothing relevant" rule.

Every candidate paragraph carries four pieces of evidence, all exact (the retriever scores
each candidate on both sides, not only the ones each side returned):

- its own cosine with the question, and its aligned translation's cosine;
- its own keyword *share* and its translation's: BM25 divided by the question's bound
  (``embeddings.keyword.KeywordScores``), i.e. how much of the question's IDF-weighted
  vocabulary the text covers, in [0, 1], comparable across questions and languages.

Ranking (``method="pooled"``, Dari's) adds the best dense evidence (own or, slightly
discounted, the translation's) and the weighted best keyword share, plus a small share of
the paragraph's *own* evidence so that two paragraphs borrowing the same translation (a 2–1
alignment) are ordered by what each says itself. Pooling is what makes the ranking
language-symmetric: a Korean paragraph whose English translation names "Kishida" gets that
keyword evidence, an English paragraph gets its Korean original's cosine.

The no-answer rule is a logistic model over what the question's own candidates show: the
best dense evidence measured against the question's own cosine distribution (e5's cosines
for Korean text sit higher than for English, and one absolute cut cannot serve both), the
best keyword share (rare words of the question found in a passage), the language, and for
English questions the words the first-ranked passage lacks (``coverage_gap``).
``eval/fit.py`` fits every constant here on the *tune* halves of the evaluation sets
(``make eval`` reports the *test* halves); see ``docs/retrieval.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

METHODS = ("dense", "keyword", "rrf", "pooled")

# -- ranking constants (fit by eval/fit.py on the tune halves) ----------------------------
# Cosine borrowed from the aligned translation is discounted by this much: a paragraph's own
# text is better evidence than its translation's.
COUNTERPART_DISCOUNT = 0.01
# Share of a paragraph's dense evidence that comes from its best sentence (the rest from
# the whole paragraph's vector): a question usually matches one sentence of a paragraph.
SENTENCE_WEIGHT = 0.75
# Weight of the keyword share against the cosine (cosines of relevant and unrelated
# passages differ by a few hundredths; a share differs by up to 1). Words matched in the
# question's own language weigh KEYWORD_WEIGHT; words matched across languages (numbers and
# Latin-script names inside Korean text, for an English question) weigh CROSS_KEYWORD_WEIGHT.
# Keyword evidence ranks paragraphs that *can* match the question's words against each other
# only, relative to the best match among them: BM25 sees a paragraph's own language (and its
# aligned translation's), so a paragraph in the other language without a translation carries
# no keyword evidence either way — counting that as a zero share would rank every paragraph
# of the asker's language above the one translation that answers (see ``keyword_top``).
KEYWORD_WEIGHT = 0.06
CROSS_KEYWORD_WEIGHT = 0.02
# Weight of the sentence-level keyword evidence (``embeddings.sentence_terms``): how far a
# paragraph's best window of two sentences falls behind the best candidate's in covering the
# question's IDF-weighted words. It separates the paragraph a question was written about from
# its neighbours in the same article, which share the article's words (paragraph BM25 cannot).
SENTENCE_KEYWORD_WEIGHT = 0.12
# Weight of the companion encoder's cosine (``embeddings.companion``: USE multilingual v3, a
# second model trained on translation pairs, whose errors differ from e5's). Its cosines
# spread over a wider range than e5's (a translation scores 0.7–0.9, an unrelated text 0–0.3),
# hence a weight below 1 beside e5's relative evidence.
COMPANION_WEIGHT = 0.15
# Weight of a paragraph's own evidence added for ties (small: it orders, it does not rank).
OWN_WEIGHT = 0.1
RRF_K = 60

# -- the no-answer rule (logistic model; fit by eval/fit.py) ------------------------------
# z = RELEVANCE_BIAS + RELEVANCE_WEIGHTS · Evidence.features(); see Evidence.
RELEVANCE_BIAS = -26.8426
RELEVANCE_WEIGHTS = (10.9431, -2.9507, -0.0138, 1.1661, -0.4364, -0.412, 3.7062, 4.1535, 20.1941, 1.2696, 5.4641, 10.1204, 8.9256, -1.8303, 3.9193, 0.8138, 1.1929, 3.0671)  # noqa: E501 - one line: eval/fit.py --apply rewrites it
# A question of at most this many topic terms (a name: "Dokdo", "기시다 후미오") is answered
# when one passage holds all of them, whatever the dense side says: a bare name carries no
# meaning for the encoder to match, while finding every one of its rare words in a passage
# means the corpus discusses exactly that. The question sets hold no such questions for
# the logistic model to learn from, so this is a rule, with its reason.
NAME_TERMS = 2
NAME_COVERAGE = 0.99
# Probability from which a question is answered (and each quoted passage must reach it too).
RELEVANCE_THRESHOLD = 0.61
# The question's cosine baseline: the median own cosine of the dense side's top candidates.
BASELINE_CANDIDATES = 50


def mix_sentence(paragraph: Any, sentence: Any) -> Any:
    """A paragraph's dense evidence from its vector's cosine and its best sentence's
    (``SENTENCE_WEIGHT``; the paragraph's alone when ``sentence`` is None). Works on floats
    and on numpy arrays alike."""
    if sentence is None:
        return paragraph
    return (1 - SENTENCE_WEIGHT) * paragraph + SENTENCE_WEIGHT * sentence


@dataclass(slots=True)
class Candidate:
    """One paragraph with its evidence on both sides (exact scores, see the module doc)."""

    id: int
    language: str
    dense: float  # own cosine
    keyword: float = 0.0  # own raw BM25 (for the keyword-only anchor and RRF)
    share: float = 0.0  # own BM25 as a share of the question's bound
    sentence: float | None = None  # best cosine among its sentences (None: not stored)
    counterpart_dense: float | None = None  # best cosine among its aligned translations
    counterpart_sentence: float | None = None  # best sentence cosine among its translations
    counterpart_share: float = 0.0  # best keyword share among its aligned translations
    # Best coverage of the question's words by a window of two sentences (None: not stored).
    sentence_share: float | None = None
    counterpart_sentence_share: float | None = None  # the same, best among its translations
    dense_rank: int | None = None  # rank in the dense side's list (None: not in it)
    keyword_rank: int | None = None  # rank in the keyword side's list
    # The question's cosine baseline in this paragraph's language and in its translation's
    # (e5 scores the question's own language higher: evidence is judged against its own).
    centre: float = 0.0
    counterpart_centre: float = 0.0
    # The companion encoder's cosines (None: the generation stores no companion vectors):
    # the paragraph's and its best sentence's, the same for its translation (the best among
    # its translations), and the question's companion baseline (median over its candidates).
    companion: float | None = None
    companion_sentence: float | None = None
    counterpart_companion: float | None = None
    counterpart_companion_sentence: float | None = None
    companion_centre: float = 0.0

    @property
    def own_dense(self) -> float:
        """The paragraph's own dense evidence: its vector's and its best sentence's cosine."""
        return float(mix_sentence(self.dense, self.sentence))

    @property
    def counterpart_own_dense(self) -> float | None:
        """The translation's dense evidence (vector and best sentence), None without one."""
        if self.counterpart_dense is None:
            return None
        return float(mix_sentence(self.counterpart_dense, self.counterpart_sentence))

    @property
    def dense_evidence(self) -> float:
        """Own dense evidence, or the translation's (discounted) if that is better."""
        other = self.counterpart_own_dense
        if other is None:
            return self.own_dense
        return max(self.own_dense, other - COUNTERPART_DISCOUNT)

    @property
    def relative_evidence(self) -> float:
        """Dense evidence above the question's baseline in each side's own language."""
        own = self.own_dense - self.centre
        other = self.counterpart_own_dense
        if other is None:
            return own
        return max(own, other - self.counterpart_centre - COUNTERPART_DISCOUNT)

    @property
    def companion_best(self) -> float:
        """The companion evidence of the paragraph or of its translation, whichever is higher
        (each side's paragraph and best sentence mixed as e5's are, ``mix_sentence``; the
        question's baseline without companion vectors)."""
        if self.companion is None:
            return self.companion_centre
        own = mix_sentence(self.companion, self.companion_sentence)
        if self.counterpart_companion is None:
            return own
        return max(own, mix_sentence(self.counterpart_companion, self.counterpart_companion_sentence))

    @property
    def companion_evidence(self) -> float:
        """:attr:`companion_best` above the question's companion baseline (0 without
        companion vectors)."""
        return self.companion_best - self.companion_centre

    @property
    def keyword_evidence(self) -> float:
        """Keyword share of the passage or of its translation, whichever is higher."""
        return max(self.share, self.counterpart_share)

    def keyword_sides(self, asked_in: str) -> tuple[float, float]:
        """(share matched in the question's language, share matched across languages)."""
        if self.language == asked_in:
            return self.share, self.counterpart_share
        return self.counterpart_share, self.share


    def sentence_side(self, asked_in: str) -> float | None:
        """Sentence-level coverage in the question's language (own, or the translation's
        when the paragraph is in the other language); None when it cannot be known."""
        return self.sentence_share if self.language == asked_in else self.counterpart_sentence_share


def can_match(c: Candidate, asked_in: str) -> bool:
    """Can the question's words occur in ``c``: it is in the question's language, or it
    has an aligned translation that is."""
    return c.language == asked_in or c.counterpart_dense is not None or c.counterpart_share > 0


def keyword_top(candidates: Sequence[Candidate], asked_in: str) -> float:
    """The best share matched in the question's language among candidates that can match."""
    return max((c.keyword_sides(asked_in)[0] for c in candidates if can_match(c, asked_in)),
               default=0.0)


def sentence_top(candidates: Sequence[Candidate], asked_in: str) -> float:
    """The best sentence-level coverage in the question's language among the candidates."""
    return max((x for c in candidates if (x := c.sentence_side(asked_in)) is not None),
               default=0.0)


def pooled_score(c: Candidate, asked_in: str, top: float, top_sentence: float = 0.0) -> float:
    """Dari's ranking score of one candidate for a question asked in ``asked_in``, where
    ``top`` is :func:`keyword_top` and ``top_sentence`` :func:`sentence_top` of the
    question's candidates."""
    same, cross = c.keyword_sides(asked_in)
    # A paragraph that cannot match is neither helped nor hurt: it scores as the best match.
    behind = top - same if can_match(c, asked_in) else 0.0
    sentence = c.sentence_side(asked_in)
    behind_sentence = top_sentence - sentence if sentence is not None else 0.0
    own_same = c.share if c.language == asked_in else 0.0
    return (c.relative_evidence - KEYWORD_WEIGHT * behind + CROSS_KEYWORD_WEIGHT * cross
            - SENTENCE_KEYWORD_WEIGHT * behind_sentence
            + COMPANION_WEIGHT * c.companion_evidence
            + OWN_WEIGHT * (c.own_dense - c.centre + KEYWORD_WEIGHT * own_same))


def pooled_scores(candidates: Sequence[Candidate], asked_in: str) -> dict[int, float]:
    """:func:`pooled_score` of every candidate, by paragraph number."""
    top = keyword_top(candidates, asked_in)
    top_sentence = sentence_top(candidates, asked_in)
    return {c.id: pooled_score(c, asked_in, top, top_sentence) for c in candidates}


def fuse(candidates: Sequence[Candidate], method: str = "pooled",
         asked_in: str = "en") -> list[tuple[int, float]]:
    """Rank ``candidates``; returns (paragraph number, score), best first.

    ``method``: "pooled" (Dari), or the anchors "dense" (own cosine alone), "keyword" (own
    BM25 alone, matches only) and "rrf" (reciprocal-rank fusion of the two sides' lists).
    ``asked_in`` is the question's language (keyword matches in it count more).
    """
    if method == "dense":
        scored = [(c.id, c.dense) for c in candidates]
    elif method == "keyword":
        scored = [(c.id, c.keyword) for c in candidates if c.keyword > 0]
    elif method == "rrf":
        scored = [(c.id, sum(1.0 / (RRF_K + r) for r in (c.dense_rank, c.keyword_rank)
                             if r is not None)) for c in candidates]
        scored = [(i, s) for i, s in scored if s > 0]
    elif method == "pooled":
        scored = list(pooled_scores(candidates, asked_in).items())
    else:
        raise ValueError(f"unknown fusion method {method!r}")
    # Ties keep a stable order by paragraph number, so rankings are reproducible.
    return sorted(scored, key=lambda item: (-item[1], item[0]))


@dataclass(frozen=True)
class Evidence:
    """What the no-answer rule sees of a question (or of one passage for it).

    Each feature has a reason that does not depend on the articles: how close the best
    passage is (cosine, and above the question's own baseline in its language: e5's
    Korean cosines sit higher, hence the Korean terms), how much of the question's
    vocabulary a passage holds (in the question's language, and across languages: numbers
    and names), whether one passage stands out from the rest (margins), what the passage
    ranked first shows itself, and the best sentence's and whole paragraph's cosines (a
    question about the corpus matches one sentence far better than any paragraph), and, for
    an English question, how much of its IDF-weighted words the first-ranked passage lacks
    in its best window of two sentences when it could hold them (``coverage_gap``): an
    off-corpus question meets a neighbouring story on its topic, which scatters or lacks its
    rare words, while the passage that answers holds them together. Korean questions leave
    it out: measured on tune, there it traded Korean QA answers for cross-lingual ones, as
    Korean questions often word a term in another form than the answer (compounds: 데뷔작 /
    데뷔), so a missing word is weaker evidence.
    """

    language: str  # the question's language
    dense: float  # best dense evidence (cosine, paragraph and sentence)
    gap: float  # best dense evidence above the question's baseline in its language
    same: float  # best keyword share matched in the question's language
    cross: float  # best keyword share matched across languages
    margin: float  # fused score of the first candidate minus the second's
    relative_margin: float  # best relative evidence minus the second best
    top_share: float  # keyword share of the first-ranked candidate
    top_gap: float  # relative evidence of the first-ranked candidate
    sentence: float  # best sentence cosine
    paragraph: float  # best paragraph cosine
    # The first-ranked passage's coverage_gap: what of the question's words it lacks.
    coverage_gap: float = 0.0
    # The companion encoder's view (0 without companion vectors): the best companion cosine,
    # the best above the question's companion baseline, and the first-ranked passage's.
    companion: float = 0.0
    companion_gap: float = 0.0
    top_companion: float = 0.0
    # The first-ranked passage's companion cosine minus the best other passage's: an answer
    # (a translation above all) stands out in the companion's space, a neighbouring story
    # on the question's topic does not.
    companion_margin: float = 0.0

    @property
    def share(self) -> float:
        """Best keyword share on either side."""
        return max(self.same, self.cross)

    def features(self) -> tuple[float, ...]:
        """The logistic model's inputs, in the order of RELEVANCE_WEIGHTS."""
        korean = 1.0 if self.language == "ko" else 0.0
        return (self.dense, self.gap, self.same, self.cross, korean, korean * self.dense,
                korean * self.gap, self.margin, self.relative_margin, self.top_share,
                self.top_gap, self.sentence, self.paragraph, (1.0 - korean) * self.coverage_gap,
                self.companion, self.companion_gap, self.top_companion, self.companion_margin)


def coverage_gap(c: Candidate, asked_in: str) -> float:
    """How much of the question's IDF-weighted words ``c`` lacks in its best window of two
    sentences (in the question's language: its own text, or its translation's), 0 when it
    cannot hold the question's words at all (another language, no translation): BM25 sees
    nothing there, which is no evidence either way."""
    if not can_match(c, asked_in):
        return 0.0
    covered = c.sentence_side(asked_in)
    if covered is None:  # a generation without sentence vocabularies: the paragraph's share
        covered = c.keyword_sides(asked_in)[0]
    return max(0.0, 1.0 - covered)


def relevance(e: Evidence) -> float:
    """Probability that the evidence shows a passage answering the question."""
    z = RELEVANCE_BIAS + sum(w * x for w, x in zip(RELEVANCE_WEIGHTS, e.features(), strict=False))
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def answerable(e: Evidence, name_terms: int, threshold: float) -> bool:
    """The no-answer rule: the model's probability reaches ``threshold``, or the question
    is a name of ``name_terms`` topic terms (0: not a name; at most NAME_TERMS) that one
    passage covers in full."""
    if relevance(e) >= threshold:
        return True
    return 0 < name_terms <= NAME_TERMS and e.top_share >= NAME_COVERAGE


def baseline(dense_scores: Sequence[float]) -> float:
    """A cosine baseline: the median of the best ``BASELINE_CANDIDATES`` cosines."""
    top = sorted(dense_scores, reverse=True)[:BASELINE_CANDIDATES]
    if not top:
        return 0.0
    mid = len(top) // 2
    return top[mid] if len(top) % 2 else (top[mid - 1] + top[mid]) / 2


class Judge:
    """The no-answer rule's view of one question's candidates: the question's evidence, and
    each passage's own (a quoted passage must be answer-worthy by itself)."""

    def __init__(self, candidates: Sequence[Candidate], language: str,
                 aligned: Mapping[int, Sequence[int]] | None = None) -> None:
        self.language = language
        # A paragraph and its translation are one answer: neither is the other's rival.
        self._aligned = aligned or {}
        self._score = pooled_scores(candidates, language)
        self._ranked = sorted(candidates, key=lambda c: (-self._score[c.id], c.id))
        self._relative = sorted(((c.relative_evidence, c.id) for c in candidates), reverse=True)
        self._companion = sorted(((c.companion_best, c.id) for c in candidates), reverse=True)
        self.question = self._question(candidates)

    def ranking(self) -> list[tuple[int, float]]:
        """The candidates as ``fuse(candidates, "pooled", language)`` ranks them, from the
        scores the rule already computed (the search needs both)."""
        return [(c.id, self._score[c.id]) for c in self._ranked]

    def _question(self, candidates: Sequence[Candidate]) -> Evidence:
        if not candidates:
            return Evidence(self.language, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        sides = [c.keyword_sides(self.language) for c in candidates]
        top = self._ranked[0]
        return Evidence(
            self.language,
            dense=max(c.dense_evidence for c in candidates),
            gap=self._relative[0][0],
            same=max(s for s, _ in sides),
            cross=max(x for _, x in sides),
            margin=self._margin(top),
            relative_margin=self._relative_margin(top),
            top_share=top.keyword_evidence,
            top_gap=top.relative_evidence,
            sentence=max(c.sentence if c.sentence is not None else c.dense for c in candidates),
            paragraph=max(c.dense for c in candidates),
            coverage_gap=coverage_gap(top, self.language),
            companion=self._companion[0][0],  # sorted best first in __init__
            companion_gap=max(c.companion_evidence for c in candidates),
            top_companion=top.companion_evidence,
            companion_margin=self._companion_margin(top),
        )

    def _margin(self, c: Candidate) -> float:
        """``c``'s fused score minus the best other candidate's (negative unless first)."""
        unit = {c.id, *self._aligned.get(c.id, ())}
        other = next((self._score[o.id] for o in self._ranked if o.id not in unit), None)
        return 0.05 if other is None else self._score[c.id] - other

    def _relative_margin(self, c: Candidate) -> float:
        unit = {c.id, *self._aligned.get(c.id, ())}
        other = next((r for r, i in self._relative if i not in unit), None)
        return 0.05 if other is None else c.relative_evidence - other

    def _companion_margin(self, c: Candidate) -> float:
        unit = {c.id, *self._aligned.get(c.id, ())}
        other = next((b for b, i in self._companion if i not in unit), None)
        return 0.0 if other is None else c.companion_best - other

    def passage(self, c: Candidate) -> Evidence:
        """``c``'s own evidence, as if it were the only answer offered (with its
        translation's: the two are one answer)."""
        same, cross = c.keyword_sides(self.language)
        return Evidence(self.language, dense=c.dense_evidence, gap=c.relative_evidence,
                        same=same, cross=cross, margin=self._margin(c),
                        relative_margin=self._relative_margin(c), top_share=c.keyword_evidence,
                        top_gap=c.relative_evidence,
                        sentence=max(_sentence_of(c.sentence, c.dense),
                                     _sentence_of(c.counterpart_sentence, c.counterpart_dense)),
                        paragraph=max(c.dense, c.counterpart_dense if c.counterpart_dense
                                      is not None else c.dense),
                        coverage_gap=coverage_gap(c, self.language),
                        companion=c.companion_best, companion_gap=c.companion_evidence,
                        top_companion=c.companion_evidence,
                        companion_margin=self._companion_margin(c))


def _sentence_of(sentence: float | None, dense: float | None) -> float:
    """A paragraph's best sentence cosine (its own cosine when it stores no sentences)."""
    if sentence is not None:
        return sentence
    return dense if dense is not None else -1.0


def question_evidence(candidates: Sequence[Candidate], language: str,
                      aligned: Mapping[int, Sequence[int]] | None = None) -> Evidence:
    """The question-level evidence: the best of every candidate's, and the margins."""
    return Judge(candidates, language, aligned).question
