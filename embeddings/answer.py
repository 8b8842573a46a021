"""Shape retrieved hits into an answer: quoted passages trimmed to their best sentences.

Long paragraphs are cut to the ``max_sentences`` sentences most similar to the question
(kept in their original order, gaps marked with "…"), so a Discord reply quotes what
answers rather than a wall of text. Hits of one article are kept together.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from embeddings.fusion import detect_language
from embeddings.models import Answer, Hit

ELLIPSIS = "…"
# A sentence ends at . ! ? (or their full-width forms) possibly followed by closing quotes
# or brackets, then whitespace. Abbreviations like "U.S." are protected below.
_END = re.compile(r"(?<=[.!?。！？])[\"'”’」』)\]]*\s+")
_ABBREV = re.compile(r"\b(?:U\.S|U\.K|U\.N|Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|No|vs|etc|e\.g|i\.e)\.$",
                     re.IGNORECASE)
# Before a name: never the end of a sentence ("Dr. Kim", "Joe R. Biden").
_TITLE = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|St)|(?:^|\s)[A-Z])\.$")
# After "U.S." and the like a capitalised word usually continues the sentence ("U.S. Forces
# Korea", "U.S. President"); these words are the ones that usually start a new one.
_STARTERS = frozenset("""the this that these those it its he she we they i you but and or
however in on at as if when while so yet a an there such moreover meanwhile still even now
since after before thus therefore instead rather what why how who otherwise""".split())
# Korean sentence endings: 다. 요. 죠. 까? 니다. etc. are covered by the punctuation rule;
# this also splits "…다" followed directly by a quote and space without a period.
_KO_END = re.compile(r"(?<=[다요죠까])(?=[.!?]?[\"'”’]?\s)")


def split_sentences(text: str, language: str) -> list[str]:
    """Split a paragraph into sentences (English or Korean), keeping each sentence's text.

    Sentences end at . ! ? (and full-width forms) followed by optional closing quotes and
    whitespace, but never after a title or an initial ("Dr. Kim", "Joe R. Biden"), and after
    an abbreviation ("U.S.", "e.g.") only when a typical sentence opener follows ("… the
    U.S. The next day …", not "U.S. Forces Korea"). Korean pieces that still hold several sentences
    without final punctuation (quotations, 다/요 endings) are cut by kiwipiepy.
    """
    text = text.strip()
    if not text:
        return []
    pieces: list[str] = []
    start = 0
    for match in _END.finditer(text):
        candidate = text[start:match.start()].rstrip()
        following = text[match.end():match.end() + 1]
        if _TITLE.search(candidate) or (_ABBREV.search(candidate) and (
                following.islower() or following.isdigit()
                or _next_word(text, match.end()).lower() not in _STARTERS)):
            continue  # "the U.S. and Japan", "U.S. Forces Korea": not the end of the sentence
        pieces.append(text[start:match.end()].strip())
        start = match.end()
    pieces.append(text[start:].strip())
    pieces = [p for p in pieces if p]
    if language != "ko":
        return pieces
    out: list[str] = []
    for piece in pieces:
        if _KO_END.search(piece[:-1]):
            out.extend(_kiwi_sentences(piece))
        else:
            out.append(piece)
    return out


def _next_word(text: str, start: int) -> str:
    match = re.match(r"[\"'“‘(]*([A-Za-z]+)", text[start:start + 40])
    return match.group(1) if match else ""


def _kiwi_sentences(text: str) -> list[str]:
    from embeddings.tokenize import _kiwi, _kiwi_lock

    with _kiwi_lock:
        found = [s.text.strip() for s in _kiwi().split_into_sents(text)]
    return [s for s in found if s] or [text]


def trim(text: str, language: str, question_vector: np.ndarray | None, encoder: Any,
         max_sentences: int, question: str = "") -> str:
    """``text`` cut to its ``max_sentences`` most relevant sentences, in order, gaps as "…"."""
    sentences = split_sentences(text, language)
    keep = _relevant_sentences(sentences, question, question_vector, encoder, max_sentences)
    return text.strip() if keep is None else _join(sentences, keep)


def _relevant_sentences(sentences: list[str], question: str, question_vector: np.ndarray | None,
                        encoder: Any, max_sentences: int) -> list[int] | None:
    """Indices of the ``max_sentences`` sentences closest to the question, in order; None
    when the paragraph is short enough to quote whole."""
    if len(sentences) <= max_sentences:
        return None
    scores = _sentence_scores(sentences, question, question_vector, encoder)
    return sorted(np.argsort(-scores, kind="stable")[:max_sentences].tolist())


def _trim_counterpart(text: str, sentences: list[str], quoted: Sequence[str], encoder: Any,
                      max_sentences: int) -> str:
    """The counterpart ``text`` (split into ``sentences``) cut to the sentences that best match
    the ``quoted`` ones.

    A trimmed English quote over a whole Korean paragraph (or the reverse) would show much
    more translation than answer; this keeps, in order, the counterpart sentences closest
    (in the shared vector space) to the sentences actually quoted.
    """
    if encoder is None or not quoted or len(sentences) <= max_sentences:
        return text.strip()
    reference = sentence_vectors(quoted, encoder)
    scores = (sentence_vectors(sentences, encoder) @ reference.T).max(axis=1)
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


def sentence_vectors(sentences: Sequence[str], encoder: Any) -> np.ndarray:
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
                     encoder: Any) -> np.ndarray:
    if encoder is not None:
        if question_vector is None:
            question_vector = np.asarray(encoder.encode_queries([question]), dtype=np.float32)[0]
        return sentence_vectors(sentences, encoder) @ np.asarray(question_vector, dtype=np.float32)
    # Without an encoder: shared keyword tokens (still language-aware).
    from embeddings.tokenize import tokenize

    q = set(tokenize(question))
    return np.array([len(q & set(tokenize(s))) for s in sentences], dtype=np.float32)


def build_answer(question: str, hits: Sequence[Hit], *, passages: int, max_sentences: int,
                 query_vector: np.ndarray | None = None, encoder: Any = None,
                 interface_language: str | None = None) -> Answer:
    """The answer to ``question`` from ranked ``hits``: up to ``passages`` quoted passages.

    Hits of one article are grouped together (the article of the best hit first, then in
    rank order), each passage trimmed to its most relevant sentences. An empty ``hits``
    gives an answer with ``found == False``.
    """
    language = interface_language or detect_language(question)
    chosen = list(hits[:passages])
    article_rank: dict[str, int] = {}
    for i, hit in enumerate(chosen):
        article_rank.setdefault(hit.article.id, i)
    # Stable sort: within an article, rank order is kept.
    chosen.sort(key=lambda h: article_rank[h.article.id])
    if chosen and encoder is not None and query_vector is None:
        query_vector = np.asarray(encoder.encode_queries([question]), dtype=np.float32)[0]
    # Each paragraph is split once: the batch below, the trimming and the counterparts share it.
    split = [split_sentences(h.paragraph.text, h.paragraph.language) for h in chosen]
    split_aligned = [[split_sentences(p.text, p.language) for p in h.aligned] for h in chosen]
    if encoder is not None:
        # One batch for every sentence that trimming will score (instead of one per passage).
        every = split + [sentences for group in split_aligned for sentences in group]
        pending = [t for sentences in every if len(sentences) > max_sentences for t in sentences]
        if pending:
            sentence_vectors(pending, encoder)
    quotes: list[str] = []
    counterparts: list[tuple[str, ...]] = []
    for hit, sentences, aligned_sentences in zip(chosen, split, split_aligned):
        keep = _relevant_sentences(sentences, question, query_vector, encoder, max_sentences)
        quotes.append(hit.paragraph.text.strip() if keep is None else _join(sentences, keep))
        quoted = sentences if keep is None else [sentences[i] for i in keep]
        counterparts.append(tuple(
            _trim_counterpart(p.text, other, quoted, encoder, max_sentences)
            for p, other in zip(hit.aligned, aligned_sentences)))
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
