"""How many thread follow-ups are answered from the right passage, with the follow-up rule
(``bot.followup``) and without it (the follow-up searched alone).

    python -m eval.followups [--config config.toml] [--data DIR] [--json]

The pairs are ``eval/followups.jsonl``: a question, a follow-up asked in its thread, whether
the follow-up leans on the question (a person's judgement), and the paragraph(s) that answer
the follow-up (positions per language in one article). The corpus is the seed articles
(``articles/``) plus the evaluation articles (``eval/distractors/``), indexed in a temporary
(or the given) data directory with the real model; a follow-up counts as answered when one
of the passages the bot would quote (``[answer].passages``), or its aligned counterpart, is
an expected paragraph.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.followup import leans_on_context, search_text
from dari.service import DariService
from embeddings.models import Hit
from settings.config import load_settings

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PAIRS = HERE / "followups.jsonl"
CORPORA = (REPO / "articles", HERE / "distractors")


@dataclass(frozen=True)
class Pair:
    lang: str
    question: str
    followup: str
    leans: bool
    article: str
    expected: dict[str, tuple[int, ...]]
    split: str


def load_pairs(path: Path = PAIRS) -> list[Pair]:
    """The question/follow-up pairs."""
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        pairs.append(Pair(row["lang"], row["question"], row["followup"], bool(row["leans"]),
                          row["article"], {"en": tuple(row.get("en", ())), "ko": tuple(row.get("ko", ()))},
                          row.get("split", "test")))
    return pairs


def answered(pair: Pair, hits: list[Hit]) -> bool:
    """Whether a quoted hit (or its counterpart) is one of the pair's expected paragraphs."""
    for hit in hits:
        for paragraph in (hit.paragraph, *hit.aligned):
            if hit.article.id == pair.article and paragraph.position in pair.expected[paragraph.language]:
                return True
    return False


def evaluate(service: DariService, pairs: list[Pair]) -> dict[str, Any]:
    """Per pair and in total: the rule's decision, answered with and without the rule."""
    k = service.settings.answer.passages
    rows = []
    for pair in pairs:
        with_rule = search_text(pair.followup, [pair.question])
        rows.append({
            "followup": pair.followup, "lang": pair.lang, "split": pair.split, "leans": pair.leans,
            "rule_leans": leans_on_context(pair.followup),
            "with_rule": answered(pair, service.search(with_rule, k=k)),
            "without_rule": answered(pair, service.search(pair.followup, k=k)),
        })

    def total(subset: list[dict[str, object]]) -> dict[str, int]:
        return {"pairs": len(subset),
                "rule_agrees": sum(r["rule_leans"] == r["leans"] for r in subset),
                "with_rule": sum(bool(r["with_rule"]) for r in subset),
                "without_rule": sum(bool(r["without_rule"]) for r in subset)}

    groups = {"all": rows, "tune": [r for r in rows if r["split"] == "tune"],
              "test": [r for r in rows if r["split"] == "test"],
              "leaning": [r for r in rows if r["leans"]],
              "standalone": [r for r in rows if not r["leans"]],
              "en": [r for r in rows if r["lang"] == "en"], "ko": [r for r in rows if r["lang"] == "ko"]}
    return {"totals": {name: total(group) for name, group in groups.items()}, "pairs": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=None, help="settings (model, retrieval)")
    parser.add_argument("--data", type=Path, default=None,
                        help="data directory for the evaluation index (default: a temporary one)")
    parser.add_argument("--model-dir", type=Path, default=None,
                        help="materialised models (default: the config's, so none is rebuilt)")
    parser.add_argument("--json", action="store_true", help="print every pair's result as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dari-followups-") as tmp:
        corpus = Path(tmp) / "articles"
        corpus.mkdir()
        for source in CORPORA:
            for path in sorted(source.iterdir()):
                if path.suffix in (".txt", ".md"):
                    shutil.copy(path, corpus / path.name)
        base = load_settings(args.config, check_corpus=False)
        settings = load_settings(args.config, corpus_dir=corpus, data_dir=args.data or Path(tmp) / "data")
        model_dir = str(args.model_dir or base.model_dir)
        settings = dataclasses.replace(
            settings, embeddings=dataclasses.replace(settings.embeddings, model_dir=model_dir))
        with DariService(settings) as service:
            service.ensure_index()
            result = evaluate(service, load_pairs())
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    print(f"{'set':<11} {'pairs':>5} {'rule agrees':>11} {'with rule':>9} {'without':>7}")
    for name, t in result["totals"].items():
        print(f"{name:<11} {t['pairs']:>5} {t['rule_agrees']:>11} {t['with_rule']:>9} {t['without_rule']:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
