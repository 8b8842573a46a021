"""Which of a question's keywords each sentence holds: keyword evidence at sentence level.

A question is usually written about one sentence of a passage ("고대 가나안 북쪽을 근거지로
하는 고대 문명은?" restates the sentence that names Phoenicia). Paragraph BM25 cannot tell a
paragraph whose one sentence holds the question's rare words from a neighbouring paragraph
of the same article whose sentences hold them scattered: the two share the article's
vocabulary. Term *proximity* can, and it is article-independent: it is how a question
relates to the sentence it asks about, whatever the topic. On the KorQuAD tune half nearly
every ranking error was the right article's neighbouring paragraph (``docs/retrieval.md``).

At index time every paragraph's sentences (as ``embeddings.sentences`` splits them; one unit
for a paragraph of one sentence) are tokenised like the keyword index and stored as sorted
vocabulary ids, memory-mapped from the generation. At question time a candidate's evidence
is the best *coverage* of any window of two adjacent sentences: the share of the question's
IDF-weighted vocabulary (each token weighs its best BM25 contribution, as the paragraph
share does) that the window holds. Two, because an answer often spans a sentence and the
one that names its subject. Answers trim with the same per-sentence coverage.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from corpus.models import Paragraph
from embeddings.kernels import compiled
from embeddings.ragged import ranges, segment_max
from embeddings.sentences import MAX_SENTENCE_CHARS
from embeddings.tokenize import tokenize

TERMS = "sentence_terms.npy"  # int32 vocabulary ids, each unit's sorted and unique
UNIT_START = "sentence_term_start.npy"  # int64, unit u's ids: TERMS[start[u]:start[u + 1]]
PARAGRAPH_UNITS = "paragraph_units.npy"  # int64, paragraph n's units: units[n]:units[n + 1]
# Sentences per window: a window of two adjacent sentences covers an answer split across
# a sentence and the one naming its subject (measured: 1 and 2 on the KorQuAD tune half).
WINDOW = 2


def keyword_tokens(paragraphs: Sequence[Paragraph], sentence_texts: Sequence[str],
                   sentence_start: np.ndarray, progress: bool = False
                   ) -> tuple[list[list[str]], list[list[str]]]:
    """Keyword tokens of every paragraph and of every stored sentence, tokenising each text
    once: a paragraph's tokens are its sentences' in order (kiwipiepy's analysis barely
    depends on the neighbouring sentence: 0.07 % of tokens differ on KorQuAD paragraphs),
    except where a sentence was cut to ``MAX_SENTENCE_CHARS`` (the paragraph is tokenised
    whole, so BM25 still sees every word). Tokenising is most of a keyword build's time."""
    sentence_tokens = [tokenize(t) for t in tqdm(sentence_texts, desc="keyword tokens",
                                                 unit="sentence", disable=not progress,
                                                 leave=False)]
    tokens: list[list[str]] = []
    for n, p in enumerate(paragraphs):
        a, b = int(sentence_start[n]), int(sentence_start[n + 1])
        if b > a and all(len(sentence_texts[i]) < MAX_SENTENCE_CHARS for i in range(a, b)):
            tokens.append([t for i in range(a, b) for t in sentence_tokens[i]])
        else:
            tokens.append(tokenize(p.text))
    return tokens, sentence_tokens


