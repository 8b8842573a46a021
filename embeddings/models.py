"""Dataclasses that cross the retrieval boundary: hits and answers."""

from __future__ import annotations

from dataclasses import dataclass, field

from corpus.models import Article, Paragraph


@dataclass(frozen=True)
class Hit:
    """One retrieved paragraph with its article, scores and aligned counterpart."""

    paragraph: Paragraph
    article: Article  # metadata; ``paragraphs`` may be empty to keep hits light
    score: float  # fused score used for ranking and the relevance threshold
    dense_score: float | None = None  # cosine similarity, when the dense side found it
    keyword_score: float | None = None  # BM25 score, when the keyword side found it
    aligned: tuple[Paragraph, ...] = ()  # counterpart paragraph(s) in the other language


@dataclass(frozen=True)
class Answer:
    """What the bot (or `dari ask`) says to a question: quoted passages, or nothing relevant."""

    question: str
    language: str  # interface language for the reply: "en" or "ko"
    hits: tuple[Hit, ...] = ()
    # For each hit, the sentences to quote (the passage trimmed to its most relevant ones).
    quotes: tuple[str, ...] = field(default=())
    # For each hit, the text of each of its aligned paragraphs as shown under the quote:
    # trimmed to the sentences that translate the quoted ones when long. May be empty (an
    # Answer built by hand): then the counterpart paragraphs are shown whole.
    counterparts: tuple[tuple[str, ...], ...] = field(default=())

    def counterpart_texts(self, i: int) -> tuple[str, ...]:
        """Hit ``i``'s aligned paragraphs as they should be shown (trimmed if available)."""
        hit = self.hits[i]
        if i < len(self.counterparts) and len(self.counterparts[i]) == len(hit.aligned):
            return self.counterparts[i]
        return tuple(p.text for p in hit.aligned)

    @property
    def found(self) -> bool:
        return bool(self.hits)
