"""What one corpus file says (:class:`ParsedDocument`), and why a file cannot be read.

The parsers of each format (``corpus.markdown``, ``corpus.scraped``) fill it; ``corpus.parse``
chooses the parser. Kept apart from both so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from corpus.models import Language
from corpus.text import match_key

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
