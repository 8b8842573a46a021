"""Fusion, question scaffolding and the no-answer rule on controlled evidence.

The real-model checks (the rules on a real index, figures on the evaluation sets) are in
test_retriever and test_eval; here each rule is pinned down on numbers we choose.
"""

from __future__ import annotations

import dataclasses

import pytest

from embeddings import fusion
from embeddings.fusion import Candidate, Evidence, baseline, fuse, relevance
from embeddings.question import anchor_terms, question_language, topic_terms, without_scaffolding
from embeddings.tokenize import anchor_finder


def test_question_language_is_the_one_detector() -> None:
    assert question_language("독도는 누구 땅인가?") == "ko"
    assert question_language("Who owns Dokdo?") == "en"
    assert question_language("NATO 정상회의에서 Biden은 무엇을 말했나") == "ko"
    assert question_language("") == "en" and question_language("???") == "en"


@pytest.mark.parametrize("question, topic", [
    ("What does the author say about Dokdo?", ["dokdo"]),
    ("Does the article mention the Taiwan Strait?", ["taiwan", "strait"]),
    ("what's the columnist's take on japan", ["japan"]),
    ("According to the writer, why did Biden visit?", ["biden", "visit"]),
    ("필자는 독도에 대해 뭐라고 해?", ["독도"]),
    ("글쓴이는 독도에 대해 어떻게 생각해?", ["독도"]),
    ("이 칼럼에 대만해협 얘기 나와?", ["대만", "해협"]),
])
def test_scaffolding_never_counts_against_a_question(question: str, topic: list[str]) -> None:
    assert topic_terms(question) == topic


def test_a_question_of_scaffolding_only_keeps_its_words() -> None:
    # Nothing would be left: an empty query must not match everything (or nothing).
    assert topic_terms("What does the author say?") != []
    assert without_scaffolding("What does the author say?") == "What does the author say?"


@pytest.mark.parametrize("question, text", [
    ("What does the author say about Dokdo?", "What does the say about Dokdo?"),
    ("이 칼럼에 대만해협 얘기 나와?", "이 대만해협"),
    ("기사에 위안부 문제 언급 있어?", "위안부 문제"),
    ("Why did Biden visit Seoul?", "Why did Biden visit Seoul?"),
])
def test_the_companion_sees_the_question_without_its_scaffolding(question: str, text: str) -> None:
    # Words whose every token only says how the question is asked go; the rest stays as written.
    assert without_scaffolding(question) == text


def test_counterpart_evidence_is_pooled() -> None:
    # "Kishida" matches only one English translation: its Korean original borrows the share
    # (the other Korean paragraph's translation holds no match), and an English paragraph
    # borrows its Korean original's cosine.
    cands = [Candidate(5, "ko", dense=0.80, counterpart_dense=0.79, counterpart_share=1.0),
             Candidate(1, "ko", dense=0.82, counterpart_dense=0.80)]
    assert [i for i, _ in fuse(cands)] == [5, 1]
    assert [i for i, _ in fuse(cands, "dense")] == [1, 5]
    cross = [Candidate(6, "en", dense=0.78, counterpart_dense=0.88), Candidate(2, "en", dense=0.80)]
    assert fuse(cross)[0][0] == 6


def test_ties_from_a_shared_translation_go_to_the_paragraph_own_evidence() -> None:
    # English ¶5 and ¶6 are both aligned with Korean ¶5 (a 2–1 bead) and borrow the same
    # cosine; ¶6 says more itself and must rank first.
    five = Candidate(5, "en", dense=0.769, counterpart_dense=0.83)
    six = Candidate(6, "en", dense=0.814, counterpart_dense=0.83)
    assert [i for i, _ in fuse([five, six])] == [6, 5]


