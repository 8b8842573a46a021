"""Search one loaded index generation: dense + keyword candidates, fusion, threshold, cap.

A :class:`Retriever` is immutable once loaded: a refresh builds a new generation and the
service swaps in a new Retriever, so a query never sees half of two generations. Hits are
built from the generation's own snapshot (``embeddings.snapshot``), so the old generation
answers correctly even after the store has ingested newer files.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from dari.config import Settings
from embeddings.index import DenseIndex
from embeddings.manifest import IndexMismatch, Manifest, NoIndex, index_root, read_current
from embeddings.models import Hit
from embeddings.refresh import KEYWORD_DIR
from embeddings.snapshot import LANG_CODES, Snapshot

log = logging.getLogger(__name__)


def collapse_translations(numbers: Sequence[int],
                          aligned: dict[int, Sequence[int]]) -> list[int]:
    """``numbers`` (best first) without the paragraphs whose translation ranks higher: a
    paragraph and its translation are one hit, shown together (also how ``dari eval`` ranks
    every method, so all are compared in the units users see)."""
    covered: set[int] = set()
    out: list[int] = []
    for n in numbers:
        if n in covered:
            continue
        out.append(n)
        covered.add(n)
        covered.update(aligned.get(n, ()))
    return out


class Retriever:
    """One loaded generation plus the encoder; ``search`` is safe to call from many threads."""

    def __init__(self, settings: Settings, manifest: Manifest, dense: DenseIndex, keyword: Any,
                 snapshot: Snapshot, encoder: Any) -> None:
        self.settings = settings
        self.manifest = manifest
        self.dense = dense
        self.keyword = keyword
        self.snapshot = snapshot
        self.encoder = encoder

    @property
    def generation(self) -> str:
        """Name of the loaded generation."""
        return self.manifest.generation

    @classmethod
    def load(cls, settings: Settings, store: Any = None, encoder: Any = None, *,
             generation: str | None = None) -> "Retriever":
        """Load the live generation (or ``generation``); refuses one built by another model.

        ``store`` is accepted for symmetry with the other loaders but not needed: the
        generation carries its own snapshot. Raises :class:`NoIndex` when there is none and
        :class:`IndexMismatch` (with the rebuild command) for another model or a damaged one.
        """
        root = index_root(settings.data_dir)
        name = generation or read_current(root)
        if name is None:
            raise NoIndex(f"no index in {root}; run `dari index` to build it")
        directory = root / name
        manifest = Manifest.read(directory)
        if encoder is None:
            from embeddings.encoder import Encoder

            encoder = Encoder.from_settings(settings)
        manifest.check_model(encoder.model_name, encoder.fingerprint, int(encoder.dimension))
        try:
            dense = DenseIndex.load(directory, settings.index)
            from embeddings.keyword import KeywordIndex

            keyword = KeywordIndex.load(directory / KEYWORD_DIR)
            snapshot = Snapshot(directory)
        except (OSError, RuntimeError, ValueError) as exc:
            raise IndexMismatch(f"index generation {name} does not load ({exc}); "
                                "run `dari index --full` to rebuild") from exc
        if dense.ntotal != manifest.count or len(snapshot.rows) != manifest.count \
                or len(snapshot) != manifest.paragraphs:
            raise IndexMismatch(
                f"index generation {name} is inconsistent ({dense.ntotal} vectors, "
                f"{len(snapshot.rows)} rows, {len(snapshot)} paragraphs; manifest says "
                f"{manifest.count} and {manifest.paragraphs}); run `dari index --full` to rebuild")
        log.info("loaded index generation %s: %d passages (%s), %d paragraphs", name,
                 manifest.count, manifest.kind, manifest.paragraphs)
        return cls(settings, manifest, dense, keyword, snapshot, encoder)

    def close(self) -> None:
        """Release the snapshot database (the rest is plain memory)."""
        self.snapshot.close()

    # -- candidates -----------------------------------------------------------------------

    def dense_candidates(self, query_vector: np.ndarray, n: int,
                         language: str | None = None) -> dict[int, float]:
        """Best cosine per paragraph number among the top passages.

        With ``language``: the top ``n`` paragraphs in that language *plus* the top ``n`` of
        any language, because fusion pools each paragraph's evidence with its translation's
        (a Korean question is judged relevant through the Korean original of an English hit).
        """
        # Over-fetch: several passages may belong to one paragraph, and a language filter
        # discards about half of a bilingual corpus.
        fetch = n * (3 if language else 2)
        scores, rows = self.dense.search(query_vector, fetch)
        valid = rows[0] >= 0
        numbers = self.snapshot.rows[rows[0][valid]].tolist()
        ranked = scores[0][valid].tolist()
        return self._top(numbers, ranked, n, language)

    def keyword_candidates(self, query: str, n: int, language: str | None = None) -> dict[int, float]:
        """BM25 candidates (paragraph number → score); ``language`` as in :meth:`dense_candidates`."""
        found = self.keyword.search(query, n * 3 if language else n)
        numbers = self.snapshot.numbers([pid for pid, _ in found])
        pairs = [(numbers[pid], float(score)) for pid, score in found if pid in numbers]
        return self._top([p for p, _ in pairs], [sc for _, sc in pairs], n, language)

    def _top(self, numbers: list[int], scores: list[float], n: int,
             language: str | None) -> dict[int, float]:
        """First (best) score per paragraph: top ``n`` overall, plus top ``n`` in ``language``."""
        code = LANG_CODES[language] if language else None
        best: dict[int, float] = {}
        overall = in_language = 0
        for number, score in zip(numbers, scores):
            if number in best:
                continue  # results come best first: the first passage of a paragraph wins
            mine = code is not None and self.snapshot.langs[number] == code
            if overall < n or (mine and in_language < n):
                best[number] = score
                overall += 1
                in_language += int(mine)
            if overall >= n and (code is None or in_language >= n):
                break
        return best

    # -- search ---------------------------------------------------------------------------

    def encode_query(self, query: str) -> np.ndarray:
        """The query's vector (reuse it for :meth:`search` and answer building)."""
        return np.asarray(self.encoder.encode_queries([query.strip()]), dtype=np.float32)[0]

    def search(self, query: str, k: int | None = None, language: str | None = None, *,
               query_vector: np.ndarray | None = None) -> list[Hit]:
        """The ``k`` best relevant paragraphs for ``query`` (optionally in one ``language``).

        ``query_vector`` (from :meth:`encode_query`) saves encoding the query twice.
        """
        query = query.strip()
        if not query:
            return []
        if language is not None and language not in LANG_CODES:
            raise ValueError(f"language must be one of {', '.join(LANG_CODES)}, got {language!r}")
        cfg = self.settings.retrieval
        k = k or cfg.top_k
        n = max(cfg.candidates, k)
        qv = query_vector if query_vector is not None else self.encode_query(query)
        dense = self.dense_candidates(qv, n, language)
        keyword = self.keyword_candidates(query, n, language)
        scored = self._fuse(query, dense, keyword)
        if language:
            code = LANG_CODES[language]
            scored = [(number, score) for number, score in scored
                      if self.snapshot.langs[number] == code]
        return self._select(scored, dense, keyword, k)

    def _fuse(self, query: str, dense: dict[int, float],
              keyword: dict[int, float]) -> list[tuple[int, float]]:
        """Fused (paragraph number, score), best first, above the relevance threshold."""
        from embeddings import fusion

        return fusion.fuse_for_retriever(self, query, dense, keyword)  # type: ignore[attr-defined]

    def _select(self, scored: list[tuple[int, float]], dense: dict[int, float],
                keyword: dict[int, float], k: int) -> list[Hit]:
        """Turn the fused ranking into hits: what a user should see quoted.

        - a paragraph whose translation already ranks higher is not a hit of its own: the
          higher one carries it as ``aligned`` (an English passage and its Korean original
          are one answer, not two, and must not use up two of an article's slots);
        - a hit far below the best one (under :data:`fusion.HIT_RELATIVE_FLOOR` of its
          score) is dropped: the no-answer rule judges the question, this judges each
          passage, so a strong answer is not padded with unrelated text;
        - at most ``max_per_article`` hits per article.
        """
        from embeddings.fusion import HIT_RELATIVE_FLOOR

        if not scored:
            return []
        cap = self.settings.retrieval.max_per_article
        floor = max(scored[0][1], 0.0) * HIT_RELATIVE_FLOOR
        paragraphs = self.snapshot.paragraphs([n for n, _ in scored])
        aligned = self.snapshot.aligned_numbers([n for n, _ in scored])
        score_of = dict(scored)
        per_article: dict[str, int] = {}
        chosen: list[tuple[int, float]] = []
        for number in collapse_translations([n for n, _ in scored], aligned):
            score = score_of[number]
            if score < floor:
                break  # best first: everything after is lower still
            para = paragraphs.get(number)
            if para is None:
                continue
            if per_article.get(para.article_id, 0) >= cap:
                continue  # one article must not fill every slot with near-duplicates
            per_article[para.article_id] = per_article.get(para.article_id, 0) + 1
            chosen.append((number, score))
            if len(chosen) >= k:
                break
        others = self.snapshot.paragraphs([m for n, _ in chosen for m in aligned.get(n, ())])
        hits = []
        for number, score in chosen:
            para = paragraphs[number]
            article = self.snapshot.article(para.article_id)
            assert article is not None  # written together with the paragraphs
            hits.append(Hit(
                paragraph=para,
                article=article,
                score=float(score),
                dense_score=dense.get(number),
                keyword_score=keyword.get(number),
                aligned=tuple(others[m] for m in aligned.get(number, ()) if m in others),
            ))
        return hits
