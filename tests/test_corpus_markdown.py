"""The curated Markdown format: front matter fields, paragraphs, and errors with line numbers."""

from __future__ import annotations

import pytest

from corpus.parse import CorpusFileError, parse_bytes, parse_file
from tests.corpus_support import CORPUS_FIXTURES


def test_full_front_matter_and_bilingual_paragraphs() -> None:
    doc = parse_file(CORPUS_FIXTURES / "energy_consent.md", 1024 * 1024)
    assert doc.format == "markdown"
    assert doc.id == "energy-transition-local-consent"
    assert doc.title == "Energy Transition Needs Local Consent"
    assert doc.title_ko == "에너지 전환에는 지역의 동의가 필요하다"
    assert (doc.outlet, doc.country, doc.published) == (
        "Kyunghyang Shinmun", "South Korea", "2023-05-02")
    assert (doc.author, doc.translator, doc.editor) == ("Choi Eun-young", "Mina Cho", "Tom Baker")
    assert doc.url == "https://example.org/energy-consent"
    en, ko = doc.in_language("en"), doc.in_language("ko")
    assert len(en) == 3 and len(ko) == 3
    # Soft-wrapped lines are joined into one paragraph.
    assert en[0] == (
        "Offshore wind farms planned along the southwest coast are stalled, not because the"
        " turbines are too expensive, but because the fishing communities were consulted last."
    )
    assert ko[2].startswith("정부는 ‘지역 소유(local ownership)’")


def test_only_title_is_required_and_dates_may_be_strings() -> None:
    doc = parse_bytes("m.md", b'+++\ntitle = "Short"\npublished = "July 15, 2022"\n+++\n\nText.\n'
)
    assert (doc.title, doc.published, doc.outlet, doc.id) == ("Short", "2022-07-15", None, None)
    assert doc.paragraphs == [("en", "Text.")]


def test_headings_are_not_paragraphs() -> None:
    doc = parse_bytes("h.md", '+++\ntitle = "T"\n+++\n# T\nFirst para.\n\n## Part two\n\n둘째 문단.\n'
                      .encode())
    assert doc.paragraphs == [("en", "First para."), ("ko", "둘째 문단.")]


def test_missing_blank_line_between_languages() -> None:
    en = ("The government should write local ownership into the law rather than leave it to"
          " the goodwill of developers.")
    ko = ("정부는 지역 소유 원칙을 개발사의 선의에 맡기지 말고 법에 명시해야 한다. 그래야 주민들이"
          " 발전 단지를 자신들의 것으로 여기고 받아들일 수 있으며 수익도 지역에 남는다.")
    doc = parse_bytes("m.md", f'+++\ntitle = "T"\n+++\n{en}\n{ko}\n'.encode())
    assert doc.paragraphs == [("en", en), ("ko", ko)]


def test_front_matter_detected_by_content_even_in_txt() -> None:
    doc = parse_bytes("m.txt", '+++\ntitle = "T"\n+++\n첫 문단입니다.\n'.encode())
    assert doc.format == "markdown" and doc.paragraphs == [("ko", "첫 문단입니다.")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # TOML syntax error on the third line of the file.
        ('+++\ntitle = "T"\noutlet = \n+++\n\nText.', "bad.md: line 3: front matter is not valid TOML"),
        ('+++\ntitle = "T"\nauthr = "X"\n+++\n\nText.', "bad.md: line 3: unknown front matter key 'authr'"),
        ('+++\ntitle = "T"\n\nauthor = 42\n+++\n\nText.', "bad.md: line 4: author must be a quoted string"),
        ('+++\noutlet = "Khan"\n+++\n\nText.', "bad.md: line 1: no title"),
        ('+++\ntitle = ""\n+++\n\nText.', "bad.md: line 1: no title"),
        ('\n\n+++\ntitle = "T"\n\nText.', "bad.md: line 3: front matter opened with '+++' is never closed"),
        ("Just text\n\nin a .md file", "bad.md: line 1: a Markdown article must start with a '+++'"),
        ('+++\nid = "Not A Slug"\ntitle = "T"\n+++\n\nText.', "bad.md: line 2: id 'Not A Slug'"),
        ('+++\ntitle = "T"\n+++\n', "bad.md: no article text found"),
    ],
)
def test_front_matter_errors_name_file_and_line(text: str, expected: str) -> None:
    with pytest.raises(CorpusFileError) as info:
        parse_bytes("bad.md", text.encode("utf-8"))
    assert str(info.value).startswith(expected), str(info.value)
