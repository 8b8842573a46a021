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
from pathlib import Path

from corpus.document import METADATA_FIELDS, CorpusFileError, ParsedDocument
from corpus.lang import has_hangul
from corpus.markdown import looks_like_markdown, parse_markdown
from corpus.scraped import parse_scraped

__all__ = ["METADATA_FIELDS", "CorpusFileError", "ParsedDocument", "check_limits", "decode_bytes",
           "parse_bytes", "parse_file", "parse_text"]

log = logging.getLogger(__name__)

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
