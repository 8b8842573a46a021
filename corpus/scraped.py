"""The scraped plain-text format (the seed files): title, metadata, bodies, site boilerplate.

Layout of a page from the source site, as the scraper saved it::

    <title>
    Published in <outlet> (<country>) on <date>      ┐ optional; may wrap over lines and
    by <author> (link to original…)                  │ run straight into the first paragraph
    Translated from <language> by <translator>. Edited by <editor>.  ┘
    <English paragraphs>
    <original-language paragraphs>
    This post appeared on the front page as a direct link…   (site footer, may be glued)
    About this publication / Hot this week / Topics / Related Articles / comment form …
    <Country>: <Headline>   (lists of other articles under those headers)

Blank lines are not reliable separators, so the parser works line by line and removes
boilerplate by *structure* (the site's section headers, its footer sentence, and the shape
of headline-list lines), never by the seed's exact sentences.
"""

from __future__ import annotations

import re

from corpus.document import CorpusFileError, ParsedDocument
from corpus.lang import detect_language, has_hangul, split_by_language
from corpus.models import Language
from corpus.text import clean_text, parse_date

# Site section headers. "About this publication" labels the box that holds the original-
# language text on the site (000 has the header where 002 has the Korean body), so only the
# header line itself is dropped. The others start the page furniture — headline lists, tag
# lists, the comment form — which runs to the end of the page.
LABEL_HEADERS = frozenset({"about this publication"})
SECTION_HEADERS = frozenset({
    "hot this week", "topics", "related articles", "related posts", "recent posts",
    "more from this author", "you may also like", "popular articles", "most read",
    "share this", "like this", "comments", "responses", "leave a reply", "leave a comment",
    "be the first to comment", "cancel reply", "post comment",
})
# Comment-form lines with variable parts ("3 Comments", "Leave a Reply Cancel reply").
_COMMENT_FORM = re.compile(
    r"^(?:\d+|one|no)\s+(?:comments?|responses?|replies)$"
    r"|^(?:leave a (?:reply|comment)|be the first to comment|cancel reply|post comment)\b",
    re.IGNORECASE,
)
# The site's per-article footer sentence; it can be glued to the end of the last paragraph.
_FOOTER = re.compile(r"\s*This post appeared on the front page\b.*$", re.IGNORECASE)
# "<Country>: <Headline>" lines of the site's headline lists: one to four capitalised words
# (South Korea, U.S., Hong Kong, United Kingdom), a colon, then a short title with no full
# stop at the end (headlines are not sentences).
_HEADLINE = re.compile(
    r"^(?:[A-Z][\w.'’-]*)(?: (?:[A-Z][\w.'’-]*|of|and|the)){0,3}: \S.{1,200}(?<![.。])$"
)

# Metadata clause keywords. "Edited by" and "Translated from/by" are matched before a bare
# "by" (the author), so the "by" inside them is not taken for an author clause.
_META_TOKEN = re.compile(
    r"\bPublished in\b|\bTranslated (?:from\b|by\b)|\bEdited by\b|\bby\b", re.IGNORECASE
)
_META_START = re.compile(r"^(?:Published in\b|by\s|Translated\b|Edited by\b)", re.IGNORECASE)
# A wrapped continuation of "Published in <outlet>": "(South Korea) on 15 July 2022".
_PUBLISHED_CONT = re.compile(r"^(?:\([^)]*\)|on\s+\S)", re.IGNORECASE)
_PUBLISHED = re.compile(
    r"^(?P<outlet>.+?)\s*(?:\((?P<country>[^)]*)\))?\s*(?:\bon\s+(?P<date>.+?))?[\s.]*$",
    re.IGNORECASE,
)
_LINK_NOTE = re.compile(r"\((?:[^()]*\blink\b[^()]*)\)", re.IGNORECASE)
_URL = re.compile(r"https?://[^\s)>\]]+")
# Metadata lines are short; a long line is article text even if it starts with "By …".
MAX_META_LINE = 300
MAX_TITLE = 300
# A line ending like this ends its paragraph; otherwise a short line may be hard-wrapped.
_TERMINAL = re.compile(r"[.!?。…:;\"”’')\]]\s*$")
WRAPPED_LINE_MAX = 120


def _header_key(line: str) -> str:
    if len(line) > 80:
        return ""  # headers are short; skip the normalisation work for paragraphs
    return clean_text(line).rstrip(":").strip().casefold()


def is_section_header(line: str) -> bool:
    """True for a header that starts the page furniture (or a comment-form line)."""
    key = _header_key(line)
    return key in SECTION_HEADERS or bool(_COMMENT_FORM.match(key))


def is_label_header(line: str) -> bool:
    """True for a header line that only labels content (dropped, content kept)."""
    return _header_key(line) in LABEL_HEADERS


def is_headline_line(line: str) -> bool:
    """True for a "<Country>: <Headline>" line of a headline list."""
    if len(line) > 400:
        return False
    text = clean_text(line)
    return len(text) <= 220 and not has_hangul(text) and bool(_HEADLINE.match(text))


def _is_meta_line(line: str) -> bool:
    """A line that starts a metadata clause.

    "by …" must look like a byline (short, or with the "link to original" note), so an
    article that opens with "By the time …" is not taken for its author.
    """
    if len(line) > MAX_META_LINE or not _META_START.match(line):
        return False
    if line[:3].casefold() == "by ":
        return len(line) <= 150 and ("link" in line.casefold() or len(line.split()) <= 8)
    return True


