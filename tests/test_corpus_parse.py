"""Parsing single files: the scraped format (seeds and fixtures), boilerplate, decoding."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.parse import CorpusFileError, parse_bytes, parse_file
from corpus.scraped import is_headline_line, is_label_header, is_section_header
from tests.corpus_support import (
    BOILERPLATE_MARKERS,
    CORPUS_FIXTURES,
    SEED_META,
    SEEDS,
)

MB = 1024 * 1024


def _no_boilerplate(texts: list[str]) -> None:
    for text in texts:
        for marker in BOILERPLATE_MARKERS:
            assert marker not in text, f"boilerplate {marker!r} kept in {text[:80]!r}"


def test_seed_002_metadata_wrapped_over_lines_and_bodies() -> None:
    doc = parse_file(SEEDS / "002_7732f792edb64a8e.txt", 20 * MB)
    assert doc.format == "scraped"
    for key, value in SEED_META.items():
        assert getattr(doc, key) == value, key
    en, ko = doc.in_language("en"), doc.in_language("ko")
    assert len(en) == 9 and len(ko) == 8
    # The first paragraph starts right after the metadata, on the next line.
    assert en[0].startswith("At a time of growing strategic competition")
    assert en[-1].endswith("may suffer as a result.")
    assert ko[0].startswith("미·중의 전략경쟁이")
    # The site footer was glued to the last Korean paragraph (no blank line): cut off.
    assert ko[-1].endswith("결과를 맞을 수도 있다.")
    _no_boilerplate(en + ko)
    # "‘3국 동맹(trilateral alliance)’" inside a Korean paragraph keeps it Korean.
    assert any("trilateral alliance" in p for p in ko)


def test_seed_000_english_only_without_metadata() -> None:
    doc = parse_file(SEEDS / "000_bf73b40dd2f47372.txt", 20 * MB)
    assert doc.title == SEED_META["title"]
    assert doc.outlet is None and doc.author is None and doc.published is None
    en = doc.in_language("en")
    assert len(en) == 9 and doc.in_language("ko") == []
    assert en[0].startswith("At a time of growing strategic competition")
    _no_boilerplate(en)


def test_other_site_article_with_one_line_metadata_and_other_headlines() -> None:
    doc = parse_file(CORPUS_FIXTURES / "chip_alliance.txt", 20 * MB)
    assert (doc.title, doc.outlet, doc.country, doc.published) == (
        "Seoul Should Not Rush Into a Chip Alliance", "Hankyoreh", "South Korea", "2023-03-03")
    assert (doc.author, doc.translator, doc.editor) == ("Park Min-ji", "Daniel Lee", "Sarah Kim")
    en, ko = doc.in_language("en"), doc.in_language("ko")
    assert len(en) == 4 and len(ko) == 4
    # Two English paragraphs on consecutive lines, and the Korean body glued to the English
    # one without a blank line, are still separate paragraphs.
    assert en[2].endswith("may keep operating.") and en[3].startswith("A negotiation")
    # The footer sentence glued *inside* the last Korean line is removed, the paragraph kept.
    assert ko[-1].endswith("판단하게 해야 한다.")
    _no_boilerplate(en + ko)


def test_hard_wrapped_text_separator_and_headline_list_without_header() -> None:
    doc = parse_file(CORPUS_FIXTURES / "rural_schools.txt", 20 * MB)
    en = doc.in_language("en")
    assert len(en) == 3 and doc.in_language("ko") == []
    assert en[0] == (
        "Every spring another village school closes its doors. The ministry counts the closures"
        " as savings; the villages count them as the moment young families stop considering a"
        " move back."
    )
    assert "(마을학교)" in en[1]  # an English paragraph citing a Korean term stays English
    _no_boilerplate(en)


def test_boilerplate_rules_are_structural() -> None:
    assert is_label_header("About this publication") and not is_section_header("About this publication")
    for header in ("Hot this week", "Topics", "Related Articles",
                   "Leave a Reply", "Be the first to comment", "12 Comments", "hot this week:"):
        assert is_section_header(header), header
    for line in ("South Korea: A Budget That Forgets the Regions",
                 "United Kingdom: The Trouble With Friend-Shoring",
                 "Russia: Trump Is Shielding America*"):
        assert is_headline_line(line), line
    # Article sentences are neither, even when they contain a colon.
    assert not is_section_header("Topics of the summit included Dokdo.")
    assert not is_headline_line("Japan: the claim to Dokdo has never been accepted by Seoul.")
    assert not is_headline_line("The Korea-U.S.-Japan summit, held on June 29: a test.")


def test_invented_page_of_the_same_site_is_cleaned(tmp_path: Path) -> None:
    """Different headlines, order and comment prompts than the seeds: same rules hold."""
    page = "\n".join([
        "Tokyo and Seoul Need a Fisheries Deal",
        "Published in Chosun Ilbo (South Korea) on 1 Feb 2021",
        "by Lee Jae-won (link to original)",
        "Translated from Korean by Ann Park. Edited by Joe Stone.",
        "Fishermen on both sides of the strait have waited long enough for an agreement.",
        "양국 어민들은 합의를 충분히 오래 기다렸다.This post appeared on the front page as a"
        " direct link to the original article with the above link .",
        "Topics",
        "Brazil: Lula’s Second Act",
        "Leave a Comment",
        "India: Monsoon Politics",
    ])
    doc = parse_bytes("fish.txt", page.encode("utf-8"))
    assert (doc.outlet, doc.country, doc.published) == ("Chosun Ilbo", "South Korea", "2021-02-01")
    assert (doc.author, doc.translator, doc.editor) == ("Lee Jae-won", "Ann Park", "Joe Stone")
    assert doc.paragraphs == [
        ("en", "Fishermen on both sides of the strait have waited long enough for an agreement."),
        ("ko", "양국 어민들은 합의를 충분히 오래 기다렸다."),
    ]


def test_original_text_under_about_this_publication_is_kept() -> None:
    """000 has the header where 002 has the Korean body: the header goes, the text stays."""
    page = "\n".join([
        "A Title About Trade",
        "English text of the article, long enough to be a paragraph.",
        "About this publication",
        "기사의 한국어 원문이다.",
        "Be the first to comment",
        "Leave a Reply",
    ])
    doc = parse_bytes("p.txt", page.encode("utf-8"))
    assert doc.paragraphs == [
        ("en", "English text of the article, long enough to be a paragraph."),
        ("ko", "기사의 한국어 원문이다."),
    ]


def test_english_and_korean_glued_on_one_line_are_split() -> None:
    en = ("Otherwise, not only will the U.S. fail to achieve the results it seeks, but both"
          " Korea-U.S. relations and Korea-Japan relations may suffer as a result.")
    ko = ("미·중의 전략경쟁이 가속화되고 러시아의 우크라이나 침공 이후 국제사회가 분열된 모습을"
          " 보이고 있는 상황에서 미국이 추구하는 세계전략의 핵심은 동맹들과의 연대다.")
    doc = parse_bytes("g.txt", f"Glued\n\n{en}{ko}\n".encode())
    assert doc.paragraphs == [("en", en), ("ko", ko)]
    # A Korean paragraph quoting a short English sentence stays whole and Korean.
    quote = '그는 "We will not give up on this." 라고 말했다. 그리고 회의장을 떠났다.'
    doc = parse_bytes("q.txt", f"Quote\n\n{quote}\n".encode())
    assert doc.paragraphs == [("ko", quote)]


def test_article_opening_with_by_is_not_a_byline() -> None:
    first = "By the time the summit ended, the three leaders had agreed on very little."
    doc = parse_bytes("b.txt", f"Summit Notes\n{first}\n".encode())
    assert doc.author is None and doc.paragraphs == [("en", first)]


def test_cp949_and_euc_kr_are_decoded_with_a_warning() -> None:
    text = "한일 어업 협정\n\n양국 어민들은 합의를 충분히 오래 기다렸다.\n"
    for codec in ("cp949", "euc-kr"):
        doc = parse_bytes("ko.txt", text.encode(codec))
        assert doc.title == "한일 어업 협정" and doc.title_ko == "한일 어업 협정"
        assert doc.paragraphs == [("ko", "양국 어민들은 합의를 충분히 오래 기다렸다.")]
        assert any("CP949" in w for w in doc.warnings)


def test_seed_in_cp949_parses_like_the_utf8_original() -> None:
    original = (SEEDS / "002_7732f792edb64a8e.txt").read_text(encoding="utf-8")
    utf8 = parse_bytes("s.txt", original.encode("utf-8"))
    # CP949 has no curly apostrophe in every position; what it can encode must match.
    legacy = parse_bytes("s.txt", original.encode("cp949", errors="replace"))
    assert legacy.in_language("ko") == utf8.in_language("ko")
    assert len(legacy.in_language("en")) == 9 and legacy.author == "Yu Shin-mo"


def test_bytes_that_are_valid_cp949_but_not_korean_are_refused() -> None:
    # Lead bytes 0x81-0xA0 with ASCII-letter trail bytes: valid CP949 pairs that decode to
    # rare extension syllables — what misread non-Korean data looks like.
    data = b"Title\n\n" + bytes(b for i in range(400) for b in (0x81 + i % 32, 0x41 + i % 26))
    with pytest.raises(CorpusFileError, match="not UTF-8"):
        parse_bytes("x.txt", data)


def test_utf8_bom_and_crlf_and_utf16() -> None:
    text = "A Title\r\n\r\nOne paragraph of text.\r\n"
    for data in (b"\xef\xbb\xbf" + text.encode("utf-8"), text.encode("utf-16")):
        doc = parse_bytes("x.txt", data)
        assert doc.title == "A Title" and doc.paragraphs == [("en", "One paragraph of text.")]
        assert doc.warnings == []


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"  \n\n \t\n", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary"),
        (bytes(range(256)) * 4, "binary"),
        ("Caf\u00e9 au lait\n\nUn texte fran\u00e7ais.".encode("latin-1"), "not UTF-8"),
        (b"Only A Title\n", "no article text"),
        (("A very long first line " * 30 + ".\n\nBody.").encode(), "no title"),
        (b"Published in Khan (South Korea) on 15 July 2022\n\nBody text here.", "no title"),
        (b"Title\n\nAbout this publication\n\nBe the first to comment", "no article text"),
    ],
)
def test_bad_content_is_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(CorpusFileError) as info:
        parse_bytes("bad.txt", data)
    assert reason in info.value.reason
    assert str(info.value).startswith("bad.txt: ")


def test_too_large_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as handle:
        handle.write(b"Huge Title\n\n")
        handle.write(b"Text. " * (50 * MB // 6 + 1))
    with pytest.raises(CorpusFileError) as info:
        parse_file(path, 20 * MB)
    assert "too large" in info.value.reason and "50.0 MB" in info.value.reason
