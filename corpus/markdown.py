"""The curated Markdown format: TOML front matter between ``+++`` lines, then paragraphs.

::

    +++
    title = "How Far Can South Korea-US-Japan Military Cooperation Go?"
    outlet = "Khan"
    published = 2022-07-15
    +++

    First English paragraph…

    첫 번째 한국어 문단…

Admins write these by hand, so every front-matter problem is reported with the file and the
line it is on. Paragraphs are separated by blank lines; lines inside one are joined (soft
wraps). Each paragraph's language is detected from its text.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib

from corpus.document import CorpusFileError, ParsedDocument
from corpus.lang import detect_language, split_by_language
from corpus.text import clean_text, parse_date

FENCE = "+++"
STRING_FIELDS = (
    "id", "title", "title_ko", "outlet", "country", "author", "translator", "editor", "url",
)
KNOWN_FIELDS = (*STRING_FIELDS, "published")
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")
_ID_OK = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
# Markdown headings are structure (often the title again), not quotable article text.
_HEADING = re.compile(r"^#{1,6}(?:\s|$)")


def looks_like_markdown(text: str) -> bool:
    """True when the text opens with a ``+++`` front-matter fence."""
    return text.lstrip("\ufeff \t\n").startswith(FENCE)


def _key_line(lines: list[str], key: str, offset: int) -> int:
    """File line number (1-based) where ``key`` is assigned in the front matter."""
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
    for i, line in enumerate(lines):
        if pattern.match(line):
            return i + 1 + offset
    return offset + 1


def parse_markdown(name: str, text: str) -> ParsedDocument:
    """Parse a curated Markdown article; front-matter errors name the file and line."""
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None or lines[start].strip() != FENCE:
        raise CorpusFileError(
            name, "line 1: a Markdown article must start with a '+++' line opening its "
            "front matter (with at least title = \"…\")"
        )
    end = next((i for i in range(start + 1, len(lines)) if lines[i].strip() == FENCE), None)
    if end is None:
        raise CorpusFileError(
            name, f"line {start + 1}: front matter opened with '+++' is never closed by a '+++' line"
        )
    front = lines[start + 1:end]
    try:
        data = tomllib.loads("\n".join(front) + "\n")
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = _TOML_POSITION.search(message)
        # "at end of document" (e.g. an unclosed array): point at the closing fence.
        line_no = int(m.group(1)) + start + 1 if m else end + 1
        detail = _TOML_POSITION.sub("", message).replace("(at end of document)", "").strip()
        raise CorpusFileError(name, f"line {line_no}: front matter is not valid TOML: {detail}") from exc

    doc = ParsedDocument(name=name, title="", format="markdown")
    for key, value in data.items():
        line_no = _key_line(front, key, start + 1)
        if key not in KNOWN_FIELDS:
            raise CorpusFileError(
                name, f"line {line_no}: unknown front matter key {key!r} "
                f"(known: {', '.join(KNOWN_FIELDS)})"
            )
        if key == "published" and isinstance(value, (dt.date, dt.datetime)):
            value = value.isoformat()[:10]
        elif not isinstance(value, str):
            raise CorpusFileError(
                name, f"line {line_no}: {key} must be a quoted string, got {type(value).__name__}"
            )
        value = clean_text(value)
        if key == "published":
            value = parse_date(value) if value else value
        if key == "id" and value and not _ID_OK.match(value):
            raise CorpusFileError(
                name, f"line {line_no}: id {value!r} must be lowercase letters, digits and hyphens"
            )
        setattr(doc, key, value or None)
    if not doc.title:
        raise CorpusFileError(
            name, f"line {start + 1}: no title: the front matter needs title = \"…\""
        )

    block: list[str] = []
    for raw in lines[end + 1:] + [""]:
        line = raw.strip()
        if line and _HEADING.match(line):
            line = ""  # a heading ends the paragraph before it and is not stored
        if line:
            block.append(line)
            continue
        if block:
            paragraph = clean_text(" ".join(block))
            block = []
            # A forgotten blank line between an English and a Korean paragraph.
            for piece in split_by_language(paragraph):
                language = detect_language(piece)
                if language is not None:
                    doc.paragraphs.append((language, piece))
    return doc
