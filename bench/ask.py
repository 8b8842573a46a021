"""Ask-path latency, loaded-index memory and HNSW recall at 1k, 100k and 1M paragraphs.

For each size a synthetic corpus is written as a real index generation (the product's own
writers: ``DenseIndex``, ``KeywordIndex``, ``write_snapshot``, ``Manifest``), then a fresh
process loads it with ``Retriever.load`` and times the whole ask path — real query encoding,
FAISS, BM25, fusion, ``build_answer`` and the bot's ``render_answer`` — against bare query
encoding in the same process (so the ratio is meaningful on a noisy machine). RSS is read
in that process right after loading. Vectors are synthetic (clustered unit vectors of the
model's dimension); paragraph texts are synthetic words, so BM25 does real work.

Built generations are cached in ``$DARI_BENCH_CACHE`` (default ``data/bench``): the 1M HNSW
build dominates the first run. ``DARI_BENCH_SIZES=1000,100000`` limits the sizes.

Usage: ``python -m bench`` (all benchmarks) or ``python -m bench.ask [--sizes …]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from corpus.models import AlignmentPair, Article, Paragraph
from embeddings.companion import COMPANION, COMPANION_SENTENCES
from embeddings.companion import DIMENSION as COMPANION_DIMENSION
from embeddings.manifest import (
    KEYWORD_DIR,
    Manifest,
    index_root,
    new_generation_name,
    read_current,
    swap_current,
)
from embeddings.protocols import TextEncoder
from embeddings.sentence_terms import save_units
from embeddings.sentences import SENTENCE_START, SENTENCES
from embeddings.snapshot import write_snapshot
from embeddings.tokenize import tokenize
from settings.config import BACKENDS, Settings, load_settings

# Each step (build, measure, realistic) runs in a process of its own, and the measure step
# reports the RSS of the ask path: the libraries only building needs (bm25s) and the heavy
# ones (faiss, the model, psutil) are imported inside the step that uses them.

if TYPE_CHECKING:  # the build step never loads a retriever
    from embeddings.retriever import Retriever

log = logging.getLogger("bench.ask")

REPO = Path(__file__).resolve().parent.parent
SIZES = (1_000, 100_000, 1_000_000)
QUERIES = 40
PARAGRAPHS_PER_ARTICLE = 10  # 5 English + 5 Korean, aligned 1–1
WORDS_PER_PARAGRAPH = 30
VOCAB = 20_000
CLUSTER_SIZE = 50  # topics grow with the corpus: local density stays that of a real one
RECALL_QUERIES = 200
FORMAT = 7  # bump when the synthetic data or the generation layout changes
SENTENCES_PER_PARAGRAPH = WORDS_PER_PARAGRAPH // 6  # synthetic_corpus writes six-word sentences
REAL_PASSAGES = 2000  # real paragraphs encoded once to fit the "realistic" vector distribution
REALISTIC_SIZE = 1_000_000  # the size at which recall on realistic vectors is reported


def _settings(data_dir: Path, backend: str | None = None) -> Settings:
    """The project's settings with the bench's data dir, keeping the usual model dir.

    ``backend`` overrides ``[embeddings].backend`` (``measure --backend torch`` compares).
    """


    base = load_settings(None, check_corpus=False)
    settings = base.with_overrides(data_dir=data_dir)
    return dataclasses.replace(settings, embeddings=dataclasses.replace(
        settings.embeddings, model_dir=str(base.model_dir),
        backend=backend or settings.embeddings.backend))


def _vocabulary(rng: np.random.Generator) -> list[str]:
    """Pseudo-words that the keyword tokeniser keeps as they are (no stemming, no stop words)."""

    syllables = ["ka", "to", "mi", "ne", "ru", "sa", "po", "li", "de", "vo", "an", "ri", "su",
                 "te", "mo", "gu", "bi", "ha", "jo", "ze"]
    words: dict[str, None] = {}
    while len(words) < VOCAB:
        word = "".join(rng.choice(syllables, rng.integers(2, 5)))
        if word not in words and tokenize(word) == [word]:
            words[word] = None
    return list(words)


def synthetic_corpus(n: int, rng: Any) -> tuple[list[str], Any, list[Any], list[Any], dict[str, Any]]:
    """Articles of 5 English + 5 "Korean" paragraphs aligned 1–1; each paragraph is five
    six-word sentences, so answer building trims it like a real one (sentence encoding)."""

    vocab = _vocabulary(rng)
    words = ((rng.zipf(1.15, n * WORDS_PER_PARAGRAPH) - 1) % VOCAB).reshape(n, WORDS_PER_PARAGRAPH)
    articles, paragraphs, alignments = [], [], {}
    half = PARAGRAPHS_PER_ARTICLE // 2
    for a in range((n + PARAGRAPHS_PER_ARTICLE - 1) // PARAGRAPHS_PER_ARTICLE):
        aid = f"a{a}"
        articles.append(Article(id=aid, title=f"Synthetic article {a}", outlet="Bench",
                                published="2024-01-01"))
        alignments[aid] = [AlignmentPair(en=(i + 1,), ko=(i + 1,)) for i in range(half)]
    for i in range(n):
        a, j = divmod(i, PARAGRAPHS_PER_ARTICLE)
        row = [vocab[w] for w in words[i]]
        text = " ".join(" ".join(row[s:s + 6]).capitalize() + "." for s in range(0, len(row), 6))
        paragraphs.append(Paragraph(id=f"p{i}", article_id=f"a{a}",
                                    language="en" if j < half else "ko",
                                    position=j % half + 1, text=text))
    return vocab, words, articles, paragraphs, alignments


def _synthetic_vectors(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Clustered unit vectors: real embeddings are far from uniform on the sphere."""

    clusters = max(1, n // CLUSTER_SIZE)
    centers = rng.standard_normal((clusters, dim)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for start in range(0, n, step):
        m = min(step, n - start)
        noise = rng.standard_normal((m, dim)).astype(np.float32) * (0.7 / np.sqrt(dim))
        block = centers[rng.integers(0, clusters, m)] + noise
        out[start:start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def build(n: int, data_dir: Path) -> dict[str, Any]:
    """Write a synthetic generation of ``n`` paragraphs into ``data_dir``; returns build figures."""
    from bm25s import BM25
    from bm25s.tokenization import Tokenized

    from embeddings.encoder import Encoder
    from embeddings.index import DenseIndex
    from embeddings.keyword import KeywordIndex

    settings = _settings(data_dir)
    encoder = Encoder.from_settings(settings)
    rng = np.random.default_rng(n)
    figures: dict[str, Any] = {}
    started = time.perf_counter()
    vocab, words, articles, paragraphs, alignments = synthetic_corpus(n, rng)
    figures["corpus_s"] = round(time.perf_counter() - started, 1)

    root = index_root(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    gen = new_generation_name()
    directory = root / gen
    directory.mkdir()
    vectors = _synthetic_vectors(n, int(encoder.dimension), rng)
    t = time.perf_counter()
    dense = DenseIndex.build(vectors, settings.index, progress=True)
    figures["dense_build_s"] = round(time.perf_counter() - t, 1)
    figures["kind"] = dense.kind
    dense.save(directory)
    if dense.kind == "hnsw":
        figures.update(_recall(dense, vectors, rng, settings.index.hnsw_ef_search))
    t = time.perf_counter()
    _write_sentences(directory, vectors, rng)
    figures["sentences_build_s"] = round(time.perf_counter() - t, 1)
    del dense
    _write_companion(directory, n, rng)

    # The synthetic words are already tokens (checked above), so the BM25 index is built
    # from ids directly: the same bm25s index KeywordIndex.build makes, without re-tokenising.
    t = time.perf_counter()
    bm25 = BM25()
    bm25.index(Tokenized(ids=words.tolist(), vocab={w: i for i, w in enumerate(vocab)}),
               show_progress=True)
    KeywordIndex.from_bm25([p.id for p in paragraphs], bm25).save(directory / KEYWORD_DIR)
    _write_sentence_terms(directory / KEYWORD_DIR, words)
    figures["keyword_build_s"] = round(time.perf_counter() - t, 1)

    t = time.perf_counter()
    write_snapshot(directory, articles, paragraphs, [p.id for p in paragraphs], alignments)
    figures["snapshot_build_s"] = round(time.perf_counter() - t, 1)
    Manifest(generation=gen, model=encoder.model_name, fingerprint=encoder.fingerprint,
             dimension=int(encoder.dimension), count=n, paragraphs=n, corpus_digest=f"synthetic-{n}",
             kind=figures["kind"], created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             extra={"bench": figures, "format": FORMAT}).write(directory)
    swap_current(root, gen)
    return figures


def _write_sentence_terms(directory: Path, words: np.ndarray) -> None:
    """Each synthetic sentence's vocabulary as a refresh stores it (``embeddings.sentence_terms``):
    the sorted distinct word ids of its six words (a word's id is its keyword column)."""
    per = SENTENCES_PER_PARAGRAPH
    units = np.sort(words[:, : per * 6].reshape(-1, 6), axis=1)
    keep = np.ones(units.shape, dtype=bool)
    keep[:, 1:] = units[:, 1:] != units[:, :-1]
    unit_start = np.zeros(len(units) + 1, dtype=np.int64)
    np.cumsum(keep.sum(axis=1), out=unit_start[1:])
    paragraph_units = np.arange(0, len(units) + 1, per, dtype=np.int64)
    save_units(directory, units[keep].astype(np.int32), unit_start, paragraph_units)


def _near(vectors: np.ndarray, per: int, rng: np.random.Generator) -> np.ndarray:
    """``per`` unit vectors near each of ``vectors`` (a paragraph's sentences near its own)."""
    rows = np.repeat(vectors, per, axis=0)
    rows += rng.standard_normal(rows.shape).astype(np.float32) * (0.5 / np.sqrt(vectors.shape[1]))
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows


def _write_sentences(directory: Path, vectors: np.ndarray, rng: np.random.Generator) -> None:
    """Stored sentence vectors as a refresh writes them (float16, ``embeddings.sentences``):
    each paragraph's five sentences near its own vector."""


    n, dim = vectors.shape
    per = SENTENCES_PER_PARAGRAPH
    out = np.lib.format.open_memmap(directory / SENTENCES, mode="w+", dtype=np.float16,
                                    shape=(n * per, dim))
    step = 50_000
    for start in range(0, n, step):
        block = _near(vectors[start:start + step], per, rng)
        out[start * per:start * per + len(block)] = block
    out.flush()
    del out
    np.save(directory / SENTENCE_START, np.arange(n + 1, dtype=np.int64) * per)


def _write_companion(directory: Path, n: int, rng: np.random.Generator) -> None:
    """Companion vectors as a refresh writes them (float16, ``embeddings.companion``): one
    per paragraph, clustered like the dense ones in the companion's dimension, and one per
    stored sentence near its paragraph's (the rows of ``_write_sentences``)."""
    per = SENTENCES_PER_PARAGRAPH
    out = np.lib.format.open_memmap(directory / COMPANION, mode="w+", dtype=np.float16,
                                    shape=(n, COMPANION_DIMENSION))
    sentences = np.lib.format.open_memmap(directory / COMPANION_SENTENCES, mode="w+",
                                          dtype=np.float16, shape=(n * per, COMPANION_DIMENSION))
    step = 50_000
    for start in range(0, n, step):
        block = _synthetic_vectors(min(step, n - start), COMPANION_DIMENSION, rng)
        out[start:start + len(block)] = block
        rows = _near(block, per, rng)
        sentences[start * per:start * per + len(rows)] = rows
    out.flush()
    sentences.flush()
    del out, sentences


def _recall(dense: Any, vectors: Any, rng: Any, ef_search: int,
            queries: Any = None) -> dict[str, Any]:
    """HNSW recall@10 against exact search (perturbed corpus vectors as queries unless
    ``queries`` are given), with an ``ef_search`` sweep so the setting can be chosen from
    the same run."""
    import faiss

    from embeddings.fusion import BASELINE_CANDIDATES
    from embeddings.retriever import ROWS_PER_PARAGRAPH

    if queries is None:
        picks = rng.choice(len(vectors), RECALL_QUERIES, replace=False)
        queries = vectors[picks] + rng.standard_normal((RECALL_QUERIES, vectors.shape[1])).astype(
            np.float32) * (0.5 / np.sqrt(vectors.shape[1]))
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    t = time.perf_counter()
    _, truth = exact.search(queries, BASELINE_CANDIDATES)
    exact_ms = (time.perf_counter() - t) * 1000 / RECALL_QUERIES
    # The retriever's own request: BASELINE_CANDIDATES paragraphs, ROWS_PER_PARAGRAPH rows
    # each; what it keeps of a one-language index is the first BASELINE_CANDIDATES rows.
    breadth = BASELINE_CANDIDATES * ROWS_PER_PARAGRAPH
    sweep = {}
    for ef in sorted({32, 64, 128, 256, 512, ef_search}):
        dense.set_ef_search(ef)
        row = {}
        # (kept, asked for, the sweep's recall and time fields)
        for k, asked, recall_key, ms_key in (
                (10, 10, "recall_at_10", "ms_per_query"),
                (BASELINE_CANDIDATES, breadth, f"recall_at_{BASELINE_CANDIDATES}_of_{breadth}",
                 f"ms_per_query_{breadth}")):
            rows = []
            t = time.perf_counter()
            for query in queries:  # one at a time, as questions come
                _, found = dense.search(query, asked)
                rows.append(found[0][:k])
            ms = (time.perf_counter() - t) * 1000 / RECALL_QUERIES
            recall = float(np.mean([len(set(a) & set(b[:k])) / k
                                    for a, b in zip(rows, truth, strict=False)]))
            row.update({recall_key: round(recall, 4), ms_key: round(ms, 3)})
        sweep[str(ef)] = row
    dense.set_ef_search(ef_search)
    at = sweep[str(ef_search)]
    return {"hnsw_recall_at_10": at["recall_at_10"],
            f"hnsw_recall_at_{BASELINE_CANDIDATES}": at[f"recall_at_{BASELINE_CANDIDATES}_of_{breadth}"],
            "hnsw_retriever_rows": breadth,
            "hnsw_ef_search": ef_search, "hnsw_sweep": sweep,
            "exact_ms_per_query": round(exact_ms, 3)}


def _real_passages(limit: int) -> list[str]:
    """Up to ``limit`` real paragraphs (English and Korean): the bundled articles and the
    evaluation corpora when built (``make eval``), first 600 characters each."""

    folders = [REPO / "articles", *sorted((REPO / "build" / "eval").glob("*/corpus"))]
    texts: list[str] = []
    for folder in folders:
        for path in sorted(folder.glob("*.txt")) if folder.is_dir() else []:
            for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8", errors="ignore")):
                block = " ".join(block.split())
                if len(block) > 120:
                    texts.append(block[:600])
    rng = np.random.default_rng(11)
    picks = rng.permutation(len(texts))[:limit]
    return [texts[i] for i in sorted(picks)]


def realistic_fit(cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of real e5 passage vectors (encoded once, cached in ``cache``)."""

    from embeddings.encoder import Encoder

    path = cache / f"e5-fit-{REAL_PASSAGES}.npz"
    if path.is_file():
        fit = np.load(path)
        return fit["mean"], fit["cov"]
    texts = _real_passages(REAL_PASSAGES)
    encoder = Encoder.from_settings(_settings(cache))
    vectors = encoder.encode_passages(texts).astype(np.float64)
    mean, cov = vectors.mean(axis=0), np.cov(vectors, rowvar=False)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, mean=mean, cov=cov, count=len(texts))
    return mean, cov


def realistic_vectors(n: int, mean: np.ndarray, cov: np.ndarray,
                      rng: np.random.Generator) -> np.ndarray:
    """``n`` unit vectors drawn from the Gaussian fit of real e5 passage vectors."""

    values, basis = np.linalg.eigh(cov)
    root = (basis * np.sqrt(np.clip(values, 0, None))).astype(np.float32)
    out = np.empty((n, len(mean)), dtype=np.float32)
    step = 100_000
    for start in range(0, n, step):
        m = min(step, n - start)
        block = mean.astype(np.float32) + rng.standard_normal((m, len(mean))).astype(
            np.float32) @ root.T
        out[start:start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def realistic_recall(n: int, cache: Path) -> dict[str, Any]:
    """HNSW recall@10 (the product's index, its settings) on ``n`` vectors with the mean and
    covariance of real e5 passage vectors; queries are fresh draws from the same fit."""

    from embeddings.index import DenseIndex

    settings = _settings(cache)
    mean, cov = realistic_fit(cache)
    rng = np.random.default_rng(n + 1)
    vectors = realistic_vectors(n + RECALL_QUERIES, mean, cov, rng)
    t = time.perf_counter()
    dense = DenseIndex.build(vectors[RECALL_QUERIES:], settings.index, kind="hnsw", progress=True)
    build_s = time.perf_counter() - t
    found = _recall(dense, vectors[RECALL_QUERIES:], rng, settings.index.hnsw_ef_search,
                    queries=vectors[:RECALL_QUERIES])
    return {"size": n, "build_s": round(build_s, 1), "fit_passages": REAL_PASSAGES,
            **{k.replace("hnsw_", ""): v for k, v in found.items()}}


def _realistic_cached(n: int, cache: Path) -> dict[str, Any]:
    """:func:`realistic_recall` in a fresh process, its figures cached per size, bench
    format and index settings (the 1M build takes many minutes; DARI_BENCH_REBUILD redoes it)."""
    index = _settings(cache).index
    key = f"realistic-{n}-f{FORMAT}-m{index.hnsw_m}-c{index.hnsw_ef_construction}-s{index.hnsw_ef_search}"
    path = cache / f"{key}.json"
    running = cache / f"{key}.pid"  # another bench process is building it: wait for it
    while running.is_file() and not path.is_file() and _alive(running):
        time.sleep(10)
    if path.is_file() and not os.environ.get("DARI_BENCH_REBUILD"):
        return dict(json.loads(path.read_text(encoding="utf-8")))
    cache.mkdir(parents=True, exist_ok=True)
    running.write_text(str(os.getpid()), encoding="utf-8")
    try:
        found = _child("realistic", str(n), str(cache))
        path.write_text(json.dumps(found), encoding="utf-8")
    finally:
        running.unlink(missing_ok=True)
    return found


def _alive(pid_file: Path) -> bool:
    """True while the process named in ``pid_file`` runs."""
    try:
        os.kill(int(pid_file.read_text(encoding="utf-8").strip()), 0)
    except (OSError, ValueError):
        return False
    return True


def bench_questions(retriever: Retriever) -> list[str]:
    """The bench's ``QUERIES`` questions: six words of a random paragraph each, so the keyword
    side scores real postings (the same questions in every run: a fixed seed)."""
    rng = np.random.default_rng(7)
    sample = retriever.snapshot.paragraphs(rng.choice(retriever.manifest.paragraphs, QUERIES).tolist())
    questions = []
    for para in sample.values():
        words = para.text.rstrip(".").split()
        picks = rng.choice(len(words), 6, replace=False)
        questions.append("what about " + " ".join(words[i] for i in sorted(picks)) + "?")
    return questions


def timing_setup(data_dir: Path, backend: str | None = None) -> tuple[Settings, TextEncoder]:
    """The settings and the warmed-up encoder for timing the ask path on the generation in
    ``data_dir`` (its manifest re-stamped with the encoder's fingerprint)."""
    from embeddings.encoder import Encoder

    settings = _settings(data_dir, backend)
    # Synthetic vectors never reach the calibrated relevance threshold against real query
    # vectors; a min_score below the model's floor (its logit is clipped at -50, 2e-22)
    # lets every query go through answer building and formatting, so the whole ask path is
    # timed (1e-9, used before, was above that floor: no question reached answer building).
    settings = dataclasses.replace(settings, retrieval=dataclasses.replace(
        settings.retrieval, min_score=1e-30))
    encoder = Encoder.from_settings(settings)
    encoder.encode_queries(["warm up the model"])
    _restamp(data_dir, encoder)
    return settings, encoder


def measure(data_dir: Path, backend: str | None = None) -> dict[str, Any]:
    """Load the generation in ``data_dir`` (fresh process) and time the ask path."""
    import psutil

    from bot.format import render_answer
    from embeddings.answer import build_answer
    from embeddings.retriever import Retriever

    settings, encoder = timing_setup(data_dir, backend)
    proc = psutil.Process()
    before = proc.memory_info().rss
    t = time.perf_counter()
    retriever = Retriever.load(settings, encoder)  # the companion model loads with it
    load_s = time.perf_counter() - t
    after = proc.memory_info().rss
    questions = bench_questions(retriever)
    cfg = settings.answer
    # Warm-up: first BM25/FAISS calls touch cold pages.
    for q in questions[:3]:
        retriever.search(q)
    # RSS after questions also counts the generation's memory-mapped pages they touched
    # (page cache, shared and reclaimable: the kernel maps neighbouring cached pages too).
    warm = proc.memory_info().rss
    def ask_once(q: str) -> tuple[bool, float]:
        """The ask path for ``q``; returns (answered, seconds after the query encoding)."""
        qv = retriever.encode_query(q)
        t1 = time.perf_counter()
        hits = retriever.search(q, k=cfg.passages, query_vector=qv)
        answer = build_answer(q, hits, passages=cfg.passages, max_sentences=cfg.max_sentences,
                              query_vector=qv, encoder=encoder, sentences=retriever)
        render_answer(answer, "en")
        return bool(hits), time.perf_counter() - t1

    bare, ask, again, first_search, again_search, found = [], [], [], [], [], 0
    for q in questions:
        t0 = time.perf_counter()
        encoder.encode_queries([q])
        bare.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        answered, searched = ask_once(q)
        ask.append(time.perf_counter() - t0)
        found += answered
        first_search.append(searched)
    # The same questions again (pages and caches warm, as for a server's repeated questions).
    for q in questions:
        t0 = time.perf_counter()
        _, searched = ask_once(q)
        again.append(time.perf_counter() - t0)
        again_search.append(searched)
    search = first_search + again_search
    ms = lambda xs, p: round(float(np.percentile(np.array(xs) * 1000, p)), 1)  # noqa: E731
    return {
        "ask_p50_ms": ms(ask, 50),
        "ask_p99_ms": ms(ask, 99),
        "ask_repeat_p50_ms": ms(again, 50),
        "ask_repeat_p99_ms": ms(again, 99),
        "bare_encode_p50_ms": ms(bare, 50),
        "search_p50_ms": ms(search, 50),
        "search_p99_ms": ms(search, 99),
        # The two passes apart: a first question also pays its first touches of the mapped
        # arrays (page faults), a repeated one only the computation.
        "search_first_p50_ms": ms(first_search, 50),
        "search_again_p50_ms": ms(again_search, 50),
        "rss_mb": round(after / 2**20, 1),
        "rss_after_questions_mb": round(warm / 2**20, 1),
        "index_rss_mb": round((after - before) / 2**20, 1),
        "load_s": round(load_s, 2),
        "kind": retriever.manifest.kind,
        "encoder_backend": settings.embeddings.backend,
        "queries": len(questions),
        "answered": found,
        "build": retriever.manifest.extra.get("bench", {}),
        "hnsw_recall_at_10": _recall_at(retriever.manifest.extra.get("bench", {}),
                                        settings.index.hnsw_ef_search),
        # At the retriever's breadth (its rows asked, its 50 candidates kept), from the build.
        "hnsw_recall_at_50": retriever.manifest.extra.get("bench", {}).get("hnsw_recall_at_50"),
    }


def _restamp(data_dir: Path, encoder: TextEncoder) -> None:
    """Give a cached synthetic generation the current model's fingerprint.

    Its vectors are synthetic, so they do not depend on the model; only the manifest names
    one (and ``Retriever.load`` rightly refuses another model's index).
    """


    root = index_root(data_dir)
    directory = root / (read_current(root) or "")
    manifest = Manifest.read(directory)
    if manifest.fingerprint != encoder.fingerprint:
        dataclasses.replace(manifest, model=encoder.model_name,
                            fingerprint=encoder.fingerprint).write(directory)


def _recall_at(build: dict[str, Any], ef_search: int) -> float | None:
    """Recall@10 at the configured ef_search, from the build's sweep (None for exact indexes)."""
    row = build.get("hnsw_sweep", {}).get(str(ef_search))
    return row["recall_at_10"] if row else build.get("hnsw_recall_at_10")


def _cached(data_dir: Path) -> bool:

    name = read_current(index_root(data_dir))
    if name is None:
        return False
    try:
        return Manifest.read(index_root(data_dir) / name).extra.get("format") == FORMAT
    except Exception:  # noqa: BLE001 - anything unreadable is rebuilt
        return False


def _read_through(data_dir: Path) -> float:
    """Read every file of ``data_dir``'s generation once, in this process, and return the
    seconds it took. A refresh leaves the generation it writes in the page cache; a cached
    bench generation may have been pushed out since (the 1M one is 12 GB), and its first
    questions would then time the disk, not the ask path (2026-12-07: 6.4x instead of 1.9x).
    The measuring process still maps every page itself (its RSS and first touches count)."""
    started = time.perf_counter()
    for path in sorted(index_root(data_dir).rglob("*")):
        if path.is_file():
            with path.open("rb") as f:
                while f.read(1 << 24):
                    pass
    return time.perf_counter() - started


def _child(*args: str) -> dict[str, Any]:
    """Run this module in a fresh process (clean RSS, no state shared between sizes)."""
    done = subprocess.run([sys.executable, "-m", "bench.ask", *args], cwd=REPO,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"bench.ask {' '.join(args)} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run() -> dict[str, Any]:
    """All sizes: build (or reuse) each synthetic generation, then measure it in a fresh
    process; then HNSW recall on realistic vectors at 1M (when 1M is among the sizes, or
    at ``DARI_BENCH_REALISTIC`` vectors)."""
    sizes = [int(x) for x in os.environ.get("DARI_BENCH_SIZES", "").split(",") if x.strip()] or SIZES
    cache = Path(os.environ.get("DARI_BENCH_CACHE", REPO / "data" / "bench"))
    rows: dict[str, Any] = {}
    for n in sizes:
        data_dir = cache / f"ask-{n}"
        if os.environ.get("DARI_BENCH_REBUILD") or not _cached(data_dir):
            shutil.rmtree(data_dir, ignore_errors=True)
            log.info("building a synthetic index of %d paragraphs in %s", n, data_dir)
            _child("build", str(n), str(data_dir))
        read_s = _read_through(data_dir)
        log.info("measuring the ask path at %d paragraphs", n)
        rows[str(n)] = _child("measure", str(data_dir))
        rows[str(n)]["generation_read_s"] = round(read_s, 1)
    out: dict[str, Any] = {"sizes": rows, "ask_queries_per_size": QUERIES}
    realistic = int(os.environ.get("DARI_BENCH_REALISTIC", "0") or 0) or (
        REALISTIC_SIZE if REALISTIC_SIZE in sizes else 0)
    if realistic:
        log.info("HNSW recall on %d vectors fit to real e5 passage vectors", realistic)
        found = _realistic_cached(realistic, cache)
        out["hnsw_recall_at_10_realistic"] = found["recall_at_10"]
        # At the retriever's real breadth (the rows it asks for, the candidates it keeps).
        out["hnsw_recall_at_50_realistic"] = found.get("recall_at_50")
        out["hnsw_realistic"] = found
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ask")
    sub = parser.add_subparsers(dest="step")
    b = sub.add_parser("build")
    b.add_argument("size", type=int)
    b.add_argument("data_dir", type=Path)
    m = sub.add_parser("measure")
    m.add_argument("data_dir", type=Path)
    m.add_argument("--backend", choices=BACKENDS, help="override [embeddings].backend")
    r = sub.add_parser("realistic")
    r.add_argument("size", type=int)
    r.add_argument("cache", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.step == "build":
        print(json.dumps(build(args.size, args.data_dir)))
    elif args.step == "measure":
        print(json.dumps(measure(args.data_dir, args.backend)))
    elif args.step == "realistic":
        print(json.dumps(realistic_recall(args.size, args.cache)))
    else:
        print(json.dumps(run(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
