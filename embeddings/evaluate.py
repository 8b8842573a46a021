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
import shutil
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from corpus.models import Paragraph
from embeddings import fusion
from embeddings.answer import answer_question
from embeddings.fusion import METHODS
from embeddings.models import Answer, Hit
from embeddings.protocols import TextEncoder
from embeddings.question import topic_terms
from embeddings.refresh import refresh
from embeddings.retriever import Retriever, SearchTrace, collapse_translations
from embeddings.tokenize import korean_predicates
from settings.config import Settings

log = logging.getLogger(__name__)

KS = (1, 5, 10)


class QueryFileError(ValueError):
    """A queries file line is not valid JSON or lacks its fields."""


@dataclass(frozen=True)
class EvalQuery:
    query: str
    relevant: tuple[str, ...]
    kind: str = "all"
    split: str = "test"
    language: str | None = None
    answers: tuple[str, ...] = ()  # answer spans: one should be in what the answer shows

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
        answers = row.get("answers", [])
        if not isinstance(answers, list):
            raise QueryFileError(f"{path}:{number}: answers must be a list of strings")
        out.append(EvalQuery(query, tuple(map(str, relevant)), str(row.get("kind", "all")),
                             str(row.get("split", "test")), language, tuple(map(str, answers))))
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
    return list(dict.fromkeys(items))


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
    search: dict[str, Any] = field(default_factory=dict)
    details: list[dict[str, Any]] = field(default_factory=list)
    # The same figures per split ("tune", "test", "all"), as `make eval` tabulates them.
    splits: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _refs(numbers: Sequence[int], paragraphs: dict[int, Paragraph]) -> list[str]:
    return [f"{paragraphs[n].article_id}#{paragraphs[n].language}{paragraphs[n].position}"
            for n in numbers if n in paragraphs]


