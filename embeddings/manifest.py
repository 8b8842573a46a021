"""The manifest of an index generation, and the ``CURRENT`` pointer that names the live one.

Layout under ``<data_dir>/index/``: one directory per generation (dense index, row map,
keyword index, snapshot, ``manifest.json``) and ``CURRENT``, a one-line file naming the live
generation. ``CURRENT`` is only ever replaced by ``os.replace`` after the generation it names
has been written and fsynced, so a reader sees either the old generation or the new one.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
# The keyword index's directory inside a generation (written by refresh, read by the retriever).
KEYWORD_DIR = "keyword"
# Store meta keys the refresh writes and `dari status` / `/status` read.
META_LAST_REFRESH = "index.last_refresh"
META_LAST_DURATION = "index.last_duration_s"

MANIFEST = "manifest.json"
CURRENT = "CURRENT"
FORMAT_VERSION = 1


class IndexProblem(RuntimeError):
    """Base for index problems that have a message meant for the user."""


class NoIndex(IndexProblem):
    """No index has been built yet."""


class IndexMismatch(IndexProblem):
    """The index on disk was built by another model (or is damaged): rebuild it."""


@dataclass(frozen=True)
class Manifest:
    """What a generation holds and what built it; validated on load."""

    generation: str
    model: str
    fingerprint: str
    dimension: int
    count: int  # rows in the dense index (passages)
    paragraphs: int
    corpus_digest: str
    kind: str  # "flat" (exact) or "hnsw"
    created: str
    duration_s: float = 0.0
    format: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        """Read ``directory/manifest.json``; :class:`IndexMismatch` if missing or unreadable."""
        path = Path(directory) / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**data)
        except FileNotFoundError:
            raise IndexMismatch(
                f"index generation {directory} has no manifest; run `dari index --full` to rebuild"
            ) from None
        except (ValueError, TypeError) as exc:
            raise IndexMismatch(
                f"index manifest {path} is unreadable ({exc}); run `dari index --full` to rebuild"
            ) from exc

    def write(self, directory: Path) -> None:
        """Write the manifest durably (temp file, fsync, rename)."""
        write_durable(Path(directory) / MANIFEST, self.to_json().encode("utf-8"))

    def check_model(self, model: str, fingerprint: str, dimension: int) -> None:
        """Refuse an index built by another model, saying how to fix it."""
        if self.fingerprint != fingerprint or self.dimension != dimension:
            raise IndexMismatch(
                f"index built with model {self.model} (fingerprint {self.fingerprint[:12]}, "
                f"dimension {self.dimension}) but the configured model is {model} "
                f"(fingerprint {fingerprint[:12]}, dimension {dimension}); the same model name"
                " with another fingerprint usually means [embeddings].backend, quantize_int8 or"
                " the conversion changed."
                " Run `dari index --full` to rebuild"
            )


def index_root(data_dir: Path) -> Path:
    """``<data_dir>/index``: where generations and ``CURRENT`` live."""
    return Path(data_dir) / "index"


def new_generation_name() -> str:
    """A sortable, unique generation name (UTC time + randomness)."""
    return time.strftime("g%Y%m%dT%H%M%S", time.gmtime()) + f"-{secrets.token_hex(3)}"


def fsync_dir(path: Path) -> None:
    """fsync a directory so renames/creations in it survive a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """fsync a file written by someone else (e.g. faiss.write_index)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durable(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically and durably (temp file, fsync, os.replace)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def read_current(root: Path) -> str | None:
    """The live generation's name, or None if there is none (or it points nowhere)."""
    try:
        name = (Path(root) / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not name or "/" in name or not (Path(root) / name).is_dir():
        if name:
            log.warning("%s names %r, which is not a generation directory", Path(root) / CURRENT, name)
        return None
    return name


def current_stamp(root: Path) -> tuple[int, int] | None:
    """A cheap change detector for ``CURRENT`` (inode, mtime_ns); os.replace changes the inode."""
    try:
        st = os.stat(Path(root) / CURRENT)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns)


def swap_current(root: Path, generation: str) -> None:
    """Point ``CURRENT`` at ``generation``: the atomic swap."""
    if not (Path(root) / generation / MANIFEST).is_file():
        raise IndexMismatch(f"refusing to swap to {generation}: it has no manifest")
    write_durable(Path(root) / CURRENT, (generation + "\n").encode("utf-8"))
    log.info("index generation %s is now live", generation)
