"""Fusion of dense and keyword candidates, and the calibrated "nothing relevant" rule.

Plain reciprocal-rank fusion throws away how *confident* each side is, and it lets the
keyword side (which cannot match across languages) drag Korean passages down for English
questions. Here each candidate's evidence is pooled with its aligned counterpart in the other
language: a Korean paragraph whose English translation contains "Kishida" gets that BM25
score too, and an English paragraph whose Korean original matches a Korean question gets
that cosine. The fused score is a convex-ish combination of a calibrated cosine and a
normalised BM25, both absolute enough that one threshold works across queries.
See ``docs/retrieval.md`` for the measurements behind the constants.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Cosine range of multilingual-e5-small: unrelated text sits near 0.75, paraphrases ~0.9.
DENSE_FLOOR = 0.76
DENSE_CEIL = 0.90
KEYWORD_WEIGHT = 0.5  # weight of normalised BM25 relative to the calibrated cosine
KEYWORD_SATURATION = 2.0  # BM25 at which keyword confidence reaches one half
COUNTERPART_DISCOUNT = 0.01  # cosine borrowed from the aligned translation, slightly discounted
COUNTERPART_KEYWORD_FACTOR = 1.0  # share of the translation's BM25 a passage borrows
# A question is "about something in the corpus" if its best candidate's cosine (own or via
# the aligned translation) reaches RELEVANCE_THRESHOLD, or reaches KEYWORD_RELEVANCE_FLOOR
# while a passage contains at least COVERAGE_THRESHOLD of the question's keyword tokens
# (single names like "Dokdo" have low cosines but full coverage; off-topic questions share
# one stray word at most). Calibrated on the tuning half of eval/queries.jsonl.
RELEVANCE_THRESHOLD = 0.815
KEYWORD_RELEVANCE_FLOOR = 0.76
COVERAGE_THRESHOLD = 0.5
RRF_K = 60
# A hit whose fused score is under this share of the best hit's is not quoted: it is what
# is left when the answer is exhausted, usually another article on a neighbouring topic.
# Swept on eval/queries.jsonl with eval/distractors (docs/retrieval.md), top 3 quoted:
# floor 0 / 0.4 / 0.5 / 0.6 quote 195 / 158 / 135 / 108 passages, of which 69 / 43 / 27 / 15
# from articles the question is not about; 0.5 drops most of those and few of the others.
HIT_RELATIVE_FLOOR = 0.5

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_LATIN = re.compile(r"[A-Za-z]")


@dataclass
class Candidate:
    """One passage with the evidence from both sides (None: that side did not return it)."""

    id: Any
    language: str
    dense: float | None = None
    keyword: float | None = None
    counterpart_dense: float | None = None  # best cosine among its aligned counterparts
    counterpart_keyword: float | None = None  # best BM25 among its aligned counterparts
    # Share of the query's keyword tokens found in the passage or its counterpart (0..1);
    # computed for the best keyword candidates only, None elsewhere.
    coverage: float | None = None

    @property
    def dense_evidence(self) -> float | None:
        """Own cosine, or the translation's (discounted) if that is better."""
        values = [v for v in (self.dense,
                              None if self.counterpart_dense is None
                              else self.counterpart_dense - COUNTERPART_DISCOUNT) if v is not None]
        return max(values) if values else None

    @property
    def keyword_evidence(self) -> float:
        """BM25 of the passage or of its translation, whichever is higher."""
        return max(self.keyword or 0.0,
                   (self.counterpart_keyword or 0.0) * COUNTERPART_KEYWORD_FACTOR)


def detect_language(text: str) -> str:
    """"ko" if Hangul letters are at least a third of the letters, else "en"."""
    hangul = len(_HANGUL.findall(text))
    latin = len(_LATIN.findall(text))
    # A Hangul syllable carries about three Latin letters' worth of text.
    return "ko" if hangul * 3 >= latin and hangul > 0 else "en"


def calibrated_dense(cosine: float | None) -> float:
    """Cosine mapped to roughly [0, 1] over the range where e5 separates relevance."""
    if cosine is None:
        return 0.0
    return min(1.0, max(0.0, (cosine - DENSE_FLOOR) / (DENSE_CEIL - DENSE_FLOOR)))


def fuse(query: str, query_language: str, candidates: Sequence[Candidate], *,
         method: str = "pooled") -> list[tuple[Any, float]]:
    """Rank ``candidates``; returns (id, fused score), best first.

    ``method``: "pooled" (the default: counterpart-pooled evidence, calibrated combination),
    "rrf" (reciprocal rank fusion, k=60, own evidence only), "dense" or "keyword" (one side).
    ``query`` and ``query_language`` are accepted so the rule can depend on them; the pooled
    rule does not need them because pooling already makes it language-symmetric.
    """
    if not candidates:
        return []
    if method == "dense":
        scored = [(c.id, c.dense) for c in candidates if c.dense is not None]
    elif method == "keyword":
        scored = [(c.id, c.keyword) for c in candidates if c.keyword]
    elif method == "rrf":
        scored = _rrf(candidates)
    elif method == "pooled":
        top_kw = max(c.keyword_evidence for c in candidates)
        # Relative BM25 within this query, scaled down when even the best match is weak
        # (a stray common word must not count like a rare name).
        confidence = top_kw / (top_kw + KEYWORD_SATURATION) if top_kw > 0 else 0.0
        scored = []
        for c in candidates:
            kw = (c.keyword_evidence / top_kw) * confidence if top_kw > 0 else 0.0
            scored.append((c.id, calibrated_dense(c.dense_evidence) + KEYWORD_WEIGHT * kw))
    else:
        raise ValueError(f"unknown fusion method {method!r}")
    return sorted(scored, key=lambda item: -float(item[1]))  # type: ignore[arg-type]


