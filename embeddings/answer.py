"""Shape retrieved hits into an answer: quoted passages trimmed to their best sentences.

Long paragraphs are cut to the ``max_sentences`` sentences most similar to the question
(kept in their original order, gaps marked with "…"), so a Discord reply quotes what
answers rather than a wall of text. Hits of one article are kept together.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from corpus.models import Paragraph
from embeddings.models import Answer, Hit
from embeddings.protocols import TextEncoder
from embeddings.question import question_language, topic_terms
from embeddings.retriever import Retriever, SearchTrace
from embeddings.sentences import SentenceSource, split_sentences
from embeddings.tokenize import tokenize

ELLIPSIS = "…"
# How sentences are chosen for a trimmed quote ("topk": the sentences with the most
# evidence, wherever they are; "window": the best contiguous run around the best one) and
# the weight of the question's topic terms beside the cosine. answer_quoted on the KorQuAD
# tune half (the span is in what the answer shows): topk 0.903 / 0.912 / 0.913 / 0.913 with
# term weight 0 / 0.1 / 0.2 / 0.3, window 0.874 / 0.897 / 0.898 / 0.898; beyond 0.1 the
# weight changes one or two questions of 890 either way (eval/trim_sweep.py).
TRIM_MODE = "topk"
TERM_WEIGHT = 0.1


def trim(text: str, language: str, question_vector: np.ndarray | None, encoder: TextEncoder | None,
         max_sentences: int, question: str = "") -> str:
    """``text`` cut to its ``max_sentences`` most relevant sentences, in order, gaps as "…"."""
    sentences = split_sentences(text, language)
    if len(sentences) <= max_sentences:
        return text.strip()
    if encoder is not None and question_vector is None:
        question_vector = np.asarray(encoder.encode_queries([question]), dtype=np.float32)[0]
    vectors = sentence_vectors(sentences, encoder) if encoder is not None else None
    keep = _relevant_sentences(sentences, question, question_vector, vectors, max_sentences)
    return text.strip() if keep is None else _join(sentences, keep)


def _relevant_sentences(sentences: list[str], question: str, question_vector: np.ndarray | None,
                        vectors: np.ndarray | None, max_sentences: int,
                        coverage: np.ndarray | None = None) -> list[int] | None:
    """Indices of the ``max_sentences`` sentences to quote, in order; None when the
    paragraph is short enough to quote whole.

    A sentence's evidence is its cosine with the question plus TERM_WEIGHT × the share of
    the question's topic terms it contains: the answering sentence shares the question's
    names and terms ("한·미·일 … 문제"), which the cosine alone undervalues next to a sentence
    that merely echoes the question's wording. ``coverage`` is that share as the index
    stores it (IDF-weighted, the ranking's sentence evidence); without it the sentences are
    tokenised now and every topic term counts the same. TRIM_MODE "window" quotes the best contiguous
    run instead (measured lower; see the constants).
    """
    if len(sentences) <= max_sentences:
        return None
    scores = _sentence_scores(sentences, question, question_vector, vectors, coverage)
    if TRIM_MODE == "topk":
        return sorted(np.argsort(-scores, kind="stable")[:max_sentences].tolist())
    best = int(np.argmax(scores))
    starts = range(max(0, best - max_sentences + 1), min(best, len(sentences) - max_sentences) + 1)
    start = max(starts, key=lambda a: (float(scores[a:a + max_sentences].sum()), -abs(a - best)))
    return list(range(start, start + max_sentences))


def _trim_counterpart(text: str, sentences: list[str], vectors: np.ndarray | None,
                      quoted: np.ndarray | None, max_sentences: int) -> str:
    """The counterpart ``text`` (split into ``sentences`` with their ``vectors``) cut to the
    sentences that best match the ``quoted`` ones' vectors.

    A trimmed English quote over a whole Korean paragraph (or the reverse) would show much
    more translation than answer; this keeps, in order, the counterpart sentences closest
    (in the shared vector space) to the sentences actually quoted.
    """
    if vectors is None or quoted is None or not len(quoted) or len(sentences) <= max_sentences:
        return text.strip()
    scores = (vectors @ quoted.T).max(axis=1)
    return _join(sentences, np.argsort(-scores, kind="stable")[:max_sentences].tolist())


def _join(sentences: list[str], keep: list[int]) -> str:
    """The kept sentences in their original order, gaps marked with "…"."""
    parts: list[str] = []
    previous = -1
    for i in sorted(keep):
        if i != previous + 1:
            parts.append(ELLIPSIS)
        parts.append(sentences[i])
        previous = i
    if previous != len(sentences) - 1:
        parts.append(ELLIPSIS)
    return " ".join(parts)


# Sentence vectors of quoted passages, by model and text. Popular passages are quoted again
# and again in a server; encoding their sentences was most of an answer's time (bench/ask.py).
# 4,096 vectors of e5-small are 6 MB.
_SENTENCE_CACHE_SIZE = 4096
_sentence_cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_sentence_lock = threading.Lock()


def sentence_vectors(sentences: Sequence[str], encoder: TextEncoder) -> np.ndarray:
    """Passage vectors of ``sentences`` (one batch for the ones not cached yet)."""
    model = str(getattr(encoder, "fingerprint", id(encoder)))
    known: dict[str, np.ndarray] = {}
    with _sentence_lock:
        for text in dict.fromkeys(sentences):
            vector = _sentence_cache.get((model, text))
            if vector is not None:
                _sentence_cache.move_to_end((model, text))
                known[text] = vector
    missing = [t for t in dict.fromkeys(sentences) if t not in known]
    if missing:
        fresh = np.asarray(encoder.encode_passages(missing), dtype=np.float32)
        known.update(zip(missing, fresh))
        with _sentence_lock:
            for text, vector in zip(missing, fresh):
                _sentence_cache[(model, text)] = vector
            while len(_sentence_cache) > _SENTENCE_CACHE_SIZE:
                _sentence_cache.popitem(last=False)
    return np.stack([known[t] for t in sentences])


def _sentence_scores(sentences: list[str], question: str, question_vector: np.ndarray | None,
                     vectors: np.ndarray | None, coverage: np.ndarray | None = None) -> np.ndarray:
    """Each sentence's evidence for the question: cosine plus weighted topic-term share."""
    if coverage is not None and len(coverage) == len(sentences):
        share = np.asarray(coverage, dtype=np.float32)
    else:
        terms = set(topic_terms(question))
        share = np.array([len(terms & set(tokenize(s))) / len(terms) if terms else 0.0
                          for s in sentences], dtype=np.float32)
    if vectors is None or question_vector is None:
        return share
    cosine = vectors @ np.asarray(question_vector, dtype=np.float32)
    return cosine + TERM_WEIGHT * share


def _vectors_for(paragraph: Paragraph, sentences: list[str], encoder: TextEncoder | None,
                 source: SentenceSource | None) -> np.ndarray | None:
    """The sentence vectors of ``paragraph``: stored with the index when they are there
    (no encoding at question time), else encoded (cached); None without an encoder."""
    if source is not None:
        stored = source.sentence_vectors_of(paragraph)
        if stored is not None and len(stored) == len(sentences):
            return stored
    return sentence_vectors(sentences, encoder) if encoder is not None else None


def build_answer(question: str, hits: Sequence[Hit], *, passages: int, max_sentences: int,
                 query_vector: np.ndarray | None = None, encoder: TextEncoder | None = None,
                 interface_language: str | None = None,
                 sentences: SentenceSource | None = None) -> Answer:
    """The answer to ``question`` from ranked ``hits``: up to ``passages`` quoted passages.

    Hits of one article are grouped together (the article of the best hit first, then in
    rank order), each passage trimmed to its most relevant sentences. ``sentences`` gives the
    sentence vectors stored with the index (else they are encoded now). An empty ``hits``
    gives an answer with ``found == False``.
    """
    language = interface_language or question_language(question)
    chosen = list(hits[:passages])
    article_rank: dict[str, int] = {}
    for i, hit in enumerate(chosen):
        article_rank.setdefault(hit.article.id, i)
    # Stable sort: within an article, rank order is kept.
    chosen.sort(key=lambda h: article_rank[h.article.id])
    if chosen and encoder is not None and query_vector is None:
        query_vector = np.asarray(encoder.encode_queries([question]), dtype=np.float32)[0]
    quotes: list[str] = []
    counterparts: list[tuple[str, ...]] = []
    for hit in chosen:
        split = split_sentences(hit.paragraph.text, hit.paragraph.language)
        long = len(split) > max_sentences
        vectors = _vectors_for(hit.paragraph, split, encoder, sentences) if long else None
        coverage = sentences.sentence_coverage_of(hit.paragraph, question) \
            if long and sentences is not None else None
        keep = _relevant_sentences(split, question, query_vector, vectors, max_sentences, coverage)
        quotes.append(hit.paragraph.text.strip() if keep is None else _join(split, keep))
        shown: list[str] = []
        quoted: np.ndarray | None = None
        for other in hit.aligned:
            other_split = split_sentences(other.text, other.language)
            if len(other_split) <= max_sentences:
                shown.append(other.text.strip())
                continue
            if quoted is None:
                if vectors is None:
                    vectors = _vectors_for(hit.paragraph, split, encoder, sentences)
                quoted = vectors if keep is None or vectors is None else vectors[keep]
            shown.append(_trim_counterpart(
                other.text, other_split, _vectors_for(other, other_split, encoder, sentences),
                quoted, max_sentences))
        counterparts.append(tuple(shown))
    return Answer(question=question, language=language, hits=tuple(chosen), quotes=tuple(quotes),
                  counterparts=tuple(counterparts))


_NOTHING = {
    "en": "Nothing in the articles answers this question.",
    "ko": "이 질문에 답하는 내용을 기사에서 찾지 못했습니다.",
}


def citation(hit: Hit) -> str:
    """"Title — Outlet, date (language ¶position)" for one hit."""
    a = hit.article
    bits = [a.title or a.id]
    where = ", ".join(x for x in (a.outlet, a.published) if x)
    if where:
        bits.append(where)
    label = "English" if hit.paragraph.language == "en" else "Korean"
    return " — ".join(bits) + f" ({label} ¶{hit.paragraph.position})"


def render_text(answer: Answer) -> str:
    """Plain-text rendering for the terminal (`dari ask`): quotes, counterparts, citations."""
    if not answer.found:
        return _NOTHING.get(answer.language, _NOTHING["en"])
    lines: list[str] = []
    current: str | None = None
    shown: set[str] = set()  # a counterpart shared by two quoted passages is shown once
    for i, (hit, quote) in enumerate(zip(answer.hits, answer.quotes)):
        if hit.article.id != current:
            current = hit.article.id
            if lines:
                lines.append("")
            lines.append(f"■ {citation(hit)}")
        else:
            lines.append(f"  ({'English' if hit.paragraph.language == 'en' else 'Korean'}"
                         f" ¶{hit.paragraph.position})")
        lines.extend("  > " + line for line in quote.splitlines())
        texts = answer.counterpart_texts(i)
        for other, text in zip(hit.aligned, texts):
            if other.id in shown:
                continue
            shown.add(other.id)
            label = "English" if other.language == "en" else "Korean"
            lines.append(f"    ↳ {label} ¶{other.position}: {text}")
    return "\n".join(lines)


def answer_question(retriever: Retriever, question: str, *, language: str | None = None,
                    trace: SearchTrace | None = None, skip: int = 0) -> tuple[Answer, list[Hit]]:
    """Search and shape the answer: the one path from a question to what users see, which
    the bot and the CLI (through the service) and `dari eval` all take.

    One query encoding serves the search and the sentence trimming. Returns the answer and
    the ranked hits it quotes from (``[answer.passages]`` of them at most); ``skip`` passes
    over the first hits (the next passages for the same question).
    """
    cfg = retriever.settings.answer
    query_vector = retriever.encode_query(question) if question.strip() else None
    hits = retriever.search(question, k=skip + cfg.passages, language=language,
                            query_vector=query_vector, trace=trace)[skip:skip + cfg.passages]
    answer = build_answer(question, hits, passages=cfg.passages, max_sentences=cfg.max_sentences,
                          query_vector=query_vector, encoder=retriever.encoder, sentences=retriever)
    return answer, hits

