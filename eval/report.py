"""`make eval`: every evaluation set, the anchors beside Dari, one table.

Runs ``dari eval``'s own runner (``embeddings.evaluate.run_eval``: a throwaway index of the
set's corpus, then the retriever's one pipeline) on each set built by
``eval/build_sets.py`` and on the hand-written ``eval/queries.jsonl``, in one process so the
model loads once, and prints the test-half figures:

- dense / BM25 / RRF: the article of the first result is right (each method ranked alone,
  no refusal: the anchors); "Dari ranking" is Dari's fusion read the same way;
- Dari: the first *quoted* passage is from the right article, as a user sees it (a wrong
  refusal counts as a miss);
- off-corpus refused: the share of off-corpus questions that got no passage;
- answer quoted: on questions with answer spans, the span occurs in what the answer shows.

Usage: ``python eval/report.py [--sets DIR] [--only NAME …] [--split test|tune|all] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dari.cli import setup_logging  # noqa: E402
from embeddings.encoder import Encoder  # noqa: E402
from embeddings.evaluate import load_queries, run_eval  # noqa: E402
from settings.config import load_settings  # noqa: E402  (after the path set-up above)

SETS = ("korquad", "news-ko-en", "news-en-ko", "mixed", "seed")


def figures(result: dict[str, Any], split: str) -> dict[str, Any]:
    """The table's figures for one set from ``EvalResult.to_dict()`` (one split)."""
    return result["splits"][split]


def fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def table(rows: Sequence[tuple[str, dict[str, Any]]]) -> str:
    lines = ["| set | on / off | dense | BM25 | RRF | Dari ranking | **Dari as quoted**"
             " | on-corpus answered | off-corpus refused | answer quoted |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, f in rows:
        lines.append(f"| {name} | {f['on_topic']} / {f['off_topic']} | {fmt(f['dense'])}"
                     f" | {fmt(f['keyword'])} | {fmt(f['rrf'])} | {fmt(f['pooled'])}"
                     f" | **{fmt(f['dari'])}** | {fmt(f['on_topic_answered'])}"
                     f" | {fmt(f['off_topic_refused'])} | {fmt(f['answer_quoted'])} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run every evaluation set; print one table.")
    parser.add_argument("--sets", type=Path, default=ROOT / "build" / "eval")
    parser.add_argument("--only", nargs="*", default=None, help="set names (default: all)")
    parser.add_argument("--split", default="test", choices=("test", "tune", "all"))
    parser.add_argument("--json", type=Path, default=None, help="write all figures here")
    parser.add_argument("--config", type=Path, default=ROOT / "config.toml")
    parser.add_argument("--dump", type=Path, default=None,
                        help="pickle every question's candidates here (for eval/fit.py)")
    args = parser.parse_args(argv)
    setup_logging("WARNING")
    settings = load_settings(args.config)
    encoder = Encoder.from_settings(settings)
    names = list(args.only or SETS)
    rows: list[tuple[str, dict[str, Any]]] = []
    everything: dict[str, Any] = {}
    dumps: dict[str, Any] = {}
    for name in [*names, *(["handwritten"] if args.only is None else [])]:
        if name == "handwritten":
            corpus, queries, also = ROOT / "articles", ROOT / "eval" / "queries.jsonl", \
                [ROOT / "eval" / "distractors"]
        else:
            corpus, queries, also = args.sets / name / "corpus", args.sets / name / "queries.jsonl", []
            if not corpus.is_dir():
                raise SystemExit(f"{corpus} not found: run `python eval/build_sets.py` first")
        started = time.monotonic()
        dump: list[dict[str, Any]] | None = [] if args.dump else None
        result = run_eval(settings, corpus, load_queries(queries), show_progress=False,
                          encoder=encoder, also=also, dump=dump).to_dict()
        if dump is not None and args.dump:
            dumps[name] = dump
            with args.dump.open("wb") as f:  # after every set: a long run is usable early
                pickle.dump(dumps, f)
        everything[name] = result
        rows.append((name, figures(result, args.split)))
        print(f"{name}: {time.monotonic() - started:.0f} s", file=sys.stderr)
    print(f"Test half ({args.split}) of every set:\n" if args.split == "test" else
          f"Split: {args.split}\n")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(everything, ensure_ascii=False, indent=1, default=str),
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