def _rrf(candidates: Sequence[Candidate]) -> list[tuple[Any, float]]:
    scores: dict[Any, float] = {}
    for attr in ("dense", "keyword"):
        ranked = sorted((c for c in candidates if getattr(c, attr)),
                        key=lambda c: -getattr(c, attr))
        for rank, c in enumerate(ranked, start=1):
            scores[c.id] = scores.get(c.id, 0.0) + 1.0 / (RRF_K + rank)
    return list(scores.items())


def is_relevant(candidates: Sequence[Candidate], threshold: float = RELEVANCE_THRESHOLD) -> bool:
    """The calibrated no-answer rule: is any candidate close enough to the question?

    A high cosine suffices; a moderate one needs keyword support covering most of the
    question (BM25 alone is not trusted: off-topic questions share common words like
    "training" or "open" with the corpus).
    """
    best = max((c.dense_evidence for c in candidates if c.dense_evidence is not None), default=None)
    if best is None:
        return False
    if best >= threshold:
        return True
    coverage = max((c.coverage for c in candidates if c.coverage is not None), default=0.0)
    return best >= KEYWORD_RELEVANCE_FLOOR and coverage >= COVERAGE_THRESHOLD


def coverage(query_tokens: Sequence[str], texts: Sequence[str]) -> float:
    """Share of distinct query tokens that occur in any of ``texts``.

    0 when only one of several query tokens occurs: one shared word is chance ("내일 날씨"
    meets a passage that uses 날씨 as a metaphor), a one-word question ("Dokdo") is not.
    """
    from embeddings.tokenize import tokenize

    wanted = set(query_tokens)
    if not wanted:
        return 0.0
    found: set[str] = set()
    for text in texts:
        found |= wanted & set(tokenize(text))
    if len(found) < min(2, len(wanted)):
        return 0.0
    return len(found) / len(wanted)


def candidates_for_retriever(retriever: Any, query: str, dense: Mapping[int, float],
                             keyword: Mapping[int, float]) -> list[Candidate]:
    """Build pooled candidates from a Retriever's paragraph-number → score maps.

    Counterparts come from the generation's alignment table; their BM25 scores are looked up
    in the keyword index even when they were outside the keyword top-n.
    """
    snapshot = retriever.snapshot
    numbers = sorted(set(dense) | set(keyword))
    aligned = snapshot.aligned_numbers(numbers)
    partner_numbers = sorted({m for n in numbers for m in aligned.get(n, ())})
    partner_kw: dict[int, float] = {}
    missing = [m for m in partner_numbers if m not in keyword]
    if missing and hasattr(retriever.keyword, "scores_for"):
        paras = snapshot.paragraphs(missing)
        by_id = retriever.keyword.scores_for(query, [p.id for p in paras.values()])
        partner_kw = {m: by_id.get(p.id, 0.0) for m, p in paras.items()}
    # Coverage only for the few best keyword candidates: it re-tokenises their text.
    top_kw = sorted(keyword, key=lambda x: -keyword[x])[:3]
    covered: dict[int, float] = {}
    if top_kw:
        from embeddings.tokenize import tokenize

        q_tokens = tokenize(query)
        texts = snapshot.paragraphs(top_kw + [m for x in top_kw for m in aligned.get(x, ())])
        for x in top_kw:
            group = [texts[m].text for m in [x, *aligned.get(x, ())] if m in texts]
            covered[x] = coverage(q_tokens, group)
    out = []
    for n in numbers:
        partners = aligned.get(n, ())
        p_dense = [dense[m] for m in partners if m in dense]
        p_kw = [keyword.get(m, partner_kw.get(m, 0.0)) for m in partners]
        out.append(Candidate(
            id=n, language=snapshot.language_of(n), dense=dense.get(n), keyword=keyword.get(n),
            counterpart_dense=max(p_dense) if p_dense else None,
            counterpart_keyword=max(p_kw) if p_kw else None,
            coverage=covered.get(n),
        ))
    return out


def fuse_for_retriever(retriever: Any, query: str, dense: Mapping[int, float],
                       keyword: Mapping[int, float], *, method: str = "pooled",
                       threshold: float | None = None) -> list[tuple[int, float]]:
    """What ``Retriever`` calls: fused (paragraph number, score), [] when nothing is relevant.

    ``threshold`` defaults to ``[retrieval].min_score`` when that is set (> 0), else the
    calibrated :data:`RELEVANCE_THRESHOLD`.
    """
    candidates = candidates_for_retriever(retriever, query, dense, keyword)
    if threshold is None:
        configured = getattr(getattr(retriever, "settings", None), "retrieval", None)
        threshold = configured.min_score if configured and configured.min_score > 0 \
            else RELEVANCE_THRESHOLD
    if not is_relevant(candidates, threshold):
        return []
    return fuse(query, detect_language(query), candidates, method=method)
