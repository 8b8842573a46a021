"""`dari index`, `dari search`, `dari show`: build the index, query it, show an article aligned."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import textwrap
import unicodedata
from dataclasses import asdict
from typing import Any

from corpus.models import AlignmentPair
from embeddings.lock import RefreshBusy
from embeddings.models import Hit
from settings.config import Settings

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    """Add this module's subcommands to the CLI."""
    p = subparsers.add_parser(
        "index", parents=[parent], help="ingest the corpus and refresh the search index",
        description="Ingest new/changed article files and refresh the index incrementally "
                    "(only new or changed paragraphs are encoded). The new index is swapped in "
                    "atomically; a running bot keeps answering from the old one until then.")
    p.add_argument("--full", action="store_true",
                   help="re-encode everything (ignore the embedding cache) and rebuild")
    p.add_argument("--json", action="store_true", help="print the refresh report as JSON")
    p.add_argument("--events", action="store_true",
                   help="print progress as JSON lines on stdout, the report last (how the bot "
                        "runs its refreshes in a separate process; see bot/refresher.py)")
    p.add_argument("--nice", type=int, default=0, metavar="N",
                   help="lower this process's CPU priority by N first (the bot uses 10, so "
                        "answering questions stays fast while a refresh runs)")
    p.set_defaults(func=cmd_index)

    s = subparsers.add_parser("search", parents=[parent], help="ranked paragraphs for a query",
                              description="Hybrid (dense + keyword) search over the index.")
    s.add_argument("query", help="what to look for (English or Korean)")
    s.add_argument("--lang", choices=("en", "ko"), default=None,
                   help="only paragraphs in this language")
    s.add_argument("-k", type=int, default=None, metavar="N",
                   help="number of results (default: [retrieval].top_k)")
    s.add_argument("--json", action="store_true", help="print hits as JSON")
    s.set_defaults(func=cmd_search, needs_corpus=False)

    w = subparsers.add_parser("show", parents=[parent],
                              help="an article's paragraphs side by side as aligned",
                              description="Show an article's English and Korean paragraphs "
                                          "side by side, as aligned. ARTICLE is an id or a title.")
    w.add_argument("article", metavar="ARTICLE", help="article id or title")
    w.add_argument("--json", action="store_true", help="print article, paragraphs and alignment as JSON")
    w.set_defaults(func=cmd_show, needs_corpus=False)


def _emit(**event: Any) -> None:
    """One JSON line on stdout (the ``--events`` protocol)."""
    print(json.dumps(event, ensure_ascii=False, default=str), flush=True)


