"""The question log and feedback store: every answer the bot gave, and the votes on it.

One SQLite file beside the corpus store, ``<data_dir>/feedback.sqlite3``, with its own
schema version (``PRAGMA user_version``) and migrations. A separate file, not tables in
``dari.sqlite3``: a refresh holds that file's write lock for its whole run, and a vote
must never wait minutes behind it; retention purges never touch the corpus either.

Privacy: no user id is stored. A voter is kept only as an HMAC-SHA256 of their id under a
secret key (``DARI_FEEDBACK_SECRET``, else a random key generated once into
``<data_dir>/feedback.key`` with mode 0600), so one vote per user per answer can be enforced
without keeping who voted. Rows older than ``[feedback].retention_days`` are deleted at start
and daily (:meth:`FeedbackStore.purge`). Guild and channel ids, the question, its language,
the passages quoted, the vote and the time are kept; that is what ``/report`` shows.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from corpus.store import apply_migrations

log = logging.getLogger(__name__)

FEEDBACK_FILE = "feedback.sqlite3"
KEY_FILE = "feedback.key"
SECRET_ENV = "DARI_FEEDBACK_SECRET"
DAY_S = 86_400.0
REPORT_PERIODS = (7, 30)

# Each entry upgrades the schema by one version; never edit a released entry, append one.
MIGRATIONS: tuple[str, ...] = (
    # 1: answers (the question log) and votes.
    """
    CREATE TABLE answers (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created REAL NOT NULL,
        guild_id INTEGER,
        channel_id INTEGER,
        question TEXT NOT NULL,
        search_text TEXT NOT NULL,
        language TEXT NOT NULL,
        kind TEXT NOT NULL,
        found INTEGER NOT NULL,
        passages TEXT NOT NULL
    );
    CREATE INDEX answers_created ON answers(created);
    CREATE INDEX answers_channel ON answers(channel_id, id);
    CREATE TABLE votes (
        answer_id INTEGER NOT NULL REFERENCES answers(id) ON DELETE CASCADE,
        voter TEXT NOT NULL,
        vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
        created REAL NOT NULL,
        PRIMARY KEY (answer_id, voter)
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class FeedbackError(RuntimeError):
    """The feedback file is unusable (e.g. written by a newer Dari)."""


@dataclass(frozen=True)
class Quoted:
    """One passage an answer quoted: enough to show it again after a restart."""

    article_id: str
    paragraph_id: str
    language: str
    position: int


@dataclass(frozen=True)
class LoggedAnswer:
    """One row of the question log."""

    id: int
    created: float
    guild_id: int | None
    channel_id: int | None
    question: str
    search_text: str  # what was searched: the question, or it with the thread's earlier one
    language: str
    kind: str  # "ask" (/ask), "message", "followup", "context" (Ask Dari)
    found: bool
    passages: tuple[Quoted, ...]


@dataclass(frozen=True)
class PeriodCounts:
    """Questions over the last ``days`` days."""

    days: int
    asked: int
    answered: int
    refused: int
    up: int
    down: int


@dataclass(frozen=True)
class RefusedQuestion:
    question: str
    count: int


@dataclass(frozen=True)
class DisputedAnswer:
    answer_id: int
    question: str
    down: int
    up: int
    passages: tuple[str, ...]  # paragraph ids


@dataclass(frozen=True)
class ArticleQuotes:
    article_id: str
    quotes: int


@dataclass(frozen=True)
class Report:
    """What ``/report`` and ``dari report`` show."""

    generated: float
    periods: tuple[PeriodCounts, ...]
    refused: tuple[RefusedQuestion, ...] = ()  # most frequent, over the longest period
    disputed: tuple[DisputedAnswer, ...] = ()  # most 👎, over the longest period
    articles: tuple[ArticleQuotes, ...] = field(default=())  # quotes per article, longest period

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form (``dari report --json``)."""
        return asdict(self)

    def lines(self) -> list[str]:
        """Plain text, one fact a line (``dari report`` and ``/report``)."""
        out = []
        for p in self.periods:
            out.append(f"last {p.days} days: {p.asked} asked, {p.answered} answered, "
                       f"{p.refused} refused; 👍 {p.up} · 👎 {p.down}")
        longest = max((p.days for p in self.periods), default=0)
        out.append(f"most frequent refused questions ({longest} days):")
        out += [f"  {r.count}× {r.question}" for r in self.refused] or ["  (none)"]
        out.append(f"answers with most 👎 ({longest} days):")
        out += [f"  #{d.answer_id} 👎 {d.down} 👍 {d.up}: {d.question} — {', '.join(d.passages)}"
                for d in self.disputed] or ["  (none)"]
        out.append(f"quotes per article ({longest} days):")
        out += [f"  {a.quotes} {a.article_id}" for a in self.articles] or ["  (none)"]
        return out

    def to_csv(self) -> str:
        """Every section as CSV rows ``section,key,value…`` (the attachment when too long)."""
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["section", "key", "count", "detail"])
        for p in self.periods:
            for name, value in (("asked", p.asked), ("answered", p.answered), ("refused", p.refused),
                                ("up", p.up), ("down", p.down)):
                writer.writerow([f"last_{p.days}_days", name, value, ""])
        for r in self.refused:
            writer.writerow(["refused", r.question, r.count, ""])
        for d in self.disputed:
            writer.writerow(["disputed", d.question, d.down, f"answer {d.answer_id}; up {d.up}; "
                             + " ".join(d.passages)])
        for a in self.articles:
            writer.writerow(["article_quotes", a.article_id, a.quotes, ""])
        return buf.getvalue()


def load_secret(data_dir: Path) -> bytes:
    """The HMAC key: ``$DARI_FEEDBACK_SECRET``, else ``<data_dir>/feedback.key`` (created
    once, readable by the owner only)."""
    env = os.environ.get(SECRET_ENV, "").strip()
    if env:
        return env.encode("utf-8")
    path = Path(data_dir) / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_hex(32).encode("ascii"))
    log.info("generated the feedback key %s (set %s to use your own)", path, SECRET_ENV)
    return path.read_bytes().strip()


class FeedbackStore:
    """The question log and votes in SQLite; safe to share between threads (one lock)."""

    def __init__(self, path: Path, secret: bytes, retention_days: int,
                 clock: Callable[[], float] | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.retention_days = retention_days
        self._secret = secret
        self._clock = clock or time.time
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.execute("PRAGMA busy_timeout = 5000")
        self._migrate()

    @classmethod
    def open(cls, data_dir: Path, retention_days: int) -> FeedbackStore:
        """The store in ``data_dir`` with its key; purges expired rows (retention at start)."""
        store = cls(Path(data_dir) / FEEDBACK_FILE, load_secret(data_dir), retention_days)
        store.purge()
        return store

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- schema ------------------------------------------------------------------------

    def _migrate(self) -> None:
        with self._lock:
            version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise FeedbackError(
                    f"{self.path}: schema version {version} is newer than this Dari supports "
                    f"({SCHEMA_VERSION}); use a newer Dari or another data directory")
            apply_migrations(self._conn, MIGRATIONS, version, self._transaction,
                             f"feedback {self.path}")

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # -- writing -----------------------------------------------------------------------

    def voter(self, user_id: int) -> str:
        """The keyed hash a user is stored as."""
        return hmac.new(self._secret, str(user_id).encode("ascii"), hashlib.sha256).hexdigest()

    def log_answer(self, *, question: str, search_text: str, language: str, kind: str,
                   passages: Sequence[Quoted], guild_id: int | None,
                   channel_id: int | None) -> int:
        """Record one answer (``passages`` empty: a refusal); returns its id."""
        data = json.dumps([asdict(q) for q in passages], ensure_ascii=False)
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO answers (created, guild_id, channel_id, question, search_text, "
                "language, kind, found, passages) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (self._clock(), guild_id, channel_id, question, search_text, language, kind,
                 int(bool(passages)), data))
            row_id = cursor.lastrowid
        assert row_id is not None
        return row_id

    def set_channel(self, answer_id: int, channel_id: int) -> None:
        """Where the answer was finally posted (a thread opened for it, or "post" from Ask Dari)."""
        with self._transaction() as conn:
            conn.execute("UPDATE answers SET channel_id = ? WHERE id = ?", (channel_id, answer_id))

    def vote(self, answer_id: int, user_id: int, vote: int) -> int:
        """Record ``user_id``'s vote (+1/-1) on an answer: a first click sets it, the same
        click again withdraws it, the other one changes it. Returns the vote now stored
        (0: withdrawn). Raises ``KeyError`` for an unknown (or purged) answer."""
        if vote not in (-1, 1):
            raise ValueError(f"vote must be -1 or 1, got {vote}")
        voter = self.voter(user_id)
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone() is None:
                raise KeyError(answer_id)
            row = conn.execute("SELECT vote FROM votes WHERE answer_id = ? AND voter = ?",
                               (answer_id, voter)).fetchone()
            if row is not None and int(row["vote"]) == vote:
                conn.execute("DELETE FROM votes WHERE answer_id = ? AND voter = ?", (answer_id, voter))
                return 0
            conn.execute(
                "INSERT INTO votes (answer_id, voter, vote, created) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (answer_id, voter) DO UPDATE SET vote = excluded.vote, "
                "created = excluded.created", (answer_id, voter, vote, self._clock()))
            return vote

    def purge(self) -> int:
        """Delete answers (and their votes) older than the retention period; returns how many."""
        cutoff = self._clock() - self.retention_days * DAY_S
        with self._transaction() as conn:
            removed = conn.execute("DELETE FROM answers WHERE created < ?", (cutoff,)).rowcount
        if removed:
            log.info("feedback: purged %d answer(s) older than %d days", removed, self.retention_days)
        return removed

    # -- reading -----------------------------------------------------------------------

    @staticmethod
    def _row(row: sqlite3.Row) -> LoggedAnswer:
        passages = tuple(Quoted(**q) for q in json.loads(row["passages"]))
        return LoggedAnswer(id=row["id"], created=row["created"], guild_id=row["guild_id"],
                            channel_id=row["channel_id"], question=row["question"],
                            search_text=row["search_text"], language=row["language"],
                            kind=row["kind"], found=bool(row["found"]), passages=passages)

    def answer(self, answer_id: int) -> LoggedAnswer | None:
        """One logged answer, or None (unknown, or purged past the retention period)."""
        with self._lock:
            row = self._conn.execute("SELECT * FROM answers WHERE id = ?", (answer_id,)).fetchone()
        return self._row(row) if row is not None else None

    def thread_context(self, channel_id: int) -> list[LoggedAnswer]:
        """The first and the latest answer posted in a thread (one if they are the same,
        none if it has none), oldest first: what a follow-up there is searched with."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM answers WHERE id IN ("
                "SELECT MIN(id) FROM answers WHERE channel_id = ? UNION "
                "SELECT MAX(id) FROM answers WHERE channel_id = ?) ORDER BY id",
                (channel_id, channel_id)).fetchall()
        return [self._row(r) for r in rows]

    def votes(self, answer_id: int) -> tuple[int, int]:
        """(👍, 👎) on an answer."""
        with self._lock:
            row = self._conn.execute(
                "SELECT COALESCE(SUM(vote = 1), 0), COALESCE(SUM(vote = -1), 0) FROM votes "
                "WHERE answer_id = ?", (answer_id,)).fetchone()
        return int(row[0]), int(row[1])

    def report(self, top: int = 10, guild_id: int | None = None) -> Report:
        """Counts over the last 7 and 30 days; refused questions, most-👎 answers and quotes
        per article over 30 days. ``guild_id`` limits it to one server (``/report``)."""
        now = self._clock()
        where, params = ("AND a.guild_id = ?", (guild_id,)) if guild_id is not None else ("", ())
        periods = []
        with self._lock:
            for days in REPORT_PERIODS:
                since = now - days * DAY_S
                row = self._conn.execute(
                    f"SELECT COUNT(*), COALESCE(SUM(found), 0) FROM answers a "
                    f"WHERE a.created >= ? {where}", (since, *params)).fetchone()
                asked, answered = int(row[0]), int(row[1])
                votes = self._conn.execute(
                    f"SELECT COALESCE(SUM(v.vote = 1), 0), COALESCE(SUM(v.vote = -1), 0) "
                    f"FROM votes v JOIN answers a ON a.id = v.answer_id "
                    f"WHERE a.created >= ? {where}", (since, *params)).fetchone()
                periods.append(PeriodCounts(days, asked, answered, asked - answered,
                                            int(votes[0]), int(votes[1])))
            since = now - max(REPORT_PERIODS) * DAY_S
            refused = [RefusedQuestion(r[0], int(r[1])) for r in self._conn.execute(
                f"SELECT lower(trim(a.question)) AS q, COUNT(*) AS n FROM answers a "
                f"WHERE a.found = 0 AND a.created >= ? {where} GROUP BY q "
                f"ORDER BY n DESC, max(a.id) DESC LIMIT ?", (since, *params, top))]
            disputed_rows = self._conn.execute(
                f"SELECT a.*, SUM(v.vote = -1) AS down, SUM(v.vote = 1) AS up FROM answers a "
                f"JOIN votes v ON v.answer_id = a.id WHERE a.created >= ? {where} "
                f"GROUP BY a.id HAVING down > 0 ORDER BY down DESC, a.id DESC LIMIT ?",
                (since, *params, top)).fetchall()
            quoted: dict[str, int] = {}
            for r in self._conn.execute(
                    f"SELECT a.passages FROM answers a WHERE a.found = 1 AND a.created >= ? {where}",
                    (since, *params)):
                for q in json.loads(r[0]):
                    quoted[q["article_id"]] = quoted.get(q["article_id"], 0) + 1
        disputed = [DisputedAnswer(int(r["id"]), r["question"], int(r["down"]), int(r["up"]),
                                   tuple(q.paragraph_id for q in self._row(r).passages))
                    for r in disputed_rows]
        articles = [ArticleQuotes(a, n) for a, n in
                    sorted(quoted.items(), key=lambda item: (-item[1], item[0]))]
        return Report(now, tuple(periods), tuple(refused), tuple(disputed), tuple(articles))
