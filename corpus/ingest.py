"""Ingest the corpus directory into the store: parse every file, merge, write in one transaction.

Bad files never stop a run: each is skipped with a one-line warning naming the file and the
reason. An article whose previously ingested file has become unreadable keeps its stored
version (bad input loses nothing). Everything is written in a single transaction, so an
interrupted run leaves the previous state intact, and an unchanged corpus writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from corpus.dedupe import build_articles
from corpus.parse import CorpusFileError, ParsedDocument, check_limits, parse_file
from corpus.store import Store, article_digest
from settings.config import ConfigError, Settings

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What one ingestion did. Lists hold article ids, except ``skipped`` (file, reason)."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    # Files read despite a problem, e.g. decoded from CP949: (file, note).
    warnings: list[tuple[str, str]] = field(default_factory=list)
    # Articles left as stored because one of their files could not be read this time.
    kept: list[str] = field(default_factory=list)
    files: int = 0

    @property
    def ok(self) -> bool:
        """True when no file was skipped."""
        return not self.skipped

    @property
    def changed(self) -> bool:
        """True when the store was modified."""
        return bool(self.added or self.updated or self.removed)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (skipped/warnings as ``{"file", "reason"}`` objects)."""
        data = asdict(self)
        data["skipped"] = [{"file": f, "reason": r} for f, r in self.skipped]
        data["warnings"] = [{"file": f, "reason": r} for f, r in self.warnings]
        data["ok"] = self.ok
        return data


def max_file_bytes(settings: Settings) -> int:
    """The per-file size limit in bytes, from ``[corpus].max_file_mb``."""
    return int(settings.corpus.max_file_mb * 1024 * 1024)


def corpus_files(corpus_dir: Path, extensions: list[str]) -> list[tuple[str, Path]]:
    """(corpus-relative POSIX name, path) of article files, sorted; hidden files ignored."""
    wanted = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    found = []
    for path in corpus_dir.rglob("*"):
        rel = path.relative_to(corpus_dir)
        if any(part.startswith(".") for part in rel.parts):
            continue  # editor swap files, upload temp files, .git …
        if path.suffix.lower() in wanted and path.is_file():
            found.append((rel.as_posix(), path))
    return sorted(found)


def read_corpus(settings: Settings, report: IngestReport,
                on_file: Callable[[str], None] | None = None) -> list[ParsedDocument]:
    """Parse every corpus file; problems go to ``report`` and the log, never raise.

    ``on_file`` is told each file's corpus-relative name before it is read.
    """
    corpus_dir = settings.corpus_dir
    if not corpus_dir.is_dir():
        raise ConfigError(f"corpus directory {corpus_dir} does not exist")
    files = corpus_files(corpus_dir, settings.corpus.extensions)
    report.files = len(files)
    limit = max_file_bytes(settings)
    docs: list[ParsedDocument] = []
    for name, path in tqdm(files, desc="reading corpus", unit="file", disable=None, leave=False):
        if on_file is not None:
            on_file(name)
        try:
            doc = parse_file(path, limit, name=name)
            check_limits(doc, settings.corpus.max_paragraph_chars, settings.corpus.max_paragraphs)
        except CorpusFileError as exc:
            log.warning("skipped %s", exc)
            report.skipped.append((name, exc.reason))
            continue
        for note in doc.warnings:
            log.warning("%s: %s", name, note)
            report.warnings.append((name, note))
        docs.append(doc)
    return docs


def ingest(settings: Settings, store: Store | None = None,
           on_file: Callable[[str], None] | None = None) -> IngestReport:
    """Bring the store in line with the corpus directory; returns what changed.

    ``store`` defaults to the settings' store (opened and closed here); ``on_file`` is told
    each file's name before it is read.
    """
    own_store = store is None
    store = store or Store.open(settings)
    try:
        report = IngestReport()
        docs = read_corpus(settings, report, on_file)
        articles = build_articles(docs)
        digests = {d.name: d.digest for d in docs}

        stored_sources = store.sources()
        # Articles with a file that is unreadable now keep their stored version, and so
        # do the files they shared with it (else a half-merged article would replace it).
        kept = {stored_sources[f][0] for f, _ in report.skipped if f in stored_sources}
        kept_files = {f for f, (aid, _) in stored_sources.items() if aid in kept}
        stored_ids = set(store.article_ids())

        with store.transaction():
            wanted: set[str] = set()
            for article in articles:
                if article.id in kept or kept_files.intersection(article.sources):
                    wanted.add(article.id)
                    continue
                wanted.add(article.id)
                previous = store.stored_digest(article.id)
                if previous == article_digest(article):
                    report.unchanged.append(article.id)
                    continue
                store.put_article(article, {s: digests.get(s, "") for s in article.sources})
                (report.updated if previous is not None else report.added).append(article.id)
            for article_id in sorted(stored_ids - wanted - kept):
                store.delete_article(article_id)
                report.removed.append(article_id)
        for article_id in sorted(kept):
            log.warning("kept the stored version of %s: one of its files could not be read", article_id)
        report.kept = sorted(kept)
        log.info(
            "corpus: %d added, %d updated, %d removed, %d unchanged, %d skipped",
            len(report.added), len(report.updated), len(report.removed),
            len(report.unchanged), len(report.skipped),
        )
        return report
    finally:
        if own_store:
            store.close()
