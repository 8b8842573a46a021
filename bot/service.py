"""The seam between the bot and the application: what the bot asks of the service.

The bot never imports the application layer (``dari.service``); it is given an object
with these methods (``DariService`` satisfies :class:`AnswerService` structurally). Every
method blocks: the bot calls them through ``asyncio.to_thread``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from corpus.models import Article, Language, Paragraph
from embeddings.models import Answer, Hit


class IndexStatus(Protocol):
    """What ``/status`` shows (``dari.service.Status`` has these fields)."""

    @property
    def articles(self) -> int: ...

    @property
    def paragraphs(self) -> Mapping[str, int]: ...

    @property
    def model(self) -> str: ...

    @property
    def last_refresh(self) -> str | None: ...

    @property
    def last_duration_s(self) -> float | None: ...


class AnswerService(Protocol):
    """The service calls the bot makes, exactly."""

    def ask(self, question: str) -> Answer:
        """The answer to ``question``: the best passages, trimmed."""
        ...

    def ask_more(self, question: str, skip: int) -> Answer:
        """The next passages for ``question`` after the first ``skip`` (the "More" button)."""
        ...

    def search(self, query: str, k: int | None = None, language: str | None = None) -> list[Hit]:
        """Ranked relevant paragraphs for ``query``."""
        ...

    def articles(self) -> list[Article]:
        """All articles."""
        ...

    def find_articles(self, text: str, limit: int = 25) -> list[Article]:
        """Articles whose title matches ``text``."""
        ...

    def resolve_article(self, ref: str) -> Article | None:
        """An article by id or title."""
        ...

    def passage(self, article_id: str, language: Language,
                position: int) -> tuple[Paragraph, tuple[Paragraph, ...]] | None:
        """One paragraph and its aligned counterpart(s)."""
        ...

    def status(self) -> IndexStatus:
        """Counts, model, last refresh."""
        ...

    def reload(self) -> None:
        """Serve the live index generation (after a refresh in another process)."""
        ...
