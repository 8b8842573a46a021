"""Search one loaded index generation: the one retrieval pipeline.

Candidates come from both sides (dense passages and BM25 over the question's topic terms);
every candidate is then scored *exactly* on both — its paragraph cosine, its best stored
sentence's cosine, its keyword share — together with its aligned translation's, so the
fusion (``embeddings.fusion``) never guesses a missing score. The no-answer rule judges the
question, then each passage on its own evidence; a paragraph and its translation are one
hit, shown from the asker's language side.

A :class:`Retriever` is immutable once loaded: a refresh builds a new generation and the
service swaps in a new Retriever, so a query never sees half of two generations. Hits are
built from the generation's own snapshot (``embeddings.snapshot``), so the old generation
answers correctly even after the store has ingested newer files.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from threadpoolctl import ThreadpoolController

from corpus.models import Paragraph
from corpus.text import match_key
from embeddings import fusion
from embeddings.companion import CompanionEncoder, CompanionVectors
from embeddings.fusion import Candidate, Columns, Evidence
from embeddings.half import run_max
from embeddings.index import DenseIndex
from embeddings.keyword import KeywordIndex, KeywordScores
from embeddings.manifest import KEYWORD_DIR, IndexMismatch, Manifest, NoIndex, index_root, read_current
from embeddings.models import Hit
from embeddings.protocols import TextEncoder
from embeddings.question import (
    anchor_terms,
    looks_like_name,
    question_language,
    topic_terms,
    without_scaffolding,
)
from embeddings.ragged import ranges, segment_max
from embeddings.rarity import WordRarity
from embeddings.sentence_terms import SentenceTerms
from embeddings.sentences import StoredSentences
from embeddings.snapshot import LANG_CODES, Snapshot
from embeddings.tokenize import anchor_finder, korean_predicates
from settings.config import Settings

log = logging.getLogger(__name__)

# A language with fewer paragraphs than this share of the corpus (and fewer than
# fusion.BASELINE_CANDIDATES) gets no candidates or baseline of its own.
_MINOR_LANGUAGE = 0.1
# Dense rows fetched per paragraph wanted: a paragraph longer than the model's window has
# several rows, and in a bilingual corpus the first search must hold ``want`` paragraphs of
# each language (measured: 1.5 left a language short at 100k, and its own masked search cost
# more than the breadth saved). A result still short is widened.
ROWS_PER_PARAGRAPH = 3
# What a question needs beyond its e5 vector (the companion's vector, its keyword side) is
# computed in a thread of its own while e5 encodes it (ONNX Runtime and the companion's
# products release the GIL): measured, the companion and e5 in turn 9.4 ms, at once 7.7 ms,
# e5 alone 7.4.
_BESIDE = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dari-beside")


def collapse_translations(numbers: Sequence[int], aligned: Mapping[int, Sequence[int]],
                          limit: int | None = None) -> list[int]:
    """``numbers`` (best first) without the paragraphs whose translation ranks higher: a
    paragraph and its translation are one hit, shown together (also how ``dari eval`` ranks
    every method, so all are compared in the units users see). ``limit``: the first that
    many units only (a search reads no further)."""
    covered: set[int] = set()
    out: list[int] = []
    for n in numbers:
        if n in covered:
            continue
        out.append(n)
        if limit is not None and len(out) >= limit:
            break
        covered.add(n)
        covered.update(aligned.get(n, ()))
    return out


@dataclass
class SearchTrace:
    """What one :meth:`Retriever.search` saw: `dari eval` scores every method from it."""

    candidates: list[Candidate] = field(default_factory=list)
    aligned: dict[int, list[int]] = field(default_factory=dict)
    evidence: Evidence | None = None
    probability: float = 0.0
    threshold: float = 0.0


class Retriever:
    """One loaded generation plus the encoder; ``search`` is safe to call from many threads."""

    def __init__(self, settings: Settings, manifest: Manifest, dense: DenseIndex,
                 keyword: KeywordIndex, snapshot: Snapshot, encoder: TextEncoder,
                 sentences: StoredSentences | None = None,
                 sentence_terms: SentenceTerms | None = None,
                 companion: CompanionVectors | None = None,
                 rarity: WordRarity | None = None) -> None:
        self.settings = settings
        # How rare a word is in its language (the unknown-words evidence); None: not judged.
        self.rarity = rarity
        self.companion = companion  # None for a generation built before companion vectors
        self.sentences = sentences  # None for a generation built before sentence vectors
        self.sentence_terms = sentence_terms  # None for one built before sentence terms
        # A question's keyword ids and weights, for the answer's trimming of each hit (once
        # per question, not once per quoted passage; read from the question's scores below).
        self._question_terms = lru_cache(maxsize=256)(self._terms_of)
        # A question's topic terms and their BM25 scores, which its keyword side and its
        # answer's trimming both read (scored once per question, not once for each). Each
        # entry holds the question's postings, so only the last few questions are kept.
        self._question_scores = lru_cache(maxsize=32)(self._scores_of)
        # A quoted paragraph's number: answers ask for its sentence vectors and for its
        # sentence coverage (one snapshot query per paragraph, not one per question asked).
        self._number_of = lru_cache(maxsize=4096)(self._paragraph_number)
        # A question's companion vector (of its words without scaffolding): encoded beside
        # e5's by encode_query, read by the search that follows.
        self._companion_query = lru_cache(maxsize=256)(self._encode_companion)
        # A question's keyword side (topic terms, their BM25, the best-scored paragraphs),
        # which needs no vector: likewise computed beside the encoding. Each entry holds the
        # question's postings, so only the last few questions are kept.
        self._keyword_side = lru_cache(maxsize=32)(self._keyword_of)
        self.manifest = manifest
        self.dense = dense
        self.keyword = keyword
        self.snapshot = snapshot
        self.encoder = encoder
        # Keyword row i is paragraph number i (both follow the generation's paragraph order).
        if len(keyword) != len(snapshot):
            raise IndexMismatch(f"index generation {manifest.generation}: keyword index has "
                                f"{len(keyword)} paragraphs, snapshot {len(snapshot)}; "
                                "run `dari index --full` to rebuild")
        # The languages the generation holds enough of to judge a cosine against (each gets
        # its own dense candidates and baseline). A language with a handful of paragraphs
        # (a few English-looking lines in a Korean corpus) has no meaningful baseline: its
        # paragraphs compete on the overall one, and only when they rank on their own.
        counts = np.bincount(snapshot.langs, minlength=len(LANG_CODES))
        self._languages = [code for code, n in zip(LANG_CODES, counts, strict=False)
                           if n >= min(fusion.BASELINE_CANDIDATES, _MINOR_LANGUAGE * len(snapshot))
                           and n > 0]
        # Dense rows of each paragraph: rows _row_order[_row_start[n]:_row_start[n + 1]].
        self._row_order = np.argsort(snapshot.rows, kind="stable")
        # Rows written in paragraph order (as every refresh writes them): each paragraph's
        # rows are one run, read in place.
        self._rows_in_order = bool(np.all(np.diff(snapshot.rows) >= 0))
        self._row_start = np.searchsorted(snapshot.rows[self._row_order],
                                          np.arange(len(snapshot) + 1))
        # The products of a search are small (a few hundred rows): OpenBLAS's threads cost
        # far more than they save, ten times more on a busy two-core machine (measured).
        self._blas = ThreadpoolController().select(user_api="blas")
        # Per language: a mask over the dense rows of its paragraphs, and how many there are
        # (a language the first search leaves short is searched on its own rows).
        row_langs = snapshot.langs[snapshot.rows]
        self._language_rows: dict[str, tuple[np.ndarray, int]] = {}
        for code in self._languages:
            mask = row_langs == LANG_CODES[code]
            self._language_rows[code] = (mask, int(mask.sum()))

    @property
    def generation(self) -> str:
        """Name of the loaded generation."""
        return self.manifest.generation

    @classmethod
    def load(cls, settings: Settings, encoder: TextEncoder | None = None, *,
             generation: str | None = None,
             companion: CompanionEncoder | None = None) -> Retriever:
        """Load the live generation (or ``generation``); refuses one built by another model.

        The generation carries its own snapshot (no store needed); ``encoder`` defaults to
        the configured model, ``companion`` the process's shared companion encoder
        (``embeddings.companion``). Raises :class:`NoIndex` when there is none and
        :class:`IndexMismatch` (with the rebuild command) for another model or a damaged one.
        """
        root = index_root(settings.data_dir)
        name = generation or read_current(root)
        if name is None:
            raise NoIndex(f"no index in {root}; run `dari index` to build it")
        directory = root / name
        manifest = Manifest.read(directory)
        if encoder is None:
            # sentence-transformers and torch take seconds to import: only when no encoder
            # was given (the service and the tests pass theirs).
            from embeddings.encoder import Encoder

            encoder = Encoder.from_settings(settings)
        manifest.check_model(encoder.model_name, encoder.fingerprint, int(encoder.dimension))
        try:
            dense = DenseIndex.load(directory, settings.index)
            keyword = KeywordIndex.load(directory / KEYWORD_DIR)
            snapshot = Snapshot(directory)
            sentences = StoredSentences.load(directory, len(snapshot))
            sentence_terms = SentenceTerms.load(directory / KEYWORD_DIR, len(snapshot))
            companion_vectors = CompanionVectors.load(
                directory, len(snapshot), sentences.start if sentences is not None else None,
                companion)
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
        built_with = manifest.extra.get("companion")
        if companion_vectors is not None and built_with \
                and built_with != companion_vectors.encoder.fingerprint:
            # Another release of the companion model: its vectors do not compare with this
            # one's question vectors. The search goes on without them until a refresh.
            log.warning("index generation %s has companion vectors of %s, not %s: "
                        "`dari index` re-encodes them", name, built_with,
                        companion_vectors.encoder.fingerprint)
            companion_vectors = None
        if companion_vectors is None:
            log.warning("index generation %s has no usable companion vectors: `dari index` "
                        "adds them", name)
        else:
            companion_vectors.encoder.load()
        return cls(settings, manifest, dense, keyword, snapshot, encoder, sentences, sentence_terms,
                   companion_vectors, WordRarity.of_encoder(encoder))

    def warm(self) -> None:
        """Read now what a first question might otherwise wait for: the word rarity (0.6 s,
        shared by every reload in the process) and the sorted Korean vocabulary of the
        unknown-words evidence. A long-running service calls it at start; a one-shot `dari
        ask` does not (reading it beside the answer measured 0.4 s slower cold, and most
        questions never need it)."""
        if self.rarity is not None:
            self.rarity.warm()
            self.keyword.warm()

    def close(self) -> None:
        """Release the snapshot database (the rest is plain memory)."""
        self.snapshot.close()

    # -- candidates -----------------------------------------------------------------------

    def _dense_list(self, query_vector: np.ndarray, n: int
                    ) -> tuple[dict[int, float], dict[str, float]]:
        """The dense side's candidates (paragraph number → best cosine among its passages):
        the top ``n`` paragraphs of *each* language the corpus holds, and the question's
        cosine baseline in each language (the median of its best paragraphs there).

        Per language, because e5 scores text in the question's own language higher than a
        translation of the very answer: in a mixed corpus the top ``n`` of any language can
        hold no paragraph of the other at all, and a raw cosine in one language does not
        compare with one in the other. Candidates are judged against their own language's
        baseline (``fusion.Candidate.centre``). One search over everything usually holds
        every language's share; a language it leaves short is searched on its own rows.
        """
        want = max(n, fusion.BASELINE_CANDIDATES)
        numbers, scores = self._dense_best(query_vector, want, None)
        langs = self.snapshot.langs[numbers]
        per_language: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for code in self._languages:
            mine = langs == LANG_CODES[code]
            found = int(np.count_nonzero(mine))
            if found < want and found < self._language_rows[code][1]:
                per_language[code] = self._dense_best(query_vector, want, code)
            else:
                per_language[code] = (numbers[mine], scores[mine])
        top = dict(zip(numbers[:n].tolist(), scores[:n].tolist(), strict=True))
        for mine_numbers, mine_scores in per_language.values():
            top.update(zip(mine_numbers[:n].tolist(), mine_scores[:n].tolist(), strict=True))
        baselines = {code: fusion.baseline(mine_scores.tolist())
                     for code, (_, mine_scores) in per_language.items() if len(mine_scores)}
        overall = fusion.baseline(scores.tolist())
        for code in LANG_CODES:
            baselines.setdefault(code, overall)
        return top, baselines

    def _dense_best(self, query_vector: np.ndarray, want: int, language: str | None
                    ) -> tuple[np.ndarray, np.ndarray]:
        """At least ``want`` paragraphs (of ``language``, or any) and their best passage's
        cosine, best first: rows are over-fetched (a paragraph may have several passages)
        and widened until ``want`` distinct paragraphs are found or the rows run out."""
        mask, available = self._language_rows[language] if language else (None, self.dense.ntotal)
        fetch = want * ROWS_PER_PARAGRAPH
        while True:
            scores, rows = self.dense.search(query_vector, min(fetch, available), mask)
            valid = rows[0] >= 0
            numbers = self.snapshot.rows[rows[0][valid]]
            # Best first: a paragraph's first passage is its best, and its place.
            first = np.sort(np.unique(numbers, return_index=True)[1])
            if len(first) >= want or fetch >= available:
                return numbers[first], scores[0][valid][first].astype(np.float64)
            fetch *= 4

    def _keyword_list(self, scores: KeywordScores, n: int, language: str | None) -> dict[int, float]:
        """The keyword side's candidates (paragraph number → raw BM25, matches only)."""
        fetch = min(len(self.snapshot), n * 3 if language else n)
        if fetch <= 0:
            return {}
        numbers, values = scores.best(fetch)
        return self._top(numbers.tolist(), values.tolist(), n, language)

    def _top(self, numbers: list[int], scores: list[float], n: int,
             language: str | None) -> dict[int, float]:
        """First (best) score per paragraph: top ``n`` overall, plus top ``n`` in ``language``."""
        code = LANG_CODES[language] if language else None
        best: dict[int, float] = {}
        overall = in_language = 0
        for number, score in zip(numbers, scores, strict=False):
            if number in best:
                continue
            mine = code is not None and self.snapshot.langs[number] == code
            if overall < n or (mine and in_language < n):
                best[number] = score
                overall += 1
                in_language += int(mine)
            if overall >= n and (code is None or in_language >= n):
                break
        return best

    def _cosines(self, query_vector: np.ndarray, numbers: np.ndarray) -> np.ndarray:
        """Exact cosine of every paragraph in ``numbers`` (best of its passages; 0 without)."""
        if not len(numbers):
            return np.zeros(0, dtype=np.float64)
        starts, ends = self._row_start[numbers], self._row_start[numbers + 1]
        if self._rows_in_order and self.dense.exact is not None:
            # A paragraph's rows are one run of the stored float32 vectors: one compiled pass.
            return run_max(self.dense.exact, starts, ends, query_vector)
        rows = self._row_order[ranges(starts, ends)]
        cos = self.dense.vectors(rows) @ np.asarray(query_vector, dtype=np.float32)
        return segment_max(cos, ends - starts)

    def _scores_of(self, query: str) -> tuple[tuple[str, ...], KeywordScores]:
        """The question's topic terms and their BM25 (read only: cached and shared)."""
        topic = tuple(topic_terms(query))
        return topic, self.keyword.scores(topic)

    def _keyword_of(self, query: str, n: int, language: str | None
                    ) -> tuple[tuple[str, ...], KeywordScores, dict[int, float]]:
        """The question's topic terms, their BM25 and the keyword side's candidates (read
        only: the result is cached and shared)."""
        topic, scores = self._question_scores(query)
        return topic, scores, self._keyword_list(scores, n, language)

    def candidates(self, scores: KeywordScores, keyword_top: Mapping[int, float],
                   query_vector: np.ndarray, n: int, companion_vector: np.ndarray | None = None,
                   question: str = "", anchors: Sequence[str] = ()
                   ) -> tuple[Columns, dict[int, list[int]]]:
        """Every candidate with exact evidence on both sides (for the question's keyword
        ``scores`` and the candidates they rank, ``keyword_top``; its vector; its companion
        vector when the generation stores companion vectors) and the alignment of the
        candidates (paragraph number → its translations). ``question``, the text, tells its
        predicates from its topic words (unknown words); ``anchors``, its numbers and
        Latin-script words (``question.anchor_terms``), are looked up in each paragraph."""
        dense_top, baselines = self._dense_list(query_vector, n)
        numbers = list(dict.fromkeys([*dense_top, *keyword_top]))
        aligned = self.snapshot.aligned_numbers(numbers)
        partners = sorted({m for x in numbers for m in aligned.get(x, ())})
        # The partners' own translations too: a hit may be shown from its partner's side.
        aligned.update(self.snapshot.aligned_numbers([m for m in partners if m not in aligned]))
        # Every paragraph scored, the candidates first; all evidence as arrays over it (one
        # gather and one product per kind), and each candidate's translations as a ragged
        # run of slots into it (the best over a run is the counterpart's evidence).
        every = np.asarray(list(dict.fromkeys([*numbers, *partners])), dtype=np.int64)
        slot = {x: i for i, x in enumerate(every.tolist())}
        theirs = [[slot[m] for m in aligned.get(x, ())] for x in numbers]
        runs = np.fromiter((len(t) for t in theirs), dtype=np.int64, count=len(numbers))
        flat = np.fromiter((j for t in theirs for j in t), dtype=np.int64, count=int(runs.sum()))
        own = slice(0, len(numbers))

        def counterpart(values: np.ndarray) -> np.ndarray:
            # NaN without a translation: no counterpart evidence (a Candidate's None).
            return segment_max(np.asarray(values, dtype=np.float64)[flat], runs, np.nan)

        cosine = self._cosines(query_vector, every)
        if self.sentences is not None:
            best, stored = self.sentences.best(query_vector, every)
            sentence = np.where(stored, best, cosine)
        else:
            sentence = cosine
        raw = scores.at(every).astype(np.float64)
        share = (np.minimum(raw / scores.bound, 1.0) if scores.bound > 0 else np.zeros(len(every)))
        missing = np.full(len(every), np.nan)
        proximity = (self.sentence_terms.coverage(*scores.terms(), every).astype(np.float64)
                     if self.sentence_terms is not None else missing)
        korean = self.snapshot.langs[every] == LANG_CODES["ko"]
        companion = companion_sentence = missing
        companion_centre = 0.0
        if self.companion is not None and companion_vector is not None:
            companion_of, companion_best = self.companion.cosines(companion_vector, every)
            companion = companion_of.astype(np.float64)
            companion_sentence = companion_best.astype(np.float64)
            # The question's own companion baseline: the median over its candidates.
            mixed = fusion.mix_sentence(companion_of[own], companion_best[own])
            companion_centre = float(np.median(mixed)) if numbers else 0.0
        fallback = min(baselines.values(), default=0.0)
        in_english, in_korean = baselines.get("en", fallback), baselines.get("ko", fallback)
        centre = np.where(korean[own], in_korean, in_english)
        # A candidate's translations are all in the other language: the first one tells.
        translated = runs > 0
        their_korean = np.zeros(len(numbers), dtype=bool)
        their_korean[translated] = korean[flat[(np.cumsum(runs) - runs)[translated]]]
        counterpart_centre = np.where(translated, np.where(their_korean, in_korean, in_english),
                                      centre)

        def ranks(side: Mapping[int, float]) -> np.ndarray:
            rank = {x: r for r, x in enumerate(side, start=1)}
            return np.array([rank.get(x, np.nan) for x in numbers], dtype=np.float64)

        columns = Columns(
            id=every[own].copy(), korean=korean[own], dense=cosine[own], keyword=raw[own],
            share=share[own], sentence=sentence[own], counterpart_dense=counterpart(cosine),
            counterpart_sentence=counterpart(sentence),
            counterpart_share=np.nan_to_num(counterpart(share), nan=0.0),
            sentence_share=proximity[own], counterpart_sentence_share=counterpart(proximity),
            dense_rank=ranks(dense_top), keyword_rank=ranks(keyword_top), centre=centre,
            counterpart_centre=counterpart_centre, companion=companion[own],
            companion_sentence=companion_sentence[own],
            counterpart_companion=counterpart(companion),
            counterpart_companion_sentence=counterpart(companion_sentence),
            companion_centre=np.full(len(numbers), companion_centre),
            unknown=np.full(len(numbers), scores.unknown(
                self.rarity, fusion.UNSEEN_RARITY, lambda: korean_predicates(question))),
            anchor=missing[own], counterpart_anchor=missing[own])
        if anchors:
            columns = self._with_anchors(columns, aligned, anchors, question_language(question))
        return columns, aligned

    def _with_anchors(self, columns: Columns, aligned: Mapping[int, Sequence[int]],
                      anchors: Sequence[str], asked_in: str) -> Columns:
        """``columns`` with the share of the question's ``anchors`` (IDF-weighted) that each
        of the best-ranked candidates and their translations hold in their text or their
        article's title (a section of an article names its subject only in the title: a
        question about "갤럭시 S8" meets paragraphs that say "this phone"). Only the first
        ``fusion.ANCHOR_DEPTH`` candidates are read: the no-answer rule asks it of the first
        passage and of each passage it quotes, which rank among them; the rest stay NaN."""
        order = np.argsort(-columns.pooled(asked_in), kind="stable")[:fusion.ANCHOR_DEPTH]
        top = columns.id[order].tolist()
        read = list(dict.fromkeys([*top, *(m for x in top for m in aligned.get(x, ()))]))
        paragraphs = self.snapshot.paragraphs(read)
        weights = dict(zip(anchors, self.keyword.idf(anchors).tolist(), strict=True))
        total = sum(weights.values())
        find = anchor_finder(anchors)

        def held(number: int) -> float:
            paragraph = paragraphs.get(number)
            if paragraph is None or total <= 0:
                return float("nan")
            article = self.snapshot.article(paragraph.article_id)
            titles = f"{article.title} {article.title_ko or ''}" if article is not None else ""
            return sum(weights[a] for a in find(f"{paragraph.text} {titles}")) / total

        share = {x: held(x) for x in read}
        anchor = columns.anchor.copy()
        counterpart_anchor = columns.counterpart_anchor.copy()
        for i in order.tolist():
            x = int(columns.id[i])
            anchor[i] = share[x]
            theirs = [share[m] for m in aligned.get(x, ()) if not np.isnan(share[m])]
            counterpart_anchor[i] = max(theirs) if theirs else np.nan
        return dataclasses.replace(columns, anchor=anchor, counterpart_anchor=counterpart_anchor)

    # -- search ---------------------------------------------------------------------------

    def encode_query(self, query: str) -> np.ndarray:
        """The query's vector (reuse it for :meth:`search` and answer building).

        What the search needs besides this vector (the companion's vector, the keyword
        side) is computed at the same time in a second thread, and kept for the
        :meth:`search` of the same question."""
        query = query.strip()
        beside = _BESIDE.submit(self._prepare, query)
        try:
            return self._encode_e5(query)
        finally:
            beside.result()

    def _prepare(self, query: str) -> None:
        """What :meth:`search` will read of ``query`` besides its e5 vector, into the caches
        (at the default depth, in every language: the ask path's search)."""
        self.companion_vector(query)
        self._keyword_side(query, self._depth(None), None)

    def _depth(self, k: int | None) -> int:
        """Candidates taken from each side for a search of ``k`` hits."""
        cfg = self.settings.retrieval
        return max(cfg.candidates, k or cfg.top_k)

    def companion_vector(self, query: str) -> np.ndarray | None:
        """The question's companion vector, None without companion vectors. The companion
        averages every word alike, so it sees the question without the words that only say
        how it is asked (e5 was trained on natural questions: it sees all). Cached: the
        search reads the one :meth:`encode_query` computed beside e5's."""
        if self.companion is None:
            return None
        return self._companion_query(without_scaffolding(query.strip()))

    def _encode_e5(self, query: str) -> np.ndarray:
        return np.asarray(self.encoder.encode_queries([query]), dtype=np.float32)[0]

    def _encode_companion(self, text: str) -> np.ndarray:
        assert self.companion is not None
        return self.companion.encode_query(text)

    def search(self, query: str, k: int | None = None, language: str | None = None, *,
               query_vector: np.ndarray | None = None, method: str = "pooled",
               trace: SearchTrace | None = None) -> list[Hit]:
        """The ``k`` best relevant paragraphs for ``query`` (optionally in one ``language``).

        The one pipeline that the bot, the CLI and `dari eval` call: candidates with exact
        evidence, fusion, the no-answer rule, then selection. ``query_vector`` (from
        :meth:`encode_query`) saves encoding the query twice; ``method`` ranks by an anchor
        instead of Dari's fusion (the no-answer rule is Dari's either way); ``trace``
        receives what the search saw (`dari eval` scores every method from it).
        """
        query = query.strip()
        if not query:
            return []
        if language is not None and language not in LANG_CODES:
            raise ValueError(f"language must be one of {', '.join(LANG_CODES)}, got {language!r}")
        cfg = self.settings.retrieval
        k = k or cfg.top_k
        qv = query_vector if query_vector is not None else self.encode_query(query)
        depth = self._depth(k)
        topic, scores, keyword_top = self._keyword_side(query, depth, language)
        cv = self.companion_vector(query)
        with self._blas.limit(limits=1):
            columns, aligned = self.candidates(scores, keyword_top, qv, depth, cv, query,
                                               anchor_terms(query))
        # A name is answered when one passage covers it (fusion.answerable) — only if the
        # corpus knows every one of its words (a share ignores words it has never seen).
        names = set(topic)
        terms = len(names) if looks_like_name(query) and self.keyword.knows(names) else 0
        asked_in = question_language(query)
        judge = fusion.Judge(columns, asked_in, aligned)
        evidence = judge.question
        probability = fusion.relevance(evidence)
        threshold = cfg.min_score if cfg.min_score > 0 else fusion.RELEVANCE_THRESHOLD
        if trace is not None:
            trace.candidates, trace.aligned, trace.evidence = columns.candidates(), aligned, evidence
            trace.probability, trace.threshold = probability, threshold
        if not fusion.answerable(evidence, terms, threshold):
            return []
        scored = judge.ranking() if method == "pooled" else fusion.fuse(columns, method, asked_in)
        if language:
            code = LANG_CODES[language]
            scored = [(x, sc) for x, sc in scored if self.snapshot.langs[x] == code]

        def worthy(x: int) -> bool:
            # A paragraph and its translation are one answer: the better side vouches.
            unit = [m for m in (x, *aligned.get(x, ())) if m in judge.slot]
            return any(fusion.answerable(judge.passage(m), terms, threshold) for m in unit)

        return self._select(scored, aligned, judge, worthy, k, None if language else asked_in)

    def _select(self, scored: list[tuple[int, float]], aligned: dict[int, list[int]],
                judge: fusion.Judge, worthy: Callable[[int], bool], k: int,
                prefer: str | None) -> list[Hit]:
        """Turn the fused ranking into hits: what a user should see quoted.

        - a paragraph whose translation already ranks higher is not a hit of its own: the
          higher one carries it as ``aligned`` (an English passage and its Korean original
          are one answer, not two, and must not use up two of an article's slots);
        - the first passage is the best-ranked one (the question has passed the no-answer
          rule); each further passage is quoted only if its own evidence passes the rule (a
          strong answer is not padded with a neighbouring article that merely shares the
          topic). Requiring it of the first too refused questions the rule had accepted, and
          quoted a lower-ranked passage instead of the best one (measured: docs/retrieval.md);
        - at most ``max_per_article`` hits per article;
        - a paragraph whose text is already quoted (the same paragraph in another article: a
          repeated passage, a column run twice) is not quoted again;
        - with ``prefer`` (the asker's language, when no language was asked for), a hit is
          shown from its side in that language, its translation under it.
        """
        if not scored:
            return []
        cap = self.settings.retrieval.max_per_article
        score_of = dict(scored)
        chosen: list[tuple[int, float]] = []
        counts: dict[str, int] = {}
        quoted: set[str] = set()
        candidates = collapse_translations([x for x, _ in scored], aligned, limit=max(4 * k, 20))
        paragraphs: dict[int, Paragraph] = {}
        for number in candidates:
            # The question passed the no-answer rule: its best-ranked passage is the answer.
            # Every further one must pass on its own evidence (no padding from neighbours).
            if chosen and not worthy(number):
                continue
            # Read when needed: most of the twenty are not worthy, and each read is a
            # lookup in the snapshot (reading all twenty at once was a third of selecting).
            paragraphs.update(self.snapshot.paragraphs([number]))
            para = paragraphs.get(number)
            if para is None:
                continue
            if counts.get(para.article_id, 0) >= cap:
                continue  # one article must not fill every slot with near-duplicates
            key = match_key(para.text)
            if key in quoted:
                continue
            quoted.add(key)
            counts[para.article_id] = counts.get(para.article_id, 0) + 1
            chosen.append((self._asker_side(number, aligned, prefer), score_of[number]))
            if len(chosen) >= k:
                break
        paragraphs.update(self.snapshot.paragraphs([x for x, _ in chosen if x not in paragraphs]))
        others = self.snapshot.paragraphs([m for x, _ in chosen for m in aligned.get(x, ())])
        hits = []
        for number, score in chosen:
            para = paragraphs[number]
            article = self.snapshot.article(para.article_id)
            assert article is not None  # written together with the paragraphs
            i = judge.slot.get(number)
            hits.append(Hit(
                paragraph=para,
                article=article,
                score=float(score),
                dense_score=float(judge.columns.dense[i]) if i is not None else None,
                keyword_score=float(judge.columns.keyword[i]) if i is not None else None,
                aligned=tuple(others[m] for m in aligned.get(number, ()) if m in others),
            ))
        return hits

    def sentence_vectors_of(self, paragraph: Paragraph) -> np.ndarray | None:
        """The stored sentence vectors of ``paragraph`` (answers trim with them)."""
        if self.sentences is None:
            return None
        number = self._number_of(paragraph.id)
        return None if number is None else self.sentences.of(number)

    def _paragraph_number(self, paragraph_id: str) -> int | None:
        return self.snapshot.numbers([paragraph_id]).get(paragraph_id)

    def _terms_of(self, question: str) -> tuple[np.ndarray, np.ndarray]:
        # The search of the same question scored them already (its query is stripped too).
        return self._question_scores(question.strip())[1].terms()

    def sentence_coverage_of(self, paragraph: Paragraph, question: str) -> np.ndarray | None:
        """Per sentence of ``paragraph``, the share of ``question``'s IDF-weighted topic
        words it holds (``embeddings.sentence_terms``); answers trim with it."""
        if self.sentence_terms is None:
            return None
        number = self._number_of(paragraph.id)
        if number is None:
            return None
        return self.sentence_terms.sentence_coverage(*self._question_terms(question), number)

    def _asker_side(self, number: int, aligned: dict[int, list[int]], prefer: str | None) -> int:
        """``number`` or, when it is not in the ``prefer`` language, its first translation
        in that language (the asker reads their own language first)."""
        if prefer is None or self.snapshot.language_of(number) == prefer:
            return number
        mine = [m for m in aligned.get(number, ()) if self.snapshot.language_of(m) == prefer]
        if not mine:
            return number  # only one language exists for this passage
        return min(mine)

