"""Dense index, manifest/CURRENT swap, embedding cache and refresh lock (real FAISS, real files)."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from embeddings.cache import EmbeddingCache, text_digest
from embeddings.index import DenseIndex
from embeddings.lock import RefreshBusy, RefreshLock
from embeddings.manifest import (
    IndexMismatch,
    Manifest,
    current_stamp,
    read_current,
    swap_current,
)
from embeddings.refresh import collect_garbage
from settings.config import IndexConfig


def unit_vectors(n: int, dim: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def manifest(gen: str, fingerprint: str = "fp-a", dimension: int = 64, count: int = 10) -> Manifest:
    return Manifest(generation=gen, model="model-a", fingerprint=fingerprint, dimension=dimension,
                    count=count, paragraphs=count, corpus_digest="d", kind="flat",
                    created="2026-01-01T00:00:00Z")


def test_flat_index_is_exact_and_survives_save_load(tmp_path: Path) -> None:
    vectors = unit_vectors(500)
    index = DenseIndex.build(vectors, IndexConfig(), progress=False)
    assert index.kind == "flat" and index.ntotal == 500
    index.save(tmp_path)
    loaded = DenseIndex.load(tmp_path, IndexConfig())
    scores, rows = loaded.search(vectors[:20], 5)
    brute = vectors[:20] @ vectors.T
    expected = np.argsort(-brute, axis=1)[:, :5]
    assert (rows == expected).all()
    assert np.allclose(scores[:, 0], 1.0, atol=1e-5)  # inner product of unit vectors = cosine


def test_size_rule_switches_to_hnsw_with_good_recall(tmp_path: Path) -> None:
    config = IndexConfig(approximate_above=1000, hnsw_m=16, hnsw_ef_search=64)
    assert DenseIndex.kind_for(1000, config) == "flat"
    assert DenseIndex.kind_for(1001, config) == "hnsw"
    vectors = unit_vectors(3000, dim=32, seed=1)
    hnsw = DenseIndex.build(vectors, config, progress=False)
    assert hnsw.kind == "hnsw"
    hnsw.save(tmp_path)
    loaded = DenseIndex.load(tmp_path, config)
    assert loaded.kind == "hnsw" and loaded.ntotal == 3000
    queries = unit_vectors(50, dim=32, seed=2)
    _, approx = loaded.search(queries, 10)
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=False)])
    assert recall > 0.9


def test_search_on_tiny_and_empty_index() -> None:
    vectors = unit_vectors(3)
    index = DenseIndex.build(vectors, IndexConfig(), progress=False)
    scores, rows = index.search(vectors[0], 10)  # k larger than the index
    assert rows.shape == (1, 3) and rows[0, 0] == 0
    empty = DenseIndex.build(np.zeros((0, 64), np.float32), IndexConfig(), progress=False)
    assert empty.search(vectors[0], 5)[1].shape == (1, 0)


def test_manifest_refuses_other_model_with_rebuild_hint(tmp_path: Path) -> None:
    manifest("g1").write(tmp_path)
    m = Manifest.read(tmp_path)
    m.check_model("model-a", "fp-a", 64)  # same model: fine
    with pytest.raises(IndexMismatch, match=r"dari index --full"):
        m.check_model("model-b", "fp-b", 64)
    with pytest.raises(IndexMismatch, match="model-a"):
        m.check_model("model-a", "fp-a", 384)


def test_missing_or_damaged_manifest_is_reported(tmp_path: Path) -> None:
    with pytest.raises(IndexMismatch, match="no manifest"):
        Manifest.read(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexMismatch, match="unreadable"):
        Manifest.read(tmp_path)


def test_current_swap_and_garbage_collection(tmp_path: Path) -> None:
    root = tmp_path / "index"
    root.mkdir()
    assert read_current(root) is None and current_stamp(root) is None
    for gen in ("g1", "g2", "g3"):
        (root / gen).mkdir()
        manifest(gen).write(root / gen)
    (root / ".building-g4").mkdir()  # leftover of a killed refresh
    (root / "g5").mkdir()  # no manifest: never a swap target
    with pytest.raises(IndexMismatch):
        swap_current(root, "g5")
    swap_current(root, "g1")
    first = current_stamp(root)
    assert read_current(root) == "g1"
    swap_current(root, "g2")
    assert read_current(root) == "g2" and current_stamp(root) != first
    removed = collect_garbage(root, keep=("g2", "g1"))
    assert sorted(removed) == [".building-g4", "g3", "g5"]
    assert sorted(p.name for p in root.iterdir()) == ["CURRENT", "g1", "g2"]
    # CURRENT naming a directory that vanished reads as "no index", not a crash.
    (root / "CURRENT").write_text("gone\n", encoding="utf-8")
    assert read_current(root) is None


def test_cache_round_trip_keyed_by_text_and_fingerprint(tmp_path: Path) -> None:
    vectors = unit_vectors(3, dim=8)
    digests = [text_digest(t) for t in ("one", "two", "three")]
    assert text_digest("one") != text_digest("one", kind="query")
    with EmbeddingCache.for_data_dir(tmp_path) as cache:
        cache.put_many(zip(digests, vectors, strict=False), "fp-a")
        got = cache.get_many(digests + ["absent"], "fp-a", 8)
        assert set(got) == set(digests)
        assert np.allclose(got[digests[1]], vectors[1])
        assert cache.get_many(digests, "fp-b", 8) == {}  # other model: nothing
        assert cache.get_many(digests, "fp-a", 16) == {}  # other shape: treated as missing
        assert cache.count("fp-a") == 3
    with EmbeddingCache.for_data_dir(tmp_path) as cache:  # persisted
        assert cache.count() == 3


def _hold_lock(path: str, ready: multiprocessing.synchronize.Event,
               done: multiprocessing.synchronize.Event) -> None:
    with RefreshLock(Path(path)):
        ready.set()
        done.wait(30)


def test_only_one_refresh_lock_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "refresh.lock"
    with RefreshLock(path), pytest.raises(RefreshBusy, match="already running"):
        RefreshLock(path).acquire()
    # Released: can be taken again.
    with RefreshLock(path):
        pass
    # Another process holding it: busy here, naming that process.
    ctx = multiprocessing.get_context("spawn")
    ready, done = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(str(path), ready, done))
    proc.start()
    try:
        assert ready.wait(60)
        with pytest.raises(RefreshBusy, match=rf"process {proc.pid}"):
            RefreshLock(path).acquire()
    finally:
        done.set()
        proc.join(30)
    with RefreshLock(path):
        pass


def test_lock_of_a_killed_holder_is_released(tmp_path: Path) -> None:
    path = tmp_path / "refresh.lock"
    code = ("import sys, time; from pathlib import Path; from embeddings.lock import RefreshLock\n"
            f"l = RefreshLock(Path({str(path)!r})); l.acquire(); print('held', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(RefreshBusy):
            RefreshLock(path).acquire()
    finally:
        proc.kill()
        proc.wait(10)
    deadline = time.monotonic() + 5
    while True:
        try:
            with RefreshLock(path):
                break
        except RefreshBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
