"""Keyword evidence ranks only paragraphs that can match the question's words (fusion)."""

from __future__ import annotations

from embeddings import fusion
from embeddings.fusion import Candidate


def _ranked(candidates: list[Candidate], asked_in: str) -> list[int]:
    return [i for i, _ in fusion.fuse(candidates, "pooled", asked_in)]


def test_a_translation_that_cannot_match_is_not_outranked_by_keyword_matches() -> None:
    # An English question; the answer is a Korean paragraph with no English translation in
    # the index (BM25 cannot see its words), beside English paragraphs sharing the
    # question's words but farther in meaning.
    answer = Candidate(id=1, language="ko", dense=0.85, sentence=0.855, centre=0.80)
    near = Candidate(id=2, language="en", dense=0.83, sentence=0.83, share=0.6, centre=0.80)
    far = Candidate(id=3, language="en", dense=0.82, sentence=0.82, share=0.2, centre=0.80)
    assert _ranked([answer, near, far], "en")[0] == 1
    # Between paragraphs that can match, the words still decide a near tie.
    assert _ranked([near, far], "en") == [2, 3]


def test_a_translation_matches_through_its_counterpart() -> None:
    # The same Korean paragraph *with* an English translation can be matched: the
    # translation's share counts for it like a paragraph of the asker's language.
    bilingual = Candidate(id=1, language="ko", dense=0.83, sentence=0.83, centre=0.80,
                          counterpart_dense=0.83, counterpart_sentence=0.83,
                          counterpart_share=0.7, counterpart_centre=0.80)
    other = Candidate(id=2, language="en", dense=0.84, sentence=0.84, share=0.0, centre=0.80)
    assert fusion.can_match(bilingual, "en") and fusion.can_match(other, "en")
    assert fusion.keyword_top([bilingual, other], "en") == 0.7
    assert _ranked([bilingual, other], "en")[0] == 1


def test_one_language_index_ranks_as_before_up_to_a_shift() -> None:
    # When every candidate can match (a Korean question over Korean paragraphs) the rule
    # is the plain weighted share: the order is what KEYWORD_WEIGHT × share gives.
    cands = [Candidate(id=i, language="ko", dense=0.85, sentence=0.85, share=s, centre=0.8)
             for i, s in enumerate((0.1, 0.9, 0.5))]
    scores = fusion.pooled_scores(cands, "ko")
    assert _ranked(cands, "ko") == [1, 2, 0]
    gap = scores[1] - scores[0]
    assert abs(gap - (fusion.KEYWORD_WEIGHT * 0.8) * (1 + fusion.OWN_WEIGHT)) < 1e-9


def test_the_judge_ranks_as_fuse_does() -> None:
    # The search takes its ranking from the no-answer rule's scores instead of fusing twice.
    cands = [Candidate(id=i, language=lang, dense=d, sentence=d, share=s, centre=0.8)
             for i, (lang, d, s) in enumerate((("en", 0.84, 0.2), ("ko", 0.86, 0.0),
                                                ("en", 0.84, 0.9), ("en", 0.83, 0.9)))]
    for asked_in in ("en", "ko"):
        assert fusion.Judge(cands, asked_in).ranking() == fusion.fuse(cands, "pooled", asked_in)
