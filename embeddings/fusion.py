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
English questions the words the first-ranked passage lacks (``coverage_gap``), and in
both languages the question's numbers (and Latin-script words in Korean) that it lacks
(``anchor_gap``).
``eval/fit.py`` fits every constant here on the *tune* halves of the evaluation sets
(``make eval`` reports the *test* halves); see ``docs/retrieval.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

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
RELEVANCE_WEIGHTS = (10.9431, -2.9507, -0.0138, 1.1661, -0.4364, -0.412, 3.7062, 4.1535, 20.1941, 1.2696, 5.4641, 10.1204, 8.9256, -1.8303, 3.9193, 0.8138, 1.1929, 3.0671, -3.7663, -1.17, -3.8451, -2.0044)  # noqa: E501 - one line: eval/fit.py --apply rewrites it
# A word the corpus never saw counts as the question's unknown-words evidence when it is at
# least this rare in its language at large (nats under e5's CC-100 unigram model,
# embeddings/rarity.py). English: everyday words 10–14 ("want" 10.6, "summit" 14.1), names
# 18–42, of which the rarer pass ("Zanzibar" 29.5, "Phoenicia" 33.6; not "Dokdo" 19.7);
# Korean, about 10 a syllable: three-syllable names and longer terms ("하현우" 34,
# "페니키아" 47) pass, two-syllable words ("대만" 21.6, "독도" 22.5) do not. Chosen on the
# tune halves: the best of floors 14–35 for the no-answer criterion (docs/retrieval.md),
# the two weights refit at each (eval/fit.py --refit-last 2).
UNSEEN_RARITY = 26.0
# A question of at most this many topic terms (a name: "Dokdo", "기시다 후미오") is answered
# when one passage holds all of them, whatever the dense side says: a bare name carries no
# meaning for the encoder to match, while finding every one of its rare words in a passage
# means the corpus discusses exactly that. The question sets hold no such questions for
# the logistic model to learn from, so this is a rule, with its reason.
NAME_TERMS = 2
NAME_COVERAGE = 0.99
# Probability from which a question is answered (and each quoted passage must reach it too).
RELEVANCE_THRESHOLD = 0.61
# How many of the best-ranked candidates have the question's anchors (numbers, Latin-script
# words: ``question.anchor_terms``) looked up in their text: the no-answer rule reads the
# first passage's and each quoted passage's, all among them (a cost of reading paragraphs).
ANCHOR_DEPTH = 10
# The question's cosine baseline: the median own cosine of the dense side's top candidates.
BASELINE_CANDIDATES = 50



def mix_sentence(paragraph: Any, sentence: Any) -> Any:
    """A paragraph's dense evidence from its vector's cosine and its best sentence's
    (``SENTENCE_WEIGHT``; the paragraph's alone when ``sentence`` is None, or NaN in an
    array). Works on floats and on numpy arrays alike."""
    if sentence is None:
        return paragraph
    mixed = (1 - SENTENCE_WEIGHT) * paragraph + SENTENCE_WEIGHT * sentence
    if isinstance(mixed, np.ndarray):
        return np.where(np.isnan(sentence), paragraph, mixed)
    return mixed


