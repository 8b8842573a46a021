"""Splitting giant paragraphs: every shape completes, every passage fits the real model's
window, passages are verbatim slices that cover the text, and the tokeniser's work is
linear in the text's length (the characters it is given are counted, not the time).

The sizes here are small (a few hundred KB) so `make test` stays fast; `make bench`
times the same shapes at 1, 5 and 20 MB (bench/split.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.split import SHAPES, make_text
from corpus.sentences import sentence_spans
from embeddings.passages import split_passage_spans
from tests.index_support import index_encoder  # noqa: F401 - fixture

SIZE = 200_000  # characters per shape


class CountingEncoder:
    """The real encoder's token counting, recording how many characters it was given."""

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder
        self.window = encoder.window
        self.calls = 0
        self.chars = 0
        self.largest = 0

    def count_tokens(self, text: str, is_query: bool = False) -> int:
        self.calls += 1
        self.chars += len(text)
        self.largest = max(self.largest, len(text))
        return self.encoder.count_tokens(text, is_query=is_query)


def _check_cover(text: str, spans: list[tuple[int, int]]) -> None:
    """Spans are in order, start at 0, leave no non-space gap and reach the end."""
    assert spans[0][0] == 0
    reached = 0
    for start, end in spans:
        assert start <= reached or not text[reached:start].strip(), (reached, start)
        assert end > start
        reached = max(reached, end)
    assert not text[reached:].strip()


@pytest.mark.parametrize("shape", SHAPES)
def test_giant_paragraph_splits_in_linear_work_and_every_passage_fits(shape: str,
                                                                      index_encoder: Any) -> None:
    text = make_text(shape, SIZE)
    assert len(text) == SIZE
    counter = CountingEncoder(index_encoder)
    spans = split_passage_spans(text, counter)
    assert len(spans) > SIZE // 4000  # ~2,000 characters at most fit in 512 tokens
    # Linear work: each character reaches the tokeniser a few times (units, then windows),
    # never in one huge call. The old binary search gave it quadratic amounts.
    assert counter.largest <= index_encoder.window * 16
    assert counter.chars <= 6 * SIZE, (counter.chars, counter.calls)
    _check_cover(text, spans)
    for start, end in spans:
        passage = text[start:end].strip()
        assert passage and passage == text[start:end].strip()  # verbatim slice
        assert index_encoder.count_tokens(passage) <= index_encoder.window


def test_unbroken_run_is_cut_without_overlap_or_loss(index_encoder: Any) -> None:
    text = make_text("unbroken", 30_000)
    spans = split_passage_spans(text, index_encoder)
    assert "".join(text[a:b] for a, b in spans) == text


def test_many_abbreviations_and_tiny_sentences_stay_linear(index_encoder: Any) -> None:
    # Every period follows an abbreviation: the sentence never ends. And the opposite:
    # thousands of two-word sentences.
    for text in ("Mr. Dr. Gen. " * 20_000, "Hi there. " * 20_000):
        counter = CountingEncoder(index_encoder)
        spans = split_passage_spans(text, counter)
        assert counter.chars <= 6 * len(text)
        assert all(index_encoder.count_tokens(text[a:b].strip()) <= index_encoder.window
                   for a, b in spans)
        _check_cover(text, spans)
    assert len(sentence_spans("Mr. Dr. Gen. " * 20_000)) == 1
