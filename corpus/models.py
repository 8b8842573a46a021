"""Dataclasses that cross the corpus boundary: articles, paragraphs, sources, alignments."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Language = Literal["en", "ko"]
LANGUAGES: tuple[Language, ...] = ("en", "ko")


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of an article in one language.

    ``position`` is 1-based within its language (English 1..n, Korean 1..m).
    ``id`` is stable: derived from the article id, the language and the text, so
    re-ingesting unchanged text gives the same id.
    """

    id: str
    article_id: str
    language: Language
    position: int
    text: str


@dataclass(frozen=True)
class Article:
    """An article with its metadata and its paragraphs in both languages."""

    id: str
    title: str
    outlet: str | None = None
    country: str | None = None
    published: str | None = None  # ISO date, YYYY-MM-DD
    author: str | None = None
    translator: str | None = None
    editor: str | None = None
    url: str | None = None
    title_ko: str | None = None
    paragraphs: tuple[Paragraph, ...] = ()
    sources: tuple[str, ...] = field(default=())  # corpus-relative file names

    def in_language(self, language: Language) -> list[Paragraph]:
        """The article's paragraphs in ``language``, in order."""
        return sorted(
            (p for p in self.paragraphs if p.language == language), key=lambda p: p.position
        )


@dataclass(frozen=True)
class AlignmentPair:
    """A group of English paragraphs that translate a group of Korean ones (1-based positions).

    1–1, 1–2, 2–1 groups, or one side empty for a paragraph with no counterpart.
    """

    en: tuple[int, ...]
    ko: tuple[int, ...]
    score: float = 0.0