def test_anchor_methods() -> None:
    cands = [Candidate(1, "en", dense=0.9, keyword=1.0, dense_rank=1, keyword_rank=3),
             Candidate(2, "en", dense=0.8, keyword=5.0, dense_rank=2, keyword_rank=1),
             Candidate(3, "en", dense=0.7, keyword=3.0, keyword_rank=2)]
    rrf = dict(fuse(cands, "rrf"))
    assert rrf[1] == pytest.approx(1 / 61 + 1 / 63)
    assert [i for i, _ in fuse(cands, "keyword")] == [2, 3, 1]
    assert fuse([]) == []
    with pytest.raises(ValueError):
        fuse(cands, "nope")


def ev(language: str = "en", dense: float = 0.82, gap: float = 0.03, share: float = 0.2,
       margin: float = 0.005, companion: float = 0.35, companion_gap: float = 0.15) -> Evidence:
    """Evidence with one passage standing for the question: its sentence a little closer
    than its paragraph, the first-ranked passage the best one (on both models)."""
    return Evidence(language, dense=dense, gap=gap, same=share, cross=0.0, margin=margin,
                    relative_margin=margin, top_share=share, top_gap=gap,
                    sentence=dense + 0.01, paragraph=dense - 0.01, companion=companion,
                    companion_gap=companion_gap, top_companion=companion_gap,
                    companion_margin=margin)


def test_relevance_grows_with_each_piece_of_evidence() -> None:
    p = relevance(ev())
    assert 0.0 < p < 1.0
    assert relevance(ev(dense=0.86)) > p  # a closer passage
    assert relevance(ev(share=0.9)) > p  # the question's rare words found
    # Standing out from the question's baseline: e5's for a Korean question (for an English
    # one the fit on tune gives that to the companion's baseline, below).
    assert relevance(ev("ko", gap=0.08)) > relevance(ev("ko"))
    assert relevance(ev(margin=0.03)) > p  # one passage clearly first
    # The companion model finds the passage far closer than the rest (a translation).
    assert relevance(dataclasses.replace(ev(), companion=0.7, companion_gap=0.45,
                                         top_companion=0.45, companion_margin=0.3)) > p


def test_korean_cosines_need_more_to_count() -> None:
    # e5 gives Korean text higher cosines: the same evidence counts for less in Korean.
    assert relevance(ev("ko")) < relevance(ev("en"))


def test_the_rule_separates_clear_cases() -> None:
    t = fusion.RELEVANCE_THRESHOLD
    # A named passage well above the question's baseline on both models: answered, in both
    # languages.
    clear = {"share": 1.0, "margin": 0.03, "companion": 0.6, "companion_gap": 0.4}
    assert relevance(ev("en", dense=0.86, gap=0.08, **clear)) >= t
    assert relevance(ev("ko", dense=0.90, gap=0.08, **clear)) >= t
    # Nothing stands out and no rare word is found: refused, in both languages.
    none = {"share": 0.0, "margin": 0.0, "companion": 0.25, "companion_gap": 0.05}
    assert relevance(ev("en", dense=0.79, gap=0.01, **none)) < t
    assert relevance(ev("ko", dense=0.83, gap=0.01, **none)) < t


def test_missing_words_count_against_a_passage_that_could_hold_them() -> None:
    # An English passage whose best two sentences hold a fifth of the question's words: a
    # neighbouring story on the same topic, not the answer.
    scattered = Candidate(1, "en", dense=0.85, share=0.2, sentence_share=0.2, centre=0.79)
    assert fusion.coverage_gap(scattered, "en") == pytest.approx(0.8)
    # A Korean paragraph without a translation cannot hold an English question's words:
    # no evidence either way.
    other = Candidate(2, "ko", dense=0.85, centre=0.79)
    assert fusion.coverage_gap(other, "en") == 0.0
    # With an English translation it can: the translation's coverage counts.
    translated = Candidate(3, "ko", dense=0.85, centre=0.79, counterpart_dense=0.84,
                           counterpart_share=0.9, counterpart_sentence_share=0.9)
    assert fusion.coverage_gap(translated, "en") == pytest.approx(0.1)
    # Only an English question's gap counts (Korean words often differ in form from the
    # answering passage's: compounds, 데뷔작 / 데뷔), and it lowers the probability.
    full = fusion.Judge([Candidate(1, "en", dense=0.85, share=0.9, sentence_share=1.0,
                                   centre=0.79)], "en").question
    gappy = fusion.Judge([scattered], "en").question
    assert gappy.coverage_gap > full.coverage_gap == 0.0
    assert relevance(dataclasses.replace(full, coverage_gap=0.8)) < relevance(full)
    korean = dataclasses.replace(full, language="ko")
    assert relevance(dataclasses.replace(korean, coverage_gap=0.8)) == relevance(korean)


