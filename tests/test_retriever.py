"""Hybrid search over a real index of the seed article plus a second bilingual article."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from embeddings import fusion
from embeddings.answer import answer_question
from embeddings.manifest import NoIndex
from embeddings.refresh import refresh
from embeddings.retriever import Retriever, SearchTrace
from settings.config import Settings
from tests.conftest import REPO
from tests.index_support import (  # noqa: F401 - fixtures
    index_encoder,
    indexed,
    make_corpus,
    settings_for,
    warm_cache,
)

SEED = "how-far-can-south-korea-us-japan-military-cooperation-go"
JEJU = "jeju-tangerines"


@pytest.fixture(scope="module")
def retriever(indexed: Settings, index_encoder: Any) -> Retriever:  # noqa: F811 - fixtures
    return Retriever.load(indexed, index_encoder)


def test_english_question_finds_the_article_with_metadata_and_korean_counterpart(
        retriever: Retriever) -> None:
    hits = retriever.search("Why does the United States want military cooperation between "
                            "South Korea and Japan?", k=3)
    assert hits and hits[0].article.id == SEED
    top = hits[0]
    assert top.article.title.startswith("How Far Can South Korea-US-Japan")
    assert top.article.paragraphs == ()  # hits stay light
    assert top.dense_score is not None and -1.0 <= top.dense_score <= 1.0
    other = "ko" if top.paragraph.language == "en" else "en"
    assert top.aligned and all(p.language == other for p in top.aligned)
    assert all(p.article_id == SEED for p in top.aligned)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_korean_question_and_language_filter(retriever: Retriever) -> None:
    question = "제주 감귤 농가는 왜 망고를 심나요?"
    hits = retriever.search(question, k=2, language="ko")
    assert hits and all(h.paragraph.language == "ko" for h in hits)
    assert hits[0].article.id == JEJU and "망고" in hits[0].paragraph.text
    assert hits[0].aligned and "mango" in hits[0].aligned[0].text
    # Cross-lingual: the same Korean question, English paragraphs only.
    en = retriever.search(question, k=2, language="en")
    assert en and all(h.paragraph.language == "en" for h in en)
    assert en[0].article.id == JEJU


def test_exact_rare_name_is_found_by_the_keyword_side(retriever: Retriever) -> None:
    hits = retriever.search("South Jeolla", k=3, language="en")
    assert hits and hits[0].article.id == JEJU and "Jeolla" in hits[0].paragraph.text
    assert hits[0].keyword_score is not None and hits[0].keyword_score > 0


def test_one_article_does_not_fill_every_slot(retriever: Retriever) -> None:
    cap = retriever.settings.retrieval.max_per_article
    hits = retriever.search("South Korea, the United States and Japan security cooperation", k=10)
    per_article: dict[str, int] = {}
    for h in hits:
        per_article[h.article.id] = per_article.get(h.article.id, 0) + 1
    assert per_article and max(per_article.values()) <= cap
    assert per_article.get(SEED) == cap  # the seed has many relevant paragraphs: capped
    ids = [h.paragraph.id for h in hits]
    assert len(ids) == len(set(ids))  # passages of one paragraph collapse to one hit


def test_cap_is_a_setting(indexed: Settings, index_encoder: Any) -> None:  # noqa: F811 - fixtures
    # A min_score below the relevance model's floor (2e-22) lets every passage through, so
    # only the cap decides (0 or less would mean "the calibrated threshold").
    wide = dataclasses.replace(
        indexed, retrieval=dataclasses.replace(indexed.retrieval, max_per_article=5, min_score=1e-30))
    r = Retriever.load(wide, index_encoder)
    hits = r.search("South Korea, the United States and Japan security cooperation", k=10,
                    language="en")
    assert sum(1 for h in hits if h.article.id == SEED) == 5


def test_empty_query_and_missing_index(retriever: Retriever, indexed: Settings,  # noqa: F811 - fixtures
                                       index_encoder: Any, tmp_path: Any) -> None:  # noqa: F811 - fixtures
    assert retriever.search("   ") == []
    empty = dataclasses.replace(indexed, paths=dataclasses.replace(indexed.paths, data_dir=tmp_path))
    with pytest.raises(NoIndex, match="dari index"):
        Retriever.load(empty, index_encoder)


def test_translation_pairs_are_one_hit(retriever: Retriever) -> None:
    # Without a language filter both the English paragraph and its Korean original match;
    # the user sees one hit carrying the other, and the pair uses one of the article's slots.
    hits = retriever.search("Japan's claim to sovereignty over Dokdo and the comfort women issue",
                            k=5)
    assert hits and hits[0].article.id == SEED and hits[0].aligned
    shown = [h.paragraph.id for h in hits]
    carried = {p.id for h in hits for p in h.aligned}
    assert not carried & set(shown), "a hit's translation came back as a hit of its own"


def test_unrelated_passages_are_not_padding(retriever: Retriever) -> None:
    # A question answered by the seed article must not be padded with the Jeju article's
    # passages just because k slots are free (it was: a tangerine paragraph at a fused
    # score of 0.04 came third).
    question = "What does the United States want from military cooperation with Japan?"
    trace = SearchTrace()
    hits = retriever.search(question, k=5, trace=trace)
    assert hits and hits[0].article.id == SEED
    assert all(h.article.id != JEJU for h in hits), [h.paragraph.text[:40] for h in hits]
    # Every quoted passage passes the no-answer rule on its own evidence.
    by_id = {c.id: c for c in trace.candidates}
    numbers = retriever.snapshot.numbers([h.paragraph.id for h in hits])
    assert trace.evidence is not None
    for h in hits:
        c = by_id[numbers[h.paragraph.id]]
        e = fusion.Judge(trace.candidates, trace.evidence.language, trace.aligned).passage(c)
        assert fusion.relevance(e) >= trace.threshold
    # The rule is per passage: a question about the Jeju article still gets the Jeju passages.
    jeju = retriever.search("Why are tangerine farmers on Jeju planting mangoes?", k=5)
    assert jeju and jeju[0].article.id == JEJU
    assert all(h.article.id != SEED for h in jeju)


def test_cross_lingual_on_the_seed_article(retriever: Retriever) -> None:
    # A Korean question finds the English paragraph, and an English question the Korean one:
    # the Dokdo / comfort women paragraph is English ¶7 and Korean ¶6 (its original).
    en = retriever.search("위안부 문제와 독도 영유권 주장 때문에 한일 군사협력이 어려운가?", k=3,
                          language="en")
    assert en and en[0].article.id == SEED and en[0].paragraph.language == "en"
    assert en[0].paragraph.position == 7 and "Dokdo" in en[0].paragraph.text
    assert [p.position for p in en[0].aligned] == [6]
    ko = retriever.search("Why do the comfort women issue and the Dokdo claim block "
                          "Korea-Japan military cooperation?", k=3, language="ko")
    assert ko and ko[0].article.id == SEED and ko[0].paragraph.language == "ko"
    assert ko[0].paragraph.position == 6 and "독도" in ko[0].paragraph.text
    assert [p.position for p in ko[0].aligned] == [7]


def test_the_index_stores_sentence_terms_and_answers_trim_with_them(retriever: Retriever) -> None:
    # Sentence-level keyword evidence is stored with the generation and used twice: ranking
    # (candidates carry it) and trimming (per-sentence coverage, no tokenising at answer time).
    from embeddings.answer import answer_question
    from embeddings.sentences import split_sentences

    assert retriever.sentence_terms is not None
    question = "한·미·일 군사협력이 한반도를 넘어 확대되면 어떤 문제가 있나?"
    trace = SearchTrace()
    answer, hits = answer_question(retriever, question, trace=trace)
    assert hits and hits[0].article.id == SEED and hits[0].paragraph.language == "ko"
    assert all(c.sentence_share is not None for c in trace.candidates)
    best = max(trace.candidates, key=lambda c: c.sentence_share or 0.0)
    assert 0.0 < (best.sentence_share or 0.0) <= 1.0
    paragraph = hits[0].paragraph
    coverage = retriever.sentence_coverage_of(paragraph, question)
    sentences = split_sentences(paragraph.text, "ko")
    assert coverage is not None and len(coverage) == len(sentences)
    # Korean ¶4 is long: its quote is trimmed, and keeps the sentence that answers (the
    # South China Sea / Taiwan Strait contingency), not only the one echoing the question.
    assert paragraph.position == 4 and len(sentences) > retriever.settings.answer.max_sentences
    assert "대만해협" in answer.quotes[0] and answer.quotes[0] != paragraph.text


def test_alignment_arrays_agree_with_the_snapshot_table(retriever: Retriever) -> None:
    # The generation stores alignments twice: arrays (what searches read) and the SQLite
    # table (what a generation written before the arrays is read from). They must agree.
    import json

    snapshot = retriever.snapshot
    numbers = list(range(len(snapshot)))
    from_arrays = snapshot.aligned_numbers(numbers)
    rows = snapshot._db.execute("SELECT n, other FROM aligned").fetchall()
    from_table = {n: json.loads(other) for n, other in rows}
    assert from_arrays == from_table and len(from_table) > 10
    assert snapshot.aligned_numbers([]) == {}


def test_every_candidate_carries_the_companion_cosine(retriever: Retriever) -> None:
    # The companion model (USE multilingual v3) scores each candidate and its translation;
    # the mango paragraph's English side is its best match for this Korean question.
    assert retriever.companion is not None
    trace = SearchTrace()
    retriever.search("제주 감귤 농가는 왜 망고를 심나요?", k=2, trace=trace)
    assert trace.candidates and all(c.companion is not None for c in trace.candidates)
    by_id = {c.id: c for c in trace.candidates}
    mango = [c for c in trace.candidates if c.language == "en"
             and "mango" in retriever.snapshot.paragraphs([c.id])[c.id].text]
    assert mango
    best_english = max((c for c in trace.candidates if c.language == "en"),
                       key=lambda c: c.companion or -1.0)
    assert best_english.id in {c.id for c in mango}
    # Each aligned candidate's counterpart cosine is its translation's own cosine.
    for c in trace.candidates:
        partners = [m for m in trace.aligned.get(c.id, ()) if m in by_id]
        if partners:
            assert c.counterpart_companion == pytest.approx(
                max(by_id[m].companion or -1.0 for m in partners))
    assert trace.evidence is not None and trace.evidence.companion > trace.evidence.companion_gap


def test_the_keyword_side_is_computed_beside_the_encoding(retriever: Retriever) -> None:
    # encode_query scores the question's keywords while e5 encodes it; the search that
    # follows reads them instead of scoring again, and finds what a search scoring them
    # itself finds.
    question = "What did Biden emphasise at the NATO summit?"
    cache = retriever._keyword_side
    cache.cache_clear()
    vector = retriever.encode_query(question)
    assert cache.cache_info().misses == 1 and cache.cache_info().currsize == 1
    beside = SearchTrace()
    hits = retriever.search(question, k=3, query_vector=vector, trace=beside)
    assert cache.cache_info().hits == 1 and cache.cache_info().misses == 1
    cache.cache_clear()
    inside = SearchTrace()
    assert retriever.search(question, k=3, query_vector=vector, trace=inside) == hits
    assert cache.cache_info().misses == 1
    assert beside.candidates == inside.candidates and beside.probability == inside.probability
    # A search in one language ranks the keyword side's candidates for it: its own entry.
    retriever.search(question, k=3, language="ko", query_vector=vector)
    assert cache.cache_info().misses == 2
    # The answer's trimming (of a long paragraph) reads the question's words from the
    # scores its search made.
    for each in (cache, retriever._question_scores, retriever._question_terms):
        each.cache_clear()
    long = "  Why is it so difficult to expand the scope of cooperation among Korea, the U.S. and Japan? "
    answer, _ = answer_question(retriever, long)
    assert answer.found and "…" in answer.quotes[0]  # trimmed
    assert retriever._question_terms.cache_info().misses == 1
    assert retriever._question_scores.cache_info().misses == 1


@pytest.mark.parametrize("right,wrong", [
    ("What happened at the trilateral summit on June 29?",
     "What happened at the trilateral summit on June 17?"),
    ("29일 한미일 정상회담에서 바이든은 뭘 강조했어?", "17일 한미일 정상회담에서 바이든은 뭘 강조했어?"),
])
def test_a_question_s_number_is_looked_up_in_the_passages(
        retriever: Retriever, right: str, wrong: str) -> None:
    # The summit paragraph says June 29 (29일): the question with that date meets it with
    # its anchor held, the one with another date with its anchor missing, and less likely
    # to be answered for it.
    held, lacking = SearchTrace(), SearchTrace()
    retriever.search(right, trace=held)
    retriever.search(wrong, trace=lacking)
    assert held.evidence is not None and lacking.evidence is not None
    assert held.evidence.anchor_gap == 0.0 and lacking.evidence.anchor_gap == 1.0
    assert lacking.probability < held.probability
    # Only the best-ranked candidates are read (the rule asks for nothing deeper).
    read = [c for c in lacking.candidates if c.anchor is not None]
    assert 0 < len(read) <= fusion.ANCHOR_DEPTH < len(lacking.candidates)


def test_an_anchor_in_the_article_title_is_held_by_its_paragraphs(retriever: Retriever) -> None:
    # A section names its subject in the title only: the seed's Korean paragraphs never write
    # "US" (they say 미국), its title does. A Korean question's Latin word is an anchor.
    trace, other = SearchTrace(), SearchTrace()
    retriever.search("US는 한미일 협력에서 뭘 원해?", trace=trace)
    retriever.search("UN은 한미일 협력에서 뭘 원해?", trace=other)
    assert trace.evidence is not None and other.evidence is not None
    first = next(c for c in trace.candidates if c.anchor is not None and c.language == "ko")
    text = retriever.snapshot.paragraphs([first.id])[first.id].text
    assert "US" not in text and first.anchor == 1.0
    assert trace.evidence.anchor_gap == 0.0 and other.evidence.anchor_gap == 1.0


def test_an_acronym_is_held_by_a_translation_that_spells_it_out(
        tmp_path: Path, shared_model_dir: Path, index_encoder: Any,  # noqa: F811 - fixtures
        warm_cache: Path) -> None:  # noqa: F811
    # The evaluation's economic-security article never writes "IRA": its Korean paragraph
    # says 인플레이션 감축법, its translation "the Inflation Reduction Act". A Korean question
    # naming the act by its acronym keeps its anchor through the spelled-out words.
    corpus = make_corpus(tmp_path / "articles", extra=False)
    article = REPO / "eval" / "distractors" / "chips-ira.md"
    assert "IRA" not in article.read_text(encoding="utf-8").replace("chips-ira", "")
    (corpus / article.name).write_text(article.read_text(encoding="utf-8"), encoding="utf-8")
    settings = settings_for(tmp_path, shared_model_dir, corpus, warm_cache=warm_cache)
    refresh(settings, encoder=index_encoder, show_progress=False)
    retriever = Retriever.load(settings, index_encoder)
    trace = SearchTrace()
    hits = retriever.search("IRA 때문에 한국 배터리 업체들이 어디에 공장을 짓고 있어?", trace=trace)
    assert trace.evidence is not None and trace.evidence.anchor_gap == 0.0
    assert hits and hits[0].article.id == "eval-chips-and-subsidies"
    assert "인플레이션 감축법" in hits[0].paragraph.text


def test_an_anchor_in_the_translation_is_held_by_the_paragraph(retriever: Retriever) -> None:
    # The Korean paragraph writes 북대서양조약기구(나토), its English translation "NATO": a
    # paragraph and its translation are one answer, so the question keeps its anchor.
    trace = SearchTrace()
    hits = retriever.search("NATO 정상회의 때 한미일 정상회담에서 무슨 일이 있었나?", trace=trace)
    assert trace.evidence is not None and trace.evidence.anchor_gap == 0.0
    assert hits and hits[0].article.id == SEED and "나토" in hits[0].paragraph.text


REPEATED = "The overnight ferry between Mokpo and Jeju resumed service this week after a two-year pause."


def _ferry_article(slug: str, title: str, others: tuple[str, str]) -> str:
    return (f'+++\nid = "{slug}"\ntitle = "{title}"\noutlet = "Test Daily"\n'
            f"published = 2023-03-02\n+++\n\n{REPEATED}\n\n{others[0]}\n\n{others[1]}\n")


def test_a_paragraph_repeated_in_another_article_is_quoted_once(
        tmp_path: Path, shared_model_dir: Path, index_encoder: Any) -> None:  # noqa: F811 - fixtures
    # Two articles share one paragraph (too little for the corpus to merge them): both
    # copies rank alike, and the answer shows the text once, not twice from two sources.
    corpus = tmp_path / "articles"
    corpus.mkdir()
    (corpus / "a.md").write_text(_ferry_article("ferry-a", "Night Ferries Return to Mokpo", (
        "Passengers said the cabins were crowded but cheaper than flying.",
        "The operator plans a second ship for the summer season.")), encoding="utf-8")
    (corpus / "b.md").write_text(_ferry_article("ferry-b", "Island Transport in Brief", (
        "A new bridge to Sinan county opened to cars in the spring.",
        "Bus fares on Jeju rose for the first time in eight years.")), encoding="utf-8")
    settings = settings_for(tmp_path, shared_model_dir, corpus)
    wide = dataclasses.replace(settings, retrieval=dataclasses.replace(
        settings.retrieval, min_score=1e-30))
    assert refresh(wide, encoder=index_encoder, show_progress=False).articles == 2
    hits = Retriever.load(wide, index_encoder).search(
        "When did the overnight ferry between Mokpo and Jeju resume?", k=4)
    texts = [h.paragraph.text for h in hits]
    assert texts.count(REPEATED) == 1 and texts[0] == REPEATED
    assert len(hits) > 1  # the other paragraphs are still quoted: only the repeat is dropped
