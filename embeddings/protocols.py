"""The encoder seam: what the retriever, the refresh, answers and the bench need of a model.

:class:`embeddings.encoder.Encoder` implements it (sentence-transformers); so do the tests'
stand-ins and anything the bench times. Vectors are float32, L2-normalised, one row a text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


class PassageEncoder(Protocol):
    """What a refresh needs of a model to encode and cache paragraphs (the companion
    encoder, ``embeddings.companion``, is one; so is every :class:`TextEncoder`)."""

    fingerprint: str  # changes whenever the vectors would (the cache keys on it)
    dimension: int

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Passages → float32 (n, dimension)."""
        ...


@runtime_checkable
class TextEncoder(Protocol):
    """Turns questions and passages into vectors; names the model that made them."""

    model_name: str
    fingerprint: str  # changes whenever the vectors would (an index records it)
    dimension: int
    window: int  # tokens per model input, special tokens included

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Questions (with the model's query prompt) → float32 (n, dimension)."""
        ...

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Passages (with the passage prompt) → float32 (n, dimension)."""
        ...

    def count_tokens(self, text: str, is_query: bool = False) -> int:
        """Tokens the model is fed for ``text`` (prompt and special tokens), untruncated."""
        ...


def as_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list, refusing a bare str (a ``Sequence[str]`` to mypy) and non-strings.

    Every encoder checks its input with it, so a caller's mistake fails the same way on any.
    """
    if isinstance(texts, str):
        raise TypeError("pass a sequence of texts, not a single string")
    result = list(texts)
    for i, text in enumerate(result):
        if not isinstance(text, str):
            raise TypeError(f"text {i} is {type(text).__name__}, not str")
    return result