def build_units(paragraph_tokens: Sequence[Sequence[str]], sentence_tokens: Sequence[Sequence[str]],
                sentence_start: np.ndarray, vocab: dict[str, int]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The arrays :class:`SentenceTerms` stores.

    ``sentence_start`` is ``embeddings.sentences.paragraph_sentences``'s offsets into
    ``sentence_tokens`` (a paragraph of one sentence has none: its own ``paragraph_tokens``
    are its one unit). Tokens outside ``vocab`` are dropped (they match no question).
    """
    terms: list[np.ndarray] = []
    unit_start = [0]
    paragraph_units = np.zeros(len(paragraph_tokens) + 1, dtype=np.int64)
    for n, own in enumerate(paragraph_tokens):
        a, b = int(sentence_start[n]), int(sentence_start[n + 1])
        units = [sentence_tokens[i] for i in range(a, b)] if b > a else [own]
        for tokens in units:
            ids = np.unique(np.fromiter((vocab[t] for t in tokens if t in vocab), dtype=np.int64))
            terms.append(ids.astype(np.int32))
            unit_start.append(unit_start[-1] + len(ids))
        paragraph_units[n + 1] = paragraph_units[n] + len(units)
    flat = np.concatenate(terms) if terms else np.zeros(0, dtype=np.int32)
    return flat.astype(np.int32), np.asarray(unit_start, dtype=np.int64), paragraph_units


def save_units(directory: Path, terms: np.ndarray, unit_start: np.ndarray,
               paragraph_units: np.ndarray) -> None:
    """Write the arrays of :func:`build_units` into ``directory``."""
    directory = Path(directory)
    np.save(directory / TERMS, np.asarray(terms, dtype=np.int32))
    np.save(directory / UNIT_START, np.asarray(unit_start, dtype=np.int64))
    np.save(directory / PARAGRAPH_UNITS, np.asarray(paragraph_units, dtype=np.int64))


class SentenceTerms:
    """A generation's sentence vocabularies, memory-mapped (read side)."""

    def __init__(self, terms: np.ndarray, unit_start: np.ndarray, paragraph_units: np.ndarray) -> None:
        self.terms = terms
        self.unit_start = unit_start
        self.paragraph_units = paragraph_units
        # The compiled kernel reads the stored arrays in place: int32 ids, int64 offsets.
        self._kernel = (compiled is not None and terms.dtype == np.int32
                        and unit_start.dtype == np.int64 and terms.flags.c_contiguous
                        and unit_start.flags.c_contiguous)

    @classmethod
    def load(cls, directory: Path, paragraphs: int) -> SentenceTerms | None:
        """The generation's sentence terms, or None for one built before they existed."""
        directory = Path(directory)
        paths = [directory / name for name in (TERMS, UNIT_START, PARAGRAPH_UNITS)]
        if not all(p.is_file() for p in paths):
            return None
        terms = np.asarray(np.load(paths[0], mmap_mode="r"))
        unit_start, paragraph_units = np.load(paths[1]), np.load(paths[2])
        if (len(paragraph_units) != paragraphs + 1 or int(paragraph_units[-1]) != len(unit_start) - 1
                or int(unit_start[-1]) != len(terms)):
            raise ValueError(f"sentence terms in {directory} do not match its paragraphs")
        return cls(terms, unit_start, paragraph_units)

    def _presence(self, units: np.ndarray, query: np.ndarray) -> np.ndarray:
        """(len(units), len(query)) booleans: unit holds query token j (``query`` sorted)."""
        starts, ends = self.unit_start[units], self.unit_start[units + 1]
        lengths = ends - starts
        out = np.zeros((len(units), len(query)), dtype=bool)
        total = int(lengths.sum())
        if not total or not len(query):
            return out
        tokens = self.terms[ranges(starts, ends)]
        owner = np.repeat(np.arange(len(units)), lengths)
        where = np.minimum(np.searchsorted(query, tokens), len(query) - 1)
        found = query[where] == tokens
        out[owner[found], where[found]] = True
        return out

    def _compiled(self, paragraph_units: np.ndarray, numbers: np.ndarray, query: np.ndarray,
                  weights: np.ndarray, window: int) -> np.ndarray:
        """The kernel's best ``window`` coverage of each of ``numbers``, whose units
        ``paragraph_units`` gives (the generation's, or one "paragraph" per unit)."""
        assert compiled is not None
        out = np.empty(len(numbers), dtype=np.float64)
        compiled.window_coverage(self.terms, self.unit_start,
                                 np.ascontiguousarray(paragraph_units, dtype=np.int64),
                                 np.ascontiguousarray(numbers, dtype=np.int64),
                                 np.ascontiguousarray(query, dtype=np.int64),
                                 np.ascontiguousarray(weights, dtype=np.float64), window, out)
        return out

    def coverage(self, query: np.ndarray, weights: np.ndarray, numbers: Sequence[int] | np.ndarray
                 ) -> np.ndarray:
        """Each paragraph's best window coverage (in the order of ``numbers``) of the
        question's tokens ``query`` (sorted unique vocabulary ids) weighted by ``weights``;
        0 when the question has none."""
        wanted = np.asarray(numbers, dtype=np.int64)
        total = float(np.sum(weights))
        if not len(wanted) or total <= 0:
            return np.zeros(len(wanted), dtype=np.float64)
        if self._kernel:
            # One pass per paragraph, the units read in place (embeddings.kernels).
            return self._compiled(self.paragraph_units, wanted, query, weights, WINDOW)
        first, last = self.paragraph_units[wanted], self.paragraph_units[wanted + 1]
        counts = last - first
        units = ranges(first, last)
        present = self._presence(units, query)
        # A unit together with the next one of the same paragraph (WINDOW = 2); the last
        # unit of each paragraph stands alone.
        window = present.copy()
        has_next = np.ones(len(units), dtype=bool)
        has_next[np.cumsum(counts)[counts > 0] - 1] = False
        window[:-1][has_next[:-1]] |= present[1:][has_next[:-1]]
        # Clipped: summing the weights in another order can round a full window past 1.
        share = np.minimum(window.astype(np.float64) @ np.asarray(weights, dtype=np.float64)
                           / total, 1.0)
        return segment_max(share, counts)

    def sentence_coverage(self, query: np.ndarray, weights: np.ndarray, number: int) -> np.ndarray:
        """Paragraph ``number``'s per-sentence coverage (one value per stored unit)."""
        a, b = int(self.paragraph_units[number]), int(self.paragraph_units[number + 1])
        total = float(np.sum(weights))
        if b <= a or total <= 0:
            return np.zeros(max(0, b - a), dtype=np.float64)
        if self._kernel:
            # Each unit as a "paragraph" of its own, a window of one: the kernel's coverage.
            return self._compiled(np.arange(a, b + 1, dtype=np.int64),
                                  np.arange(b - a, dtype=np.int64), query, weights, 1)
        present = self._presence(np.arange(a, b, dtype=np.int64), query)
        return np.minimum(present.astype(np.float64) @ np.asarray(weights, dtype=np.float64)
                          / total, 1.0)
