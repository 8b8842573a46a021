"""What a question is about, once the way it is asked is set aside.

On a commentary server the natural way to ask is about *the text*: "What does the author say
about Dokdo?", "Does the article mention the Taiwan Strait?", "글쓴이는 독도에 대해 뭐라고 해?",
"이 칼럼에 대만해협 얘기 나와?". Those words (author, article, column, 필자, 글쓴이, 기사, say,
mention, 뭐라고, 나와) describe the act of asking about a document, never its topic, so they
must not count against a question: the keyword side and the no-answer rule's term coverage
see the question without them. The dense side keeps the whole question (one encoding; e5
was trained on natural questions and handles the phrasing itself).

The rule is a closed list of *meta* words — nouns for a text and its writer, verbs of saying
and mentioning, question words — not phrases from our question sets, which is why it holds on
other articles: whatever a column is about, a question about it is phrased with these.
"""

from __future__ import annotations

import re

from corpus.lang import detect_language
from embeddings.tokenize import HANGUL, anchor_runs, korean_tags, tokenize

# Tokens as `embeddings.tokenize` produces them (English lowercased and lightly stemmed,
# Korean content morphemes). English: nouns for the text and its writer, verbs of saying.
_SCAFFOLD_EN = frozenset(tokenize(
    "author authors writer writers article articles column columns columnist piece op ed "
    "editorial essay commentary text post story op-ed "
    "say says said saying mention mentions mentioned talk talks discuss discusses "
    "think thinks view views take opinion opinions write writes wrote written argue argues "
    "claim according tell me please anything something explain describe describes "
    "per thing things"))
# Korean content morphemes (kiwipiepy) of the same kinds: 필자 "the writer", 글쓴이, 저자,
# 기사 "article", 칼럼, 사설, 글 "text", 얘기/이야기 "talk", 언급 "mention", 내용 "content",
# 뭐/무엇 "what", 어떻게 "how", 나오 "appear", 말하 "say", 생각 "think", 보 "see",
# 대하 ("about", from 대해), 하/있 (light verbs).
_SCAFFOLD_KO = frozenset(
    "필자 글쓴이 저자 작가 칼럼 칼럼니스트 기사 사설 글 얘기 이야기 언급 내용 뭐 무엇 어떻게 "
    "나오 말하 말 생각 보 대하 하 있 알리 설명 요약 주 어떤".split())
SCAFFOLD = _SCAFFOLD_EN | _SCAFFOLD_KO


_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)


def question_language(question: str) -> str:
    """"ko" or "en" for a question (the one language detector; text without letters is "en")."""
    return detect_language(question) or "en"


def topic_terms(question: str) -> list[str]:
    """The question's keyword tokens without the scaffolding (see the module docstring).

    A question made only of scaffolding ("What does the author say?") keeps its tokens:
    an empty query would match nothing rather than everything.
    """
    tokens = tokenize(question)
    kept = [t for t in tokens if t not in SCAFFOLD]
    return kept or tokens


def anchor_terms(question: str) -> list[str]:
    """The question's exact anchors, distinct and sorted: its numbers (a year, a date, a
    count, a model number) and, asked in Korean, its words in Latin script (S8, KBS,
    IMX333), as ``tokenize.anchor_runs`` reads them (a link in the question is not read). A
    passage that answers it writes them as the question does, or its translation does.

    A Korean noun may be segmented otherwise in the question than in the passage (데뷔작 /
    데뷔), which is why the coverage gap is left out for Korean questions; a run of digits or
    Latin letters is not analysed at all, so it is in the passage or it is not. A passage
    that lacks the question's year or model number is about another event or product: the
    typical off-corpus question meets its topic's neighbour (another year's award, the
    previous model).
    """
    text = _URL.sub(" ", question)  # an address, not something a passage would say
    return sorted(anchor_runs(text, latin=question_language(question) == "ko"))


def without_scaffolding(question: str) -> str:
    """The question's words less those that only say how it is asked (every keyword token of
    the word is scaffolding: "author", "칼럼에", "나와?"); function words stay, so it still
    reads as a question. What an encoder that weighs every word alike sees (the companion,
    ``embeddings.companion``, averages its n-grams: in "이 칼럼에 대만해협 얘기 나와?" three of
    five words would be about asking). A question of scaffolding only is kept whole.
    """
    words = question.split()
    tokens = [tokenize(w) for w in words]
    # A word says something about the topic when one of its tokens is not scaffolding.
    topical = [any(x not in SCAFFOLD for x in t) for t in tokens]
    if not any(topical):
        return question
    return " ".join(w for w, t, keep in zip(words, tokens, topical, strict=True) if keep or not t)


# Kiwi tags of name-like Korean morphemes: proper nouns, foreign words, Chinese characters,
# numbers.
_NAME_TAGS = frozenset({"NNP", "SL", "SH", "SN"})


def looks_like_name(question: str) -> bool:
    """True when the question's Korean topic words are all names (proper nouns, foreign
    words, numbers): "기시다 후미오", "독도" (NNP), "SK하이닉스" — not "내일 날씨 어때?".
    A question without Hangul is judged by its length alone (``fusion.NAME_TERMS``)."""
    if not HANGUL.search(question):
        return True
    content = [(form, tag) for form, tag in korean_tags(question)
               if tag in {"NNG", "NNP", "NR", "NP", "VV", "VA", "XR", "SL", "SH", "SN"}
               and form not in SCAFFOLD]
    return bool(content) and all(tag in _NAME_TAGS for _, tag in content)