@dataclass(slots=True)
class Candidate:
    """One paragraph with its evidence on both sides (exact scores, see the module doc):
    one row of :class:`Columns`, which is what the rules compute on."""

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
    # The IDF-weighted share of the question's words that no indexed paragraph holds
    # (``KeywordScores.unknown``): the question's, the same for each of its candidates.
    unknown: float = 0.0
    # The IDF-weighted share of the question's anchors (``question.anchor_terms``: numbers,
    # Latin-script words in a Korean question) that the paragraph holds, and the best among
    # its translations (None: the question has no anchors, or no translation).
    anchor: float | None = None
    counterpart_anchor: float | None = None

    def _one(self) -> Columns:
        return Columns.of([self])

    @property
    def own_dense(self) -> float:
        """The paragraph's own dense evidence: its vector's and its best sentence's cosine."""
        return float(self._one().own_dense()[0])

    @property
    def dense_evidence(self) -> float:
        """Own dense evidence, or the translation's (discounted) if that is better."""
        return float(self._one().dense_evidence()[0])

    @property
    def relative_evidence(self) -> float:
        """Dense evidence above the question's baseline in each side's own language."""
        return float(self._one().relative_evidence()[0])

    @property
    def companion_best(self) -> float:
        """The companion evidence of the paragraph or of its translation (see
        :meth:`Columns.companion_best`)."""
        return float(self._one().companion_best()[0])

    @property
    def companion_evidence(self) -> float:
        """:attr:`companion_best` above the question's companion baseline."""
        return float(self._one().companion_evidence()[0])

    @property
    def keyword_evidence(self) -> float:
        """Keyword share of the passage or of its translation, whichever is higher."""
        return float(self._one().keyword_evidence()[0])

    def keyword_sides(self, asked_in: str) -> tuple[float, float]:
        """(share matched in the question's language, share matched across languages)."""
        same, cross = self._one().keyword_sides(asked_in)
        return float(same[0]), float(cross[0])

    def sentence_side(self, asked_in: str) -> float | None:
        """Sentence-level coverage in the question's language (own, or the translation's
        when the paragraph is in the other language); None when it cannot be known."""
        side = float(self._one().sentence_side(asked_in)[0])
        return None if math.isnan(side) else side


_FLOATS = ("dense", "keyword", "share", "sentence", "counterpart_dense", "counterpart_sentence",
           "counterpart_share", "sentence_share", "counterpart_sentence_share", "dense_rank",
           "keyword_rank", "centre", "counterpart_centre", "companion", "companion_sentence",
           "counterpart_companion", "counterpart_companion_sentence", "companion_centre",
           "unknown", "anchor", "counterpart_anchor")
# The fields a Candidate may leave None (NaN in Columns), and the ranks (int or None).
_RANKS = ("dense_rank", "keyword_rank")
_OPTIONAL = ("sentence", "counterpart_dense", "counterpart_sentence", "sentence_share",
             "counterpart_sentence_share", "companion", "companion_sentence",
             "counterpart_companion", "counterpart_companion_sentence", "anchor",
             "counterpart_anchor")


