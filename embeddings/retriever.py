"""Search one loaded index generation: dense + keyword candidates, fusion, threshold, cap.

A :class:`Retriever` is immutable once loaded: a refresh builds a new generation and the
service swaps in a new Retriever, so a query never sees half of two generations.
Hits are built from the generation's own snapshot of paragraphs, articles and alignments,
so the old generation answers correctly even after the store has ingested newer files.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from corpus.models import Article, Paragraph
from dari.config import Settings
from embeddings.index import DenseIndex
from embeddings.manifest import Manifest, NoIndex, index_root, read_current
from embeddings.models import Hit
from embeddings.refresh import KEYWORD_DIR, SNAPSHOT

log = logging.getLogger(__name__)

_ARTICLE_FIELDS = ("id", "title", "outlet", "country", "published", "author", "translator",
                   "editor", "url", "title_ko")


@dataclass(frozen=True)
class Candidate:
    """A paragraph found by either side before fusion."""

    paragraph_id: str
    dense: float | None = None
    keyword: float | None = None


class Snapshot:
    """The paragraphs, article metadata and alignments frozen with a generation."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.rows: list[str] = data["rows"]
        self.articles: dict[str, Article] = {
            aid: Article(**{k: (tuple(v) if k == "sources" else v) for k, v in meta.items()
                            if k in _ARTICLE_FIELDS or k == "sources"})
            for aid, meta in data["articles"].items()
        }
        self.paragraphs: dict[str, Paragraph] = {
            pid: Paragraph(id=pid, article_id=a, language=lang, position=pos, text=text)
            for pid, (a, lang, pos, text) in data["paragraphs"].items()
        }
        self.aligned_ids: dict[str, list[str]] = data.get("aligned", {})

    @classmethod
    def load(cls, path: Path) -> "Snapshot":
        with open(path, encoding="utf-8") as fh:
            return cls(json.load(fh))

    def aligned(self, pid: str) -> tuple[Paragraph, ...]:
        """The counterpart paragraph(s) of ``pid`` in the other language."""
        return tuple(self.paragraphs[x] for x in self.aligned_ids.get(pid, ()) if x in self.paragraphs)


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
        generation carries its own snapshot. Raises :class:`NoIndex` when there is none.
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
        dense = DenseIndex.load(directory, settings.index)
        from embeddings.keyword import KeywordIndex

        keyword = KeywordIndex.load(directory / KEYWORD_DIR)
        snapshot = Snapshot.load(directory / SNAPSHOT)
        if dense.ntotal != manifest.count or len(snapshot.rows) != manifest.count:
            from embeddings.manifest import IndexMismatch

            raise IndexMismatch(
                f"index generation {name} is inconsistent ({dense.ntotal} vectors, "
                f"{len(snapshot.rows)} rows, manifest says {manifest.count}); "
                "run `dari index --full` to rebuild")
        log.info("loaded index generation %s: %d passages (%s), %d paragraphs", name,
                 manifest.count, manifest.kind, len(snapshot.paragraphs))
        return cls(settings, manifest, dense, keyword, snapshot, encoder)

    # -- search ---------------------------------------------------------------------------

    def dense_candidates(self, query_vector: np.ndarray, n: int,
                         language: str | None = None) -> dict[str, float]:
        """Best cosine per paragraph among the top passages (passages collapse to paragraphs)."""
        # Over-fetch: several passages may belong to one paragraph, and a language filter
        # discards about half of a bilingual corpus.
        fetch = n * (3 if language else 2)
        scores, rows = self.dense.search(query_vector, fetch)
        best: dict[str, float] = {}
        for score, row in zip(scores[0], rows[0]):
            if row < 0:
                continue
            pid = self.snapshot.rows[row]
            if language and self.snapshot.paragraphs[pid].language != language:
                continue
            if pid not in best or score > best[pid]:
                best[pid] = float(score)
            if len(best) >= n:
                break
        return best

    def keyword_candidates(self, query: str, n: int, language: str | None = None) -> dict[str, float]:
        """BM25 candidates (paragraph id → score)."""
        found = self.keyword.search(query, n * 2 if language else n)
        out: dict[str, float] = {}
        for pid, score in found:
            if language and self.snapshot.paragraphs[pid].language != language:
                continue
            out[pid] = score
            if len(out) >= n:
                break
        return out

    def search(self, query: str, k: int | None = None, language: str | None = None) -> list[Hit]:
        """The ``k`` best relevant paragraphs for ``query`` (optionally in one ``language``)."""
        query = query.strip()
        if not query:
            return []
        cfg = self.settings.retrieval
        k = k or cfg.top_k
        n = max(cfg.candidates, k)
        qv = np.asarray(self.encoder.encode_queries([query]), dtype=np.float32)[0]
        dense = self.dense_candidates(qv, n, language)
        keyword = self.keyword_candidates(query, n, language)
        scored = self._fuse(query, qv, dense, keyword)
        return self._select(scored, dense, keyword, k)

    def _fuse(self, query: str, qv: np.ndarray, dense: dict[str, float],
              keyword: dict[str, float]) -> list[tuple[str, float]]:
        """Fused (paragraph id, score), best first, above the relevance threshold."""
        from embeddings import fusion

        return fusion.fuse_for_retriever(self, query, qv, dense, keyword)  # type: ignore[attr-defined]

    def _select(self, scored: list[tuple[str, float]], dense: dict[str, float],
                keyword: dict[str, float], k: int) -> list[Hit]:
        """Apply the per-article cap and build the hits."""
        cap = self.settings.retrieval.max_per_article
        per_article: dict[str, int] = {}
        hits: list[Hit] = []
        for pid, score in scored:
            para = self.snapshot.paragraphs.get(pid)
            if para is None:
                continue
            if per_article.get(para.article_id, 0) >= cap:
                continue  # one article must not fill every slot with near-duplicates
            per_article[para.article_id] = per_article.get(para.article_id, 0) + 1
            hits.append(Hit(
                paragraph=para,
                article=self.snapshot.articles[para.article_id],
                score=float(score),
                dense_score=dense.get(pid),
                keyword_score=keyword.get(pid),
                aligned=self.snapshot.aligned(pid),
            ))
            if len(hits) >= k:
                break
        return hits