def normalise(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed: how answer spans are looked for."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _shown_text(answer: Answer, wanted: set[str]) -> str:
    """What the answer shows from the relevant articles: quotes and their counterparts."""
    parts = []
    for i, (hit, quote) in enumerate(zip(answer.hits, answer.quotes)):
        if hit.article.id in wanted:
            parts.append(quote)
            parts.extend(answer.counterpart_texts(i))
    return normalise(" ".join(parts))


@dataclass
class _Row:
    """One question's outcome, kept for the per-split figures."""

    query: EvalQuery
    rankings: dict[str, list[str]]  # method → paragraph refs, best first (translations collapsed)
    answered: bool
    first_right: bool
    quoted: int
    foreign: int
    answer_quoted: bool | None  # None: the question has no answer spans
    probability: float
    best_dense: float | None


def evaluate_retriever(retriever: Retriever, queries: Sequence[EvalQuery], *,
                       show_progress: bool = True,
                       dump: list[dict[str, Any]] | None = None) -> EvalResult:
    """Run every query through the one answering path and score each method.

    Dari's figures are what :func:`embeddings.answer.answer_question` quotes — the path the
    bot and the CLI take; the anchors (dense, keyword, RRF) rank the very candidates that
    search saw (its trace), so every method is compared on the same evidence and in the
    units users see (a paragraph and its translation are one result). ``dump`` receives each
    question's candidates and evidence (``eval/fit.py`` fits the fusion's constants from it).
    """
    quoted = max(1, int(retriever.settings.answer.passages))
    rows: list[_Row] = []
    result = EvalResult()
    for q in tqdm(queries, desc="eval", unit="query", disable=not show_progress):
        trace = SearchTrace()
        answer, hits = answer_question(retriever, q.query, language=q.language, trace=trace)
        cands = trace.candidates
        paragraphs = retriever.snapshot.paragraphs(
            [c.id for c in cands] + [m for c in cands for m in trace.aligned.get(c.id, ())])
        rankings = _method_rankings(trace, paragraphs, q.language)
        row = _score(q, rankings, answer, hits, trace)
        rows.append(row)
        result.details.append({"query": q.query, "kind": q.kind, "best_dense": row.best_dense,
                               "probability": trace.probability,
                               "answer_quoted": row.answer_quoted,
                               **{m: r[:3] for m, r in rankings.items()},
                               "quoted": [f"{h.article.id}#{h.paragraph.language}"
                                          f"{h.paragraph.position}" for h in hits]})
        if dump is not None:
            dump.append(_dump_row(q, trace, paragraphs) | {"unseen": _unseen(retriever, q.query)})
    _fill(result, rows, quoted)
    return result


def _method_rankings(trace: SearchTrace, paragraphs: dict[int, Paragraph],
                     language: str | None) -> dict[str, list[str]]:
    """Each method's ranking of the traced candidates, as paragraph refs (translations
    collapsed), filtered to ``language`` after fusion as ``Retriever.search`` does."""
    asked_in = trace.evidence.language if trace.evidence else "en"
    rankings: dict[str, list[str]] = {}
    for method in METHODS:
        numbers = [i for i, _ in fusion.fuse(trace.candidates, method, asked_in)]
        if language:
            numbers = [i for i in numbers if i in paragraphs and paragraphs[i].language == language]
        rankings[method] = _refs(collapse_translations(numbers, trace.aligned), paragraphs)
    return rankings


def _score(q: EvalQuery, rankings: dict[str, list[str]], answer: Answer, hits: Sequence[Hit],
           trace: SearchTrace) -> _Row:
    """One question's outcome as a user sees it."""
    wanted = q.relevant_articles()
    answer_quoted: bool | None = None
    if q.answers and not q.off_topic:
        shown = _shown_text(answer, wanted)
        answer_quoted = any(normalise(a) in shown for a in q.answers if a.strip())
    return _Row(q, rankings, bool(hits), bool(hits) and hits[0].article.id in wanted,
                len(hits), sum(h.article.id not in wanted for h in hits), answer_quoted,
                trace.probability, trace.evidence.dense if trace.evidence else None)


def _dump_row(q: EvalQuery, trace: SearchTrace, paragraphs: dict[int, Paragraph]) -> dict[str, Any]:
    """One question's candidates and evidence, for fitting (plain data, picklable)."""
    return {
        "query": q.query, "kind": q.kind, "split": q.split, "language": q.language,
        "relevant": sorted(q.relevant_articles()),
        "asked_in": trace.evidence.language if trace.evidence else "en",
        "aligned": {k: list(v) for k, v in trace.aligned.items()},
        "candidates": [dataclasses.asdict(c) | {
            "article": paragraphs[c.id].article_id if c.id in paragraphs else "",
            "lang": paragraphs[c.id].language if c.id in paragraphs else c.language}
            for c in trace.candidates],
    }


def _unseen(retriever: Retriever, question: str) -> dict[str, Any]:
    """What the unknown-words evidence reads for ``question``, at any rarity floor: its
    topic words the index lacks with their rarity, its Korean predicates, those of the words
    the index holds in another segmentation, and the weights
    that :func:`embeddings.keyword.unseen_share` takes (``eval/fit.py --sweep-unseen``)."""
    question = question.strip()
    scores = retriever.keyword.scores(topic_terms(question))
    rarity = retriever.rarity
    return {"words": [(t, rarity(t) if rarity is not None else 0.0) for t in scores.missing],
            "predicates": sorted(korean_predicates(question)) if scores.missing else [],
            "held": [t for t in scores.missing if retriever.keyword.spelled_otherwise(t)],
            "documents": len(retriever.keyword), "known_weight": float(scores.terms()[1].sum())}


def _split_figures(rows: Sequence[_Row]) -> dict[str, Any]:
    """The figures `make eval` tabulates, for one split (or all questions)."""
    on = [r for r in rows if not r.query.off_topic]
    off = [r for r in rows if r.query.off_topic]
    spans = [r.answer_quoted for r in on if r.answer_quoted is not None]

    def first_right(method: str) -> float | None:
        if not on:
            return None
        return float(np.mean([bool(r.rankings[method]) and r.rankings[method][0].split("#", 1)[0]
                              in r.query.relevant_articles() for r in on]))

    out: dict[str, Any] = {
        "on_topic": len(on), "off_topic": len(off),
        **{name: first_right(m) for name, m in
           (("dense", "dense"), ("keyword", "keyword"), ("rrf", "rrf"), ("pooled", "pooled"))},
        "dari": float(np.mean([r.first_right for r in on])) if on else None,
        "on_topic_answered": float(np.mean([r.answered for r in on])) if on else None,
        "off_topic_refused": float(np.mean([not r.answered for r in off])) if off else None,
        "answer_quoted": float(np.mean(spans)) if spans else None,
        "kinds": {},
    }
    for kind in sorted({r.query.kind for r in rows}):
        mine = [r for r in rows if r.query.kind == kind]
        k_on = [r for r in mine if not r.query.off_topic]
        k_off = [r for r in mine if r.query.off_topic]
        out["kinds"][kind] = {
            "n": len(mine),
            "dari": float(np.mean([r.first_right for r in k_on])) if k_on else None,
            "refused": float(np.mean([not r.answered for r in k_off])) if k_off else None,
        }
    return out


def _fill(result: EvalResult, rows: Sequence[_Row], quoted: int) -> None:
    """Per-method recall tables, the threshold report, the quoted-answer figures, splits."""
    queries = [r.query for r in rows]
    on_topic = [i for i, q in enumerate(queries) if not q.off_topic]
    kinds = sorted({queries[i].kind for i in on_topic}) + ["all"]
    for method in METHODS:
        per_kind: dict[str, dict[str, dict[str, float]]] = {}
        for kind in kinds:
            chosen = [rows[i] for i in on_topic if kind in ("all", queries[i].kind)]
            para_rows = [(r.rankings[method], r.query.relevant_paragraphs()) for r in chosen
                         if r.query.relevant_paragraphs()]
            art_rows = [(dedupe(x.split("#", 1)[0] for x in r.rankings[method]),
                         r.query.relevant_articles()) for r in chosen]
            per_kind[kind] = {
                "paragraph": summarize([a for a, _ in para_rows], [b for _, b in para_rows]),
                "article": summarize([a for a, _ in art_rows], [b for _, b in art_rows]),
            }
        result.methods[method] = per_kind
    off = [q.off_topic for q in queries]
    tune = [i for i, q in enumerate(queries) if q.split == "tune"]
    test = [i for i, q in enumerate(queries) if q.split != "tune"]
    best = [r.best_dense for r in rows]
    answered = [r.answered for r in rows]
    calibrated = calibrate([best[i] for i in tune], [off[i] for i in tune]) if tune else 0.0
    dense_only = [b is not None and b >= calibrated for b in best]

    def pick(values: Sequence[Any], which: Sequence[int]) -> list[Any]:
        return [values[i] for i in which]

    on_rows = [rows[i] for i in on_topic]
    off_rows = [r for r in rows if r.query.off_topic]
    total_quoted = sum(r.quoted for r in on_rows)
    foreign = sum(r.foreign for r in on_rows)
    spans = [r.answer_quoted for r in on_rows if r.answer_quoted is not None]
    result.search = {
        "passages_per_answer": quoted,
        "on_topic": len(on_rows),
        "first_passage_right_article": float(np.mean([r.first_right for r in on_rows]))
        if on_rows else 0.0,
        "quoted_passages": total_quoted,
        "quoted_from_other_articles": foreign,
        "quoted_precision": 1.0 - foreign / total_quoted if total_quoted else 0.0,
        "mean_passages_quoted": total_quoted / max(1, len(on_rows)),
        "off_topic": len(off_rows),
        "off_topic_answered": sum(r.answered for r in off_rows),
        "on_topic_answered": sum(r.answered for r in on_rows) / max(1, len(on_rows)),
        "answer_quoted": float(np.mean(spans)) if spans else None,
    }
    result.threshold = {
        "rule_test": threshold_report(pick(answered, test), pick(off, test)),
        "rule_tune": threshold_report(pick(answered, tune), pick(off, tune)),
        "dense_only_test": threshold_report(pick(dense_only, test), pick(off, test)),
        "dense_only_threshold": calibrated,
    }
    result.splits = {
        "tune": _split_figures(pick(rows, tune)),
        "test": _split_figures(pick(rows, test)),
        "all": _split_figures(rows),
    }


def run_eval(settings: Settings, corpus_dir: Path, queries: Sequence[EvalQuery], *,
             show_progress: bool = True, encoder: TextEncoder | None = None,
             also: Sequence[Path] = (), dump: list[dict[str, Any]] | None = None) -> EvalResult:
    """Build a throwaway index of ``corpus_dir`` in a temporary data dir and evaluate on it.

    ``also``: more article directories indexed together with ``corpus_dir`` (distractor
    articles that make the ranking harder); their files are copied into a temporary corpus.
    """
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
            return evaluate_retriever(retriever, queries, show_progress=show_progress, dump=dump)
        finally:
            retriever.close()


def _merged_corpus(directories: Sequence[Path], target: Path,
                   extensions: Sequence[str]) -> Path:
    """Copy the article files of ``directories`` into ``target`` (names prefixed by source)."""
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