@dataclass(frozen=True)
class Columns:
    """A question's candidates as arrays, one entry per candidate (the fields of
    :class:`Candidate`; NaN where a field is None, ``korean`` for the language). Every
    rule computes on these at once: a search scores a few hundred candidates, and a Python
    call per candidate per rule cost more than all the vector products of the search."""

    id: np.ndarray  # int64
    korean: np.ndarray  # bool: the paragraph is Korean (else English)
    dense: np.ndarray
    keyword: np.ndarray
    share: np.ndarray
    sentence: np.ndarray
    counterpart_dense: np.ndarray
    counterpart_sentence: np.ndarray
    counterpart_share: np.ndarray
    sentence_share: np.ndarray
    counterpart_sentence_share: np.ndarray
    dense_rank: np.ndarray
    keyword_rank: np.ndarray
    centre: np.ndarray
    counterpart_centre: np.ndarray
    companion: np.ndarray
    companion_sentence: np.ndarray
    counterpart_companion: np.ndarray
    counterpart_companion_sentence: np.ndarray
    companion_centre: np.ndarray
    unknown: np.ndarray
    anchor: np.ndarray
    counterpart_anchor: np.ndarray

    def __len__(self) -> int:
        return len(self.id)

    @classmethod
    def of(cls, candidates: Sequence[Candidate]) -> Columns:
        """The columns of ``candidates`` (in their order)."""
        def column(name: str) -> np.ndarray:
            values = [getattr(c, name) for c in candidates]
            return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

        return cls(id=np.array([c.id for c in candidates], dtype=np.int64),
                   korean=np.array([c.language == "ko" for c in candidates], dtype=bool),
                   **{name: column(name) for name in _FLOATS})

    def candidates(self) -> list[Candidate]:
        """The rows as :class:`Candidate` (what a trace shows and ``eval/fit.py`` reads)."""
        def plain(name: str, x: float) -> Any:
            if name in _RANKS:
                return None if math.isnan(x) else int(x)
            return None if name in _OPTIONAL and math.isnan(x) else x

        lists = {name: getattr(self, name).tolist() for name in _FLOATS}
        return [Candidate(id=x, language="ko" if korean else "en",
                          **{name: plain(name, lists[name][i]) for name in _FLOATS})
                for i, (x, korean) in enumerate(zip(self.id.tolist(), self.korean.tolist(),
                                                    strict=True))]

    def mine(self, asked_in: str) -> np.ndarray:
        """Which candidates are in the question's language."""
        return self.korean if asked_in == "ko" else ~self.korean

    def own_dense(self) -> np.ndarray:
        """Each paragraph's own dense evidence: its vector's and its best sentence's cosine."""
        return mix_sentence(self.dense, self.sentence)

    def counterpart_own_dense(self) -> np.ndarray:
        """The translation's dense evidence (vector and best sentence), NaN without one."""
        return mix_sentence(self.counterpart_dense, self.counterpart_sentence)

    def dense_evidence(self) -> np.ndarray:
        """Own dense evidence, or the translation's (discounted) if that is better."""
        return np.fmax(self.own_dense(), self.counterpart_own_dense() - COUNTERPART_DISCOUNT)

    def relative_evidence(self) -> np.ndarray:
        """Dense evidence above the question's baseline in each side's own language."""
        return np.fmax(self.own_dense() - self.centre,
                       self.counterpart_own_dense() - self.counterpart_centre
                       - COUNTERPART_DISCOUNT)

    def companion_best(self) -> np.ndarray:
        """The companion evidence of the paragraph or of its translation, whichever is higher
        (each side's paragraph and best sentence mixed as e5's are, ``mix_sentence``; the
        question's baseline without companion vectors)."""
        own = mix_sentence(self.companion, self.companion_sentence)
        best = np.fmax(own, mix_sentence(self.counterpart_companion,
                                         self.counterpart_companion_sentence))
        return np.where(np.isnan(self.companion), self.companion_centre, best)

    def companion_evidence(self) -> np.ndarray:
        """:meth:`companion_best` above the question's companion baseline (0 without
        companion vectors)."""
        return self.companion_best() - self.companion_centre

    def keyword_evidence(self) -> np.ndarray:
        """Keyword share of the passage or of its translation, whichever is higher."""
        return np.maximum(self.share, self.counterpart_share)

    def keyword_sides(self, asked_in: str) -> tuple[np.ndarray, np.ndarray]:
        """(share matched in the question's language, share matched across languages)."""
        mine = self.mine(asked_in)
        return (np.where(mine, self.share, self.counterpart_share),
                np.where(mine, self.counterpart_share, self.share))

    def sentence_side(self, asked_in: str) -> np.ndarray:
        """Sentence-level coverage in the question's language (own, or the translation's
        when the paragraph is in the other language); NaN when it cannot be known."""
        return np.where(self.mine(asked_in), self.sentence_share, self.counterpart_sentence_share)

    def can_match(self, asked_in: str) -> np.ndarray:
        """Can the question's words occur in each candidate: it is in the question's
        language, or it has an aligned translation that is."""
        return (self.mine(asked_in) | ~np.isnan(self.counterpart_dense)
                | (self.counterpart_share > 0))

    def keyword_top(self, asked_in: str) -> float:
        """The best share matched in the question's language among candidates that can match."""
        same = self.keyword_sides(asked_in)[0][self.can_match(asked_in)]
        return float(same.max()) if len(same) else 0.0

    def sentence_top(self, asked_in: str) -> float:
        """The best sentence-level coverage in the question's language among the candidates."""
        side = self.sentence_side(asked_in)
        side = side[~np.isnan(side)]
        return float(side.max()) if len(side) else 0.0

    def pooled(self, asked_in: str) -> np.ndarray:
        """Dari's ranking score of every candidate for a question asked in ``asked_in``."""
        same, cross = self.keyword_sides(asked_in)
        # A paragraph that cannot match is neither helped nor hurt: it scores as the best match.
        behind = np.where(self.can_match(asked_in), self.keyword_top(asked_in) - same, 0.0)
        sentence = self.sentence_side(asked_in)
        behind_sentence = np.where(np.isnan(sentence), 0.0, self.sentence_top(asked_in) - sentence)
        own_same = np.where(self.mine(asked_in), self.share, 0.0)
        return (self.relative_evidence() - KEYWORD_WEIGHT * behind + CROSS_KEYWORD_WEIGHT * cross
                - SENTENCE_KEYWORD_WEIGHT * behind_sentence
                + COMPANION_WEIGHT * self.companion_evidence()
                + OWN_WEIGHT * (self.own_dense() - self.centre + KEYWORD_WEIGHT * own_same))

    def coverage_gap(self, asked_in: str) -> np.ndarray:
        """How much of the question's IDF-weighted words each candidate lacks in its best
        window of two sentences (in the question's language: its own text, or its
        translation's), 0 when it cannot hold the question's words at all (another
        language, no translation): BM25 sees nothing there, which is no evidence either way.
        A generation without sentence vocabularies counts the paragraph's share."""
        covered = self.sentence_side(asked_in)
        covered = np.where(np.isnan(covered), self.keyword_sides(asked_in)[0], covered)
        return np.where(self.can_match(asked_in), np.maximum(0.0, 1.0 - covered), 0.0)

    def unknown_side(self, asked_in: str) -> np.ndarray:
        """The question's share of words the corpus never saw, for each candidate that could
        hold them (:meth:`can_match`), 0 for one that cannot: a question answered across
        languages (a Korean sentence whose English translation is indexed) has words the
        index lacks in its own language, and that is no evidence against it."""
        return np.where(self.can_match(asked_in), self.unknown, 0.0)

    def anchor_gap(self, asked_in: str) -> np.ndarray:
        """How much of the question's IDF-weighted anchors (numbers; Latin-script words in a
        Korean question) each candidate lacks, the paragraph and its translation together
        (they are one answer, and a Korean text may write 나토 where its translation writes
        NATO); 0 when the question has none or the candidate cannot hold them (another
        language, no translation: no evidence either way)."""
        side = np.fmax(self.anchor, self.counterpart_anchor)
        known = self.can_match(asked_in) & ~np.isnan(side)
        return np.where(known, 1.0 - np.nan_to_num(side, nan=1.0), 0.0)


