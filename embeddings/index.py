"""The dense index: FAISS inner product over L2-normalised vectors (so scores are cosines).

Exact (``IndexFlatIP``) up to ``[index].approximate_above`` rows, HNSW above it, where an
exact scan would make each query cost linear in the corpus.
"""

from __future__ import annotations

import logging
from pathlib import Path

import faiss
import numpy as np
from tqdm.auto import tqdm

from settings.config import IndexConfig

log = logging.getLogger(__name__)

FILENAME = "dense.faiss"
_ADD_BATCH = 20_000


class DenseIndex:
    """A built FAISS index; row ``i`` is the ``i``-th vector given to :meth:`build`."""

    def __init__(self, index: faiss.Index, kind: str) -> None:
        self.index = index
        self.kind = kind

    @property
    def ntotal(self) -> int:
        """Number of vectors in the index."""
        return int(self.index.ntotal)

    @property
    def dimension(self) -> int:
        """Vector dimension."""
        return int(self.index.d)

    @staticmethod
    def kind_for(count: int, config: IndexConfig) -> str:
        """"flat" (exact) or "hnsw" for an index of ``count`` rows."""
        return "hnsw" if count > config.approximate_above else "flat"

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        config: IndexConfig,
        *,
        kind: str | None = None,
        progress: bool = True,
    ) -> "DenseIndex":
        """Index ``vectors`` (n × d float32, L2-normalised); ``kind`` overrides the size rule."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"expected a 2-D array of vectors, got shape {vectors.shape}")
        n, dim = vectors.shape
        kind = kind or cls.kind_for(n, config)
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = config.hnsw_ef_search
            # FAISS's default breadth: recall@10 ≈ 0.99 with ef_search 128 already, and the
            # build (a full rebuild on every refresh) is the slow part at a million rows.
            index.hnsw.efConstruction = 40
        elif kind == "flat":
            index = faiss.IndexFlatIP(dim)
        else:
            raise ValueError(f"unknown index kind {kind!r}")
        with tqdm(total=n, desc=f"indexing ({kind})", unit="vec", disable=not progress or n == 0,
                  leave=False) as bar:
            for start in range(0, n, _ADD_BATCH):
                chunk = vectors[start:start + _ADD_BATCH]
                index.add(chunk)
                bar.update(len(chunk))
        log.debug("built %s index: %d vectors of dimension %d", kind, n, dim)
        return cls(index, kind)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, rows) per query; rows are -1 where fewer than ``k`` exist."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim == 1:
            queries = queries[None, :]
        if self.ntotal == 0:
            empty = np.empty((len(queries), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        k = max(1, min(k, self.ntotal))
        scores, rows = self.index.search(queries, k)
        return scores, rows

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of ``rows`` (exact for both kinds: HNSW keeps flat storage)."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(self.index.reconstruct_batch(rows), dtype=np.float32)

    def set_ef_search(self, ef: int) -> None:
        """Change HNSW's search breadth (no effect on exact indexes)."""
        if isinstance(self.index, faiss.IndexHNSW):
            self.index.hnsw.efSearch = ef

    def save(self, directory: Path) -> Path:
        """Write the index to ``directory/dense.faiss`` (the caller fsyncs the generation)."""
        path = Path(directory) / FILENAME
        faiss.write_index(self.index, str(path))
        return path

    @classmethod
    def load(cls, directory: Path, config: IndexConfig) -> "DenseIndex":
        """Read ``directory/dense.faiss``."""
        index = faiss.read_index(str(Path(directory) / FILENAME))
        # read_index already returns the concrete class; downcasting again would drop ownership.
        if isinstance(index, faiss.IndexHNSW):
            index.hnsw.efSearch = config.hnsw_ef_search
            return cls(index, "hnsw")
        return cls(index, "flat")
