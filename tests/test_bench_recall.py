"""The bench's HNSW recall figures: at k = 10 and at the retriever's own breadth."""

from __future__ import annotations

import numpy as np

from bench.ask import _recall
from embeddings.fusion import BASELINE_CANDIDATES
from embeddings.index import DenseIndex
from embeddings.retriever import ROWS_PER_PARAGRAPH
from settings.config import IndexConfig


def test_recall_is_measured_at_the_retrievers_breadth() -> None:
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((3000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    dense = DenseIndex.build(vectors, IndexConfig(), kind="hnsw", progress=False)
    found = _recall(dense, vectors, rng, 64)
    breadth = BASELINE_CANDIDATES * ROWS_PER_PARAGRAPH
    assert found["hnsw_retriever_rows"] == breadth
    for row in found["hnsw_sweep"].values():
        assert 0.0 <= row["recall_at_10"] <= 1.0
        assert 0.0 <= row[f"recall_at_{BASELINE_CANDIDATES}_of_{breadth}"] <= 1.0
        assert row[f"ms_per_query_{breadth}"] > 0
    # The widest search of a small index finds nearly all of the exact 50 nearest.
    assert found["hnsw_sweep"]["512"][f"recall_at_{BASELINE_CANDIDATES}_of_{breadth}"] >= 0.95
    assert found[f"hnsw_recall_at_{BASELINE_CANDIDATES}"] == \
        found["hnsw_sweep"]["64"][f"recall_at_{BASELINE_CANDIDATES}_of_{breadth}"]
