"""Text normalisation helpers shared by the parsers, the de-duplication and the store.

Two levels of normalisation:

* :func:`clean_text` tidies text for storage (Unicode NFC, no zero-width or control
  characters, single spaces) but keeps its punctuation exactly as written.
* :func:`match_key` is for *comparison only*: two scrapes of one article differ in curly vs
  straight quotes, dashes and spacing, so the key keeps just case-folded letters and digits.

Ids and digests are derived here too, so every module derives them the same way.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime

from corpus.models import Paragraph

# Characters that render as nothing but break comparisons (BOM, zero-width space/joiners, soft hyphen).
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060\u00ad"), None)
# Typographic variants folded to ASCII for comparison.
_PUNCT_FOLD = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
    "\u2026": "...", "\u00b7": "\u00b7",
})
_SPACES = re.compile(r"\s+")
# Control and format characters (C0/C1 controls, bidi marks, line/paragraph separators).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069\ufff9-\ufffb]")
_NON_WORD = re.compile(r"[^\w]+")


def clean_text(text: str) -> str:
    """Text as stored: NFC, invisible/control characters removed, whitespace collapsed."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    text = _CONTROL.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def fold_punctuation(text: str) -> str:
    """Curly quotes, dashes and ellipses replaced by their ASCII forms, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).translate(_PUNCT_FOLD)
    return _SPACES.sub(" ", text).strip()


def match_key(text: str) -> str:
    """Comparison key: case-folded letters and digits only, single spaces.

    "Russia’s invasion" and "Russia's  invasion" get the same key, so two scrapes that differ
    only in typography compare equal.
    """
    folded = fold_punctuation(text).casefold().replace("'", "")
    return _SPACES.sub(" ", _NON_WORD.sub(" ", folded).replace("_", " ")).strip()


def slugify(title: str, max_length: int = 80) -> str:
    """A readable URL-style id from a title: ASCII letters/digits joined by hyphens.

    Titles with no ASCII letters (e.g. Korean only) fall back to a short hash so the
    id is still stable and safe in file names and URLs.
    """
    folded = unicodedata.normalize("NFKD", fold_punctuation(title).casefold().replace("'", ""))
    ascii_text = folded.encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    if len(slug) > max_length:
        slug = slug[:max_length].rsplit("-", 1)[0] or slug[:max_length]
    if not slug:
        slug = "article-" + hashlib.sha1(match_key(title).encode("utf-8")).hexdigest()[:10]
    return slug


def paragraph_id(article_id: str, language: str, text: str, occurrence: int = 0) -> str:
    """Stable paragraph id: ``<article>:<lang>:<12 hex>`` from the normalised text.

    ``occurrence`` separates repeats of the same text in one language (0 for the first), so
    ids stay unique and unchanged text keeps its id across re-ingestion.
    """
    return paragraph_id_for_key(article_id, language, match_key(text), occurrence)


def paragraph_id_for_key(article_id: str, language: str, key: str, occurrence: int = 0) -> str:
    """:func:`paragraph_id` from an already computed :func:`match_key` of the text."""
    basis = f"{language}\x00{key}\x00{occurrence}"
    return f"{article_id}:{language}:{hashlib.sha1(basis.encode('utf-8')).hexdigest()[:12]}"


def content_digest(paragraphs: Iterable[Paragraph]) -> str:
    """Digest of paragraph ids and texts, independent of order: changes iff content changes."""
    h = hashlib.sha256()
    for pid, text in sorted((p.id, p.text) for p in paragraphs):
        h.update(pid.encode("utf-8"))
        h.update(b"\x00")
        h.update(text.encode("utf-8"))
        h.update(b"\x01")
    return h.hexdigest()


_MONTHS = {
    name: i
    for i, names in enumerate(
        [
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_DATE_FORMS = [
    # 15 July 2022 / 15 Jul. 2022
    (re.compile(r"^(?P<d>\d{1,2})\s+(?P<m>[a-z]+)\.?,?\s+(?P<y>\d{4})$"), "dmy"),
    # July 15, 2022
    (re.compile(r"^(?P<m>[a-z]+)\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})$"), "mdy"),
    # 2022-07-15, 2022.07.15, 2022/7/15, 2022. 7. 15.
    (re.compile(r"^(?P<y>\d{4})\s*[-./]\s*(?P<m>\d{1,2})\s*[-./]\s*(?P<d>\d{1,2})\.?$"), "ymd"),
    # 2022년 7월 15일
    (re.compile(r"^(?P<y>\d{4})\s*년\s*(?P<m>\d{1,2})\s*월\s*(?P<d>\d{1,2})\s*일$"), "ymd"),
]


def parse_date(raw: str) -> str:
    """ISO ``YYYY-MM-DD`` for common date forms; the raw text (cleaned) when unparseable."""
    text = clean_text(raw).strip(" .,")
    low = text.casefold()
    for pattern, _order in _DATE_FORMS:
        m = pattern.match(low)
        if not m:
            continue
        month_raw = m.group("m")
        month = int(month_raw) if month_raw.isdigit() else _MONTHS.get(month_raw)
        if month is None:
            continue
        try:
            return date(int(m.group("y")), month, int(m.group("d"))).isoformat()
        except ValueError:
            break
    try:  # ISO datetimes such as 2022-07-15T09:00:00+09:00
        return datetime.fromisoformat(text).date().isoformat()
    except ValueError:
        return text
