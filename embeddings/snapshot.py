"""What hits are made of, frozen with each index generation (``snapshot.sqlite3``, ``rows.npy``).

The store moves on as soon as the next refresh ingests, but the old generation keeps
answering until the swap, so it must not depend on paragraphs the store has dropped: each
generation carries its own copy of the paragraphs, article metadata and alignments.
Paragraphs are looked up by number only for the few candidates of a query, so memory
stays flat at a million paragraphs; only the dense-row map and a language byte per
paragraph are held in memory (numpy arrays).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from corpus.models import AlignmentPair, Article, Paragraph

DB = "snapshot.sqlite3"
ROWS = "rows.npy"
LANGS = "langs.npy"
# Alignments as arrays: paragraph n's translations are ALIGNED[ALIGNED_START[n]:ALIGNED_START[n + 1]].
# A search looks up a few hundred paragraphs' translations; decoding their JSON rows from
# SQLite was a seventh of its time (bench/ask.py, 100k). The table stays for older readers.
ALIGNED = "aligned.npy"
ALIGNED_START = "aligned_start.npy"
LANG_CODES = {"en": 0, "ko": 1}
_ARTICLE_FIELDS = ("id", "title", "outlet", "country", "published", "author", "translator",
                   "editor", "url", "title_ko", "sources")

_SCHEMA = """
CREATE TABLE paragraphs (n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, article_id TEXT NOT NULL,
                         language TEXT NOT NULL, position INTEGER NOT NULL, text TEXT NOT NULL);
