"""The dense index: inner product over L2-normalised vectors (so scores are cosines).

Exact (``IndexFlatIP``) up to ``[index].approximate_above`` rows. Above it an exact scan
would make each query cost linear in the corpus, so an HNSW graph over 8-bit scalar-
quantised codes (``IndexHNSWSQ``: a quarter of float32's memory) finds candidates and the
exact float32 vectors — a memory-mapped ``dense_vectors.npy`` beside it, only the rows a
query touches are read — re-rank them: every score the index returns is an exact cosine.

A generation written before the split (``IndexHNSWFlat`` holding its own vectors) still
loads and answers the same way.
"""

from __future__ import annotations

import logging
from pathlib import Path

import faiss
import numpy as np
from tqdm.auto import tqdm

from embeddings.half import run_max
from settings.config import IndexConfig

log = logging.getLogger(__name__)

FILENAME = "dense.faiss"
VECTORS = "dense_vectors.npy"  # float32 rows of an approximate index (exact re-ranking)
_ADD_BATCH = 20_000
# The scalar quantiser's per-dimension ranges are trained on at most this many rows.
_TRAIN_ROWS = 100_000
# An approximate search fetches more rows than asked for — a quarter more, and at least
# RERANK_EXTRA more — and keeps the best by exact cosine: quantisation reorders near
# neighbours, re-ranking restores their order. Only the rows near the k-th trade places, so
# the margin need not grow with k as fast as k: for the retriever's 150 rows, twice as many
# (what it fetched before) cost 1.08 ms a query on 100k vectors shaped like real e5 ones and
# a quarter more 0.70 ms, recall of the 50 candidates it keeps 0.9996 vs 0.997 (measured
# with this index; `make bench` reports the same recall at 1M: hnsw_recall_at_50_realistic).
RERANK_EXTRA = 30
RERANK_SHARE = 0.25


class DenseIndex:
    """A built FAISS index; row ``i`` is the ``i``-th vector given to :meth:`build`."""

    def __init__(self, index: faiss.Index, kind: str, exact: np.ndarray | None = None) -> None:
        self.index = index
        self.kind = kind
        # float32 vectors by row when the FAISS index holds only codes (None: it holds them).
        self.exact = exact

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
    ) -> DenseIndex:
        """Index ``vectors`` (n × d float32, L2-normalised); ``kind`` overrides the size rule."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"expected a 2-D array of vectors, got shape {vectors.shape}")
        n, dim = vectors.shape
        kind = kind or cls.kind_for(n, config)
        exact: np.ndarray | None = None
        index: faiss.Index
        if kind == "hnsw":
            hnsw = faiss.IndexHNSWSQ(
                dim, faiss.ScalarQuantizer.QT_8bit,  # type: ignore[arg-type]  # stubs: an enum int
                config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efSearch = config.hnsw_ef_search
            hnsw.hnsw.efConstruction = config.hnsw_ef_construction
            step = max(1, n // _TRAIN_ROWS)
            hnsw.train(vectors[::step])
            index, exact = hnsw, vectors
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
        return cls(index, kind, exact)

    def search(self, queries: np.ndarray, k: int, rows: np.ndarray | None = None,
               ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (exact cosines, rows) per query, best first; rows are -1 where fewer
        than ``k`` exist. ``rows`` (a boolean mask over all rows) restricts the search."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim == 1:
            queries = queries[None, :]
        if self.ntotal == 0:
            empty = np.empty((len(queries), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        k = max(1, min(k, self.ntotal))
        approximate = isinstance(self.index, faiss.IndexHNSW)
        fetch = (min(self.ntotal, k + max(RERANK_EXTRA, int(k * RERANK_SHARE))) if approximate
                 else k)
        params = self._params(fetch, rows)
        scores, found = self.index.search(queries, fetch, params=params)
        if approximate:
            scores, found = self._rerank(queries, found, k)
        return scores, found

    def _params(self, fetch: int, rows: np.ndarray | None) -> faiss.SearchParameters | None:
        """FAISS search parameters: the row filter and (HNSW) a breadth of at least ``fetch``."""
        selector = None
        if rows is not None:
            bits = np.packbits(np.asarray(rows, dtype=bool), bitorder="little")
            selector = faiss.IDSelectorBitmap(len(rows), faiss.swig_ptr(bits))
            # SWIG holds a bare pointer: the bitmap must live as long as the selector.
            selector.referenced = bits  # type: ignore[attr-defined]  # a plain Python attribute
        if isinstance(self.index, faiss.IndexHNSW):
            params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]  # not in the stubs
            params.efSearch = max(int(self.index.hnsw.efSearch), fetch)
        elif selector is None:
            return None
        else:
            params = faiss.SearchParameters()
        if selector is not None:
            params.sel = selector
            params.referenced = selector  # SWIG keeps no reference to the selector
        return params

    def _rerank(self, queries: np.ndarray, found: np.ndarray, k: int
                ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best of each query's ``found`` rows by exact cosine."""
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        rows = np.full((len(queries), k), -1, dtype=np.int64)
        for i, (query, candidates) in enumerate(zip(queries, found, strict=False)):
            candidates = candidates[candidates >= 0]
            if self.exact is not None:  # each candidate a run of one row: one compiled pass
                exact = run_max(self.exact, candidates, candidates + 1, query)
            else:
                exact = self.vectors(candidates) @ query
            order = np.argsort(-exact, kind="stable")[:k]
            scores[i, :len(order)] = exact[order]
            rows[i, :len(order)] = candidates[order]
        return scores, rows

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """The exact stored vectors of ``rows`` (float32)."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.exact is not None:
            return np.asarray(self.exact[rows], dtype=np.float32)
        return np.asarray(self.index.reconstruct_batch(rows), dtype=np.float32)

    def set_ef_search(self, ef: int) -> None:
        """Change HNSW's search breadth (no effect on exact indexes)."""
        if isinstance(self.index, faiss.IndexHNSW):
            self.index.hnsw.efSearch = ef

    def save(self, directory: Path) -> Path:
        """Write the index to ``directory/dense.faiss`` (and the exact vectors of an
        approximate one beside it); the caller fsyncs the generation."""
        path = Path(directory) / FILENAME
        faiss.write_index(self.index, str(path))
        if self.exact is not None:
            np.save(Path(directory) / VECTORS, np.ascontiguousarray(self.exact, dtype=np.float32))
        return path

    @classmethod
    def load(cls, directory: Path, config: IndexConfig) -> DenseIndex:
        """Read ``directory/dense.faiss`` (the exact vectors memory-mapped)."""
        index = faiss.read_index(str(Path(directory) / FILENAME))
        # read_index already returns the concrete class; downcasting again would drop ownership.
        if isinstance(index, faiss.IndexHNSW):
            index.hnsw.efSearch = config.hnsw_ef_search
            exact = None
            if (Path(directory) / VECTORS).is_file():
                # A plain view of the map: numpy's memmap subclass costs per indexing call.
                exact = np.asarray(np.load(Path(directory) / VECTORS, mmap_mode="r"))
                if exact.shape != (index.ntotal, index.d):
                    raise ValueError(f"{VECTORS} in {directory} does not match {FILENAME}")
            elif isinstance(index, faiss.IndexHNSWSQ):
                raise ValueError(f"{VECTORS} missing in {directory}")
            return cls(index, "hnsw", exact)
        return cls(index, "flat")
