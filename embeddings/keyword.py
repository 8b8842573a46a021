"""BM25 keyword index over paragraphs (bm25s), with the language-aware tokeniser.

The keyword side is what makes exact names win ("Dokdo", "Kishida", "독도"): the dense
model blurs rare proper nouns into their topic. Scores are plain BM25 (Lucene variant), so
they are comparable across queries of similar length, which the fusion relies on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from embeddings.tokenize import KoreanMode, tokenize

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
_META = "keyword.json"


class KeywordIndex:
    """BM25 over a fixed list of passages identified by string ids."""

    def __init__(self, ids: Sequence[str], bm25: object | None, korean: KoreanMode = "morph",
                 stemming: bool = True) -> None:
        self.ids: list[str] = list(ids)
        self._bm25 = bm25  # None when the index is empty (bm25s cannot index nothing)
        self._position = {pid: i for i, pid in enumerate(self.ids)}
        self.korean: KoreanMode = korean
        self.stemming = stemming

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str], *, korean: KoreanMode = "morph",
              stemming: bool = True, show_progress: bool = False) -> "KeywordIndex":
        """Tokenise ``texts`` and index them; ``ids[i]`` names ``texts[i]``."""
        if len(ids) != len(texts):
            raise ValueError(f"{len(ids)} ids for {len(texts)} texts")
        if len(set(ids)) != len(ids):
            raise ValueError("passage ids must be unique")
        if not ids:
            return cls([], None, korean, stemming)
        import bm25s
        from tqdm import tqdm

        tokens = [
            tokenize(t, korean=korean, stemming=stemming)
            for t in tqdm(texts, desc="keyword tokens", unit="passage", disable=not show_progress)
        ]
        bm25 = bm25s.BM25()
        bm25.index(tokens, show_progress=show_progress)
        log.debug("keyword index: %d passages, %d terms", len(ids), len(bm25.vocab_dict))
        return cls(ids, bm25, korean, stemming)

    def _scores(self, query: str) -> np.ndarray:
        if self._bm25 is None:
            return np.zeros(0, dtype=np.float32)
        tokens = tokenize(query, korean=self.korean, stemming=self.stemming)
        if not tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)  # type: ignore[attr-defined]

    def search(self, query: str, n: int) -> list[tuple[str, float]]:
        """The ``n`` best passages for ``query`` as (id, BM25 score), best first, score > 0 only."""
        scores = self._scores(query)
        if scores.size == 0 or n <= 0:
            return []
        n = min(n, scores.size)
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def scores_for(self, query: str, ids: Iterable[str]) -> dict[str, float]:
        """BM25 score of ``query`` for each of ``ids`` known to the index (0 included).

        Used by the fusion to look up the score of a candidate's aligned counterpart,
        which may be outside the top-n list.
        """
        scores = self._scores(query)
        out: dict[str, float] = {}
        for pid in ids:
            i = self._position.get(pid)
            if i is not None and scores.size:
                out[pid] = float(scores[i])
        return out

    def save(self, directory: Path) -> None:
        """Write the index into ``directory`` (created if needed)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"version": FORMAT_VERSION, "ids": self.ids, "korean": self.korean,
                "stemming": self.stemming}
        if self._bm25 is not None:
            self._bm25.save(str(directory / "bm25"), show_progress=False)  # type: ignore[attr-defined]
        tmp = directory / (_META + ".tmp")
        tmp.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        tmp.replace(directory / _META)  # the metadata is written last: its presence means complete

    @classmethod
    def load(cls, directory: Path) -> "KeywordIndex":
        """Read an index written by :meth:`save`; raises ``FileNotFoundError``/``ValueError``."""
        directory = Path(directory)
        meta_path = directory / _META
        if not meta_path.is_file():
            raise FileNotFoundError(f"no keyword index in {directory}")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"keyword index in {directory} has format {meta.get('version')},"
                             f" expected {FORMAT_VERSION}: rebuild it")
        bm25 = None
        if meta["ids"]:
            import bm25s

            bm25 = bm25s.BM25.load(str(directory / "bm25"), show_progress=False)
        return cls(meta["ids"], bm25, meta.get("korean", "morph"), meta.get("stemming", True))
