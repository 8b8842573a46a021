"""Where the ask path's search spends its time, stage by stage.

``python -m bench.stages [DATA_DIR]`` loads a bench generation (``data/bench/ask-100000`` by
default: build it with ``make bench`` or ``DARI_BENCH_SIZES=100000 python -m bench.ask``),
asks the bench's questions twice, as ``bench/ask.py`` does, and prints each stage's median
time per question for the first pass (pages of the mapped arrays touched for the first time)
and the second (the same questions again). Each stage is timed by wrapping the method or
function that does it, in this process only; a stage called inside another is counted in
both. This is the tool behind the "where the time goes" figures of the README and
``docs/index.md``; ``make bench`` gives the end-to-end figures.
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.ask import REPO, bench_questions, timing_setup
from bot.format import render_answer
from embeddings import (
    answer,
    companion,
    fusion,
    index,
    keyword,
    retriever,
    sentence_terms,
    sentences,
    snapshot,
)
from embeddings.answer import build_answer

# (owner, attribute, label): the stages timed.
STAGES: list[tuple[Any, str, str]] = [
    (retriever.Retriever, "candidates", "candidates (all evidence)"),
    (retriever.Retriever, "_dense_list", "dense side"),
    (index.DenseIndex, "search", "FAISS search and re-rank"),
    (sentences.StoredSentences, "best", "best stored sentence (e5 and companion)"),
    (companion.CompanionVectors, "cosines", "companion cosines"),
    (retriever.Retriever, "_cosines", "paragraph cosines"),
    (sentence_terms.SentenceTerms, "coverage", "sentence-window coverage"),
    (keyword.KeywordScores, "at", "keyword shares"),
    (snapshot.Snapshot, "aligned_numbers", "aligned lookups"),
    (fusion.Judge, "__init__", "no-answer evidence and ranking"),
    (retriever.Retriever, "_select", "selecting hits"),
    (snapshot.Snapshot, "paragraphs", "paragraph reads"),
    (answer, "split_sentences", "answer: sentence splitting"),
    (sentence_terms.SentenceTerms, "sentence_coverage", "answer: per-sentence coverage"),
]


def _timed(owner: Any, name: str, label: str, spent: dict[str, float],
           faults: dict[str, int]) -> None:
    """Replace ``owner.name`` by a wrapper adding its time (and page faults) to the totals."""
    inner: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        started = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - started
            faults[label] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    setattr(owner, name, wrapper)


def profile(data_dir: Path) -> dict[str, dict[str, dict[str, float]]]:
    """Per pass ("first", "again"), per stage: median ms and median page faults a question."""
    settings, encoder = timing_setup(data_dir)
    loaded = retriever.Retriever.load(settings, encoder)
    questions = bench_questions(loaded)
    for question in questions[:3]:
        loaded.search(question)
    spent: dict[str, float] = defaultdict(float)
    faults: dict[str, int] = defaultdict(int)
    for owner, name, label in STAGES:
        _timed(owner, name, label, spent, faults)
    cfg = settings.answer
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name in ("first", "again"):
        times: dict[str, list[float]] = defaultdict(list)
        counts: dict[str, list[int]] = defaultdict(list)
        for question in questions:
            vector = loaded.encode_query(question)  # as the ask path: the search follows it
            spent.clear()
            faults.clear()
            faulted = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            started = time.perf_counter()
            hits = loaded.search(question, k=cfg.passages, query_vector=vector)
            searched = time.perf_counter()
            shaped = build_answer(question, hits, passages=cfg.passages,
                                  max_sentences=cfg.max_sentences, query_vector=vector,
                                  encoder=encoder, sentences=loaded)
            answered = time.perf_counter()
            render_answer(shaped, "en")
            spent["search, answer and formatting"] = time.perf_counter() - started
            spent["search"] = searched - started
            spent["answer"] = answered - searched
            faults["search, answer and formatting"] = (
                resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faulted)
            for label, seconds in spent.items():
                times[label].append(seconds)
                counts[label].append(faults.get(label, -1))  # -1: not counted
        out[name] = {label: {"ms": round(float(np.median(values)) * 1000, 3),
                             "faults": float(np.median(counts[label]))}
                     for label, values in times.items()}
    return out


def _faults(row: dict[str, float]) -> str:
    return "       " if row["faults"] < 0 else f"{row['faults']:4.0f} pf"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stages", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", nargs="?", type=Path, default=REPO / "data" / "bench" / "ask-100000")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not args.data_dir.is_dir():
        print(f"no bench generation in {args.data_dir}: run `make bench` (or "
              "`DARI_BENCH_SIZES=100000 python -m bench.ask`) first", file=sys.stderr)
        return 2
    found = profile(args.data_dir)
    print(f"{'stage (median a question)':42} {'first pass':>18} {'asked again':>18}")
    for label, first in sorted(found["first"].items(), key=lambda item: -item[1]["ms"]):
        again = found["again"].get(label, {"ms": 0.0, "faults": -1.0})
        print(f"{label:42} {first['ms']:8.3f} ms {_faults(first)} {again['ms']:8.3f} ms {_faults(again)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
