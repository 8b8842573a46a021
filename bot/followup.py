"""Follow-ups in a thread: does a message lean on the thread's earlier question?

The rule is small and explainable, so a user can predict it. A follow-up leans on the
earlier question when it

1. opens with a continuation marker: "what about", "how about", "and", "tell me more",
   "what else", "그럼", "그러면", "그리고", "더 자세히", "그건", "또" …;
2. is an elliptical Korean question, a noun plus a topic/subject particle and a question
   mark ("일본은?", "미국이라면?");
3. refers back with a pronoun or demonstrative ("it", "they", "that", "this", "those",
   "그것", "그들", "이것", "그 문제", "이 협력" …); or
4. is very short (at most three words), too short to carry a topic of its own ("why?",
   "왜?", "more?").

A "why" or "how" question is not a follow-up by itself: "why do the plaintiffs refuse the
money?" carries its own topic; "why?" and "why is that?" are caught by rules 4 and 3.
A message matching none of these stands on its own and is searched alone. When it leans,
the search text is the thread's earlier question followed by the follow-up, so the topic
comes from the question and the new direction from the follow-up. The markers are
discourse words, not topic words: nothing here was fitted to the corpus (see
``eval/followups.py`` for the measured effect, and README).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_EN_OPENERS = (
    "what about", "how about", "and ", "and?", "how so", "tell me more", "more on",
    "what else", "anything else", "also ", "so ", "then ", "but why", "in what way",
    "can you explain", "explain", "elaborate", "go on", "such as", "for example", "like what",
)
_KO_OPENERS = (
    "그럼", "그러면", "그리고", "그래서", "그런데", "근데", "더 ", "더자세히", "자세히",
    "그건", "그것은", "그게", "또 ", "그 밖에", "그밖에", "예를 들면", "예를 들어", "구체적으로",
    "그 이유",
)
_EN_POINTERS = re.compile(
    r"\b(it|its|they|them|their|that|this|these|those|he|she|him|her|his|such|there)\b",
    re.IGNORECASE)
# Demonstratives as words of their own: "그 문제", not the particle in "기업이 돈을".
_KO_POINTERS = re.compile(
    r"(?<![가-힣])(그것|그거|이것|이거|그들|그는|그녀|이들|그 [가-힣]+|이 [가-힣]+|거기|그곳)")
# "일본은?", "미국이라면?", "중국의 입장은?": a short noun phrase ending in a particle.
_KO_ELLIPSIS = re.compile(r"^[가-힣A-Za-z0-9·\s]{1,20}(은|는|이|가|의 경우|이라면|라면|은요|는요)\s*\?*$")
SHORT_WORDS = 3


def _words(text: str) -> list[str]:
    return re.findall(r"[\w'’·-]+", text)


def leans_on_context(text: str) -> bool:
    """Whether ``text``, a message in a thread, needs the thread's earlier question."""
    plain = " ".join(text.split()).strip()
    lowered = plain.lower()
    if not plain:
        return False
    if lowered.startswith(_EN_OPENERS) or plain.startswith(_KO_OPENERS):
        return True
    if _KO_ELLIPSIS.match(plain):
        return True
    if _EN_POINTERS.search(plain) or _KO_POINTERS.search(plain):
        return True
    return len(_words(plain)) <= SHORT_WORDS


def search_text(followup: str, earlier: Sequence[str]) -> str:
    """What to search for ``followup``: alone, or after the thread's earlier question(s).

    ``earlier`` is oldest first; only the first (the question the thread was opened for)
    and the latest are used, so a long thread does not drown the follow-up.
    """
    if not earlier or not leans_on_context(followup):
        return followup
    context = [earlier[0]] if len(earlier) == 1 else [earlier[0], earlier[-1]]
    return " ".join([*dict.fromkeys(context), followup])
