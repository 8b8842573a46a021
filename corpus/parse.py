"""Read one corpus file into a :class:`ParsedDocument`, or explain why it cannot be read.

This is the only place that turns bytes into text: it checks size, rejects binary data,
decodes UTF-8 (with or without BOM), UTF-16 with BOM and the Korean legacy encodings
CP949/EUC-KR, then hands the text to the format's parser (Markdown with ``+++`` front
matter, or the scraped plain-text format). It is pure: no store, no logging of results.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from corpus.lang import has_hangul
from corpus.models import Language
from corpus.text import match_key

log = logging.getLogger(__name__)

METADATA_FIELDS = (
    "title_ko", "outlet", "country", "published", "author", "translator", "editor", "url",
)


class CorpusFileError(ValueError):
    """A corpus file cannot be used; ``reason`` is short and fit to show a user."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        # Picklable with both fields (an upload is validated in another process).
        return (type(self), (self.name, self.reason))


@dataclass
class ParsedDocument:
    """What one file says: an article's metadata and paragraphs, in file order."""

    name: str
    title: str
    format: str  # "scraped" or "markdown"
    id: str | None = None  # explicit article id (Markdown front matter)
    title_ko: str | None = None
    outlet: str | None = None
    country: str | None = None
    published: str | None = None
    author: str | None = None
    translator: str | None = None
    editor: str | None = None
    url: str | None = None
    paragraphs: list[tuple[Language, str]] = field(default_factory=list)
    # Things the reader noticed but could work around (e.g. a legacy encoding).
    warnings: list[str] = field(default_factory=list)
    digest: str = ""  # sha256 of the file's bytes
    # Memo for match_keys(): (paragraphs it was computed for, keys).
    _keys_memo: tuple[tuple[tuple[str, str], ...], list[tuple[Language, str, int]]] | None = field(
        default=None, repr=False, compare=False)

    def metadata_count(self) -> int:
        """How many metadata fields are filled: the "richness" used when merging duplicates."""
        return sum(1 for name in METADATA_FIELDS if getattr(self, name))

    def match_keys(self) -> list[tuple[Language, str, int]]:
        """(language, match key, occurrence) per paragraph; a repeated text is a distinct item.

        Used to compare files; memoised because normalisation is the costly part of merging.
        """
        snapshot = tuple(self.paragraphs)
        if self._keys_memo is None or self._keys_memo[0] != snapshot:
            seen: dict[tuple[str, str], int] = {}
            keys: list[tuple[Language, str, int]] = []
            for language, text in snapshot:
                key = match_key(text)
                n = seen.get((language, key), 0)
                keys.append((language, key, n))
                seen[(language, key)] = n + 1
            self._keys_memo = (snapshot, keys)
        return self._keys_memo[1]

    def in_language(self, language: Language) -> list[str]:
        """This document's paragraph texts in ``language``, in order."""
        return [text for lang, text in self.paragraphs if lang == language]


def _looks_binary(data: bytes) -> bool:
    """NUL bytes or many control characters: not a text file."""
    sample = data[:65536]
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls > max(8, len(sample) // 100)


def _plausible_korean(text: str) -> bool:
    """Most non-ASCII characters are in KS X 1001 (EUC-KR), as in real Korean text.

    Random or non-Korean bytes that happen to form valid CP949 pairs decode mostly to the
    rare extension syllables outside that set.
    """
    non_ascii = [ch for ch in text if ord(ch) > 127]
    if not non_ascii:
        return False
    common = 0
    for ch in non_ascii:
        try:
            # Python's EUC-KR spells syllables outside the set as 8-byte Jamo sequences.
            common += len(ch.encode("euc-kr")) == 2
        except UnicodeEncodeError:
            continue
    return common / len(non_ascii) >= 0.9


def decode_bytes(name: str, data: bytes) -> tuple[str, list[str]]:
    """Decode a corpus file: (text, warnings). Raises :class:`CorpusFileError` if impossible."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), []
        except UnicodeDecodeError as exc:
            raise CorpusFileError(name, f"invalid UTF-16 text ({exc.reason})") from exc
    if not data.strip():
        raise CorpusFileError(name, "empty file")
    if _looks_binary(data):
        raise CorpusFileError(name, "binary file, not text")
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as utf8_error:
        try:
            # CP949 is a superset of EUC-KR, the usual encodings of Korean files on Windows.
            text = data.decode("cp949")
        except UnicodeDecodeError:
            raise CorpusFileError(
                name,
                f"not UTF-8 text (invalid byte at offset {utf8_error.start}) "
                "and not Korean CP949/EUC-KR either",
            ) from utf8_error
        if not has_hangul(text) or not _plausible_korean(text):
            raise CorpusFileError(
                name, f"not UTF-8 text (invalid byte at offset {utf8_error.start})"
            ) from utf8_error
        return text, ["not UTF-8: decoded as Korean CP949/EUC-KR"]


def parse_text(name: str, text: str) -> ParsedDocument:
    """Parse decoded text; the format is chosen by content (``+++`` front matter = Markdown)."""
    # Imported here: both parsers import this module for ParsedDocument and the error.
    from corpus.markdown import looks_like_markdown, parse_markdown
    from corpus.scraped import parse_scraped

    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if looks_like_markdown(text) or name.lower().endswith(".md"):
        return parse_markdown(name, text)
    return parse_scraped(name, text)


def parse_bytes(name: str, data: bytes) -> ParsedDocument:
    """Parse a file's content; raises :class:`CorpusFileError` naming ``name`` and the reason."""
    text, warnings = decode_bytes(name, data)
    doc = parse_text(name, text)
    doc.warnings[:0] = warnings
    doc.digest = hashlib.sha256(data).hexdigest()
    if not doc.paragraphs:
        raise CorpusFileError(name, "no article text found (only a title, metadata or site boilerplate)")
    return doc


def check_limits(doc: ParsedDocument, max_paragraph_chars: int, max_paragraphs: int) -> None:
    """Refuse a document past the per-file bounds (``[corpus]`` settings), naming the limit.

    Raises :class:`CorpusFileError`; the bounds keep what one file costs to index sane.
    """
    if len(doc.paragraphs) > max_paragraphs:
        raise CorpusFileError(
            doc.name, f"{len(doc.paragraphs):,} paragraphs; the limit is {max_paragraphs:,} "
            "paragraphs per file ([corpus].max_paragraphs)")
    for number, (_language, text) in enumerate(doc.paragraphs, 1):
        if len(text) > max_paragraph_chars:
            raise CorpusFileError(
                doc.name, f"paragraph {number} is {len(text):,} characters long; the limit is "
                f"{max_paragraph_chars:,} characters ([corpus].max_paragraph_chars)")


def parse_file(path: Path, max_bytes: int, name: str | None = None) -> ParsedDocument:
    """Read and parse ``path``; files above ``max_bytes`` are refused before being read."""
    name = name or path.name
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise CorpusFileError(
                name, f"too large ({size / 1_048_576:.1f} MB; the limit is "
                f"{max_bytes / 1_048_576:g} MB, [corpus].max_file_mb)"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusFileError(name, f"cannot be read ({exc.strerror or exc})") from exc
    return parse_bytes(name, data)
