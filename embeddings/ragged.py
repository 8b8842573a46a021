"""Ragged-array helpers: many variable-length runs of one flat array, handled at once.

The generation stores per-paragraph runs (dense rows, sentence vectors, sentence
vocabularies) as a flat array plus offsets; a search gathers a few hundred such runs and
takes each run's best. One gather and one reduction instead of a Python loop per run.
"""

from __future__ import annotations

import numpy as np


def ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(s, e)`` for every (s, e), vectorised."""
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    return np.arange(total, dtype=np.int64) + offsets


def segment_max(values: np.ndarray, lengths: np.ndarray, empty: float = 0.0) -> np.ndarray:
    """Max of each consecutive segment of ``values`` (``lengths`` of them; ``empty`` for an
    empty one)."""
    out = np.full(len(lengths), empty, dtype=np.float64)
    filled = lengths > 0
    if filled.any():
        starts = (np.cumsum(lengths) - lengths)[filled]
        out[filled] = np.maximum.reduceat(values, starts)
    return out