def _columns(candidates: Columns | Sequence[Candidate]) -> Columns:
    return candidates if isinstance(candidates, Columns) else Columns.of(candidates)


def can_match(c: Candidate, asked_in: str) -> bool:
    """Can the question's words occur in ``c`` (:meth:`Columns.can_match`)."""
    return bool(Columns.of([c]).can_match(asked_in)[0])


def keyword_top(candidates: Columns | Sequence[Candidate], asked_in: str) -> float:
    """The best share matched in the question's language among candidates that can match."""
    return _columns(candidates).keyword_top(asked_in)


def sentence_top(candidates: Columns | Sequence[Candidate], asked_in: str) -> float:
    """The best sentence-level coverage in the question's language among the candidates."""
    return _columns(candidates).sentence_top(asked_in)


def pooled_scores(candidates: Columns | Sequence[Candidate], asked_in: str) -> dict[int, float]:
    """Dari's ranking score (:meth:`Columns.pooled`) of every candidate, by paragraph number."""
    cols = _columns(candidates)
    return dict(zip(cols.id.tolist(), cols.pooled(asked_in).tolist(), strict=True))


def _best_first(ids: np.ndarray, scores: np.ndarray) -> list[tuple[int, float]]:
    # Ties keep a stable order by paragraph number, so rankings are reproducible.
    order = np.lexsort((ids, -scores))
    return list(zip(ids[order].tolist(), scores[order].tolist(), strict=True))


