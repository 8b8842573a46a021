"""Uploaded articles (/add-article): validated, safely named, never overwriting by accident."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.ingest import corpus_files
from corpus.parse import CorpusFileError
from corpus.upload import safe_filename, save_upload
from tests.corpus_support import CORPUS_FIXTURES

GOOD = (CORPUS_FIXTURES / "energy_consent.md").read_bytes()
LIMIT = 1024 * 1024


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("article.md", "article.md"),
        ("../../etc/passwd.md", "passwd.md"),
        ("/abs/path/x.txt", "x.txt"),
        ("C:\\Users\\me\\notes.TXT", "notes.txt"),
        ("..\\..\\x.md", "x.md"),
        (".hidden.md", "hidden.md"),
        ("...md.md", "md.md"),
        ("ev\x00il.md", "evil.md"),
        ("my article (final)!.md", "my_article_final.md"),
        ("한미일 협력.md", "한미일_협력.md"),
        (".md", "article.md"),
    ],
)
def test_safe_filename(given: str, safe: str) -> None:
    assert safe_filename(given) == safe


@pytest.mark.parametrize("given", ["x.pdf", "x", "x.md.exe", "../x.sh", ""])
def test_other_extensions_refused(given: str) -> None:
    with pytest.raises(CorpusFileError, match="only .txt and .md files"):
        safe_filename(given)


def test_saves_atomically_and_ingestion_sees_it(tmp_path: Path) -> None:
    corpus = tmp_path / "articles"
    path = save_upload(corpus, "../../energy.md", GOOD, LIMIT)
    assert path == corpus / "energy.md" and path.read_bytes() == GOOD
    assert [p.name for p in corpus.iterdir()] == ["energy.md"]  # no temp files left
    assert [name for name, _ in corpus_files(corpus, [".md", ".txt"])] == ["energy.md"]


def test_bad_content_is_refused_and_nothing_written(tmp_path: Path) -> None:
    corpus = tmp_path / "articles"
    with pytest.raises(CorpusFileError) as info:
        save_upload(corpus, "bad.md", b'+++\ntitle = "X"\nauthor = 3\n+++\n\nText.', LIMIT)
    assert str(info.value) == "bad.md: line 3: author must be a quoted string, got int"
    for data, reason in ((b"", "empty file"), (b"\x00\x01" * 50, "binary"),
                         (b"x" * (LIMIT + 1), "too large")):
        with pytest.raises(CorpusFileError, match=reason):
            save_upload(corpus, "bad.txt", data, LIMIT)
    assert not corpus.exists() or list(corpus.iterdir()) == []


def test_paragraph_and_article_limits_refuse_before_writing(tmp_path: Path) -> None:
    corpus = tmp_path / "articles"
    one_line = b"One long line\n\n" + b"The alliance expands its scope, " * 1000
    with pytest.raises(CorpusFileError) as info:
        save_upload(corpus, "line.txt", one_line, LIMIT, max_paragraph_chars=20_000,
                    max_paragraphs=2_000)
    assert info.value.name == "line.txt"
    assert info.value.reason == ("paragraph 1 is 31,999 characters long; the limit is 20,000 "
                                 "characters ([corpus].max_paragraph_chars)")
    many = b"Many\n\n" + b"\n\n".join(b"Paragraph %d." % i for i in range(30))
    with pytest.raises(CorpusFileError, match=r"30 paragraphs; the limit is 20 paragraphs per file"):
        save_upload(corpus, "many.txt", many, LIMIT, max_paragraph_chars=20_000, max_paragraphs=20)
    assert not corpus.exists() or list(corpus.iterdir()) == []
    # Within the limits the same files are saved.
    assert save_upload(corpus, "line.txt", one_line, LIMIT, max_paragraph_chars=40_000).is_file()
    assert save_upload(corpus, "many.txt", many, LIMIT, max_paragraphs=30).is_file()


def test_refuses_to_overwrite_a_different_file_unless_told(tmp_path: Path) -> None:
    corpus = tmp_path / "articles"
    save_upload(corpus, "a.md", GOOD, LIMIT)
    assert save_upload(corpus, "a.md", GOOD, LIMIT) == corpus / "a.md"  # same bytes: fine
    other = (CORPUS_FIXTURES / "chip_alliance_curated.md").read_bytes()
    with pytest.raises(CorpusFileError, match="already exists"):
        save_upload(corpus, "a.md", other, LIMIT)
    assert (corpus / "a.md").read_bytes() == GOOD
    save_upload(corpus, "a.md", other, LIMIT, replace=True)
    assert (corpus / "a.md").read_bytes() == other
    assert sorted(p.name for p in corpus.iterdir()) == ["a.md"]
