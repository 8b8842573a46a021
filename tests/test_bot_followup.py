"""The follow-up rule (``bot.followup``) on the question/follow-up pairs of
``eval/followups.jsonl`` (the retrieval effect is measured by ``python -m eval.followups``)."""

from __future__ import annotations

from bot.followup import leans_on_context, search_text
from eval.followups import load_pairs

# Follow-ups a person reads as leaning on the question that the rule takes as standalone:
# no marker, pronoun or ellipsis, and longer than three words (the definite "the last
# round" is what carries the reference). Listed, so a change in the rule shows here.
KNOWN_MISSES = {"How did the last round end?", "Did Japanese companies pay?", "지난 협상은 어떻게 끝났나?"}


def test_rule_on_the_pairs():
    pairs = load_pairs()
    assert len(pairs) >= 20 and {p.lang for p in pairs} == {"en", "ko"}
    wrong = {p.followup for p in pairs if leans_on_context(p.followup) != p.leans}
    assert wrong == KNOWN_MISSES
    # Never the other way: a standalone question is never mixed with the thread's.
    assert not any(leans_on_context(p.followup) for p in pairs if not p.leans)


def test_markers_pronouns_ellipsis_and_short():
    for text in ("what about Japan?", "And the U.S.?", "tell me more", "Is that true?",
                 "why?", "그럼 일본은?", "미국이라면?", "더 자세히", "그건 왜 그런가?", "왜?"):
        assert leans_on_context(text), text
    for text in ("Why do the plaintiffs refuse the money from the Korean foundation?",
                 "강제동원 배상안에 일본 기업이 돈을 냈나?", "", "   "):
        assert not leans_on_context(text), text


def test_search_text_uses_first_and_latest_question():
    assert search_text("why?", []) == "why?"
    assert search_text("why?", ["Q1"]) == "Q1 why?"
    assert search_text("why?", ["Q1", "Q2", "Q3"]) == "Q1 Q3 why?"
    standalone = "How many American troops are stationed in South Korea?"
    assert search_text(standalone, ["Q1"]) == standalone
