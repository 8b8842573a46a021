"""`dari corpus`: ingest the corpus directory into the store and report what changed."""

from __future__ import annotations

import argparse
import json
import sys

from corpus.ingest import ingest
from corpus.models import Article
from corpus.store import Store, StoreError
from settings.config import Settings


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    """Add ``dari corpus`` to the CLI."""
    cmd = subparsers.add_parser(
        "corpus",
        parents=[parent],
        help="ingest the article files into the store and list the articles",
        description="Read every article file of the corpus directory, store new and changed "
        "articles, remove articles whose files are gone, and print a summary. Exit status: "
        "0 if every file was read, 1 if some were skipped, 2 on configuration errors.",
    )
    cmd.add_argument("--json", action="store_true",
                     help="print the articles and the report as JSON instead of a summary")
    cmd.set_defaults(func=run_corpus)


def article_json(article: Article) -> dict[str, object]:
    """An article as in ``dari corpus --json``: metadata, sources, paragraph counts."""
    return {
        "id": article.id,
        "title": article.title,
        "title_ko": article.title_ko,
        "outlet": article.outlet,
        "country": article.country,
        "published": article.published,
        "author": article.author,
        "translator": article.translator,
        "editor": article.editor,
        "url": article.url,
        "sources": list(article.sources),
        "paragraphs": {lang: len(article.in_language(lang)) for lang in ("en", "ko")},
    }


def run_corpus(args: argparse.Namespace, settings: Settings) -> int:
    """Ingest, then print the summary (or JSON); 1 if any file was skipped."""
    try:
        with Store.open(settings) as store:
            report = ingest(settings, store)
            articles = store.articles()
    except StoreError as exc:
        print(f"dari: store error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. a data directory that cannot be created or written
        print(f"dari: cannot use the data directory {settings.data_dir}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        json.dump({"articles": [article_json(a) for a in articles], "report": report.to_dict()},
                  sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0 if report.ok else 1
    print(f"Corpus {settings.corpus_dir}: {report.files} files")
    print(f"  added {len(report.added)}, updated {len(report.updated)}, "
          f"removed {len(report.removed)}, unchanged {len(report.unchanged)}, "
          f"skipped {len(report.skipped)}")
    for label, ids in (("added", report.added), ("updated", report.updated),
                       ("removed", report.removed), ("kept (file unreadable)", report.kept)):
        for article_id in ids:
            print(f"  {label}: {article_id}")
    for name, reason in report.skipped:
        print(f"  skipped {name}: {reason}")
    for name, note in report.warnings:
        print(f"  warning {name}: {note}")
    print(f"{len(articles)} articles:")
    for a in articles:
        counts = {lang: len(a.in_language(lang)) for lang in ("en", "ko")}
        print(f"- {a.title} [{a.id}]")
        print(f"    paragraphs: {counts['en']} en, {counts['ko']} ko; sources: {', '.join(a.sources)}")
    return 0 if report.ok else 1
