"""Fusion and the no-answer rule on controlled candidates (the real-model checks are in test_eval)."""

from __future__ import annotations

import pytest

from embeddings.fusion import (
    RELEVANCE_THRESHOLD, Candidate, calibrated_dense, coverage, detect_language, fuse, is_relevant,
)


def test_detect_language() -> None:
    assert detect_language("독도는 누구 땅인가?") == "ko"
    assert detect_language("Who owns Dokdo?") == "en"
    assert detect_language("NATO 정상회의에서 Biden은 무엇을 말했나") == "ko"
    assert detect_language("") == "en"


def test_counterpart_keyword_lifts_korean_passage_for_english_name() -> None:
    # "Kishida" matches only the English paragraph; its Korean original borrows that score.
    cands = [
        Candidate("ko5", "ko", dense=0.80, keyword=None, counterpart_keyword=4.0),
        Candidate("ko1", "ko", dense=0.82, keyword=None, counterpart_keyword=0.0),
    ]
    assert [i for i, _ in fuse("Kishida", "en", cands)] == ["ko5", "ko1"]
    assert [i for i, _ in fuse("Kishida", "en", cands, method="dense")] == ["ko1", "ko5"]


def test_counterpart_dense_helps_cross_language() -> None:
    cands = [
        Candidate("en6", "en", dense=0.78, counterpart_dense=0.88),
        Candidate("en2", "en", dense=0.80),
    ]
    ranked = fuse("일본 총리는 무엇을 말했나", "ko", cands)
    assert ranked[0][0] == "en6"


def test_weak_keyword_match_does_not_override_dense() -> None:
    cands = [Candidate("a", "en", dense=0.90, keyword=0.2), Candidate("b", "en", dense=0.80, keyword=0.3)]
    assert fuse("q", "en", cands)[0][0] == "a"


def test_rrf_and_single_sides() -> None:
    cands = [Candidate("a", "en", dense=0.9, keyword=1.0), Candidate("b", "en", dense=0.8, keyword=5.0),
             Candidate("c", "en", dense=None, keyword=3.0)]
    rrf = dict(fuse("q", "en", cands, method="rrf"))
    assert rrf["a"] == pytest.approx(1 / 61 + 1 / 63)
    assert [i for i, _ in fuse("q", "en", cands, method="keyword")] == ["b", "c", "a"]
    assert fuse("q", "en", []) == []
    with pytest.raises(ValueError):
        fuse("q", "en", cands, method="nope")


def test_relevance_rule() -> None:
    assert is_relevant([Candidate("a", "en", dense=RELEVANCE_THRESHOLD + 0.01)])
    assert not is_relevant([Candidate("a", "en", dense=0.70, keyword=2.0, coverage=1.0)])
    # Moderate cosine: relevant only with keyword coverage of the question.
    assert is_relevant([Candidate("a", "en", dense=0.785, keyword=1.1, coverage=1.0)])
    assert not is_relevant([Candidate("a", "en", dense=0.785, keyword=1.3, coverage=0.25)])
    assert not is_relevant([])
    assert calibrated_dense(None) == 0.0 and calibrated_dense(1.0) == 1.0


def test_coverage() -> None:
    assert coverage(["dokdo"], ["Japan's claim to sovereignty over Dokdo."]) == 1.0
    # One stray shared word of a several-word question is chance, not coverage.
    assert coverage(["강아지", "훈련"], ["연합군사훈련은 미국이 요구해왔던 사안이다."]) == 0.0
    assert coverage(["내일", "날씨"], ["새 규제를 견뎌야 할 날씨처럼 여길 것이 아니다."]) == 0.0
    assert coverage(["comfort", "women", "dokdo"],
                    ["the comfort women issue and Japan's claim"]) == 2 / 3
    assert coverage([], ["x"]) == 0.0
