"""answer_quoted on the KorQuAD set for each way of trimming quotes (embeddings.answer).

Builds a throwaway index of ``build/eval/korquad`` (run ``eval/build_sets.py`` first), runs
every question through the real search once, then builds the answer under each
(TRIM_MODE, TERM_WEIGHT) and reports, per half, how often an answer span is in what the
answer shows. Choose on the tune half. Usage: ``python eval/trim_sweep.py``.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embeddings import answer  # noqa: E402
from embeddings.evaluate import _shown_text, load_queries, normalise  # noqa: E402
from embeddings.refresh import refresh  # noqa: E402
from embeddings.retriever import Retriever  # noqa: E402
from settings.config import load_settings  # noqa: E402  (after the path set-up above)

MODES = ("topk", "window")
TERM_WEIGHTS = (0.0, 0.1, 0.3)


def main() -> int:
    settings = load_settings(ROOT / "config.toml")
    corpus = ROOT / "build" / "eval" / "korquad"
    with tempfile.TemporaryDirectory(prefix="dari-trim-") as tmp:
        embeddings_cfg = dataclasses.replace(settings.embeddings, model_dir=str(settings.model_dir))
        local = dataclasses.replace(settings, embeddings=embeddings_cfg).with_overrides(
            corpus_dir=corpus / "corpus", data_dir=Path(tmp) / "data")
        refresh(local, show_progress=False)
        retriever = Retriever.load(local)
        cfg = local.answer
        runs = []
        for q in load_queries(corpus / "queries.jsonl"):
            qv = retriever.encode_query(q.query)
            runs.append((q, qv, retriever.search(q.query, query_vector=qv)[:cfg.passages]))
        for mode in MODES:
            for weight in TERM_WEIGHTS:
                answer.TRIM_MODE, answer.TERM_WEIGHT = mode, weight
                found: dict[str, list[bool]] = {"tune": [], "test": []}
                for q, qv, hits in runs:
                    shown = _shown_text(answer.build_answer(
                        q.query, hits, passages=cfg.passages, max_sentences=cfg.max_sentences,
                        query_vector=qv, encoder=retriever.encoder, sentences=retriever),
                        q.relevant_articles())
                    found[q.split].append(any(normalise(a) in shown for a in q.answers if a.strip()))
                print(f"{mode:7s} term weight {weight}: "
                      + "  ".join(f"{k} {sum(v) / len(v):.3f}" for k, v in found.items()))
        retriever.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