def test_words_the_corpus_never_saw_count_against_a_question_in_both_languages() -> None:
    # The question's share of rare words no indexed paragraph holds (a left-out article's
    # names) lowers the probability, for a passage that could hold them; a Korean paragraph
    # without a translation cannot hold an English question's words: no evidence.
    english = Candidate(1, "en", dense=0.85, share=0.9, sentence_share=1.0, centre=0.79,
                        unknown=0.6)
    korean_only = Candidate(2, "ko", dense=0.85, centre=0.79, unknown=0.6)
    assert fusion.Judge([english], "en").question.unknown == pytest.approx(0.6)
    assert fusion.Judge([korean_only], "en").question.unknown == 0.0
    for language in ("en", "ko"):
        known = fusion.Judge([dataclasses.replace(english, language=language, unknown=0.0)],
                             language).question
        assert relevance(dataclasses.replace(known, unknown=0.6)) < relevance(known)


@pytest.mark.parametrize("question,anchors", [
    ("삼성 갤럭시 S8의 색상 종류는 총 몇 종인가?", ["s8"]),
    ("2009년 KBS 연기대상에서 김태희는 무슨 상을 받았나?", ["2009", "kbs"]),
    # However a number is punctuated, its digit runs are read alike: 5.18 and 5·18.
    ("5.18 특별법을 제정한 날은 언제인가?", ["18", "5"]),
    ("５·１８ 특별법", ["18", "5"]),
    ("2007.05에 무슨 일이 있었나?", ["2007", "5"]),
    # An English question counts its numbers only: every English word is Latin script.
    ("What happened at the 2022 NATO summit?", ["2022"]),
    ("What does the author say about Dokdo?", []),
    # A link is an address, not something a passage would say.
    ("https://example.com/2022/07/column.html 이 칼럼 요약해줘", []),
    ("필자는 독도에 대해 뭐라고 해?", []),
])
def test_a_question_s_anchors_are_its_numbers_and_in_korean_its_latin_words(
        question: str, anchors: list[str]) -> None:
    assert anchor_terms(question) == anchors


def test_anchors_are_found_as_whole_runs_however_a_number_is_written() -> None:
    held = anchor_finder(["2009", "kbs", "s8", "5", "18"])
    assert held("KBS 연기대상(2009년), 갤럭시 S8+, 5·18 특별법") == {"2009", "kbs", "s8", "5", "18"}
    assert held("05월, ２００９년, kbs") == {"5", "2009", "kbs"}  # leading zeros, full width, case
    assert held("S80, 20090, 518, 2009a, KBS2") == set()  # a longer run is another anchor
    assert anchor_finder([])("2009") == set()


def test_an_acronym_is_held_where_a_text_spells_it_out() -> None:
    # "IRA 때문에 …" against a passage and translation that write 인플레이션 감축법 /
    # Inflation Reduction Act: the English spells out what the question abbreviates.
    held = anchor_finder(["ira", "thaad", "nato", "us", "2022"])
    assert held("because the Inflation Reduction Act pays tax credits") == {"ira"}
    assert held("Terminal High-Altitude Area Defense") == {"thaad"}  # a hyphen joins words too
    assert held("the North Atlantic Treaty Organization") == {"nato"}
    assert held("NATO and the IRA in 2022") == {"nato", "ira", "2022"}
    # Capitalised words only, in sequence, and three letters at least: a headline's two
    # capitalised words would spell some two-letter word.
    assert held("in real action; Inflation, Reduction Act; inflation reduction act") == set()
    assert held("the United States") == set()