def fuse(candidates: Columns | Sequence[Candidate], method: str = "pooled",
         asked_in: str = "en") -> list[tuple[int, float]]:
    """Rank ``candidates``; returns (paragraph number, score), best first.

    ``method``: "pooled" (Dari), or the anchors "dense" (own cosine alone), "keyword" (own
    BM25 alone, matches only) and "rrf" (reciprocal-rank fusion of the two sides' lists).
    ``asked_in`` is the question's language (keyword matches in it count more).
    """
    if method not in METHODS:
        raise ValueError(f"unknown fusion method {method!r}")
    cols = _columns(candidates)
    if method == "dense":
        return _best_first(cols.id, cols.dense)
    if method == "keyword":
        kept = cols.keyword > 0
        return _best_first(cols.id[kept], cols.keyword[kept])
    if method == "rrf":
        def part(rank: np.ndarray) -> np.ndarray:
            return np.where(np.isnan(rank), 0.0, 1.0 / (RRF_K + rank))

        score = part(cols.dense_rank) + part(cols.keyword_rank)
        kept = score > 0
        return _best_first(cols.id[kept], score[kept])
    return _best_first(cols.id, cols.pooled(asked_in))


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
    데뷔), so a missing word is weaker evidence. And, per language, the share of the
    question's IDF-weighted words that the whole corpus lacks (``unknown``), when the
    first-ranked passage could hold them: a question about what the corpus never mentions
    (a left-out article's names and terms) meets passages that share its common words only.
    And, per language, the share of the question's *anchors* — its numbers and, asked in
    Korean, its Latin-script words (``question.anchor_terms``) — that the first-ranked
    passage lacks, read in its text and its translation's, its article's title counting as
    its text (``anchor_gap``): digits and Latin letters are not analysed, so unlike Korean nouns they
    are written alike in a question and its answer, and a passage without the question's
    year or model number is about another event or product.
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
    # The question's share of words no indexed paragraph holds, when the passage could hold
    # them (``Columns.unknown_side``): a question about what the corpus never mentions.
    unknown: float = 0.0
    # The first-ranked passage's anchor_gap: the question's numbers (and, asked in Korean,
    # Latin-script words) that it and its translation lack.
    anchor_gap: float = 0.0

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
                self.companion, self.companion_gap, self.top_companion, self.companion_margin,
                korean * self.unknown, (1.0 - korean) * self.unknown,
                korean * self.anchor_gap, (1.0 - korean) * self.anchor_gap)

