"""Embedding cache: passage vectors keyed by text digest and model fingerprint.

A SQLite file in ``<data_dir>/cache/`` so a refresh only encodes passages it has never
seen with this model. SQLite makes it crash-safe for free: a killed refresh loses at most
the batch it was writing, never the file.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    digest TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    dimension INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (digest, fingerprint)
) WITHOUT ROWID;
"""


def text_digest(text: str, kind: str = "passage") -> str:
    """sha256 of the text and what it is encoded as (queries and passages get different prompts)."""
    return hashlib.sha256(f"{kind}\x00{text}".encode()).hexdigest()


class EmbeddingCache:
    """Vectors by (digest, fingerprint); one connection, used from one thread at a time."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> EmbeddingCache:
        """The cache at ``<data_dir>/cache/embeddings.sqlite3``."""
        return cls(Path(data_dir) / "cache" / "embeddings.sqlite3")

    def get_many(self, digests: Sequence[str], fingerprint: str, dimension: int) -> dict[str, np.ndarray]:
        """The cached vectors among ``digests`` (missing ones are simply absent)."""
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(digests))
        # SQLite limits bound parameters; 500 per query stays well below every build's limit.
        for start in range(0, len(unique), 500):
            chunk = unique[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT digest, dimension, vector FROM embeddings"
                f" WHERE fingerprint = ? AND digest IN ({marks})",
                [fingerprint, *chunk],
            )
            for digest, dim, blob in rows:
                if dim != dimension or len(blob) != 4 * dimension:
                    continue  # damaged or another shape: treat as missing, it is re-encoded
                found[digest] = np.frombuffer(blob, dtype=np.float32).copy()
        return found

    def put_many(self, items: Iterable[tuple[str, np.ndarray]], fingerprint: str) -> None:
        """Store vectors (float32) in one transaction."""
        rows = [
            (digest, fingerprint, int(vec.shape[0]), np.asarray(vec, dtype=np.float32).tobytes())
            for digest, vec in items
        ]
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO embeddings (digest, fingerprint, dimension, vector)"
                " VALUES (?, ?, ?, ?)",
                rows,
            )

    def count(self, fingerprint: str | None = None) -> int:
        """Number of cached vectors (for one model, or all)."""
        if fingerprint is None:
            return int(self._db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])
        return int(
            self._db.execute(
                "SELECT COUNT(*) FROM embeddings WHERE fingerprint = ?", (fingerprint,)
            ).fetchone()[0]
        )

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
