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
        self._best: np.ndarray | None = None  # per-token best contribution, built on first use
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

    def scores(self, tokens: Sequence[str]) -> "KeywordScores":
        """BM25 of every passage for query ``tokens`` (tokenised like the index), in one pass.

        The same scores serve the top-n candidates and every counterpart's lookup, so a
        question is scored once (it used to be scored twice).
        """
        if self._bm25 is None or not tokens:
            return KeywordScores(self, np.zeros(len(self.ids), dtype=np.float32), 0.0)
        ids = self._bm25.get_tokens_ids(list(tokens))  # type: ignore[attr-defined]
        if not ids:
            return KeywordScores(self, np.zeros(len(self.ids), dtype=np.float32), 0.0)
        scores = np.asarray(self._bm25.get_scores(ids), dtype=np.float32)  # type: ignore[attr-defined]
        return KeywordScores(self, scores, float(self._token_best()[ids].sum()))

    def _token_best(self) -> np.ndarray:
        """Per vocabulary token, its best BM25 contribution to any passage (cached)."""
        best = self._best
        if best is None:
            matrix = self._bm25.scores  # type: ignore[attr-defined]
            data = np.asarray(matrix["data"], dtype=np.float32)
            indptr = np.asarray(matrix["indptr"])
            best = np.zeros(len(indptr) - 1, dtype=np.float32)
            filled = np.flatnonzero(np.diff(indptr) > 0)
            if len(filled):
                best[filled] = np.maximum.reduceat(data, indptr[filled])
            self._best = best
        return best

    def knows(self, tokens: Iterable[str]) -> bool:
        """True when every token occurs somewhere in the indexed passages."""
        vocab = self._bm25.vocab_dict if self._bm25 is not None else {}  # type: ignore[attr-defined]
        return all(t in vocab for t in tokens)

    def position(self, pid: str) -> int | None:
        """Row of passage ``pid`` in the index (None if unknown)."""
        return self._position.get(pid)

    def query_tokens(self, query: str) -> list[str]:
        """``query`` tokenised the way the index was."""
        return tokenize(query, korean=self.korean, stemming=self.stemming)

    def search(self, query: str, n: int) -> list[tuple[str, float]]:
        """The ``n`` best passages for ``query`` as (id, BM25 score), best first, score > 0 only."""
        return self.scores(self.query_tokens(query)).top(n)

    def scores_for(self, query: str, ids: Iterable[str]) -> dict[str, float]:
        """BM25 score of ``query`` for each of ``ids`` known to the index (0 included)."""
        return self.scores(self.query_tokens(query)).of(ids)

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


class KeywordScores:
    """One question's BM25 over every passage, and the bound that normalises it.

    ``bound`` is the sum, over the question's tokens, of each token's best contribution to
    any passage: no passage can score more, so ``score / bound`` is an absolute share in
    [0, 1] — how much of the question's (IDF-weighted) vocabulary a passage covers — that
    means the same for a two-word and a twenty-word question, in any language, at any
    corpus size. The fusion and the no-answer rule use that share, not raw BM25.
    """

    def __init__(self, index: KeywordIndex, scores: np.ndarray, bound: float) -> None:
        self.index = index
        self.array = scores
        self.bound = bound

    def top(self, n: int) -> list[tuple[str, float]]:
        """The ``n`` best passages as (id, raw BM25), best first, score > 0 only."""
        scores = self.array
        if scores.size == 0 or n <= 0:
            return []
        n = min(n, scores.size)
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.index.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def of(self, ids: Iterable[str]) -> dict[str, float]:
        """Raw BM25 of each of ``ids`` known to the index (0 included)."""
        out: dict[str, float] = {}
        for pid in ids:
            i = self.index.position(pid)
            if i is not None and self.array.size:
                out[pid] = float(self.array[i])
        return out

    def share(self, score: float) -> float:
        """``score`` as a share of the bound (0 when the question matched no token)."""
        return min(1.0, score / self.bound) if self.bound > 0 else 0.0
