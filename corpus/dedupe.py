"""Group parsed files into articles and merge each group into one :class:`Article`.

Two files are the same article when their titles match after normalisation, when they give
the same explicit id, or when most of the paragraphs of the shorter one also occur in the
other. A merged article takes each metadata field from the richest file that has it and
the union of the files' paragraphs per language, de-duplicated by normalised text and kept
in reading order. Every step sorts first, so the result does not depend on file order.
"""

from __future__ import annotations

from collections.abc import Sequence

from corpus.document import METADATA_FIELDS, ParsedDocument
from corpus.models import LANGUAGES, Article, Language, Paragraph
from corpus.text import match_key, paragraph_id_for_key, slugify

# Share of the shorter file's paragraphs that must occur in the other file for the two to
# count as one article ("most of their paragraphs").
SAME_ARTICLE_OVERLAP = 0.5


def _keys(doc: ParsedDocument) -> list[tuple[Language, str, int]]:
    """(language, match key, occurrence) for each paragraph: a repeat is a distinct item."""
    return doc.match_keys()


def _same(a: ParsedDocument, b: ParsedDocument, ka: set[tuple[Language, str, int]],
          kb: set[tuple[Language, str, int]]) -> bool:
    if a.id and b.id:
        return a.id == b.id
    if match_key(a.title) and match_key(a.title) == match_key(b.title):
        return True
    smaller = min(len(ka), len(kb))
    return smaller > 0 and len(ka & kb) / smaller > SAME_ARTICLE_OVERLAP


def _rank(doc: ParsedDocument) -> tuple[int, int, str]:
    """Sort key: richest metadata first, then most paragraphs, then file name."""
    return (-doc.metadata_count(), -len(doc.paragraphs), doc.name)


def group_documents(docs: Sequence[ParsedDocument]) -> list[list[ParsedDocument]]:
    """Partition documents into articles (union of pairwise "same article"), each group ranked."""
    ordered = sorted(docs, key=lambda d: d.name)
    parent = list(range(len(ordered)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    keys = [set(_keys(d)) for d in ordered]
    # Only documents sharing an id, a title or a paragraph can be the same article: an
    # inverted index finds those pairs without comparing every file with every other.
    postings: dict[object, list[int]] = {}
    for i, doc in enumerate(ordered):
        for token in {("id", doc.id), ("title", match_key(doc.title))} | {
            ("p", k[0], k[1]) for k in keys[i]
        }:
            if token[1]:
                postings.setdefault(token, []).append(i)
    pairs = sorted({(i, j) for ids in postings.values() for n, i in enumerate(ids)
                    for j in ids[n + 1:]})
    for i, j in pairs:
        if find(i) != find(j) and _same(ordered[i], ordered[j], keys[i], keys[j]):
            parent[find(j)] = find(i)
    groups: dict[int, list[ParsedDocument]] = {}
    for i, doc in enumerate(ordered):
        groups.setdefault(find(i), []).append(doc)
    return sorted((sorted(g, key=_rank) for g in groups.values()), key=lambda g: g[0].name)


def _merge_language(docs: list[ParsedDocument], language: Language) -> list[tuple[str, int, str]]:
    """Union of the documents' paragraphs in one language: (key, occurrence, text) in order.

    The document with the most paragraphs in the language gives the order and the texts;
    paragraphs only another document has are inserted after their predecessor there.
    """
    per_doc = []
    for doc in docs:
        items = [(k, occ, text) for (lang, k, occ), (_, text) in zip(_keys(doc), doc.paragraphs)
                 if lang == language]
        if items:
            per_doc.append(items)
    if not per_doc:
        return []
    # Stable sort keeps the rank order among documents with equally many paragraphs.
    per_doc.sort(key=len, reverse=True)
    merged = list(per_doc[0])
    present = {(k, occ) for k, occ, _ in merged}
    for items in per_doc[1:]:
        insert_at = 0
        for k, occ, text in items:
            if (k, occ) in present:
                insert_at = next(i for i, m in enumerate(merged) if (m[0], m[1]) == (k, occ)) + 1
                continue
            merged.insert(insert_at, (k, occ, text))
            present.add((k, occ))
            insert_at += 1
    return merged


def merge_group(docs: list[ParsedDocument], article_id: str) -> Article:
    """One article from a ranked group of documents (richest first)."""
    fields: dict[str, str | None] = {}
    for name in METADATA_FIELDS:
        fields[name] = next((getattr(d, name) for d in docs if getattr(d, name)), None)
    paragraphs: list[Paragraph] = []
    for language in LANGUAGES:
        for position, (key, occ, text) in enumerate(_merge_language(docs, language), start=1):
            paragraphs.append(Paragraph(
                id=paragraph_id_for_key(article_id, language, key, occ),
                article_id=article_id,
                language=language,
                position=position,
                text=text,
            ))
    return Article(
        id=article_id,
        title=docs[0].title,
        paragraphs=tuple(paragraphs),
        sources=tuple(sorted(d.name for d in docs)),
        **fields,
    )


def build_articles(docs: Sequence[ParsedDocument]) -> list[Article]:
    """Group documents into articles and merge them; ids are unique and deterministic."""
    articles: list[Article] = []
    used: set[str] = set()
    groups = group_documents(docs)
    # Explicit ids claim their id first so a slug can never take an admin's chosen id.
    explicit = [g for g in groups if any(d.id for d in g)]
    implicit = [g for g in groups if not any(d.id for d in g)]
    for group in explicit + implicit:
        base = next((d.id for d in group if d.id), None) or slugify(group[0].title)
        article_id, n = base, 2
        while article_id in used:
            article_id, n = f"{base}-{n}", n + 1
        used.add(article_id)
        articles.append(merge_group(group, article_id))
    return sorted(articles, key=lambda a: (a.title.casefold(), a.id))
