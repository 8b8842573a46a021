"""answer_quoted on the KorQuAD set for each way of trimming quotes (embeddings.answer).

Builds a throwaway index of ``build/eval/korquad`` (run ``eval/build_sets.py`` first), runs
every question through the real search once, then builds the answer under each variant and
reports, per half, how often an answer span is in what the answer shows. Choose on the tune
half. Usage: ``python eval/trim_sweep.py``.

The variants are the shipped ones (TRIM_MODE × TERM_WEIGHT, module constants of
``embeddings.answer``) and two measured and not adopted, which this script adds around the
shipped sentence scores (they are not in the product): each sentence's score plus λ × its
better neighbour's (an answer often sits in the sentence after the one that matches the
question), and plus w × the companion encoder's sentence cosine (a second opinion of
another model).
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embeddings import answer  # noqa: E402
from embeddings.evaluate import _shown_text, load_queries, normalise  # noqa: E402
from embeddings.refresh import refresh  # noqa: E402
from embeddings.retriever import Retriever  # noqa: E402
from settings.config import load_settings  # noqa: E402  (after the path set-up above)

# (mode, term weight, neighbour λ, companion weight, plain term share)
VARIANTS = [(mode, weight, 0.0, 0.0, False)
            for mode in ("topk", "window") for weight in (0.0, 0.1, 0.2, 0.3, 0.5)]
VARIANTS += [("topk", 0.1, 0.0, 0.0, True)]
VARIANTS += [("topk", 0.1, lam, 0.0, False) for lam in (0.25, 0.5)]
VARIANTS += [("topk", 0.1, 0.0, w, False) for w in (0.25, 0.5, 1.0)]

_shipped_scores = answer._sentence_scores
_shipped_vectors_for = answer._vectors_for


class _Variant:
    """The sentence scores of one variant, wrapped around the shipped ones."""

    def __init__(self) -> None:
        self.neighbour = 0.0
        self.companion = 0.0
        self.plain = False  # every topic term counts the same (no stored IDF-weighted share)
        self.paragraph = ""  # the paragraph being trimmed (set as its vectors are read)
        self.companion_cosines: dict[str, np.ndarray] = {}

    def vectors_for(self, paragraph, sentences, encoder, source):  # type: ignore[no-untyped-def]
        self.paragraph = paragraph.id
        return _shipped_vectors_for(paragraph, sentences, encoder, source)

    def scores(self, sentences, question, question_vector, vectors, coverage=None):  # type: ignore[no-untyped-def]
        s = _shipped_scores(sentences, question, question_vector, vectors,
                            None if self.plain else coverage)
        other = self.companion_cosines.get(self.paragraph)
        if self.companion and other is not None and len(other) == len(s):
            s = s + self.companion * other
        if self.neighbour:
            near = np.full_like(s, -1.0)
            near[1:] = s[:-1]
            near[:-1] = np.maximum(near[:-1], s[1:])
            s = s + self.neighbour * near
        return s


def main() -> int:
    settings = load_settings(ROOT / "config.toml")
    corpus = ROOT / "build" / "eval" / "korquad"
    variant = _Variant()
    answer._vectors_for = variant.vectors_for
    answer._sentence_scores = variant.scores
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
            hits = retriever.search(q.query, query_vector=qv)[:cfg.passages]
            companion: dict[str, np.ndarray] = {}
            cq = retriever.companion_vector(q.query)  # cached by encode_query above
            if retriever.companion is not None and cq is not None:
                for hit in hits:
                    number = retriever._number_of(hit.paragraph.id)
                    stored = None if number is None else retriever.companion.sentences.of(number)
                    if stored is not None:
                        companion[hit.paragraph.id] = stored @ cq
            runs.append((q, qv, hits, companion))
        # The ceiling of trimming: the right paragraph is among the quoted hits.
        quoted: dict[str, list[bool]] = {"tune": [], "test": []}
        for q, _, hits, _ in runs:
            quoted[q.split].append(any(h.article.id in q.relevant_articles() for h in hits))
        print("right paragraph quoted (the ceiling of trimming): "
              + "  ".join(f"{k} {sum(v) / len(v):.3f}" for k, v in quoted.items()))
        for mode, weight, neighbour, companion_weight, plain in VARIANTS:
            answer.TRIM_MODE, answer.TERM_WEIGHT = mode, weight
            variant.neighbour, variant.companion, variant.plain = neighbour, companion_weight, plain
            found: dict[str, list[bool]] = {"tune": [], "test": []}
            for q, qv, hits, companion in runs:
                variant.companion_cosines = companion
                shown = _shown_text(answer.build_answer(
                    q.query, hits, passages=cfg.passages, max_sentences=cfg.max_sentences,
                    query_vector=qv, encoder=retriever.encoder, sentences=retriever),
                    q.relevant_articles())
                found[q.split].append(any(normalise(a) in shown for a in q.answers if a.strip()))
            print(f"{mode:7s} term weight {weight}{' (plain share)' if plain else ''}  "
                  f"neighbour {neighbour}  companion {companion_weight}: "
                  + "  ".join(f"{k} {sum(v) / len(v):.3f}" for k, v in found.items()), flush=True)
        retriever.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
