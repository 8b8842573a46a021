"""Save an uploaded article (the bot's /add-article) into the corpus directory, safely.

The upload is parsed before anything is written, so a bad file is refused with a reason a
user can act on. The name is reduced to a safe basename (no directories, no hidden or
reserved names), an existing different file is never overwritten unless asked, and the
write is atomic (temporary file + ``os.replace``), so a crash never leaves half a file.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import unicodedata
from pathlib import Path

from corpus.parse import CorpusFileError, check_limits, parse_bytes

log = logging.getLogger(__name__)

ALLOWED_EXTENSIONS = (".txt", ".md")
MAX_NAME = 120
_UNSAFE = re.compile(r"[^\w.\-가-힣]+")


def safe_filename(filename: str) -> str:
    """A safe basename for ``filename``; raises :class:`CorpusFileError` if none is possible.

    Directory parts (``../../x.md``, ``C:\\x.md``, ``/etc/x.md``) are dropped, NUL and
    control characters removed, leading dots stripped (no hidden files), other unsafe
    characters become ``_``; the extension must be ``.txt`` or ``.md``.
    """
    original = filename
    name = unicodedata.normalize("NFC", filename).replace("\x00", "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    stem, dot, ext = name.rpartition(".")
    ext = f".{ext.lower()}" if dot else ""
    if ext not in ALLOWED_EXTENSIONS:
        raise CorpusFileError(
            original or "(unnamed)",
            f"only {' and '.join(ALLOWED_EXTENSIONS)} files can be added",
        )
    # Leading dots would make a hidden file (ignored by ingestion); "." / ".." never survive.
    stem = _UNSAFE.sub("_", stem).strip("._-")[: MAX_NAME - len(ext)] or "article"
    return stem + ext


def save_upload(
    corpus_dir: Path, filename: str, data: bytes, max_bytes: int, replace: bool = False, *,
    max_paragraph_chars: int | None = None, max_paragraphs: int | None = None,
) -> Path:
    """Validate and store an uploaded article; returns the path written.

    Raises :class:`CorpusFileError` (message fit for the user) when the name or the
    content is not acceptable, when it is too large (bytes, or a paragraph or paragraph
    count past the given ``[corpus]`` limits), or when a *different* file of the same name
    exists and ``replace`` is false. Nothing is written then. Re-uploading identical bytes
    is accepted.
    """
    name = safe_filename(filename)
    if len(data) > max_bytes:
        raise CorpusFileError(
            name, f"too large ({len(data) / 1_048_576:.1f} MB; the limit is "
            f"{max_bytes / 1_048_576:g} MB)"
        )
    doc = parse_bytes(name, data)  # raises with the reason if the article cannot be read
    if max_paragraph_chars is not None or max_paragraphs is not None:
        check_limits(doc, max_paragraph_chars or sys.maxsize, max_paragraphs or sys.maxsize)
    corpus_dir = Path(corpus_dir)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    target = corpus_dir / name
    if target.exists() and not replace:
        if target.is_file() and target.read_bytes() == data:
            return target
        raise CorpusFileError(name, "a different file with this name already exists in the corpus")
    # Hidden temp name in the same directory: ingestion ignores it, os.replace is atomic.
    fd, tmp = tempfile.mkstemp(prefix=".upload-", suffix=".tmp", dir=corpus_dir)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("saved uploaded article %s (%d bytes)", target, len(data))
    return target