CREATE TABLE articles (id TEXT PRIMARY KEY, meta TEXT NOT NULL);
CREATE TABLE aligned (n INTEGER PRIMARY KEY, other TEXT NOT NULL);
"""


def write_snapshot(directory: Path, articles: Iterable[Article], paragraphs: Sequence[Paragraph],
                   rows: Sequence[str], alignments: Mapping[str, Sequence[AlignmentPair]]) -> None:
    """Write the snapshot of a generation into ``directory`` (which the caller fsyncs).

    ``rows[i]`` is the paragraph id of dense row ``i``; ``alignments`` maps article id to
    its alignment pairs (1-based positions per language).
    """
    directory = Path(directory)
    number = {p.id: n for n, p in enumerate(paragraphs)}
    by_position = {(p.article_id, p.language, p.position): n for n, p in enumerate(paragraphs)}
    db = sqlite3.connect(directory / DB)
    try:
        db.executescript(_SCHEMA)
        db.executemany("INSERT INTO paragraphs VALUES (?, ?, ?, ?, ?, ?)",
                       ((n, p.id, p.article_id, p.language, p.position, p.text)
                        for n, p in enumerate(paragraphs)))
        db.executemany("INSERT INTO articles VALUES (?, ?)",
                       ((a.id, json.dumps({k: v for k, v in asdict(a).items() if k in _ARTICLE_FIELDS},
                                          ensure_ascii=False)) for a in articles))
        other: dict[int, list[int]] = {}
        for aid, pairs in alignments.items():
            for pair in pairs:
                en = [by_position[(aid, "en", x)] for x in pair.en if (aid, "en", x) in by_position]
                ko = [by_position[(aid, "ko", x)] for x in pair.ko if (aid, "ko", x) in by_position]
                if en and ko:
                    for n in en:
                        other[n] = ko
                    for n in ko:
                        other[n] = en
        db.executemany("INSERT INTO aligned VALUES (?, ?)",
                       ((n, json.dumps(ns)) for n, ns in other.items()))
        db.commit()
    finally:
        db.close()
    start = np.zeros(len(paragraphs) + 1, dtype=np.int64)
    for n, ns in other.items():
        start[n + 1] = len(ns)
    np.cumsum(start, out=start)
    flat = np.zeros(int(start[-1]), dtype=np.int32)
    for n, ns in other.items():
        flat[start[n]:start[n + 1]] = ns
    np.save(directory / ALIGNED, flat)
    np.save(directory / ALIGNED_START, start)
    np.save(directory / ROWS, np.fromiter((number[r] for r in rows), dtype=np.int32, count=len(rows)))
    np.save(directory / LANGS, np.fromiter((LANG_CODES.get(p.language, 255) for p in paragraphs),
                                           dtype=np.uint8, count=len(paragraphs)))


class Snapshot:
    """Read side of a generation's snapshot; thread-safe (one read-only connection, locked)."""

    def __init__(self, directory: Path) -> None:
        directory = Path(directory)
        self.rows: np.ndarray = np.load(directory / ROWS)
        self.langs: np.ndarray = np.load(directory / LANGS)
        # None for a generation written before the alignment arrays (read from SQLite then).
        self._aligned: tuple[np.ndarray, np.ndarray] | None = None
        if (directory / ALIGNED).is_file() and (directory / ALIGNED_START).is_file():
            start = np.load(directory / ALIGNED_START)
            if len(start) != len(self.langs) + 1:
                raise ValueError(f"alignment arrays in {directory} do not match its paragraphs")
            self._aligned = (np.load(directory / ALIGNED), start)
        # Read-only: a generation never changes once written.
        self._db = sqlite3.connect(f"file:{directory / DB}?mode=ro", uri=True,
                                   check_same_thread=False)
        self._lock = threading.Lock()
        self._articles: dict[str, Article] = {}

    def __len__(self) -> int:
        """Number of paragraphs."""
        return int(self.langs.shape[0])

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def language_of(self, n: int) -> str:
        """Language code of paragraph number ``n``."""
        return "ko" if self.langs[n] == 1 else "en"

    def numbers(self, ids: Sequence[str]) -> dict[str, int]:
        """Paragraph numbers of paragraph ids (unknown ids are left out)."""
        out: dict[str, int] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start:start + 500])
            marks = ",".join("?" * len(chunk))
            with self._lock:
                out.update(self._db.execute(
                    f"SELECT id, n FROM paragraphs WHERE id IN ({marks})", chunk).fetchall())
        return out

    def paragraphs(self, numbers: Sequence[int]) -> dict[int, Paragraph]:
        """Paragraphs by number."""
        out: dict[int, Paragraph] = {}
        for start in range(0, len(numbers), 500):
            chunk = [int(x) for x in numbers[start:start + 500]]
            marks = ",".join("?" * len(chunk))
            with self._lock:
                rows = self._db.execute(
                    f"SELECT n, id, article_id, language, position, text FROM paragraphs"
                    f" WHERE n IN ({marks})", chunk).fetchall()
            for n, pid, aid, lang, pos, text in rows:
                out[n] = Paragraph(id=pid, article_id=aid, language=lang, position=pos, text=text)
        return out

    def article(self, article_id: str) -> Article | None:
        """Article metadata (without paragraphs), cached."""
        found = self._articles.get(article_id)
        if found is not None:
            return found
        with self._lock:
            row = self._db.execute("SELECT meta FROM articles WHERE id = ?", (article_id,)).fetchone()
        if row is None:
            return None
        meta = json.loads(row[0])
        meta["sources"] = tuple(meta.get("sources") or ())
        article = Article(**meta)
        self._articles[article_id] = article
        return article

    def aligned_numbers(self, numbers: Sequence[int]) -> dict[int, list[int]]:
        """Counterpart paragraph numbers of each of ``numbers`` that has one."""
        if self._aligned is not None:
            flat, offsets = self._aligned
            wanted = np.asarray(numbers, dtype=np.int64)
            firsts, lasts = offsets[wanted].tolist(), offsets[wanted + 1].tolist()
            return {n: flat[a:b].tolist() for n, a, b in zip(wanted.tolist(), firsts, lasts,
                                                              strict=True) if b > a}
        out: dict[int, list[int]] = {}
        for start in range(0, len(numbers), 500):
            chunk = [int(x) for x in numbers[start:start + 500]]
            marks = ",".join("?" * len(chunk))
            with self._lock:
                rows = self._db.execute(
                    f"SELECT n, other FROM aligned WHERE n IN ({marks})", chunk).fetchall()
            out.update((n, json.loads(other)) for n, other in rows)
        return out

    def all_paragraphs(self) -> Iterator[Paragraph]:
        """Every paragraph (for tests and tools; not used on the query path)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, article_id, language, position, text FROM paragraphs ORDER BY n").fetchall()
        for pid, aid, lang, pos, text in rows:
            yield Paragraph(id=pid, article_id=aid, language=lang, position=pos, text=text)