def coverage_gap(c: Candidate, asked_in: str) -> float:
    """What of the question's words ``c`` lacks (:meth:`Columns.coverage_gap`)."""
    return float(Columns.of([c]).coverage_gap(asked_in)[0])


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
    each passage's own (a quoted passage must be answer-worthy by itself). Every rule's
    array is computed once here; a passage's evidence reads its entries."""

    def __init__(self, candidates: Columns | Sequence[Candidate], language: str,
                 aligned: Mapping[int, Sequence[int]] | None = None) -> None:
        self.language = language
        cols = self.columns = _columns(candidates)
        # A paragraph and its translation are one answer: neither is the other's rival.
        self._aligned = aligned or {}
        self._ids = cols.id.tolist()
        # Paragraph number → its entry in the columns.
        self.slot = {x: i for i, x in enumerate(self._ids)}
        score = cols.pooled(language)
        self._score = score.tolist()
        # Best first, ties by paragraph number (as fuse ranks); the evidence orders best
        # first with ties by the higher number (as sorting (value, number) pairs down does).
        self._ranked = np.lexsort((cols.id, -score)).tolist()
        relative = cols.relative_evidence()
        companion = cols.companion_best()
        self._relative = relative.tolist()
        self._by_relative = np.lexsort((-cols.id, -relative)).tolist()
        self._companion = companion.tolist()
        self._by_companion = np.lexsort((-cols.id, -companion)).tolist()
        self._dense = cols.dense_evidence().tolist()
        same, cross = cols.keyword_sides(language)
        self._same, self._cross = same.tolist(), cross.tolist()
        self._share = cols.keyword_evidence().tolist()
        self._gap = cols.coverage_gap(language).tolist()
        self._companion_gap = cols.companion_evidence().tolist()
        self._unknown = cols.unknown_side(language).tolist()
        self._anchor = cols.anchor_gap(language).tolist()
        self._sentence = np.where(np.isnan(cols.sentence), cols.dense, cols.sentence)
        self.question = self._question()

    def ranking(self) -> list[tuple[int, float]]:
        """The candidates as ``fuse(candidates, "pooled", language)`` ranks them, from the
        scores the rule already computed (the search needs both)."""
        return [(self._ids[i], self._score[i]) for i in self._ranked]

    def _question(self) -> Evidence:
        if not self._ids:
            return Evidence(self.language, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        top = self._ranked[0]
        return Evidence(
            self.language,
            dense=max(self._dense),
            gap=self._relative[self._by_relative[0]],
            same=max(self._same),
            cross=max(self._cross),
            margin=self._margin(top),
            relative_margin=self._relative_margin(top),
            top_share=self._share[top],
            top_gap=self._relative[top],
            sentence=float(self._sentence.max()),
            paragraph=float(self.columns.dense.max()),
            coverage_gap=self._gap[top],
            companion=self._companion[self._by_companion[0]],
            companion_gap=max(self._companion_gap),
            top_companion=self._companion_gap[top],
            companion_margin=self._companion_margin(top),
            unknown=self._unknown[top],
            anchor_gap=self._anchor[top],
        )

    def _first_other(self, i: int, order: list[int]) -> int | None:
        """The first candidate in ``order`` outside ``i``'s unit (itself, its translations)."""
        x = self._ids[i]
        theirs = self._aligned.get(x, ())
        return next((j for j in order if self._ids[j] != x and self._ids[j] not in theirs), None)

    def _margin(self, i: int) -> float:
        """Candidate ``i``'s fused score minus the best other's (negative unless first)."""
        j = self._first_other(i, self._ranked)
        return 0.05 if j is None else self._score[i] - self._score[j]

    def _relative_margin(self, i: int) -> float:
        j = self._first_other(i, self._by_relative)
        return 0.05 if j is None else self._relative[i] - self._relative[j]

    def _companion_margin(self, i: int) -> float:
        j = self._first_other(i, self._by_companion)
        return 0.0 if j is None else self._companion[i] - self._companion[j]

    def passage(self, c: Candidate | int) -> Evidence:
        """A candidate's own evidence (``c``, or its paragraph number), as if it were the only
        answer offered (with its translation's: the two are one answer)."""
        i = self.slot[c if isinstance(c, int) else c.id]
        cols = self.columns
        dense, counterpart = float(cols.dense[i]), float(cols.counterpart_dense[i])
        sentence = float(cols.sentence[i])
        counterpart_sentence = float(cols.counterpart_sentence[i])
        return Evidence(self.language, dense=self._dense[i], gap=self._relative[i],
                        same=self._same[i], cross=self._cross[i], margin=self._margin(i),
                        relative_margin=self._relative_margin(i), top_share=self._share[i],
                        top_gap=self._relative[i],
                        sentence=max(_sentence_of(sentence, dense),
                                     _sentence_of(counterpart_sentence, counterpart)),
                        paragraph=dense if math.isnan(counterpart) else max(dense, counterpart),
                        coverage_gap=self._gap[i],
                        companion=self._companion[i], companion_gap=self._companion_gap[i],
                        top_companion=self._companion_gap[i],
                        companion_margin=self._companion_margin(i),
                        unknown=self._unknown[i], anchor_gap=self._anchor[i])


def _sentence_of(sentence: float, dense: float) -> float:
    """A paragraph's best sentence cosine (its own cosine when it stores no sentences; -1
    for a side that does not exist). NaN stands for None."""
    if not math.isnan(sentence):
        return sentence
    return dense if not math.isnan(dense) else -1.0


def question_evidence(candidates: Columns | Sequence[Candidate], language: str,
                      aligned: Mapping[int, Sequence[int]] | None = None) -> Evidence:
    """The question-level evidence: the best of every candidate's, and the margins."""
    return Judge(candidates, language, aligned).question
