"""Retrieval evaluation: metrics, query files, and a runner over a throwaway index.

Query lines are ``{"query": "…", "relevant": ["<article id>" | "<article id>#en5", …]}``
with optional ``kind`` (reported separately), ``split`` ("tune"/"test" for the threshold)
and ``language`` (search only passages in that language). ``relevant: []`` marks an
off-topic question that should get no answer.

recall@k is the share of questions with at least one relevant item in the top k (the
"top-k accuracy" used for QA retrieval); MRR@10 is the mean reciprocal rank of the first
relevant item within 10. Both are computed at paragraph level (for paragraph references)
and at article level (a paragraph reference also names its article).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dari.config import Settings

log = logging.getLogger(__name__)

KS = (1, 5, 10)
METHODS = ("dense", "keyword", "rrf", "pooled")


class QueryFileError(ValueError):
    """A queries file line is not valid JSON or lacks its fields."""


@dataclass(frozen=True)
class EvalQuery:
    query: str
    relevant: tuple[str, ...]
    kind: str = "all"
    split: str = "test"
    language: str | None = None

    @property
    def off_topic(self) -> bool:
        return not self.relevant

    def relevant_articles(self) -> set[str]:
        return {r.split("#", 1)[0] for r in self.relevant}

    def relevant_paragraphs(self) -> set[str]:
        return {r for r in self.relevant if "#" in r}


def load_queries(path: Path) -> list[EvalQuery]:
    """Read a JSONL queries file; errors name the line."""
    out: list[EvalQuery] = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            query = str(row["query"]).strip()
            relevant = row.get("relevant", [])
            if not query or not isinstance(relevant, list):
                raise ValueError("needs a non-empty query and a list of relevant ids")
        except (ValueError, KeyError, TypeError) as exc:
            raise QueryFileError(f"{path}:{number}: {exc}") from exc
        language = row.get("language")
        if language not in (None, "en", "ko"):
            raise QueryFileError(f"{path}:{number}: language must be en or ko, got {language!r}")
        out.append(EvalQuery(query, tuple(map(str, relevant)), str(row.get("kind", "all")),
                             str(row.get("split", "test")), language))
    return out


def reciprocal_rank(ranked: Sequence[str], relevant: Iterable[str], k: int = 10) -> float:
    """1/rank of the first relevant item within the top ``k`` (0 if none)."""
    wanted = set(relevant)
    for rank, item in enumerate(ranked[:k], start=1):
        if item in wanted:
            return 1.0 / rank
    return 0.0


def hit_at(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """1.0 if any relevant item is in the top ``k`` of ``ranked``."""
    wanted = set(relevant)
    return 1.0 if any(item in wanted for item in ranked[:k]) else 0.0


def summarize(rankings: Sequence[Sequence[str]], relevants: Sequence[Iterable[str]]) -> dict[str, float]:
    """recall@1/5/10 and MRR@10 averaged over questions (pairs of ranking, relevant set)."""
    if not rankings:
        return {**{f"recall@{k}": 0.0 for k in KS}, "mrr@10": 0.0, "n": 0}
    rel = [set(r) for r in relevants]
    out: dict[str, float] = {
        f"recall@{k}": float(np.mean([hit_at(r, s, k) for r, s in zip(rankings, rel)])) for k in KS
    }
    out["mrr@10"] = float(np.mean([reciprocal_rank(r, s) for r, s in zip(rankings, rel)]))
    out["n"] = len(rankings)
    return out


def dedupe(items: Iterable[str]) -> list[str]:
    """Items in first-seen order without repeats (article ids from a paragraph ranking)."""
    seen: set[str] = set()
    return [x for x in items if not (x in seen or seen.add(x))]  # type: ignore[func-returns-value]


def threshold_report(answered: Sequence[bool], off_topic: Sequence[bool]) -> dict[str, float]:
    """How a no-answer rule does: precision/recall of refusing, and recall of answering."""
    refused_off = sum(1 for a, o in zip(answered, off_topic) if not a and o)
    refused = sum(1 for a in answered if not a)
    off = sum(off_topic)
    on = len(off_topic) - off
    answered_on = sum(1 for a, o in zip(answered, off_topic) if a and not o)
    return {
        "refusal_precision": refused_off / refused if refused else 1.0,
        "refusal_recall": refused_off / off if off else 1.0,
        "answer_recall": answered_on / on if on else 1.0,
        "off_topic": off, "on_topic": on,
    }


def calibrate(best: Sequence[float | None], off_topic: Sequence[bool]) -> float:
    """Threshold with the most correct answer/refuse decisions (midpoint between neighbours)."""
    values = sorted({b for b in best if b is not None})
    if not values:
        return 0.0
    cuts = [values[0] - 1e-3] + [(a + b) / 2 for a, b in zip(values, values[1:])] + [values[-1] + 1e-3]

    def correct(t: float) -> int:
        return sum(1 for b, o in zip(best, off_topic) if (b is not None and b >= t) != o)

    return max(cuts, key=lambda t: (correct(t), -abs(t - np.median(values))))


@dataclass
class EvalResult:
    """Figures per method, per question kind and level, plus the threshold report."""

    methods: dict[str, dict[str, dict[str, dict[str, float]]]] = field(default_factory=dict)
    threshold: dict[str, Any] = field(default_factory=dict)
    # What a user sees: the full ``Retriever.search`` (threshold, per-hit floor, per-article
    # cap, translation pairs collapsed), scored as the quoted answer passages.
    search: dict[str, float] = field(default_factory=dict)
    details: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _refs(numbers: Sequence[int], paragraphs: dict[int, Any]) -> list[str]:
    return [f"{paragraphs[n].article_id}#{paragraphs[n].language}{paragraphs[n].position}"
            for n in numbers if n in paragraphs]


def evaluate_retriever(retriever: Any, queries: Sequence[EvalQuery], *,
                       show_progress: bool = True) -> EvalResult:
    """Run every query through each fusion method on a loaded Retriever."""
    from tqdm import tqdm

    from embeddings import fusion
    from embeddings.retriever import collapse_translations

    n = max(retriever.settings.retrieval.candidates, 10)
    rankings: dict[str, list[tuple[EvalQuery, list[str]]]] = {m: [] for m in METHODS}
    best: list[float | None] = []
    answered: list[bool] = []
    result = EvalResult()
    quoted = max(1, int(getattr(getattr(retriever.settings, "answer", None), "passages", 3)))
    on_quoted: list[int] = []  # passages quoted per on-topic question
    on_foreign: list[int] = []  # of which from an article the question is not about
    on_first_right: list[bool] = []  # the first quoted passage is from a relevant article
    off_answered: list[bool] = []  # off-topic questions that got any passage
    for q in tqdm(queries, desc="eval", unit="query", disable=not show_progress):
        qv = np.asarray(retriever.encoder.encode_queries([q.query]), dtype=np.float32)[0]
        hits = retriever.search(q.query, language=q.language, query_vector=qv)[:quoted]
        if q.off_topic:
            off_answered.append(bool(hits))
        else:
            wanted = q.relevant_articles()
            on_quoted.append(len(hits))
            on_foreign.append(sum(h.article.id not in wanted for h in hits))
            on_first_right.append(bool(hits) and hits[0].article.id in wanted)
        dense = retriever.dense_candidates(qv, n, q.language)
        keyword = retriever.keyword_candidates(q.query, n, q.language)
        cands = fusion.candidates_for_retriever(retriever, q.query, dense, keyword)
        paragraphs = retriever.snapshot.paragraphs([c.id for c in cands])
        aligned = retriever.snapshot.aligned_numbers([c.id for c in cands])
        top_dense = max((c.dense_evidence for c in cands if c.dense_evidence is not None),
                        default=None)
        best.append(top_dense)
        answered.append(fusion.is_relevant(cands))
        detail: dict[str, Any] = {"query": q.query, "kind": q.kind, "best_dense": top_dense}
        for method in METHODS:
            ranked = fusion.fuse(q.query, fusion.detect_language(q.query), cands, method=method)
            numbers = [i for i, _ in ranked]
            if q.language:  # the filter comes after fusion, as in Retriever.search
                numbers = [i for i in numbers
                           if i in paragraphs and paragraphs[i].language == q.language]
            numbers = collapse_translations(numbers, aligned)
            refs = _refs(numbers, paragraphs)
            rankings[method].append((q, refs))
            detail[method] = refs[:3]
        result.details.append(detail)
    on_topic = [i for i, q in enumerate(queries) if not q.off_topic]
    kinds = sorted({queries[i].kind for i in on_topic}) + ["all"]
    for method in METHODS:
        per_kind: dict[str, dict[str, dict[str, float]]] = {}
        for kind in kinds:
            rows = [rankings[method][i] for i in on_topic if kind in ("all", queries[i].kind)]
            para_rows = [(refs, q.relevant_paragraphs()) for q, refs in rows
                         if q.relevant_paragraphs()]
            art_rows = [(dedupe(r.split("#", 1)[0] for r in refs), q.relevant_articles())
                        for q, refs in rows]
            per_kind[kind] = {
                "paragraph": summarize([r for r, _ in para_rows], [s for _, s in para_rows]),
                "article": summarize([r for r, _ in art_rows], [s for _, s in art_rows]),
            }
        result.methods[method] = per_kind
    off = [q.off_topic for q in queries]
    tune = [i for i, q in enumerate(queries) if q.split == "tune"]
    test = [i for i, q in enumerate(queries) if q.split != "tune"]
    calibrated = calibrate([best[i] for i in tune], [off[i] for i in tune]) if tune else 0.0

    def pick(values: Sequence[Any], rows: Sequence[int]) -> list[Any]:
        return [values[i] for i in rows]

    dense_only = [b is not None and b >= calibrated for b in best]
    total_quoted = sum(on_quoted)
    result.search = {
        "passages_per_answer": quoted,
        "on_topic": len(on_quoted),
        "first_passage_right_article": sum(on_first_right) / max(1, len(on_first_right)),
        "quoted_passages": total_quoted,
        "quoted_from_other_articles": sum(on_foreign),
        "quoted_precision": 1.0 - sum(on_foreign) / total_quoted if total_quoted else 0.0,
        "mean_passages_quoted": total_quoted / max(1, len(on_quoted)),
        "off_topic": len(off_answered),
        "off_topic_answered": sum(off_answered),
    }
    result.threshold = {
        "rule_test": threshold_report(pick(answered, test), pick(off, test)),
        "rule_tune": threshold_report(pick(answered, tune), pick(off, tune)),
        "dense_only_test": threshold_report(pick(dense_only, test), pick(off, test)),
        "dense_only_threshold": calibrated,
    }
    return result


def run_eval(settings: Settings, corpus_dir: Path, queries: Sequence[EvalQuery], *,
             show_progress: bool = True, encoder: Any = None,
             also: Sequence[Path] = ()) -> EvalResult:
    """Build a throwaway index of ``corpus_dir`` in a temporary data dir and evaluate on it.

    ``also``: more article directories indexed together with ``corpus_dir`` (distractor
    articles that make the ranking harder); their files are copied into a temporary corpus.
    """
    from embeddings.refresh import refresh
    from embeddings.retriever import Retriever

    with tempfile.TemporaryDirectory(prefix="dari-eval-") as tmp:
        if also:
            corpus_dir = _merged_corpus([Path(corpus_dir), *map(Path, also)],
                                        Path(tmp) / "corpus", settings.corpus.extensions)
        # The model dir is kept: materialising the model again would only cost time.
        embeddings_cfg = dataclasses.replace(settings.embeddings, model_dir=str(settings.model_dir))
        eval_settings = dataclasses.replace(settings, embeddings=embeddings_cfg).with_overrides(
            corpus_dir=Path(corpus_dir), data_dir=Path(tmp) / "data")
        report = refresh(eval_settings, show_progress=show_progress, encoder=encoder)
        log.info("eval index: %s", report.summary())
        retriever = Retriever.load(eval_settings, encoder=encoder)
        try:
            return evaluate_retriever(retriever, queries, show_progress=show_progress)
        finally:
            retriever.close()


def _merged_corpus(directories: Sequence[Path], target: Path,
                   extensions: Sequence[str]) -> Path:
    """Copy the article files of ``directories`` into ``target`` (names prefixed by source)."""
    import shutil

    target.mkdir(parents=True)
    wanted = {e.lower() for e in extensions}
    for i, directory in enumerate(directories):
        if not directory.is_dir():
            raise FileNotFoundError(f"corpus directory {directory} not found")
        for path in sorted(directory.rglob("*")):
            if path.is_file() and path.suffix.lower() in wanted:
                shutil.copy(path, target / f"{i}-{path.name}")
    return target


def format_table(result: EvalResult) -> str:
    """Markdown tables of the figures (paragraph level; article level for 'all')."""
    lines = ["| method | kind | n | R@1 | R@5 | R@10 | MRR@10 |", "|---|---|---|---|---|---|---|"]
    for method, per_kind in result.methods.items():
        for kind, levels in per_kind.items():
            m = levels["paragraph"]
            lines.append(f"| {method} | {kind} | {m['n']} | {m['recall@1']:.3f} | {m['recall@5']:.3f}"
                         f" | {m['recall@10']:.3f} | {m['mrr@10']:.3f} |")
    lines += ["", "Article level (all on-topic questions):", "",
              "| method | R@1 | R@5 | R@10 | MRR@10 |", "|---|---|---|---|---|"]
    for method, per_kind in result.methods.items():
        m = per_kind["all"]["article"]
        lines.append(f"| {method} | {m['recall@1']:.3f} | {m['recall@5']:.3f} | {m['recall@10']:.3f}"
                     f" | {m['mrr@10']:.3f} |")
    t = result.threshold
    lines += ["", "No-answer rule (refusing off-topic questions):", "",
              "| rule | split | refusal precision | refusal recall | answer recall | on/off |",
              "|---|---|---|---|---|---|"]
    for name, label in (("rule_tune", "cosine + keyword coverage"),
                        ("rule_test", "cosine + keyword coverage"),
                        ("dense_only_test",
                         f"cosine only (≥ {t['dense_only_threshold']:.4f}, fit on tune)")):
        r = t[name]
        lines.append(f"| {label} | {name.rsplit('_', 1)[1]} | {r['refusal_precision']:.3f} |"
                     f" {r['refusal_recall']:.3f} | {r['answer_recall']:.3f} |"
                     f" {r['on_topic']}/{r['off_topic']} |")
    r = result.search
    if r:
        lines += ["", f"Answers as quoted (full search, first {r['passages_per_answer']} passages):",
                  "",
                  "| first passage from the right article | quoted passages | from other articles"
                  " | quoted precision | off-topic questions answered |",
                  "|---|---|---|---|---|",
                  f"| {r['first_passage_right_article']:.3f} | {r['quoted_passages']}"
                  f" ({r['mean_passages_quoted']:.2f}/question) | {r['quoted_from_other_articles']}"
                  f" | {r['quoted_precision']:.3f} | {r['off_topic_answered']}/{r['off_topic']} |"]
    return "\n".join(lines)
