"""Sentences of paragraphs, and the sentence vectors stored with an index.

Every paragraph's sentences are encoded at index time (`dari index`, incrementally through
the embedding cache, like passages) and stored in the generation as float16, memory-mapped:

- retrieval uses each paragraph's best sentence as evidence beside the whole paragraph's
  cosine (a question usually matches one sentence of a long paragraph: on the KorQuAD tune
  half, the best sentence finds the right paragraph far more often than the paragraph's
  own vector does — see ``docs/retrieval.md``);
- answers trim long paragraphs with the stored vectors, so a question costs one encoding.

A paragraph of one sentence stores none: its paragraph vector is its sentence vector.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from corpus import sentences
from corpus.models import Paragraph
from embeddings.half import run_max, to_float32
from embeddings.tokenize import kiwi_sentences

# Korean sentences written without final punctuation (quotations, 다/요 endings) that the
# punctuation rule leaves together are cut by kiwipiepy.
_KO_END = re.compile(r"(?<=[다요죠까])(?=[.!?]?[\"'”’]?\s)")


def split_sentences(text: str, language: str) -> list[str]:
    """Split a paragraph into sentences: :func:`corpus.sentences.split_sentences`, and for
    Korean a morphological pass (kiwipiepy) over pieces that still hold several sentences
    without final punctuation."""
    pieces = sentences.split_sentences(text)
    if language != "ko":
        return pieces
    out: list[str] = []
    for piece in pieces:
        if _KO_END.search(piece[:-1]):
            out.extend(_kiwi_sentences(piece))
        else:
            out.append(piece)
    return out


def _kiwi_sentences(text: str) -> list[str]:
    return [s for s in kiwi_sentences(text) if s] or [text]


# Longest sentence text encoded, in characters: a "sentence" without punctuation can be a
# whole paragraph (the encoder would truncate it anyway); its first part stands for it.
MAX_SENTENCE_CHARS = 2000
SENTENCES = "sentences.npy"  # float16, one row per stored sentence
SENTENCE_START = "sentence_start.npy"  # int64, paragraph n's rows: start[n]:start[n + 1]


class SentenceSource(Protocol):
    """Where answers get what the index stores of a paragraph's sentences (None: not
    stored): their vectors, and how much of a question's vocabulary each one holds."""

    def sentence_vectors_of(self, paragraph: Paragraph) -> np.ndarray | None: ...

    def sentence_coverage_of(self, paragraph: Paragraph, question: str) -> np.ndarray | None: ...


def paragraph_sentences(paragraphs: Sequence[Paragraph]) -> tuple[list[str], np.ndarray]:
    """The sentences to store for ``paragraphs`` (in order) and the start offsets per
    paragraph (paragraphs of one sentence store none)."""
    texts: list[str] = []
    start = np.zeros(len(paragraphs) + 1, dtype=np.int64)
    for n, p in enumerate(paragraphs):
        found = split_sentences(p.text, p.language)
        if len(found) > 1:
            texts.extend(t[:MAX_SENTENCE_CHARS] for t in found)
        start[n + 1] = len(texts)
    return texts, start


def save_sentences(directory: Path, vectors: np.ndarray, start: np.ndarray) -> None:
    """Write a generation's sentence vectors (float16) and offsets."""
    np.save(Path(directory) / SENTENCES, np.asarray(vectors, dtype=np.float16))
    np.save(Path(directory) / SENTENCE_START, np.asarray(start, dtype=np.int64))


class StoredSentences:
    """A generation's sentence vectors, memory-mapped (read side)."""

    def __init__(self, vectors: np.ndarray, start: np.ndarray) -> None:
        self.vectors = vectors
        self.start = start

    @classmethod
    def load(cls, directory: Path, paragraphs: int) -> StoredSentences | None:
        """The generation's sentences, or None for a generation built before they existed."""
        directory = Path(directory)
        if not (directory / SENTENCES).is_file() or not (directory / SENTENCE_START).is_file():
            return None
        start = np.load(directory / SENTENCE_START)
        # A plain view of the map: numpy's memmap subclass costs per indexing call.
        vectors = np.asarray(np.load(directory / SENTENCES, mmap_mode="r"))
        if len(start) != paragraphs + 1 or int(start[-1]) != len(vectors):
            raise ValueError(f"sentence vectors in {directory} do not match its paragraphs")
        return cls(vectors, start)

    def of(self, n: int) -> np.ndarray | None:
        """Paragraph ``n``'s sentence vectors (float32), None if it stores none."""
        a, b = int(self.start[n]), int(self.start[n + 1])
        return to_float32(self.vectors[a:b]) if b > a else None

    def best(self, query_vector: np.ndarray, numbers: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
        """Each paragraph's best sentence cosine, and whether it stores sentences at all (a
        one-sentence paragraph stores none: its own vector is its sentence's).

        One call for all of ``numbers`` (a query scores a few hundred)."""
        wanted = np.asarray(numbers, dtype=np.int64)
        starts, ends = self.start[wanted], self.start[wanted + 1]
        return run_max(self.vectors, starts, ends, query_vector), ends > starts