def cmd_index_events(args: argparse.Namespace, settings: Settings) -> int:
    """`dari index --events`: the refresh as a stream of JSON lines for a parent process.

    ``{"event": "file", "file": …}`` names the corpus file being worked on, ``{"event":
    "progress", "stage", "done", "total"}`` reports a stage, and the last line is ``{"event":
    "done", "report": {…}}``, ``{"event": "busy", "message"}`` (another refresh holds the
    lock; exit 1) or ``{"event": "error", "message"}`` (exit 1; the traceback is logged).
    """
    # Here, not at the top: the write path pulls faiss and the model code, which `dari show`
    # and `dari --help` do not need.
    from embeddings.refresh import refresh

    def progress(stage: str, done: int, total: int) -> None:
        _emit(event="progress", stage=stage, done=done, total=total)

    try:
        report = refresh(settings, full=args.full, progress=progress, show_progress=False,
                         on_file=lambda name: _emit(event="file", file=name))
    except RefreshBusy as exc:
        _emit(event="busy", message=str(exc))
        return 1
    except Exception as exc:  # noqa: BLE001 - reported to the parent, logged with traceback
        log.exception("refresh failed")
        _emit(event="error", message=f"{type(exc).__name__}: {exc}")
        return 1
    _emit(event="done", report=report.to_dict())
    return 0


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    """`dari index [--full] [--json | --events] [--nice N]`."""
    from embeddings.refresh import refresh  # faiss and the model code: see cmd_index_events

    if args.nice:
        os.nice(args.nice)
    if args.events:
        return cmd_index_events(args, settings)
    try:
        report = refresh(settings, full=args.full)
    except RefreshBusy as exc:
        print(f"dari index: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str))
        return 0
    ingest = report.ingest
    if ingest is not None:
        print(f"ingest: added {len(ingest.added)}, updated {len(ingest.updated)}, removed "
              f"{len(ingest.removed)}, unchanged {len(ingest.unchanged)}, skipped {len(ingest.skipped)}")
        for item in ingest.skipped:
            print(f"  skipped: {item}")
    print(report.summary())
    return 0


def _hit_json(hit: Hit) -> dict[str, Any]:
    article = {k: v for k, v in asdict(hit.article).items() if k != "paragraphs"}
    return {
        "paragraph": asdict(hit.paragraph),
        "article": article,
        "score": hit.score,
        "dense_score": hit.dense_score,
        "keyword_score": hit.keyword_score,
        "aligned": [asdict(p) for p in hit.aligned],
    }


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    """`dari search "…" [--lang ko|en] [-k N] [--json]`."""
    # The service pulls faiss and the model code, which other commands do not need.
    from dari.service import DariService, IndexProblem

    if args.k is not None and args.k <= 0:
        print("dari search: -k must be a positive number", file=sys.stderr)
        return 2
    if not args.query.strip():
        print("dari search: the query is empty", file=sys.stderr)
        return 2
    try:
        with DariService(settings) as service:
            hits = service.search(args.query, k=args.k, language=args.lang)
    except IndexProblem as exc:
        print(f"dari search: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"query": args.query, "hits": [_hit_json(h) for h in hits]},
                         indent=2, ensure_ascii=False))
        return 0
    if not hits:
        print("nothing relevant found")
        return 0
    width = shutil.get_terminal_size((100, 20)).columns
    for rank, hit in enumerate(hits, 1):
        p = hit.paragraph
        scores = f"score {hit.score:.3f}"
        if hit.dense_score is not None:
            scores += f" dense {hit.dense_score:.3f}"
        if hit.keyword_score is not None:
            scores += f" bm25 {hit.keyword_score:.2f}"
        print(f"{rank}. {hit.article.title} — {p.language} ¶{p.position}  ({scores})")
        print("   " + textwrap.shorten(p.text, width=max(40, width - 4), placeholder=" …"))
        if hit.aligned:
            other = hit.aligned[0]
            print("   ↔ " + f"{other.language} ¶" + ",".join(str(a.position) for a in hit.aligned))
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    """`dari show ARTICLE [--json]`."""
    from dari.service import DariService  # faiss and the model code: see cmd_search

    with DariService(settings, load_index=False) as service:
        article = service.resolve_article(args.article)
        if article is None:
            matches = service.find_articles(args.article, 10)
            print(f"dari show: no article with id or title {args.article!r}", file=sys.stderr)
            if matches:
                print("did you mean:", file=sys.stderr)
                for a in matches:
                    print(f"  {a.id}  {a.title}", file=sys.stderr)
            return 1
        pairs = service.alignment(article.id)
    en = article.in_language("en")
    ko = article.in_language("ko")
    if not pairs:
        # One-language article (or not yet aligned): each paragraph stands alone.
        pairs = [AlignmentPair(en=(p.position,), ko=()) for p in en] + [
            AlignmentPair(en=(), ko=(p.position,)) for p in ko]
    if args.json:
        meta = {k: v for k, v in asdict(article).items() if k != "paragraphs"}
        print(json.dumps({
            "article": meta,
            "paragraphs": {
                "en": [{"position": p.position, "id": p.id, "text": p.text} for p in en],
                "ko": [{"position": p.position, "id": p.id, "text": p.text} for p in ko],
            },
            "alignment": [{"en": list(pair.en), "ko": list(pair.ko), "score": pair.score}
                          for pair in pairs],
        }, indent=2, ensure_ascii=False))
        return 0
    print(article.title + (f" / {article.title_ko}" if article.title_ko else ""))
    byline = [x for x in (article.outlet, article.published, article.author) if x]
    if byline:
        print(" · ".join(byline))
    print(f"id {article.id}")
    en_by = {p.position: p for p in en}
    ko_by = {p.position: p for p in ko}
    width = shutil.get_terminal_size((120, 20)).columns
    col = max(30, (width - 3) // 2)
    for pair in pairs:
        left = "\n\n".join(f"[{n}] {en_by[n].text}" for n in pair.en if n in en_by)
        right = "\n\n".join(f"[{n}] {ko_by[n].text}" for n in pair.ko if n in ko_by)
        print("─" * min(width, 2 * col + 3))
        _side_by_side(left, right, col)
    return 0


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for block in text.split("\n"):
        lines.extend(_wrap_wide(block, width) if block else [""])
    return lines


def _cell_width(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _wrap_wide(text: str, width: int) -> list[str]:
    """Wrap by display width (Hangul takes two columns), breaking at spaces where possible."""
    lines, line, used = [], "", 0
    for word in text.split(" "):
        w = sum(_cell_width(c) for c in word)
        extra = w + (1 if line else 0)
        if used + extra <= width:
            line = f"{line} {word}" if line else word
            used += extra
            continue
        if line:
            lines.append(line)
        line, used = "", 0
        while sum(_cell_width(c) for c in word) > width:  # a word longer than the column
            cut, cw = 0, 0
            while cut < len(word) and cw + _cell_width(word[cut]) <= width:
                cw += _cell_width(word[cut])
                cut += 1
            lines.append(word[:cut])
            word = word[cut:]
        line, used = word, sum(_cell_width(c) for c in word)
    if line:
        lines.append(line)
    return lines


def _side_by_side(left: str, right: str, col: int) -> None:
    a, b = _wrap(left, col), _wrap(right, col)
    for i in range(max(len(a), len(b))):
        l_text = a[i] if i < len(a) else ""
        r_text = b[i] if i < len(b) else ""
        pad = col - sum(_cell_width(c) for c in l_text)
        print(f"{l_text}{' ' * pad} │ {r_text}")
