"""`dari ask` (the bot's answer in the terminal) and `dari eval` (retrieval figures)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from settings.config import Settings


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    """Add `ask` and `eval` to the CLI."""
    a = subparsers.add_parser(
        "ask", parents=[parent], help="answer a question as the bot would, in the terminal",
        description="Quote the passages that answer QUESTION, with their aligned translation"
                    " and citations (the index must exist: run `dari index`).")
    a.add_argument("question", help="the question, in English or Korean")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a.set_defaults(func=cmd_ask, needs_corpus=False)

    e = subparsers.add_parser(
        "eval", parents=[parent], help="recall@1/5/10 and MRR@10 on a queries file",
        description="Build a throwaway index of --corpus in a temporary data directory and"
                    " report recall@1/5/10 and MRR@10 per question kind and fusion method,"
                    " plus the no-answer rule's precision/recall on off-topic questions.")
    e.add_argument("--queries", type=Path, required=True, metavar="FILE.jsonl",
                   help='lines {"query": "…", "relevant": ["<article id>" or "<id>#en5", …]}')
    e.add_argument("--also", type=Path, action="append", default=[], metavar="DIR",
                   help="another article directory indexed with --corpus (e.g. distractor"
                        " articles: eval/distractors); repeatable")
    e.add_argument("--json", action="store_true", help="machine-readable output")
    e.set_defaults(func=cmd_eval)


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    """`dari ask "…" [--json]`."""
    # Here, not at the top: these pull faiss and the model code, which other commands (and
    # `dari --help`) do not need.
    from dari.service import DariService, IndexProblem
    from embeddings.answer import render_text

    question = args.question.strip()
    if not question:
        print("dari ask: the question is empty", file=sys.stderr)
        return 2
    try:
        with DariService(settings) as service:
            answer = service.ask(question)
    except IndexProblem as exc:
        print(f"dari ask: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({
            "question": answer.question, "language": answer.language, "found": answer.found,
            "passages": [{
                "article": h.article.id, "title": h.article.title, "language": h.paragraph.language,
                "position": h.paragraph.position, "quote": q, "score": h.score,
                "aligned": [{"language": p.language, "position": p.position, "text": p.text,
                             "quote": shown}
                            for p, shown in zip(h.aligned, answer.counterpart_texts(i))],
            } for i, (h, q) in enumerate(zip(answer.hits, answer.quotes))],
        }, ensure_ascii=False, indent=2))
        return 0
    print(render_text(answer))
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    """`dari eval --corpus DIR --queries FILE.jsonl [--json]`."""
    from embeddings.evaluate import QueryFileError, format_table, load_queries, run_eval  # faiss, see cmd_ask

    if not args.queries.is_file():
        print(f"dari eval: queries file {args.queries} not found", file=sys.stderr)
        return 2
    try:
        queries = load_queries(args.queries)
    except (QueryFileError, UnicodeDecodeError) as exc:
        print(f"dari eval: {exc}", file=sys.stderr)
        return 2
    if not queries:
        print(f"dari eval: {args.queries} holds no queries", file=sys.stderr)
        return 2
    missing = [d for d in args.also if not d.is_dir()]
    if missing:
        print(f"dari eval: --also directory {missing[0]} not found", file=sys.stderr)
        return 2
    result = run_eval(settings, settings.corpus_dir, queries, show_progress=not args.json,
                      also=args.also)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        where = ", ".join(str(d) for d in [settings.corpus_dir, *args.also])
        print(f"{len(queries)} queries on {where}\n")
        print(format_table(result))
    return 0
