"""Incremental refresh: corpus files → store → embeddings → a new index generation → swap.

Only passages never encoded with this model are encoded (the cache is keyed by text digest
and model fingerprint); removed paragraphs simply are not in the new generation. The new
generation is built in a hidden directory beside the live one, fsynced, renamed into place,
and only then does ``CURRENT`` point at it (``os.replace``), so readers keep answering from
the old generation until the swap and a refresh killed at any point leaves it intact.

``DARI_TEST_PAUSE_AT=<checkpoint>`` makes a refresh stop and sleep at that checkpoint (after
writing the process id to ``DARI_TEST_PAUSE_FILE``): the kill tests use it to SIGKILL a real
refresh at a known point of the real code path. With ``DARI_TEST_RELEASE_FILE`` it goes on
once that file exists (tests that hold a refresh open, then let it finish).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from corpus.align import align
from corpus.ingest import IngestReport, ingest
from corpus.models import Article, Paragraph
from corpus.store import Store
from embeddings.cache import EmbeddingCache, text_digest
from embeddings.companion import (
    COMPANION,
    COMPANION_SENTENCES,
    CompanionEncoder,
    save_companion,
    shared_companion,
)
from embeddings.encoder import Encoder
from embeddings.index import DenseIndex
from embeddings.keyword import K1, B, KeywordIndex, parameters_of, tokens_of
from embeddings.lock import RefreshLock
from embeddings.manifest import (
    CURRENT,
    KEYWORD_DIR,
    META_LAST_DURATION,
    META_LAST_REFRESH,
    Manifest,
    fsync_dir,
    fsync_file,
    index_root,
    new_generation_name,
    read_current,
    swap_current,
)
from embeddings.passages import split_passages
from embeddings.protocols import PassageEncoder, TextEncoder
from embeddings.sentence_terms import PARAGRAPH_UNITS, build_units, keyword_tokens, save_units
from embeddings.sentences import SENTENCES, paragraph_sentences, save_sentences
from embeddings.snapshot import write_snapshot
from embeddings.tokenize import TOKENS_VERSION
from settings.config import Settings

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
FileNote = Callable[[str], None]  # told the corpus file being worked on (ingest, split, encode)
CHECKPOINTS = ("ingested", "encoding", "aligned", "writing", "written", "swapped")
_ENCODE_CHUNK = 256  # vectors go to the cache after each chunk, so a kill loses little work


@dataclass
class RefreshReport:
    """What a refresh did."""

    ingest: IngestReport | None = None
    articles: int = 0
    paragraphs: int = 0
    passages: int = 0
    encoded: int = 0  # passages encoded by the model in this refresh
    cached: int = 0  # passages whose vectors came from the cache
    sentences: int = 0  # sentence vectors stored (paragraphs of one sentence store none)
    sentences_encoded: int = 0  # of which encoded in this refresh (the rest were cached)
    companion_encoded: int = 0  # paragraphs and sentences the companion model encoded
    aligned_articles: int = 0
    generation: str | None = None
    previous: str | None = None
    kind: str | None = None
    up_to_date: bool = False  # nothing changed: no new generation was built
    duration_s: float = 0.0
    removed_generations: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One human line."""
        if self.up_to_date:
            return (f"index up to date (generation {self.generation}): {self.articles} articles, "
                    f"{self.paragraphs} paragraphs, {self.passages} passages")
        return (f"index generation {self.generation} ({self.kind}) is live: {self.articles} articles, "
                f"{self.paragraphs} paragraphs, {self.passages} passages; encoded {self.encoded}, "
                f"cached {self.cached}; realigned {self.aligned_articles} articles; "
                f"{self.duration_s:.1f}s")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (the ingest report in its own ``to_dict`` shape)."""
        data = {k: v for k, v in asdict(self).items() if k != "ingest"}
        data["ingest"] = self.ingest.to_dict() if self.ingest is not None else None
        return data


def checkpoint(name: str) -> None:
    """Test hook: pause here for ever if ``DARI_TEST_PAUSE_AT`` names this checkpoint."""
    if os.environ.get("DARI_TEST_PAUSE_AT") != name:
        return
    marker = os.environ.get("DARI_TEST_PAUSE_FILE")
    if marker:
        Path(marker).write_text(f"{os.getpid()} {name}\n", encoding="utf-8")
    log.warning("refresh paused at checkpoint %r (DARI_TEST_PAUSE_AT)", name)
    seconds = float(os.environ.get("DARI_TEST_PAUSE_SECONDS", "600"))
    release = os.environ.get("DARI_TEST_RELEASE_FILE")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (release and Path(release).exists()):
        time.sleep(min(0.05, seconds))


def refresh(
    settings: Settings,
    *,
    full: bool = False,
    progress: Progress | None = None,
    encoder: TextEncoder | None = None,
    store: Store | None = None,
    show_progress: bool = True,
    on_file: FileNote | None = None,
    companion: CompanionEncoder | None = None,
) -> RefreshReport:
    """Bring the index up to date with the corpus directory; see the module docstring.

    ``full`` ignores the embedding cache (everything is re-encoded) and always builds a new
    generation. ``encoder``/``store`` may be passed to reuse open ones. ``on_file`` is told
    which corpus file the refresh is working on (for "stopped while on …" messages);
    ``companion`` is the companion encoder (default: the process's shared one). Raises
    :class:`embeddings.lock.RefreshBusy` if another refresh holds the lock.
    """
    started = time.perf_counter()
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    root = index_root(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    report = RefreshReport()

    def tell(stage: str, done: int, total: int) -> None:
        if progress is not None:
            progress(stage, done, total)

    with RefreshLock(data_dir / "refresh.lock"):
        own_store = store is None
        if store is None:
            store = Store.open(settings)
        try:
            run = _Run(settings, store, encoder, full, root, report, tell, started, show_progress,
                       on_file or (lambda name: None), companion or shared_companion())
            return _refresh_locked(run)
        finally:
            if own_store:
                store.close()


@dataclass
class _Run:
    """One refresh under the lock: what every step reads, and the report it fills."""

    settings: Settings
    store: Store
    encoder_given: TextEncoder | None
    full: bool
    root: Path
    report: RefreshReport
    tell: Progress
    started: float
    show_progress: bool
    on_file: FileNote
    companion: CompanionEncoder
    articles: dict[str, Article] = field(default_factory=dict)
    paragraphs: list[Paragraph] = field(default_factory=list)

    @property
    def encoder(self) -> TextEncoder:
        # Loaded only once ingest has run: a refresh with nothing new still needs its
        # fingerprint, but a broken corpus file is reported before the model loads.
        if self.encoder_given is None:
            self.encoder_given = Encoder.from_settings(self.settings)
        return self.encoder_given

    def file_of(self, paragraph: Paragraph) -> str:
        """The corpus file(s) a paragraph came from, for "stopped while on …" messages."""
        article = self.articles.get(paragraph.article_id)
        return ", ".join(article.sources) if article else paragraph.article_id


def _refresh_locked(run: _Run) -> RefreshReport:
    """The steps of a refresh: ingest, (unless nothing changed) encode, align, write, swap."""
    _ingest(run)
    previous = read_current(run.root)
    run.report.previous = previous
    digest = run.store.corpus_digest()
    if _up_to_date(run, previous, digest):
        return _finish_up_to_date(run, previous)
    rows, texts, files = _passages(run)
    report = run.report
    cache_for = lambda: EmbeddingCache.for_data_dir(run.settings.data_dir)  # noqa: E731 - one per pass
    vectors = _embed(texts, run.encoder, cache_for(), run.full, report, run.tell,
                     run.show_progress, lambda i: run.on_file(files[i]))
    # Every paragraph's sentences too (retrieval evidence and answer trimming, see
    # embeddings.sentences), through the same cache; counted apart from the passages.
    sentence_texts, sentence_start = paragraph_sentences(run.paragraphs)
    sentence_report = RefreshReport()
    sentence_vectors = _embed(
        sentence_texts, run.encoder, cache_for(), run.full, sentence_report, run.tell,
        run.show_progress, lambda i: run.on_file(_file_of_sentence(run, sentence_start, i)))
    report.sentences, report.sentences_encoded = len(sentence_texts), sentence_report.encoded
    # The companion's vectors (embeddings.companion) of every paragraph and of the same
    # stored sentences, through the same cache.
    companion_report, companion_sentence_report = RefreshReport(), RefreshReport()
    companion_vectors = _embed(
        [p.text for p in run.paragraphs], run.companion, cache_for(), run.full, companion_report,
        run.tell, run.show_progress, lambda i: run.on_file(run.file_of(run.paragraphs[i])))
    companion_sentences = _embed(
        sentence_texts, run.companion, cache_for(), run.full, companion_sentence_report, run.tell,
        run.show_progress, lambda i: run.on_file(_file_of_sentence(run, sentence_start, i)))
    report.companion_encoded = companion_report.encoded + companion_sentence_report.encoded
    report.aligned_articles = _align(run.store, run.articles, run.paragraphs, rows, vectors,
                                     report.ingest, run.full, run.tell)
    checkpoint("aligned")
    gen, kind = _write_generation(run, rows, vectors, sentence_texts, sentence_vectors,
                                  sentence_start, (companion_vectors, companion_sentences),
                                  digest, previous)
    swap_current(run.root, gen)
    checkpoint("swapped")
    report.generation, report.kind = gen, kind
    report.removed_generations = collect_garbage(run.root, keep=(gen, previous))
    return _finish(run)


def _ingest(run: _Run) -> None:
    run.tell("ingest", 0, 1)
    run.report.ingest = ingest(run.settings, run.store, on_file=run.on_file)  # one transaction
    run.tell("ingest", 1, 1)
    checkpoint("ingested")
    run.articles = {a.id: a for a in run.store.articles()}
    run.paragraphs = sorted(run.store.paragraphs(), key=lambda p: (p.article_id, p.language, p.position))
    run.report.articles, run.report.paragraphs = len(run.articles), len(run.paragraphs)


def _up_to_date(run: _Run, previous: str | None, digest: str) -> bool:
    """The live generation already holds this corpus, model and index kind."""
    ingested = run.report.ingest
    if run.full or previous is None or (ingested is not None and ingested.changed):
        return False
    try:
        live = Manifest.read(run.root / previous)
    except Exception:  # noqa: BLE001 - a damaged live generation is simply rebuilt
        return False
    if (live.corpus_digest == digest and live.fingerprint == run.encoder.fingerprint
            and (run.root / previous / SENTENCES).is_file()  # built before sentence vectors
            and (run.root / previous / COMPANION).is_file()  # …companion vectors
            and (run.root / previous / COMPANION_SENTENCES).is_file()
            and live.extra.get("companion") == run.companion.fingerprint
            and (run.root / previous / KEYWORD_DIR / PARAGRAPH_UNITS).is_file()  # …sentence terms
            and parameters_of(run.root / previous / KEYWORD_DIR) in (None, (K1, B))  # …BM25's
            and tokens_of(run.root / previous / KEYWORD_DIR) == TOKENS_VERSION  # …tokeniser
            and live.kind == DenseIndex.kind_for(live.count, run.settings.index)):
        run.report.kind, run.report.passages = live.kind, live.count
        return True
    return False


def _finish_up_to_date(run: _Run, previous: str | None) -> RefreshReport:
    run.report.generation, run.report.up_to_date = previous, True
    # Leftovers of a refresh killed after its swap, or of half-built generations.
    live = Manifest.read(run.root / previous) if previous else None
    run.report.removed_generations = collect_garbage(
        run.root, keep=(previous, live.extra.get("previous") if live else None))
    return _finish(run)


def _finish(run: _Run) -> RefreshReport:
    run.report.duration_s = time.perf_counter() - run.started
    _record(run.store, run.report)
    log.info("%s", run.report.summary())
    return run.report


def _passages(run: _Run) -> tuple[list[str], list[str], list[str]]:
    """Paragraphs longer than the model window become several passages: per dense row, the
    paragraph id, the passage text and the corpus file(s)."""
    rows: list[str] = []
    texts: list[str] = []
    files: list[str] = []
    for p in tqdm(run.paragraphs, desc="passages", unit="para", disable=not run.show_progress,
                  leave=False):
        where = run.file_of(p)
        if not files or files[-1] != where:
            run.on_file(where)
        for piece in split_passages(p.text, run.encoder) or [p.text]:
            rows.append(p.id)
            texts.append(piece)
            files.append(where)
    run.report.passages = len(rows)
    return rows, texts, files


def _write_generation(run: _Run, rows: list[str], vectors: np.ndarray, sentence_texts: list[str],
                      sentence_vectors: np.ndarray, sentence_start: np.ndarray,
                      companion: tuple[np.ndarray, np.ndarray], digest: str,
                      previous: str | None) -> tuple[str, str]:
    """Build the new generation beside the live one, fsynced and renamed into place (not yet
    live); returns its name and dense index kind."""
    encoder, report = run.encoder, run.report
    gen = new_generation_name()
    building = run.root / f".building-{gen}"
    building.mkdir()
    run.tell("index", 0, 3)
    dense = DenseIndex.build(vectors.reshape(-1, encoder.dimension), run.settings.index,
                             progress=run.show_progress)
    dense.save(building)
    save_sentences(building, sentence_vectors, sentence_start)
    save_companion(building, *companion)
    run.tell("index", 1, 3)
    checkpoint("writing")
    # Keyword side indexes whole paragraphs (BM25 has no length window) by paragraph id, and
    # keeps each sentence's vocabulary for sentence-level evidence (embeddings.sentence_terms).
    tokens, sentence_tokens = keyword_tokens(run.paragraphs, sentence_texts, sentence_start,
                                             run.show_progress)
    keyword = KeywordIndex.build([p.id for p in run.paragraphs], [p.text for p in run.paragraphs],
                                 tokens=tokens)
    keyword.save(building / KEYWORD_DIR)
    save_units(building / KEYWORD_DIR,
               *build_units(tokens, sentence_tokens, sentence_start, keyword.vocabulary))
    run.tell("index", 2, 3)
    write_snapshot(building, run.articles.values(), run.paragraphs, rows,
                   {aid: run.store.alignment(aid) for aid in run.articles})
    manifest = Manifest(
        generation=gen,
        model=encoder.model_name,
        fingerprint=encoder.fingerprint,
        dimension=int(encoder.dimension),
        count=dense.ntotal,
        paragraphs=len(run.paragraphs),
        corpus_digest=digest,
        kind=dense.kind,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        duration_s=round(time.perf_counter() - run.started, 3),
        extra={"encoded": report.encoded, "cached": report.cached, "previous": previous,
               "companion": run.companion.fingerprint},
    )
    _fsync_tree(building)
    manifest.write(building)  # written last: a generation without a manifest is incomplete
    os.rename(building, run.root / gen)
    fsync_dir(run.root)
    run.tell("index", 3, 3)
    checkpoint("written")
    return gen, dense.kind


def _record(store: Store, report: RefreshReport) -> None:
    """Remember when the last refresh ended and how long it took (for `/status`)."""
    store.set_meta(META_LAST_REFRESH, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    store.set_meta(META_LAST_DURATION, f"{report.duration_s:.3f}")


def _file_of_sentence(run: _Run, start: np.ndarray, i: int) -> str:
    """The corpus file(s) of stored sentence ``i`` (for "stopped while on …" messages)."""
    return run.file_of(run.paragraphs[int(np.searchsorted(start, i, side="right")) - 1])


def _embed(texts: Sequence[str], encoder: PassageEncoder, cache: EmbeddingCache, full: bool,
           report: RefreshReport, tell: Progress, show_progress: bool,
           on_text: Callable[[int], None] = lambda i: None) -> np.ndarray:
    """Vectors for ``texts``: from the cache where possible, the rest encoded (and cached).

    ``on_text`` is told the index (in ``texts``) of the first text of each chunk encoded.
    """
    dim = int(encoder.dimension)
    try:
        digests = [text_digest(t) for t in texts]
        known = {} if full else cache.get_many(digests, encoder.fingerprint, dim)
        missing = [d for d in dict.fromkeys(digests) if d not in known]
        text_of = dict(zip(digests, texts))
        index_of = {d: i for i, d in reversed(list(enumerate(digests)))}
        report.cached = sum(1 for d in digests if d in known)
        report.encoded = len(digests) - report.cached
        log.info("embeddings: %d passages, %d cached, %d to encode", len(digests),
                 report.cached, report.encoded)
        tell("encode", 0, len(missing))
        with tqdm(total=len(missing), desc="encoding passages", unit="passage",
                  disable=not show_progress or not missing, leave=False) as bar:
            for start in range(0, len(missing), _ENCODE_CHUNK):
                chunk = missing[start:start + _ENCODE_CHUNK]
                on_text(index_of[chunk[0]])
                vecs = np.asarray(encoder.encode_passages([text_of[d] for d in chunk], progress=False),
                                  dtype=np.float32)
                cache.put_many(zip(chunk, vecs), encoder.fingerprint)
                known.update(zip(chunk, vecs))
                bar.update(len(chunk))
                tell("encode", min(start + len(chunk), len(missing)), len(missing))
                checkpoint("encoding")
        if not digests:
            return np.zeros((0, dim), dtype=np.float32)
        return np.stack([known[d] for d in digests]).astype(np.float32)
    finally:
        cache.close()


def _align(store: Store, articles: dict[str, Article], paragraphs: Sequence[Paragraph],
           rows: Sequence[str], vectors: np.ndarray, ingest_report: IngestReport | None, full: bool,
           tell: Progress) -> int:
    """Align new or changed bilingual articles (and any missing an alignment); returns how many."""
    changed = set(ingest_report.added + ingest_report.updated) if ingest_report else set()
    # Paragraph vector = normalised mean of its passages' vectors.
    sums: dict[str, np.ndarray] = {}
    for pid, vec in zip(rows, vectors):
        sums[pid] = sums[pid] + vec if pid in sums else vec.copy()
    by_article: dict[str, list[Paragraph]] = {}
    for p in paragraphs:
        by_article.setdefault(p.article_id, []).append(p)
    todo = []
    for aid, paras in by_article.items():
        en = [p for p in paras if p.language == "en"]
        ko = [p for p in paras if p.language == "ko"]
        if not en or not ko:
            continue
        if full or aid in changed or not store.alignment(aid):
            todo.append((aid, en, ko))
    for i, (aid, en, ko) in enumerate(todo):
        tell("align", i, len(todo))
        en_v = _unit(np.stack([sums[p.id] for p in en]))
        ko_v = _unit(np.stack([sums[p.id] for p in ko]))
        pairs = align([p.text for p in en], [p.text for p in ko], en_v @ ko_v.T)
        store.set_alignment(aid, pairs)
    tell("align", len(todo), len(todo))
    return len(todo)


def _unit(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms == 0, 1.0, norms)


def _fsync_tree(directory: Path) -> None:
    for dirpath, _dirs, files in os.walk(directory):
        for name in files:
            fsync_file(Path(dirpath) / name)
        fsync_dir(Path(dirpath))


def collect_garbage(root: Path, keep: Sequence[str | None]) -> list[str]:
    """Remove generations other than ``keep`` and leftovers of killed refreshes (under the lock)."""
    removed = []
    keep_set = {k for k in keep if k}
    for entry in sorted(Path(root).iterdir()):
        if entry.name == CURRENT or entry.name in keep_set:
            continue
        if not entry.is_dir():
            if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                entry.unlink(missing_ok=True)  # a CURRENT replacement cut short by a kill
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry.name)
    if removed:
        log.info("removed old index generations: %s", ", ".join(removed))
    return removed
