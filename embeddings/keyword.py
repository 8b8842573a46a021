"""BM25 keyword index over paragraphs (bm25s), with the language-aware tokeniser.

The keyword side is what makes exact names win ("Dokdo", "Kishida", "독도"): the dense
model blurs rare proper nouns into their topic. Scores are plain BM25 (Lucene variant), so
they are comparable across queries of similar length, which the fusion relies on.

bm25s builds and saves the index (the write path). The read path does not import bm25s:
it memory-maps the saved score matrix (per-token posting lists) and scores only what a
question needs — the candidates' scores by lookup, the top-n by MaxScore — so a question
costs in proportion to its rarer words' postings, not to the corpus.
"""

from __future__ import annotations

import json
import logging
import math
from bisect import bisect_right
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings.tokenize import HANGUL, HANGUL_WORD, TOKENS_VERSION, KoreanMode, tokenize

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
_META = "keyword.json"
_BM25_DIR = "bm25"
# bm25s's file names (``BM25.save``): the CSC score matrix and the vocabulary.
_DATA, _INDICES, _INDPTR = "data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy"
_VOCAB, _PARAMS = "vocab.index.json", "params.index.json"
_NONOCCURRENCE = "nonoccurrence_array.index.npy"
# BM25's term-frequency saturation: k1 0.5 instead of bm25s's 1.5 (length normalisation b
# stays at the usual 0.75). A question names the words of the one sentence it asks about;
# a paragraph repeating its article's topic words is no likelier to answer it, so a word's
# second occurrence should add little. Fit on the tune halves (docs/retrieval.md): BM25
# alone on KorQuAD 0.899 at 1.5, 0.909 at 0.9, 0.917 at 0.5; the mean of Dari as quoted over
# every set 0.9000 at 1.5 / 0.75, 0.9010 at 0.9 / 0.75, 0.9022 at 0.5 / 0.75 (0.9027 at
# Anserini's 0.9 / 0.4, whose low b ranked a written Korean question's answer below RRF's).
# Baked into each generation's scores: a generation scored with others is rebuilt by the
# next refresh (``parameters_of``).
K1, B = 0.5, 0.75
# Per-token best contribution (written with the index so a load need not scan the matrix).
_TOKEN_BEST = "token_best.npy"
# A MaxScore bound is compared with float32 sums: leave room for their rounding.
_BOUND_SLACK = 1e-5
# Past 1/_DENSE_SHARE of the corpus in essential postings, and past half of all the
# question's postings (a dense pass reads them all), one dense pass is cheaper.
_DENSE_SHARE = 8


@dataclass(frozen=True)
class Postings:
    """BM25's precomputed score matrix, column per token (bm25s's CSC layout): passage
    ``indices[indptr[t]:indptr[t + 1]]`` (ascending) gets ``data[…]`` from token ``t``."""

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    documents: int

    def column(self, token: int) -> tuple[np.ndarray, np.ndarray]:
        """(passages, contributions) of ``token``."""
        a, b = int(self.indptr[token]), int(self.indptr[token + 1])
        return self.indices[a:b], self.data[a:b]

    def length(self, token: int) -> int:
        """Number of passages holding ``token``."""
        return int(self.indptr[token + 1] - self.indptr[token])

    def token_best(self) -> np.ndarray:
        """Per token, its best contribution to any passage."""
        data = np.asarray(self.data, dtype=np.float32)
        indptr = np.asarray(self.indptr)
        best = np.zeros(len(indptr) - 1, dtype=np.float32)
        filled = np.flatnonzero(np.diff(indptr) > 0)
        if len(filled):
            best[filled] = np.maximum.reduceat(data, indptr[filled])
        return best

    def columns_sorted(self) -> bool:
        """True when every column lists its passages in ascending order (lookups rely on it)."""
        indices = np.asarray(self.indices, dtype=np.int64)
        if len(indices) < 2:
            return True
        step = np.diff(indices) > 0
        # A column's first entry may be lower than the previous column's last one.
        starts = np.asarray(self.indptr[1:-1], dtype=np.int64)
        starts = starts[(starts > 0) & (starts < len(indices))]
        step[starts - 1] = True
        return bool(step.all())


