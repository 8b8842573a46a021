"""Normalisation, ids, dates and language detection: the rules every corpus module relies on."""

from __future__ import annotations

import pytest

from corpus.lang import detect_language
from corpus.models import Paragraph
from corpus.text import (
    clean_text,
    content_digest,
    match_key,
    paragraph_id,
    parse_date,
    slugify,
)


def test_match_key_ignores_typography_but_not_words() -> None:
    curly = "After Russia’s invasion, “trilateral engagement” — he said…"
    straight = 'After Russia\'s  invasion, "trilateral engagement" - he said...'
    assert match_key(curly) == match_key(straight)
    assert match_key(curly) != match_key(straight.replace("invasion", "intervention"))
    assert match_key("ＡＢＣ\u200b def") == match_key("abc def")


def test_clean_text_keeps_punctuation_and_collapses_space() -> None:
    assert clean_text("  Russia’s\u00a0 invasion\u200b\t now ") == "Russia’s invasion now"


def test_slug_is_readable_and_stable() -> None:
    title = "How Far Can South Korea-US-Japan Military Cooperation Go?"
    assert slugify(title) == "how-far-can-south-korea-us-japan-military-cooperation-go"
    assert slugify("  how far can South Korea–US–Japan military cooperation go ") == slugify(title)
    korean = slugify("한·미·일 군사협력은 어디까지 갈 수 있나")
    assert korean.startswith("article-") and korean == slugify("한·미·일 군사협력은 어디까지 갈 수 있나")
    assert len(slugify("word " * 100)) <= 80


def test_paragraph_id_depends_on_normalised_text_language_article_and_occurrence() -> None:
    pid = paragraph_id("art", "en", "Japan’s claim to Dokdo.")
    assert pid.startswith("art:en:") and len(pid.split(":")[2]) == 12
    assert paragraph_id("art", "en", "Japan's  claim to Dokdo.") == pid
    assert paragraph_id("art", "en", "Japan’s claim to Takeshima.") != pid
    assert paragraph_id("art", "ko", "Japan’s claim to Dokdo.") != pid
    assert paragraph_id("other", "en", "Japan’s claim to Dokdo.") != pid
    assert paragraph_id("art", "en", "Japan’s claim to Dokdo.", 1) != pid


def test_content_digest_changes_iff_content_changes() -> None:
    a = Paragraph("x:en:1", "x", "en", 1, "One.")
    b = Paragraph("x:en:2", "x", "en", 2, "Two.")
    assert content_digest([a, b]) == content_digest([b, a])
    assert content_digest([a, b]) != content_digest([a])
    edited = Paragraph("x:en:2", "x", "en", 2, "Two!")
    assert content_digest([a, b]) != content_digest([a, edited])


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("15 July 2022", "2022-07-15"),
        ("15 Jul. 2022", "2022-07-15"),
        ("July 15, 2022", "2022-07-15"),
        ("March 3rd, 2023", "2023-03-03"),
        ("2022-07-15", "2022-07-15"),
        ("2022.07.15.", "2022-07-15"),
        ("2022. 7. 15", "2022-07-15"),
        ("2022년 7월 15일", "2022-07-15"),
        ("2022-07-15T09:30:00+09:00", "2022-07-15"),
        ("sometime in summer", "sometime in summer"),
        ("31 February 2022", "31 February 2022"),
    ],
)
def test_parse_date(raw: str, iso: str) -> None:
    assert parse_date(raw) == iso


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The U.S. wants military and security cooperation.", "en"),
        ("미국이 원하는 한·미·일 협력은 군사·안보 분야이다.", "ko"),
        # Mostly Korean with English words in it: Korean.
        ("바이든 대통령은 ‘3국 동맹(trilateral alliance)’이라는 표현을 썼다.", "ko"),
        ("정부는 ‘지역 소유(local ownership)’ 원칙을 법에 명시해야 한다.", "ko"),
        # Mostly English with a Korean term: English.
        ("The so-called village school (마을학교) movement shows another way forward.", "en"),
        ("* * *", None),
        ("2022 — 15 / 07", None),
        ("", None),
    ],
)
def test_detect_language(text: str, language: str | None) -> None:
    assert detect_language(text) == language
