"""Sentence-level keyword evidence: stored sentence vocabularies, window coverage, ranking."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from corpus.models import Paragraph
from embeddings import fusion
from embeddings.fusion import Candidate
from embeddings.keyword import KeywordIndex
from embeddings.sentence_terms import SentenceTerms, build_units, save_units
from embeddings.sentences import paragraph_sentences, split_sentences
from embeddings.tokenize import tokenize

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