class KeywordIndex:
    """BM25 over a fixed list of passages identified by string ids."""

    def __init__(self, ids: Sequence[str], vocab: dict[str, int], postings: Postings | None,
                 korean: KoreanMode = "morph", stemming: bool = True, *,
                 bm25: object | None = None, token_best: np.ndarray | None = None) -> None:
        self.ids: list[str] = list(ids)
        self._vocab = vocab
        self._matrix = postings  # None when the index is empty (bm25s cannot index nothing)
        self._bm25 = bm25  # the bm25s object of a freshly built index (what save writes)
        self._position: dict[str, int] | None = None  # passage id → row, built on first use
        self._best = token_best  # per-token best contribution
        # The Korean words of the vocabulary sorted, and sorted written backwards (their
        # starts and ends, for spelled_otherwise); built on first use.
        self._hangul: tuple[list[str], list[str]] | None = None
        self.korean: KoreanMode = korean
        self.stemming = stemming

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_bm25(cls, ids: Sequence[str], bm25: object, korean: KoreanMode = "morph",
                  stemming: bool = True) -> KeywordIndex:
        """Wrap an indexed ``bm25s.BM25`` (Lucene scoring) whose document ``i`` is ``ids[i]``."""
        matrix = bm25.scores  # type: ignore[attr-defined]  # bm25s ships no type information
        postings = Postings(data=np.asarray(matrix["data"], dtype=np.float32),
                            indices=np.asarray(matrix["indices"]),
                            indptr=np.asarray(matrix["indptr"]), documents=len(ids))
        if not postings.columns_sorted():
            raise ValueError("bm25s wrote postings out of passage order; keyword lookups "
                             "rely on ascending order within each token")
        vocab = _columns_only(bm25.vocab_dict, postings)  # type: ignore[attr-defined]  # untyped
        return cls(ids, vocab, postings, korean, stemming, bm25=bm25,
                   token_best=postings.token_best())

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str], *, korean: KoreanMode = "morph",
              stemming: bool = True, show_progress: bool = False,
              tokens: Sequence[list[str]] | None = None) -> KeywordIndex:
        """Tokenise ``texts`` and index them; ``ids[i]`` names ``texts[i]``. ``tokens``:
        the texts already tokenised (with :func:`embeddings.tokenize.tokenize` and the same
        ``korean``/``stemming``) by a caller that needs them too."""
        if len(ids) != len(texts):
            raise ValueError(f"{len(ids)} ids for {len(texts)} texts")
        if len(set(ids)) != len(ids):
            raise ValueError("passage ids must be unique")
        if not ids:
            return cls([], {}, None, korean, stemming)
        # bm25s (and scipy under it) is for building only: the read path never imports it.
        import bm25s
        from tqdm import tqdm

        if tokens is None:
            tokens = [
                tokenize(t, korean=korean, stemming=stemming)
                for t in tqdm(texts, desc="keyword tokens", unit="passage", disable=not show_progress)
            ]
        elif len(tokens) != len(texts):
            raise ValueError(f"{len(tokens)} token lists for {len(texts)} texts")
        bm25 = bm25s.BM25(k1=K1, b=B)
        bm25.index(list(tokens), show_progress=show_progress)
        log.debug("keyword index: %d passages, %d terms", len(ids), len(bm25.vocab_dict))
        return cls.from_bm25(ids, bm25, korean, stemming)

    def scores(self, tokens: Sequence[str]) -> KeywordScores:
        """One question's BM25 (for query ``tokens``, tokenised like the index), scored lazily.

        Nothing is scored over the whole corpus: the candidates' scores are looked up in
        the question's posting lists, and the top-n is found by MaxScore (only passages
        holding one of the question's rarer words can rank; see :meth:`KeywordScores.best`).
        Scores are bm25s's own, summed in the same order and precision.
        """
        ids = [self._vocab[t] for t in tokens if t in self._vocab]
        missing = tuple(dict.fromkeys(t for t in tokens if t not in self._vocab))
        if self._matrix is None or not ids:
            return KeywordScores(self, None, np.zeros(0, dtype=np.int64), 0.0, missing)
        token_ids = np.asarray(ids, dtype=np.int64)
        return KeywordScores(self, self._matrix, token_ids,
                             float(self._token_best()[token_ids].sum()), missing)

    def _token_best(self) -> np.ndarray:
        """Per vocabulary token, its best BM25 contribution to any passage (cached)."""
        best = self._best
        if best is None:
            assert self._matrix is not None
            best = self._matrix.token_best()
            self._best = best
        return best

    def idf(self, tokens: Sequence[str]) -> np.ndarray:
        """Lucene's IDF (as BM25 weighs a word) of each of ``tokens`` in this index; a token
        no passage holds weighs as at document frequency 0."""
        df = np.zeros(len(tokens), dtype=np.float64)
        if self._matrix is not None:
            indptr = self._matrix.indptr
            for i, token in enumerate(tokens):
                column = self._vocab.get(token)
                if column is not None:
                    df[i] = float(indptr[column + 1] - indptr[column])
        return lucene_idf(df, len(self))

    @property
    def vocabulary(self) -> dict[str, int]:
        """Token → column id (what :class:`embeddings.sentence_terms.SentenceTerms` stores)."""
        return self._vocab

    def spelled_otherwise(self, word: str) -> bool:
        """True when the index holds the Korean ``word``, which it lacks as a word, in
        another segmentation: as the start or the end of a longer indexed word (대만 in
        대만해협), or as two indexed words of two syllables or more (대만해협 as 대만 +
        해협), or, for a name written with spaces (바이오하자드 엄브렐러 크로니클즈), as
        its words each held so. Only words of Hangul syllables, two or more, are judged.

        kiwipiepy cuts a compound by its context and by what it has seen, so a question
        and the passage that answers it can segment the same name differently ("대만해협
        얘기" → 대만, 해협; the column's "대만해협 유사시" → 대만해협). A word held that way is
        not one the corpus never mentions. Single syllables never count as parts: nearly
        every syllable is indexed somewhere, as a noun or a name.
        """
        parts = word.split()
        if len(parts) > 1:  # kiwipiepy writes some names as one morpheme with spaces in it
            return all(p in self._vocab or self.spelled_otherwise(p) for p in parts)
        if len(word) < 2 or not HANGUL_WORD.fullmatch(word):
            return False
        forward, backward = self._hangul_words()
        for words, key in ((forward, word), (backward, word[::-1])):
            # The first word after ``key`` in order: a longer word starting with it, if any.
            i = bisect_right(words, key)
            if i < len(words) and words[i].startswith(key):
                return True
        return any(word[:cut] in self._vocab and word[cut:] in self._vocab
                   for cut in range(2, len(word) - 1))

    def warm(self) -> None:
        """Sort the Korean vocabulary now (what :meth:`spelled_otherwise` reads), so that
        no first question waits for it."""
        self._hangul_words()

    def _hangul_words(self) -> tuple[list[str], list[str]]:
        if self._hangul is None:
            korean = [t for t in self._vocab if HANGUL_WORD.fullmatch(t)]
            self._hangul = sorted(korean), sorted(t[::-1] for t in korean)
        return self._hangul

    def knows(self, tokens: Iterable[str]) -> bool:
        """True when every token occurs somewhere in the indexed passages."""
        return all(t in self._vocab for t in tokens)

    def position(self, pid: str) -> int | None:
        """Row of passage ``pid`` in the index (None if unknown)."""
        if self._position is None:
            self._position = {p: i for i, p in enumerate(self.ids)}
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
        """Write a freshly built index into ``directory`` (created if needed)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"version": FORMAT_VERSION, "tokens": TOKENS_VERSION, "ids": self.ids,
                "korean": self.korean, "stemming": self.stemming}
        if self._matrix is not None:
            if self._bm25 is None:
                raise ValueError("only a freshly built keyword index can be saved")
            self._bm25.save(str(directory / _BM25_DIR),  # type: ignore[attr-defined]  # untyped
                            show_progress=False)
            np.save(directory / _BM25_DIR / _TOKEN_BEST, self._token_best())
        tmp = directory / (_META + ".tmp")
        tmp.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        tmp.replace(directory / _META)  # the metadata is written last: its presence means complete

    @classmethod
    def load(cls, directory: Path) -> KeywordIndex:
        """Read an index written by :meth:`save` (the score matrix memory-mapped); raises
        ``FileNotFoundError``/``ValueError``."""
        directory = Path(directory)
        meta_path = directory / _META
        if not meta_path.is_file():
            raise FileNotFoundError(f"no keyword index in {directory}")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"keyword index in {directory} has format {meta.get('version')},"
                             f" expected {FORMAT_VERSION}: rebuild it")
        korean, stemming = meta.get("korean", "morph"), meta.get("stemming", True)
        if not meta["ids"]:
            return cls([], {}, None, korean, stemming)
        folder = directory / _BM25_DIR
        params = json.loads((folder / _PARAMS).read_text(encoding="utf-8"))
        if (folder / _NONOCCURRENCE).is_file() or params.get("method", "lucene") != "lucene":
            raise ValueError(f"keyword index in {directory} is not Lucene BM25: rebuild it")
        vocab = json.loads((folder / _VOCAB).read_text(encoding="utf-8"))
        # Plain views of the maps: numpy's memmap subclass costs per indexing call.
        postings = Postings(data=np.asarray(np.load(folder / _DATA, mmap_mode="r")),
                            indices=np.asarray(np.load(folder / _INDICES, mmap_mode="r")),
                            indptr=np.load(folder / _INDPTR), documents=len(meta["ids"]))
        vocab = _columns_only(vocab, postings)
        if len(vocab) != len(postings.indptr) - 1:
            raise ValueError(f"keyword index in {directory} is damaged: rebuild it")
        best_path = folder / _TOKEN_BEST
        best = np.load(best_path) if best_path.is_file() else None
        return cls(meta["ids"], vocab, postings, korean, stemming, token_best=best)


def _positions(column: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """``np.searchsorted(column, keys)`` with the keys in the column's own integer type: a
    posting column is int32 as bm25s writes it, and int64 keys made numpy convert the whole
    column (thousands of entries for a common word) on every call: 300 passages looked up in
    a column of 30,000 took 14.5 µs, 7.1 µs with int32 keys. Passage numbers fit in int32."""
    return np.searchsorted(column, keys.astype(column.dtype, copy=False))


def _merge(numbers: np.ndarray, lower: np.ndarray, column: np.ndarray, values: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """The union of two sorted posting runs, each passage's values summed: one stable sort of
    two sorted runs (a linear merge) instead of sorting every essential posting again."""
    if not len(numbers):
        return column, values
    merged = np.concatenate([numbers, column])
    weights = np.concatenate([lower, values])
    order = np.argsort(merged, kind="stable")
    merged, weights = merged[order], weights[order]
    first = np.empty(len(merged), dtype=bool)
    first[0] = True
    np.not_equal(merged[1:], merged[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    return merged[starts], np.add.reduceat(weights, starts)


def _survivors(numbers: np.ndarray, lower: np.ndarray, rest: float, n: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """The passages (and their lower bounds) that can still be among the ``n`` best: their
    bound plus ``rest`` (what the tokens not yet counted can add) reaches the ``n``-th best
    bound. Float64 bounds stand for float32 sums: the slack keeps every tie with the n-th."""
    if len(lower) <= n:
        return numbers, lower
    nth = float(np.partition(lower, len(lower) - n)[len(lower) - n])
    keep = lower + rest + _BOUND_SLACK * (nth + rest) >= nth
    return numbers[keep], lower[keep]


def _columns_only(vocab: dict[str, int], postings: Postings) -> dict[str, int]:
    """``vocab`` without the tokens that have no column (bm25s adds "" to every vocabulary)."""
    columns = len(postings.indptr) - 1
    return {token: i for token, i in vocab.items() if 0 <= i < columns}


def parameters_of(directory: Path) -> tuple[float, float] | None:
    """The (k1, b) that the keyword index saved in ``directory`` was scored with; None
    when it holds no score matrix (an empty index) or is not readable."""
    try:
        params = json.loads((Path(directory) / _BM25_DIR / _PARAMS).read_text(encoding="utf-8"))
        return float(params["k1"]), float(params["b"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def tokens_of(directory: Path) -> int | None:
    """The tokeniser version (``tokenize.TOKENS_VERSION``) the keyword index saved in
    ``directory`` was built with: 1 for an index written before the version was recorded,
    None when it is not readable."""
    try:
        meta = json.loads((Path(directory) / _META).read_text(encoding="utf-8"))
        return int(meta.get("tokens", 1))
    except (OSError, ValueError, TypeError, AttributeError):
        return None


# A rarity floor: one for every word, or (Korean words, other words).
Floor = float | tuple[float, float]


def rare_unseen(missing: Sequence[str], rarity: Callable[[str], float], floor: Floor,
                predicates: Callable[[], Collection[str]] = frozenset,
                held: Callable[[str], bool] = lambda word: False) -> list[str]:
    """The ``missing`` words (the index lacks them) at least ``floor`` rare, less the
    question's ``predicates`` (asked for only when such a word is found) and the words
    the index ``held`` in another segmentation (:meth:`KeywordIndex.spelled_otherwise`)."""
    korean, other = floor if isinstance(floor, tuple) else (floor, floor)
    rare = [t for t in missing if rarity(t) >= (korean if HANGUL.search(t) else other)]
    if rare:
        skip = predicates()
        rare = [t for t in rare if t not in skip and not held(t)]
    return rare


def lucene_idf(df: np.ndarray, documents: int) -> np.ndarray:
    """Lucene's IDF (BM25's word weight) of words held by ``df`` of ``documents`` passages."""
    return np.log1p((float(documents) - df + 0.5) / (df + 0.5))


def unseen_share(unseen: int, documents: int, known_weight: float) -> float:
    """The share of a question's IDF weight that its ``unseen`` words carry, each weighing
    Lucene's IDF at document frequency 0 in ``documents`` passages, beside the words the
    index knows (their IDF summed: ``known_weight``). 0 without unseen words."""
    if unseen <= 0:
        return 0.0
    weight = unseen * math.log1p((documents + 0.5) / 0.5)
    return weight / (weight + known_weight)


class KeywordScores:
    """One question's BM25, and the bound that normalises it.

    ``bound`` is the sum, over the question's tokens, of each token's best contribution to
    any passage: no passage can score more, so ``score / bound`` is an absolute share in
    [0, 1] — how much of the question's (IDF-weighted) vocabulary a passage covers — that
    means the same for a two-word and a twenty-word question, in any language, at any
    corpus size. The fusion and the no-answer rule use that share, not raw BM25.
    """

    def __init__(self, index: KeywordIndex, postings: Postings | None, tokens: np.ndarray,
                 bound: float, missing: Sequence[str] = ()) -> None:
        self.index = index
        self._postings = postings
        self._tokens = tokens  # token ids in query order (repeats count, as in bm25s)
        self.bound = bound
        self.missing = tuple(missing)  # distinct query tokens no indexed passage holds
        # Exact scores that :meth:`best` computed (sorted passage numbers, scores), or every
        # passage's when it scored the whole corpus: the candidates' lookups that follow
        # read them instead of searching the postings again (one scoring pass a question).
        self._known: tuple[np.ndarray, np.ndarray] | None = None
        self._all: np.ndarray | None = None

    @property
    def empty(self) -> bool:
        """True when the question matched no indexed token (every score is 0)."""
        return self._postings is None or not len(self._tokens)

    def at(self, numbers: Sequence[int] | np.ndarray) -> np.ndarray:
        """Raw BM25 (float32) of passages ``numbers``, looked up in the question's postings."""
        rows = np.asarray(numbers, dtype=np.int64)
        if self._all is not None:
            return self._all[rows]
        if self._known is None or not len(rows):
            return self._lookup(rows)
        known, values = self._known
        where = np.minimum(np.searchsorted(known, rows), max(len(known) - 1, 0))
        found = known[where] == rows
        out = np.empty(len(rows), dtype=np.float32)
        out[found] = values[where[found]]
        out[~found] = self._lookup(rows[~found])
        return out

    def _lookup(self, rows: np.ndarray) -> np.ndarray:
        """Raw BM25 of ``rows``, summed token by token from the question's postings."""
        out = np.zeros(len(rows), dtype=np.float32)
        if self.empty or not len(rows):
            return out
        assert self._postings is not None
        for token in self._tokens.tolist():  # query order: the sums match bm25s's bit for bit
            passages, values = self._postings.column(token)
            if not len(passages):
                continue
            where = _positions(passages, rows)
            inside = where < len(passages)
            where = np.where(inside, where, 0)
            found = inside & (passages[where] == rows)
            out[found] += values[where[found]]
        return out

    def best(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` best passages (numbers, raw BM25), best first, score > 0 only; ties by
        passage number.

        MaxScore: the question's tokens in decreasing order of their best contribution; a
        passage holding none of the first ``m`` scores at most the sum of the others' best
        (``rest``). What the first ``m`` tokens' postings give a passage is a lower bound of
        its score; once the ``n``-th best lower bound exceeds ``rest``, no other passage can
        enter the top ``n``. Of those passages, only the ones whose bound plus ``rest`` reaches
        that ``n``-th bound can still rank: only they are scored exactly. Common words (long
        postings, small contributions) are then looked up for a few hundred passages, not
        scanned or searched for thousands.
        """
        if self.empty or n <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        assert self._postings is not None
        unique, counts = np.unique(self._tokens, return_counts=True)
        ceiling = self.index._token_best()[unique].astype(np.float64) * counts
        order = np.argsort(-ceiling, kind="stable")
        postings = self._postings
        lengths = np.array([postings.length(int(t)) for t in unique[order]], dtype=np.int64)
        total = int(lengths.sum())
        numbers = np.zeros(0, dtype=np.int64)
        lower = np.zeros(0, dtype=np.float64)
        scores = np.zeros(0, dtype=np.float32)
        for m in range(1, len(order) + 1):
            essential = int(lengths[:m].sum())
            if essential > postings.documents // _DENSE_SHARE and 2 * essential > total:
                numbers, scores = self._every()  # most postings are essential: score them all
                break
            column, values = postings.column(int(unique[order[m - 1]]))
            numbers, lower = _merge(numbers, lower, np.asarray(column, dtype=np.int64),
                                    np.asarray(values, dtype=np.float64) * float(counts[order[m - 1]]))
            rest = float(ceiling[order[m:]].sum())
            nth = (float(np.partition(lower, len(lower) - n)[len(lower) - n])
                   if len(lower) >= n else 0.0)
            if m == len(order) or (len(lower) >= n and rest * (1 + _BOUND_SLACK) < nth):
                # The other tokens one by one, rarest first: each raises the survivors'
                # bounds and lowers ``rest``, so fewer can still reach the n-th.
                for token, ceil, k in zip(unique[order[m:]].tolist(), ceiling[order[m:]].tolist(),
                                          counts[order[m:]].tolist(), strict=True):
                    numbers, lower = _survivors(numbers, lower, rest, n)
                    column, values = postings.column(token)
                    where = np.minimum(_positions(column, numbers), max(len(column) - 1, 0))
                    found = column[where] == numbers if len(column) else where < 0
                    lower[found] += np.asarray(values[where[found]], dtype=np.float64) * k
                    rest -= ceil
                numbers, lower = _survivors(numbers, lower, max(rest, 0.0), n)
                scores = self._lookup(numbers)  # exact: bm25s's float32 sums in query order
                self._known = (numbers, scores)
                break
        keep = scores > 0
        numbers, scores = numbers[keep], scores[keep]
        if len(numbers) > 4 * n:
            cut = np.argpartition(-scores, n - 1)[:n]
            # Every passage tied with the n-th stays in, so ties still go by passage number.
            keep = scores >= scores[cut].min()
            numbers, scores = numbers[keep], scores[keep]
        ranked = np.lexsort((numbers, -scores))[:n]
        return numbers[ranked], scores[ranked]

    def _every(self) -> tuple[np.ndarray, np.ndarray]:
        """Every passage's BM25 (numbers, scores) accumulated over the whole corpus, as bm25s."""
        assert self._postings is not None
        dense = np.zeros(self._postings.documents, dtype=np.float32)
        for token in self._tokens.tolist():
            passages, values = self._postings.column(token)
            dense[passages] += values
        self._all = dense
        numbers = np.flatnonzero(dense)
        return numbers, dense[numbers]

    def top(self, n: int) -> list[tuple[str, float]]:
        """The ``n`` best passages as (id, raw BM25), best first, score > 0 only."""
        numbers, scores = self.best(n)
        pairs = zip(numbers.tolist(), scores.tolist(), strict=True)
        return [(self.index.ids[i], float(s)) for i, s in pairs]

    def of(self, ids: Iterable[str]) -> dict[str, float]:
        """Raw BM25 of each of ``ids`` known to the index (0 included)."""
        known = [(pid, i) for pid in ids if (i := self.index.position(pid)) is not None]
        values = self.at([i for _, i in known])
        return {pid: float(v) for (pid, _), v in zip(known, values.tolist(), strict=False)}

    def terms(self) -> tuple[np.ndarray, np.ndarray]:
        """The question's distinct token ids (sorted) and each one's weight, its IDF
        (Lucene's, as BM25 uses): how rare the word is, without the length normalisation
        that a BM25 contribution mixes in (measured better for sentence coverage on the
        KorQuAD tune half: ``docs/retrieval.md``)."""
        if self.empty:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        assert self._postings is not None
        unique = np.unique(self._tokens).astype(np.int64)
        indptr = self._postings.indptr
        df = (np.asarray(indptr[unique + 1]) - np.asarray(indptr[unique])).astype(np.float64)
        return unique, lucene_idf(df, self._postings.documents)

    def unknown(self, rarity: Callable[[str], float] | None, floor: Floor,
                predicates: Callable[[], Collection[str]] = frozenset) -> float:
        """The IDF-weighted share of the question's distinct words that no indexed passage
        holds and that are rare in the language at large (``rarity(word) >= floor``; 0
        without a ``rarity``), less its ``predicates`` (asked for only when a rare unseen
        word is found). A word never seen weighs as a word of one passage less than the
        rarest can (Lucene's IDF at document frequency 0).

        The keyword shares cannot show this — a share is of the words the index knows —
        while a question about what the corpus never mentions is made of exactly such
        words: its names and its rare terms. Rarity keeps out everyday words ("want", "fix")
        that a small corpus happens not to use; the predicates keep out verb and adjective
        stems, which say what happens, not what about, and which a Korean analyser may
        segment otherwise in the question than in the passage (바뀌었다 / 바뀐). A Korean
        word the index holds in another segmentation is not unseen
        (:meth:`KeywordIndex.spelled_otherwise`).
        """
        if rarity is None or not self.missing:
            return 0.0
        rare = rare_unseen(self.missing, rarity, floor, predicates, self.index.spelled_otherwise)
        return unseen_share(len(rare), len(self.index), float(self.terms()[1].sum()))

    def share(self, score: float) -> float:
        """``score`` as a share of the bound (0 when the question matched no token)."""
        return min(1.0, score / self.bound) if self.bound > 0 else 0.0