def _metadata_lines(lines: list[str], start: int) -> tuple[list[str], int]:
    """Metadata lines from ``start`` (after the title) and the index of the first body line."""
    meta: list[str] = []
    i = start
    last_clause = ""
    while i < len(lines):
        line = lines[i].strip()
        if not line:
            i += 1
            continue
        if _is_meta_line(line):
            last_clause = line.split()[0].casefold()
        elif last_clause == "published" and _PUBLISHED_CONT.match(line) and len(line) <= MAX_META_LINE:
            pass  # "(South Korea) on 15 July 2022" continues the Published clause
        else:
            break
        meta.append(line)
        i += 1
    return meta, i


def _parse_metadata(doc: ParsedDocument, meta_lines: list[str]) -> None:
    """Fill ``doc``'s outlet/country/published/author/translator/editor/url from the lines."""
    meta = " ".join(meta_lines)
    url = _URL.search(meta)
    if url:
        doc.url = url.group(0)
        meta = _URL.sub(" ", meta)
    clauses: list[tuple[str, str]] = []  # (kind, text)
    tokens = list(_META_TOKEN.finditer(meta))
    for n, tok in enumerate(tokens):
        word = tok.group(0).casefold()
        kind = word.split()[0]
        end = tokens[n + 1].start() if n + 1 < len(tokens) else len(meta)
        body = meta[tok.end():end]
        if kind == "by" and clauses and clauses[-1][0] == "translated" and "by" not in clauses[-1][1]:
            # "Translated from [language] by <translator>": this "by" belongs to it.
            clauses[-1] = ("translated", clauses[-1][1] + " by" + body)
            continue
        if kind == "by" and clauses and clauses[-1][0] == "by":
            clauses[-1] = ("by", clauses[-1][1] + " by" + body)  # "by" inside an author name
            continue
        clauses.append((kind, body))
    for kind, body in clauses:
        text = clean_text(_LINK_NOTE.sub(" ", body)).strip(" .,;")
        if kind == "published":
            m = _PUBLISHED.match(text)
            if m:
                doc.outlet = clean_text(m.group("outlet")).strip(" .,") or None
                doc.country = clean_text(m.group("country") or "") or None
                if m.group("date"):
                    doc.published = parse_date(m.group("date"))
        elif kind == "by":
            doc.author = text or None
        elif kind == "translated":
            translator = text.rsplit(" by ", 1)[-1] if " by " in f" {text}" else ""
            translator = re.sub(r"^by\s+", "", translator.strip(), flags=re.IGNORECASE)
            doc.translator = translator.strip(" .,") or None
        elif kind == "edited":
            doc.editor = text or None


def _split_paragraphs(lines: list[str]) -> list[str]:
    """Body lines to paragraphs: each line is one, unless it is a hard-wrapped continuation.

    A short line that does not end a sentence continues onto the next line of the same
    language; a blank line or a change of language always ends a paragraph.
    """
    paragraphs: list[str] = []
    current: list[str] = []
    for raw in lines + [""]:
        line = raw.strip()
        if current and line:
            prev = current[-1]
            wrapped = len(prev) <= WRAPPED_LINE_MAX and not _TERMINAL.search(prev)
            if wrapped and detect_language(prev) == detect_language(line):
                current.append(line)
                continue
        if current:
            paragraphs.append(" ".join(current))
            current = []
        if line:
            current.append(line)
    return paragraphs


def _drop_headline_runs(paragraphs: list[str]) -> list[str]:
    """Remove runs of two or more headline-list lines (a list of other articles)."""
    flags = [is_headline_line(p) for p in paragraphs]
    keep: list[str] = []
    for i, p in enumerate(paragraphs):
        in_run = flags[i] and ((i > 0 and flags[i - 1]) or (i + 1 < len(flags) and flags[i + 1]))
        if not in_run:
            keep.append(p)
    return keep


def parse_scraped(name: str, text: str) -> ParsedDocument:
    """Parse the scraped format; raises :class:`CorpusFileError` when there is no title."""
    lines = [_FOOTER.sub("", line) for line in text.split("\n")]
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise CorpusFileError(name, "empty file")
    title = clean_text(lines[first])
    if (
        len(title) > MAX_TITLE
        or detect_language(title) is None
        or _META_START.match(title)
        or is_section_header(title)
        or is_label_header(title)
    ):
        raise CorpusFileError(
            name, "no title: the first line must be the article's title "
            f"(found {title[:60]!r}{'…' if len(title) > 60 else ''})"
        )
    doc = ParsedDocument(name=name, title=title, format="scraped")
    if has_hangul(title) and detect_language(title) == "ko":
        doc.title_ko = title
    meta_lines, body_start = _metadata_lines(lines, first + 1)
    _parse_metadata(doc, meta_lines)

    body: list[str] = []
    for line in lines[body_start:]:
        if is_section_header(line):
            break  # the rest of the page is site furniture
        # A label header is replaced by a blank line: it still ends the paragraph before it.
        body.append("" if is_label_header(line) else line)
    for paragraph in _drop_headline_runs(_split_paragraphs(body)):
        # An English and a Korean paragraph glued into one line become two again.
        for piece in split_by_language(clean_text(paragraph)):
            language: Language | None = detect_language(piece)
            if language is None:
                continue  # separators such as "* * *" carry no text
            doc.paragraphs.append((language, piece))
    return doc
