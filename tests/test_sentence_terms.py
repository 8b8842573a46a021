"""Sentence-level keyword evidence: stored sentence vocabularies, window coverage, ranking."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from corpus.models import Paragraph
from embeddings import fusion, sentence_terms
from embeddings.fusion import Candidate
from embeddings.kernels import KERNEL
from embeddings.keyword import KeywordIndex
from embeddings.sentence_terms import WINDOW, SentenceTerms, build_units, save_units
from embeddings.sentences import paragraph_sentences, split_sentences
from embeddings.tokenize import tokenize

# The compiled kernel's own checks are skipped where the install could not build it
# (tests/test_half.py fails once, naming it).
needs_kernel = pytest.mark.skipif(KERNEL == "numpy", reason="embeddings/_rows.c was not built")

# Two paragraphs of one article share its words; only the first holds the question's words
# in one sentence (the second has them scattered three sentences apart).
TEXTS = [
    "Phoenicia was an ancient civilisation. Its cities traded purple dye across the sea. "
    "Tyre and Sidon were its harbours.",
    "The sea carried trade in many goods. Ancient harbours grew rich. Purple cloth was "
    "prized. Phoenicia later fell to Persia.",
    "Seoul is the capital of Korea.",
]
QUESTION = "Which ancient civilisation traded purple dye?"


def _stored(tmp_path: Path) -> tuple[KeywordIndex, SentenceTerms]:
    paragraphs = [Paragraph(f"p{i}", "a", "en", i + 1, t) for i, t in enumerate(TEXTS)]
    tokens = [tokenize(t) for t in TEXTS]
    keyword = KeywordIndex.build([p.id for p in paragraphs], TEXTS, tokens=tokens)
    sentence_texts, start = paragraph_sentences(paragraphs)
    save_units(tmp_path, *build_units(tokens, [tokenize(s) for s in sentence_texts], start,
                                      keyword.vocabulary))
    terms = SentenceTerms.load(tmp_path, len(TEXTS))
    assert terms is not None
    return keyword, terms


def test_coverage_prefers_the_paragraph_holding_the_words_together(tmp_path: Path) -> None:
    keyword, terms = _stored(tmp_path)
    scores = keyword.scores(tokenize(QUESTION))
    ids, weights = scores.terms()
    assert list(ids) == sorted(set(ids.tolist())) and (weights > 0).all()
    coverage = dict(enumerate(terms.coverage(ids, weights, [0, 1, 2]).tolist()))
    # Paragraph 0's first two sentences hold every word; paragraph 1 scatters them.
    assert coverage[0] == pytest.approx(1.0)
    assert 0 < coverage[1] < coverage[0]
    assert coverage[2] == 0.0
    # A one-sentence paragraph is one unit; per-sentence coverage follows the split.
    assert len(terms.sentence_coverage(ids, weights, 0)) == len(split_sentences(TEXTS[0], "en"))
    assert len(terms.sentence_coverage(ids, weights, 2)) == 1


def test_window_does_not_join_sentences_of_two_paragraphs(tmp_path: Path) -> None:
    keyword, terms = _stored(tmp_path)
    # "Persia" ends paragraph 1 and "Seoul" is paragraph 2: no window holds both.
    ids, weights = keyword.scores(tokenize("Persia Seoul")).terms()
    coverage = dict(zip([1, 2], terms.coverage(ids, weights, [1, 2]).tolist(), strict=True))
    share = dict(zip(ids.tolist(), (weights / weights.sum()).tolist(), strict=True))
    vocab = keyword.vocabulary
    assert coverage[1] == pytest.approx(share[vocab["persia"]])
    assert coverage[2] == pytest.approx(share[vocab["seoul"]])


def test_a_generation_without_sentence_terms_loads_as_none(tmp_path: Path) -> None:
    assert SentenceTerms.load(tmp_path, 3) is None
    _stored(tmp_path)
    with pytest.raises(ValueError, match="do not match"):
        SentenceTerms.load(tmp_path, 4)


def test_sentence_evidence_ranks_the_answering_paragraph_above_its_neighbour() -> None:
    # Same article, near-equal cosines and paragraph shares: the sentence coverage decides.
    answer = Candidate(id=1, language="ko", dense=0.86, sentence=0.87, share=0.7, centre=0.8,
                       sentence_share=0.9)
    neighbour = Candidate(id=2, language="ko", dense=0.865, sentence=0.875, share=0.75,
                          centre=0.8, sentence_share=0.4)
    assert [i for i, _ in fusion.fuse([answer, neighbour], "pooled", "ko")] == [1, 2]
    # Without stored sentence terms (None) the evidence is neutral: the old order.
    old = [dataclasses.replace(c, sentence_share=None) for c in (answer, neighbour)]
    assert [i for i, _ in fusion.fuse(old, "pooled", "ko")] == [2, 1]


def test_sentence_evidence_crosses_to_the_translation_and_is_neutral_without_one() -> None:
    # An English question: a Korean paragraph is judged by its English translation's
    # sentences; one without a translation neither gains nor loses.
    bilingual = Candidate(id=1, language="ko", dense=0.85, sentence=0.85, centre=0.8,
                          counterpart_dense=0.85, counterpart_sentence=0.85,
                          counterpart_centre=0.8, sentence_share=0.0,
                          counterpart_sentence_share=0.8)
    alone = Candidate(id=2, language="ko", dense=0.85, sentence=0.85, centre=0.8, sentence_share=0.0)
    assert bilingual.sentence_side("en") == 0.8 and alone.sentence_side("en") is None
    assert fusion.sentence_top([bilingual, alone], "en") == 0.8
    scores = fusion.pooled_scores([bilingual, alone], "en")
    assert np.isclose(scores[1], scores[2])


def _expected_coverage(units: list[list[int]], paragraph_units: np.ndarray, query: np.ndarray,
                       weights: np.ndarray, number: int) -> float:
    """The definition, one paragraph at a time: the best window of WINDOW adjacent units."""
    first, last = int(paragraph_units[number]), int(paragraph_units[number + 1])
    best = 0.0
    for u in range(first, last):
        held = set().union(*(units[v] for v in range(u, min(u + WINDOW, last))))
        best = max(best, min(sum(w for q, w in zip(query, weights) if q in held) / weights.sum(), 1.0))
    return best


@pytest.mark.parametrize("kernel", [pytest.param("compiled", marks=needs_kernel), "numpy"])
def test_window_coverage_follows_its_definition_in_the_kernel_and_in_numpy(
        kernel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Random sentence vocabularies: paragraphs of no unit, one, and many; query tokens held
    # by no unit, by one, or split across two adjacent units (the window joins them).
    if kernel == "numpy":
        monkeypatch.setattr(sentence_terms, "compiled", None)
    rng = np.random.default_rng(21)
    sizes = [0, 1, 4, 2, 0, 7, 3, 1]
    paragraph_units = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    units = [sorted(set(rng.integers(0, 40, rng.integers(0, 9)).tolist()))
             for _ in range(int(paragraph_units[-1]))]
    terms = np.array([t for u in units for t in u], dtype=np.int32)
    unit_start = np.concatenate([[0], np.cumsum([len(u) for u in units])]).astype(np.int64)
    stored = SentenceTerms(terms, unit_start, paragraph_units)
    numbers = np.array([5, 0, 2, 1, 7, 3, 6, 5, 4], dtype=np.int64)
    for query_size in (1, 3, 6, 12):
        query = np.sort(rng.choice(45, query_size, replace=False)).astype(np.int64)
        weights = rng.uniform(0.5, 5.0, query_size)
        got = stored.coverage(query, weights, numbers)
        expected = [_expected_coverage(units, paragraph_units, query, weights, int(n))
                    for n in numbers]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
        assert got[1] == 0.0 and got[8] == 0.0  # paragraphs without units
        for n in range(len(sizes)):  # each unit's own share, as answers trim with it
            first, last = int(paragraph_units[n]), int(paragraph_units[n + 1])
            per_unit = [sum(w for q, w in zip(query, weights) if q in units[u]) / weights.sum()
                        for u in range(first, last)]
            np.testing.assert_allclose(stored.sentence_coverage(query, weights, n), per_unit,
                                       rtol=0, atol=1e-12)
    assert np.array_equal(stored.coverage(query, np.zeros_like(weights), numbers), np.zeros(len(numbers)))


@needs_kernel
def test_window_coverage_refuses_a_paragraph_outside_the_index() -> None:
    stored = SentenceTerms(np.array([1, 2], dtype=np.int32), np.array([0, 2], dtype=np.int64),
                           np.array([0, 1], dtype=np.int64))
    with pytest.raises(IndexError, match="outside the index"):
        stored.coverage(np.array([1], dtype=np.int64), np.array([1.0]), np.array([1]))


def test_window_coverage_takes_strided_numbers_and_older_offsets() -> None:
    # A view of every other number reaches the kernel as a copy; offsets stored as int32
    # (not what a refresh writes, but readable) are served by numpy: the same shares.
    terms = np.array([1, 2, 3, 5], dtype=np.int32)
    numbers = np.array([0, 9, 1, 9])[::2]
    for unit_start in (np.array([0, 2, 4], dtype=np.int64), np.array([0, 2, 4], dtype=np.int32)):
        stored = SentenceTerms(terms, unit_start, np.array([0, 1, 2], dtype=np.int64))
        got = stored.coverage(np.array([2, 5], dtype=np.int64), np.array([1.0, 3.0]), numbers)
        np.testing.assert_allclose(got, [0.25, 0.75], rtol=0, atol=1e-12)
