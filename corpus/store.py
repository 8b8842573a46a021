"""The SQLite store: articles, paragraphs, source files, paragraph alignments, metadata.

One file, ``<data_dir>/dari.sqlite3``, in WAL mode so readers (the bot) never block on a
writer (an ingestion). The schema version lives in ``PRAGMA user_version`` and is brought
up to date by :data:`MIGRATIONS` on open. Writes made inside :meth:`Store.transaction` are
all-or-nothing, which is what makes an interrupted ingestion harmless.

The bot calls the store from worker threads (``asyncio.to_thread``), so one connection is
shared behind a lock (``check_same_thread=False``); SQLite serialises the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import TracebackType

from corpus.models import AlignmentPair, Article, Language, Paragraph
from corpus.text import content_digest, fold_punctuation
from settings.config import Settings

log = logging.getLogger(__name__)

STORE_FILE = "dari.sqlite3"

# Each entry upgrades the schema by one version; never edit a released entry, append one.
MIGRATIONS: tuple[str, ...] = (
    # 1: the initial schema.
    """
    CREATE TABLE articles (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        title_ko TEXT,
        outlet TEXT,
        country TEXT,
        published TEXT,
        author TEXT,
        translator TEXT,
        editor TEXT,
        url TEXT,
        digest TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE paragraphs (
        id TEXT PRIMARY KEY,
        article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        language TEXT NOT NULL CHECK (language IN ('en', 'ko')),
        position INTEGER NOT NULL CHECK (position >= 1),
        text TEXT NOT NULL,
        UNIQUE (article_id, language, position)
    );
    CREATE INDEX paragraphs_language ON paragraphs(language);
    CREATE TABLE sources (
        name TEXT PRIMARY KEY,
        article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        digest TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX sources_article ON sources(article_id);
    CREATE TABLE alignments (
        article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        en TEXT NOT NULL,
        ko TEXT NOT NULL,
        score REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (article_id, seq)
    );
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def apply_migrations(conn: sqlite3.Connection, migrations: Sequence[str], version: int,
                     transaction: Callable[[], AbstractContextManager[object]], label: str) -> None:
    """Upgrade a SQLite file from schema ``version`` to ``len(migrations)``, one version per
    transaction (``PRAGMA user_version`` records each): a crash leaves a whole version."""
    for number in range(version + 1, len(migrations) + 1):
        log.info("%s: migrating schema to version %d", label, number)
        with transaction():
            for statement in migrations[number - 1].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")

_ARTICLE_COLUMNS = (
    "id", "title", "title_ko", "outlet", "country", "published", "author", "translator",
    "editor", "url",
)


class StoreError(RuntimeError):
    """The store file is unusable (e.g. written by a newer Dari)."""


def search_key(text: str) -> str:
    """Case-, space- and punctuation-insensitive form for title/id lookups."""
    folded = unicodedata.normalize("NFKC", fold_punctuation(text)).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def article_digest(article: Article) -> str:
    """Digest of everything stored for an article: metadata, paragraphs, sources."""
    meta = json.dumps([getattr(article, c) for c in _ARTICLE_COLUMNS], ensure_ascii=False)
    positions = json.dumps(sorted((p.id, p.language, p.position) for p in article.paragraphs))
    basis = "\x00".join([meta, positions, content_digest(article.paragraphs),
                         json.dumps(sorted(article.sources))])
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()


class Store:
    """Articles and paragraphs in SQLite; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        """Open (creating or migrating) the store at ``path``."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._depth = 0  # nesting of transaction() blocks
        self._conn = sqlite3.connect(
            str(self.path), check_same_thread=False, isolation_level=None, timeout=30.0
        )
        self._conn.row_factory = sqlite3.Row
        try:
            with self._lock:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA foreign_keys=ON")
                self._conn.execute("PRAGMA synchronous=NORMAL")
                self._migrate()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StoreError(f"{self.path}: not a usable Dari store ({exc})") from exc
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def open(cls, settings: Settings) -> Store:
        """The store of ``settings``: ``<data_dir>/dari.sqlite3`` (the data dir is created)."""
        data_dir = Path(settings.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(data_dir / STORE_FILE)

    # -- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                # Typed as a live connection everywhere else; after close() any use is a bug
                # that should fail loudly (AttributeError on None), not be type-checked away.
                self._conn = None  # type: ignore[assignment]

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: schema version {version} is newer than this Dari supports "
                f"({SCHEMA_VERSION}); use a newer Dari or another --data directory"
            )
        apply_migrations(self._conn, MIGRATIONS, version, self.transaction, f"store {self.path}")

    @property
    def schema_version(self) -> int:
        """The schema version recorded in the file."""
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """All writes inside are committed together, or none are (exception → rollback).

        Holds the store's lock for the duration, so other threads wait instead of seeing
        half an ingestion. Nested blocks join the outer transaction.
        """
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._depth = 0

    def _query(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # -- reading -----------------------------------------------------------------------

    @staticmethod
    def _paragraph(row: sqlite3.Row) -> Paragraph:
        return Paragraph(id=row["id"], article_id=row["article_id"], language=row["language"],
                         position=row["position"], text=row["text"])

    def _build(self, rows: list[sqlite3.Row]) -> list[Article]:
        """Articles for ``rows`` of the articles table, with paragraphs and sources."""
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        marks = ",".join("?" * len(ids))
        paragraphs: dict[str, list[Paragraph]] = {i: [] for i in ids}
        for p in self._query(
            f"SELECT * FROM paragraphs WHERE article_id IN ({marks}) "
            "ORDER BY article_id, language, position", ids,
        ):
            paragraphs[p["article_id"]].append(self._paragraph(p))
        sources: dict[str, list[str]] = {i: [] for i in ids}
        for s in self._query(
            f"SELECT name, article_id FROM sources WHERE article_id IN ({marks}) ORDER BY name", ids
        ):
            sources[s["article_id"]].append(s["name"])
        return [
            Article(**{c: r[c] for c in _ARTICLE_COLUMNS},
                    paragraphs=tuple(paragraphs[r["id"]]), sources=tuple(sources[r["id"]]))
            for r in rows
        ]

    def articles(self) -> list[Article]:
        """Every article with paragraphs and sources, ordered by title."""
        return self._build(self._query("SELECT * FROM articles ORDER BY title COLLATE NOCASE, id"))

    def article_ids(self) -> list[str]:
        """Ids of all stored articles, sorted."""
        return [r[0] for r in self._query("SELECT id FROM articles ORDER BY id")]

    def article(self, article_id: str) -> Article | None:
        """The article with this id, or None."""
        found = self._build(self._query("SELECT * FROM articles WHERE id = ?", (article_id,)))
        return found[0] if found else None

    def find_articles(self, text: str, limit: int = 25) -> list[Article]:
        """Articles whose id or title (English or Korean) matches ``text``.

        Case-, space- and punctuation-insensitive; exact matches first, then prefixes, then
        substrings; ties by title. An empty query lists all articles (up to ``limit``).
        """
        query = search_key(text)
        rows = self._query("SELECT * FROM articles ORDER BY title COLLATE NOCASE, id")
        ranked: list[tuple[int, int]] = []
        for n, row in enumerate(rows):
            keys = [search_key(v) for v in (row["id"], row["title"], row["title_ko"]) if v]
            if not query or query in keys:
                rank = 0
            elif any(k.startswith(query) for k in keys):
                rank = 1
            elif any(query in k for k in keys):
                rank = 2
            else:
                continue
            ranked.append((rank, n))
        ranked.sort()
        return self._build([rows[n] for _, n in ranked[:max(limit, 0)]])

    def paragraphs(self, language: str | None = None) -> list[Paragraph]:
        """All paragraphs (or those in ``language``), ordered by article, language, position."""
        if language is None:
            rows = self._query("SELECT * FROM paragraphs ORDER BY article_id, language, position")
        else:
            rows = self._query(
                "SELECT * FROM paragraphs WHERE language = ? ORDER BY article_id, position",
                (language,),
            )
        return [self._paragraph(r) for r in rows]

    def paragraph(self, paragraph_id: str) -> Paragraph | None:
        """The paragraph with this id, or None."""
        rows = self._query("SELECT * FROM paragraphs WHERE id = ?", (paragraph_id,))
        return self._paragraph(rows[0]) if rows else None

    def counts(self) -> dict[str, int]:
        """``{"articles": n, "en": n, "ko": n}``."""
        counts = {"articles": 0, "en": 0, "ko": 0}
        counts["articles"] = self._query("SELECT COUNT(*) FROM articles")[0][0]
        for row in self._query("SELECT language, COUNT(*) FROM paragraphs GROUP BY language"):
            counts[row[0]] = row[1]
        return counts

    def corpus_digest(self) -> str:
        """Digest of all paragraph ids and texts: changes if and only if the content does."""
        return content_digest(self.paragraphs())

    def sources(self) -> dict[str, tuple[str, str]]:
        """``{file name: (article id, file digest)}`` for every recorded source file."""
        return {r["name"]: (r["article_id"], r["digest"])
                for r in self._query("SELECT * FROM sources")}

    def stored_digest(self, article_id: str) -> str | None:
        """The content digest recorded when the article was last written, or None."""
        rows = self._query("SELECT digest FROM articles WHERE id = ?", (article_id,))
        return rows[0][0] if rows else None

    # -- writing -----------------------------------------------------------------------

    def put_article(self, article: Article, source_digests: dict[str, str] | None = None) -> None:
        """Insert or replace ``article`` with its paragraphs and sources.

        Alignments are kept when the paragraphs are unchanged (a metadata-only edit) and
        deleted otherwise, since positions may no longer mean the same paragraphs.
        """
        source_digests = source_digests or {}
        with self.transaction():
            old = {(r["id"], r["language"], r["position"], r["text"]) for r in self._query(
                "SELECT * FROM paragraphs WHERE article_id = ?", (article.id,))}
            new = {(p.id, p.language, p.position, p.text) for p in article.paragraphs}
            values = [getattr(article, c) for c in _ARTICLE_COLUMNS] + [article_digest(article)]
            cols = ", ".join(_ARTICLE_COLUMNS)
            updates = ", ".join(f"{c} = excluded.{c}" for c in _ARTICLE_COLUMNS[1:])
            self._conn.execute(
                f"INSERT INTO articles ({cols}, digest) VALUES ({','.join('?' * len(values))}) "
                f"ON CONFLICT(id) DO UPDATE SET {updates}, digest = excluded.digest",
                values,
            )
            if old != new:
                self._conn.execute("DELETE FROM alignments WHERE article_id = ?", (article.id,))
                self._conn.execute("DELETE FROM paragraphs WHERE article_id = ?", (article.id,))
                self._conn.executemany(
                    "INSERT INTO paragraphs (id, article_id, language, position, text) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [(p.id, article.id, p.language, p.position, p.text)
                     for p in article.paragraphs],
                )
            self._conn.execute("DELETE FROM sources WHERE article_id = ?", (article.id,))
            self._conn.executemany(
                "INSERT OR REPLACE INTO sources (name, article_id, digest) VALUES (?, ?, ?)",
                [(name, article.id, source_digests.get(name, "")) for name in article.sources],
            )

    def delete_article(self, article_id: str) -> bool:
        """Remove an article with its paragraphs, sources and alignments; True if it existed."""
        with self.transaction():
            cur = self._conn.execute("DELETE FROM articles WHERE id = ?", (article_id,))
            return cur.rowcount > 0

    def set_alignment(self, article_id: str, pairs: list[AlignmentPair]) -> None:
        """Replace the article's paragraph alignment (positions must exist)."""
        with self.transaction():
            if not self._query("SELECT 1 FROM articles WHERE id = ?", (article_id,)):
                raise KeyError(f"no article {article_id!r}")
            self._conn.execute("DELETE FROM alignments WHERE article_id = ?", (article_id,))
            self._conn.executemany(
                "INSERT INTO alignments (article_id, seq, en, ko, score) VALUES (?, ?, ?, ?, ?)",
                [(article_id, n, json.dumps(list(p.en)), json.dumps(list(p.ko)), float(p.score))
                 for n, p in enumerate(pairs)],
            )

    def alignment(self, article_id: str) -> list[AlignmentPair]:
        """The article's alignment pairs in order (empty if not aligned yet)."""
        return [
            AlignmentPair(en=tuple(json.loads(r["en"])), ko=tuple(json.loads(r["ko"])),
                          score=r["score"])
            for r in self._query(
                "SELECT * FROM alignments WHERE article_id = ? ORDER BY seq", (article_id,))
        ]

    def aligned(self, paragraph: Paragraph) -> tuple[Paragraph, ...]:
        """The paragraph's counterpart(s) in the other language, per the stored alignment."""
        other: Language = "ko" if paragraph.language == "en" else "en"
        positions: list[int] = []
        for pair in self.alignment(paragraph.article_id):
            mine, theirs = (pair.en, pair.ko) if paragraph.language == "en" else (pair.ko, pair.en)
            if paragraph.position in mine:
                positions.extend(theirs)
        if not positions:
            return ()
        marks = ",".join("?" * len(positions))
        rows = self._query(
            f"SELECT * FROM paragraphs WHERE article_id = ? AND language = ? "
            f"AND position IN ({marks}) ORDER BY position",
            [paragraph.article_id, other, *positions],
        )
        return tuple(self._paragraph(r) for r in rows)

    def get_meta(self, key: str) -> str | None:
        """A value from the key/value table, or None."""
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        """Set a key/value pair (other modules record e.g. what the index was built from)."""
        with self.transaction():
            self._conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

