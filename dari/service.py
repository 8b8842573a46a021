"""The facade the bot and the CLI use: search, ask, articles, refresh, status.

Everything here blocks (the bot calls it through ``asyncio.to_thread``; the bot's refreshes
run in a separate process, see ``bot.refresher``, and end with :meth:`reload`). The live
:class:`Retriever` is an immutable object behind one reference: a refresh builds the new
generation while queries keep using the old Retriever, then the reference is replaced under
a lock, so a query sees either the old or the new generation, never a mix. If another
process swaps ``CURRENT``, the next query notices (inode/mtime of ``CURRENT``) and reloads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from corpus.models import AlignmentPair, Article, Language, Paragraph
from corpus.store import Store
from embeddings.answer import answer_question
from embeddings.encoder import Encoder
from embeddings.lock import RefreshBusy
from embeddings.manifest import (
    META_LAST_DURATION,
    META_LAST_REFRESH,
    IndexProblem,
    Manifest,
    NoIndex,
    current_stamp,
    index_root,
    read_current,
)
from embeddings.models import Answer, Hit
from embeddings.protocols import TextEncoder
from embeddings.refresh import RefreshReport, refresh
from embeddings.retriever import Retriever
from settings.config import Settings

log = logging.getLogger(__name__)

__all__ = ["DariService", "RefreshBusy", "Status", "NoIndex", "IndexProblem"]

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Status:
    """What `/status` and `dari status` show."""

    articles: int
    paragraphs: dict[str, int]
    model: str
    last_refresh: str | None
    last_duration_s: float | None
    generation: str | None


class DariService:
    """Store + live index + encoder behind one thread-safe object."""

    def __init__(self, settings: Settings, *, store: Store | None = None,
                 encoder: TextEncoder | None = None, load_index: bool = True) -> None:
        """Serve ``settings``' corpus from ``store`` (default: the one in the data directory)
        with ``encoder`` (default: the configured model, loaded on first use — it takes
        seconds). With ``load_index`` the live index is loaded now; commands that only read
        the store, like `dari show`, pass False and never load the model."""
        self.settings = settings
        self.store = store if store is not None else Store.open(settings)
        self._encoder: TextEncoder | None = encoder
        self._encoder_lock = threading.Lock()
        self._retriever: Retriever | None = None
        self._stamp: tuple[int, int] | None = None
        self._swap_lock = threading.Lock()  # guards _retriever/_stamp replacement
        self._store_lock = threading.RLock()  # sqlite connection shared by threads
        self._root = index_root(settings.data_dir)
        try:
            if load_index:
                self._reload_if_changed()
        except NoIndex:
            log.info("no index yet in %s; run `dari index` (or the bot's refresh)", self._root)

    # -- model and index ------------------------------------------------------------------

    @property
    def encoder(self) -> TextEncoder:
        """The query/passage encoder, loaded on first use (loading takes seconds)."""
        with self._encoder_lock:
            if self._encoder is None:
                self._encoder = Encoder.from_settings(self.settings)
            return self._encoder

    def _reload_if_changed(self) -> Retriever:
        """The live Retriever, reloaded if ``CURRENT`` changed since it was loaded.

        While one thread loads a new generation, the others keep answering from the old
        one instead of waiting (loading a large index takes seconds).
        """
        stamp = current_stamp(self._root)
        current = self._retriever
        if current is not None and stamp == self._stamp:
            return current
        if not self._swap_lock.acquire(blocking=current is None):
            assert current is not None  # only the non-blocking acquire can fail
            return current
        try:
            if self._retriever is not None and stamp == self._stamp:
                return self._retriever
            if stamp is None or read_current(self._root) is None:
                if self._retriever is not None:
                    return self._retriever  # CURRENT vanished (manual cleanup): keep what we have
                raise NoIndex(f"no index in {self._root}; run `dari index` to build it")
            retriever = Retriever.load(self.settings, encoder=self.encoder)
            # One assignment each: readers see the old or the new Retriever, never a mix.
            self._retriever, self._stamp = retriever, stamp
            return retriever
        finally:
            self._swap_lock.release()

    def retriever(self) -> Retriever:
        """The live Retriever (raises :class:`NoIndex` if none has been built)."""
        return self._reload_if_changed()

    def reload(self) -> None:
        """Load the live generation now if ``CURRENT`` changed (another process refreshed).

        Queries reload by themselves; this makes the first answer after a refresh fast.
        """
        self._reload_if_changed()

    def ensure_index(self, progress: Progress | None = None) -> None:
        """Build the index if there is none yet (first start of `make run` or the sandbox),
        and load it with what its first questions need (the bot calls this at start)."""
        if read_current(self._root) is None:
            self.refresh(progress=progress)
        self._reload_if_changed().warm()

    # -- queries --------------------------------------------------------------------------

    def search(self, query: str, k: int | None = None, language: str | None = None) -> list[Hit]:
        """Ranked relevant paragraphs for ``query``; [] when nothing passes the threshold."""
        if language is not None and language not in ("en", "ko"):
            raise ValueError(f"language must be 'en' or 'ko', got {language!r}")
        return self._reload_if_changed().search(query, k=k, language=language)

    def ask(self, question: str) -> Answer:
        """Search and shape the answer (quoted passages trimmed to their best sentences)."""
        answer, _hits = answer_question(self._reload_if_changed(), question)
        return answer

    # -- corpus views ---------------------------------------------------------------------

    def articles(self) -> list[Article]:
        """All articles (metadata and paragraphs)."""
        with self._store_lock:
            return list(self.store.articles())

    def find_articles(self, text: str, limit: int = 25) -> list[Article]:
        """Articles whose title (or other metadata) matches ``text``."""
        with self._store_lock:
            return list(self.store.find_articles(text, limit))

    def resolve_article(self, ref: str) -> Article | None:
        """An article by id, else by exact title (case-insensitive), else the only title match."""
        ref = ref.strip()
        if not ref:
            return None
        with self._store_lock:
            article = self.store.article(ref)
            if article is not None:
                return article
            found = list(self.store.find_articles(ref, 25))
        folded = ref.casefold()
        exact = [a for a in found if a.title.casefold() == folded
                 or (a.title_ko or "").casefold() == folded]
        if len(exact) == 1:
            return self._full(exact[0])
        if len(found) == 1:
            return self._full(found[0])
        return None

    def _full(self, article: Article) -> Article:
        if article.paragraphs:
            return article
        with self._store_lock:
            return self.store.article(article.id) or article

    def passage(self, article_id: str, language: Language,
                position: int) -> tuple[Paragraph, tuple[Paragraph, ...]] | None:
        """Paragraph ``position`` (1-based) of an article in ``language`` and its counterpart(s)."""
        with self._store_lock:
            article = self.store.article(article_id)
            if article is None:
                return None
            for para in article.in_language(language):
                if para.position == position:
                    return para, tuple(self.store.aligned(para))
        return None

    def alignment(self, article_id: str) -> list[AlignmentPair]:
        """The article's paragraph alignment (empty for one-language articles)."""
        with self._store_lock:
            return list(self.store.alignment(article_id))

    # -- maintenance ----------------------------------------------------------------------

    def refresh(self, full: bool = False, progress: Progress | None = None) -> RefreshReport:
        """Refresh the index from the corpus dir; queries keep using the old one until the swap.

        Raises :class:`RefreshBusy` if a refresh is already running (here or elsewhere).
        """
        # The refresh gets its own store connection: it writes in one long transaction
        # while this service's connection keeps serving reads.
        store = Store.open(self.settings)
        try:
            report = refresh(self.settings, full=full, progress=progress, encoder=self.encoder,
                             store=store, show_progress=progress is None)
        finally:
            store.close()
        try:
            self._reload_if_changed()
        except (NoIndex, IndexProblem) as exc:  # pragma: no cover - refresh just wrote one
            log.error("index refresh finished but the new index does not load: %s", exc)
            raise
        return report

    def status(self) -> Status:
        """Counts, model, last refresh time and duration, live generation."""
        with self._store_lock:
            counts = self.store.counts()
            last = self.store.get_meta(META_LAST_REFRESH)
            duration = self.store.get_meta(META_LAST_DURATION)
        name = read_current(self._root)
        manifest: Manifest | None = None
        if name is not None:
            try:
                manifest = Manifest.read(self._root / name)
            except IndexProblem:
                manifest = None
        return Status(
            articles=counts["articles"],
            paragraphs={language: counts[language] for language in ("en", "ko")},
            model=manifest.model if manifest else self.settings.embeddings.model,
            last_refresh=last or (manifest.created if manifest else None),
            last_duration_s=float(duration) if duration else (manifest.duration_s if manifest else None),
            generation=name,
        )

    def close(self) -> None:
        """Close the store."""
        with self._store_lock:
            self.store.close()

    def __enter__(self) -> DariService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ask_more(self, question: str, skip: int) -> Answer:
        """The next passages for ``question``: those after the first ``skip`` (the bot's
        "More passages" button), shaped like :meth:`ask`."""
        answer, _hits = answer_question(self._reload_if_changed(), question, skip=skip)
        return answer