def test_a_passage_lacking_the_question_s_anchors_counts_against_it() -> None:
    # A passage in the question's language holding half of its anchors' weight; one in the
    # other language without a translation cannot hold them (no evidence); a question with
    # no anchors (NaN) has no gap at all.
    half = Candidate(1, "ko", dense=0.85, share=0.9, sentence_share=1.0, centre=0.79,
                     anchor=0.5)
    other = Candidate(2, "en", dense=0.85, centre=0.79, anchor=0.0)
    translated = Candidate(3, "en", dense=0.85, centre=0.79, counterpart_dense=0.84,
                           counterpart_share=0.9, anchor=0.0, counterpart_anchor=1.0)
    none = dataclasses.replace(half, anchor=None)
    # A paragraph and its translation are one answer: the Korean text writes 나토 where its
    # English translation writes NATO.
    transliterated = dataclasses.replace(half, anchor=0.0, counterpart_dense=0.84,
                                         counterpart_anchor=1.0)
    gaps = fusion.Columns.of([half, other, translated, none, transliterated]).anchor_gap("ko")
    assert gaps.tolist() == pytest.approx([0.5, 0.0, 0.0, 0.0, 0.0])
    assert fusion.Judge([half], "ko").question.anchor_gap == pytest.approx(0.5)
    # In both languages a missing anchor lowers the probability, the passage's own too.
    for language in ("en", "ko"):
        held = fusion.Judge([dataclasses.replace(half, language=language, anchor=1.0)],
                            language)
        assert held.question.anchor_gap == 0.0
        assert relevance(dataclasses.replace(held.question, anchor_gap=1.0)) \
            < relevance(held.question)
        lacking = fusion.Judge([dataclasses.replace(half, language=language, anchor=0.0)],
                               language)
        assert lacking.passage(1).anchor_gap == 1.0
        assert relevance(lacking.passage(1)) < relevance(held.passage(1))


def test_evidence_is_judged_against_its_own_language() -> None:
    # A Korean question: the Korean paragraph's raw cosine is higher, but the English
    # translation of the answer stands further above the English baseline.
    ko = Candidate(1, "ko", dense=0.86, centre=0.84)
    en = Candidate(2, "en", dense=0.83, centre=0.78)
    assert [i for i, _ in fuse([ko, en], asked_in="ko")] == [2, 1]
    assert [i for i, _ in fuse([ko, en], "dense")] == [1, 2]


def test_baseline_is_the_median_of_the_question_cosines() -> None:
    assert baseline([0.9, 0.8, 0.7]) == pytest.approx(0.8)
    assert baseline([0.9, 0.8, 0.7, 0.6]) == pytest.approx(0.75)
    assert baseline([]) == 0.0
    assert baseline([1.0] * 10 + [0.5] * 100) == 0.5  # only the best BASELINE_CANDIDATES


def test_a_passage_is_judged_on_its_own_evidence() -> None:
    strong = Candidate(1, "en", dense=0.87, share=1.0, centre=0.78)
    weak = Candidate(2, "en", dense=0.80, share=0.0, centre=0.78)
    judge = fusion.Judge([strong, weak], "en")
    t = fusion.RELEVANCE_THRESHOLD
    assert relevance(judge.question) >= t
    assert relevance(judge.passage(strong)) >= t
    assert relevance(judge.passage(weak)) < t


def test_the_companion_cosine_counts_from_either_side() -> None:
    # A Korean paragraph whose English translation the companion model matches best.
    c = Candidate(1, "ko", dense=0.8, companion=0.2, counterpart_companion=0.7, companion_centre=0.25)
    assert c.companion_best == pytest.approx(0.7)
    assert c.companion_evidence == pytest.approx(0.45)
    # Without companion vectors there is no evidence either way.
    assert Candidate(2, "en", dense=0.8, companion_centre=0.3).companion_evidence == 0.0
    # Equal e5 evidence: the companion's match ranks first.
    other = Candidate(3, "ko", dense=0.8, companion=0.3, companion_centre=0.25)
    assert fusion.COMPANION_WEIGHT > 0
    assert [i for i, _ in fuse([other, c], asked_in="ko")] == [1, 3]
