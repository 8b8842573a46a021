"""Ingestion into a real SQLite store: merging, re-ingestion, changes, bad files, atomicity."""

from __future__ import annotations

import logging
import random
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from corpus.dedupe import build_articles
from corpus.ingest import ingest
from corpus.models import AlignmentPair
from corpus.parse import parse_bytes, parse_file
from corpus.store import Store
from settings.config import Settings
from tests.corpus_support import (
    BOILERPLATE_MARKERS,
    CORPUS_FIXTURES,
    FIXTURE_ARTICLES,
    SEED_FILES,
    SEED_ID,
    SEED_META,
    SEEDS,
    copy_all_fixtures,
    copy_seeds,
)

MakeSettings = Callable[..., Settings]


def _snapshot(store: Store) -> list[tuple]:
    """Everything stored, for comparing states."""
    return [
        (a, store.alignment(a.id)) for a in store.articles()
    ]


def test_seeds_become_one_article_with_richest_metadata(make_settings: MakeSettings,
                                                       tmp_path: Path) -> None:
    settings = make_settings(copy_seeds(tmp_path / "articles"))
    report = ingest(settings)
    assert report.ok and report.added == [SEED_ID] and report.files == 2
    with Store.open(settings) as store:
        assert store.path == settings.data_dir / "dari.sqlite3"
        (article,) = store.articles()
        assert article.id == SEED_ID
        for key, value in SEED_META.items():
            assert getattr(article, key) == value, key
        assert article.sources == SEED_FILES
        en, ko = article.in_language("en"), article.in_language("ko")
        assert len(en) == 9 and len(ko) == 8
        assert [p.position for p in en] == list(range(1, 10))
        assert [p.position for p in ko] == list(range(1, 9))
        assert all(p.id.startswith(f"{SEED_ID}:{p.language}:") for p in article.paragraphs)
        assert len({p.id for p in article.paragraphs}) == 17
        assert store.counts() == {"articles": 1, "en": 9, "ko": 8}
        for p in article.paragraphs:
            for marker in BOILERPLATE_MARKERS:
                assert marker not in p.text


def test_merge_is_independent_of_file_order() -> None:
    names = sorted(p.name for p in CORPUS_FIXTURES.iterdir())
    docs = [parse_file(CORPUS_FIXTURES / n, 1 << 20) for n in names]
    seeds = [parse_file(SEEDS / n, 1 << 20) for n in SEED_FILES]
    expected = build_articles(docs + seeds)
    assert len(expected) == 4
    for seed in range(5):
        shuffled = docs + seeds
        random.Random(seed).shuffle(shuffled)
        assert build_articles(shuffled) == expected


def test_duplicates_merge_by_paragraphs_union_in_order() -> None:
    """Different titles but most paragraphs shared: one article, union of paragraphs."""
    base = parse_file(CORPUS_FIXTURES / "chip_alliance.txt", 1 << 20)
    extra = parse_bytes("extra.md", (
        b'+++\ntitle = "A Different Headline"\nurl = "https://example.org/x"\n+++\n\n'
        b"Washington's invitation to join a semiconductor alliance has been framed in Seoul as an"
        b" opportunity that cannot be refused. Yet an alliance built around export controls is"
        b" not a trade agreement, and its costs will fall unevenly on Korean firms.\n\n"
        b"An extra paragraph only the curated copy has.\n\n"
        b"China remains the largest market for Korean memory chips. A sudden break with Chinese"
        b" customers would hurt the very companies the alliance is supposed to protect, and the"
        b" government has not explained how those losses would be absorbed.\n"
    ))
    (article,) = build_articles([extra, base])
    assert article.title == base.title  # the richer file's title
    assert article.url == "https://example.org/x"  # a field only the poorer file has
    assert article.sources == ("chip_alliance.txt", "extra.md")
    en = [p.text for p in article.in_language("en")]
    assert len(en) == 5
    assert en[1] == "An extra paragraph only the curated copy has."  # after its predecessor
    assert en[0].startswith("Washington’s")  # the richest file's text is the one kept
    unrelated = parse_bytes("u.md", b'+++\ntitle = "Unrelated"\n+++\n\nOther text entirely.\n')
    assert len(build_articles([base, extra, unrelated])) == 2


def test_fixture_corpus(make_settings: MakeSettings, tmp_path: Path) -> None:
    settings = make_settings(copy_all_fixtures(tmp_path / "articles"))
    report = ingest(settings)
    assert report.ok and sorted(report.added) == sorted(FIXTURE_ARTICLES)
    with Store.open(settings) as store:
        articles = {a.id: a for a in store.articles()}
        assert set(articles) == set(FIXTURE_ARTICLES)
        for article_id, (n_en, n_ko, sources) in FIXTURE_ARTICLES.items():
            article = articles[article_id]
            assert len(article.in_language("en")) == n_en, article_id
            assert len(article.in_language("ko")) == n_ko, article_id
            assert article.sources == sources
        chip = articles["seoul-should-not-rush-into-a-chip-alliance"]
        assert chip.url == "https://example.org/chip-alliance" and chip.outlet == "Hankyoreh"
        for p in store.paragraphs():
            for marker in BOILERPLATE_MARKERS:
                assert marker not in p.text


def test_reingesting_unchanged_corpus_changes_nothing(make_settings: MakeSettings,
                                                      tmp_path: Path) -> None:
    corpus = copy_seeds(tmp_path / "articles")
    copy_all_fixtures(corpus)
    settings = make_settings(corpus)
    ingest(settings)
    db = settings.data_dir / "dari.sqlite3"
    with Store.open(settings) as store:
        before, digest = _snapshot(store), store.corpus_digest()
    conn = sqlite3.connect(db)
    changes_before = conn.execute("PRAGMA data_version").fetchone()[0]
    report = ingest(settings)
    assert report.ok and not report.changed
    assert sorted(report.unchanged) == sorted([SEED_ID, *FIXTURE_ARTICLES])
    # data_version moves when another connection commits a write: nothing was written.
    assert conn.execute("PRAGMA data_version").fetchone()[0] == changes_before
    conn.close()
    with Store.open(settings) as store:
        assert _snapshot(store) == before and store.corpus_digest() == digest


def test_changed_and_removed_files_touch_exactly_their_article(make_settings: MakeSettings,
                                                               tmp_path: Path) -> None:
    corpus = copy_seeds(tmp_path / "articles")
    copy_all_fixtures(corpus)
    settings = make_settings(corpus)
    ingest(settings)
    with Store.open(settings) as store:
        seed_before = store.article(SEED_ID)
        energy_before = store.article("energy-transition-local-consent")
        store.set_alignment(SEED_ID, [AlignmentPair((1,), (1,), 0.9)])
        store.set_alignment("energy-transition-local-consent", [AlignmentPair((1,), (1,), 0.8)])

    # Edit one paragraph of one file, change only metadata of another, delete a third.
    path = corpus / "rural_schools.txt"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "Such schools cost more per pupil.", "Such schools cost far more per pupil."),
        encoding="utf-8")
    md = corpus / "energy_consent.md"
    md.write_text(md.read_text(encoding="utf-8").replace('editor = "Tom Baker"',
                                                         'editor = "Tom B. Baker"'),
                  encoding="utf-8")
    (corpus / "chip_alliance.txt").unlink()
    (corpus / "chip_alliance_curated.md").unlink()
    # The seed article loses one of its two files: only its list of sources changes.
    (corpus / SEED_FILES[0]).unlink()

    report = ingest(settings)
    assert sorted(report.updated) == sorted(
        ["the-quiet-crisis-of-rural-schools", "energy-transition-local-consent", SEED_ID])
    assert report.removed == ["seoul-should-not-rush-into-a-chip-alliance"]
    assert report.added == [] and report.unchanged == []
    with Store.open(settings) as store:
        rural = store.article("the-quiet-crisis-of-rural-schools")
        assert rural is not None
        assert "far more per pupil" in rural.in_language("en")[2].text
        # Untouched paragraphs keep their ids; the edited one gets a new id.
        energy = store.article("energy-transition-local-consent")
        assert energy is not None and energy.editor == "Tom B. Baker"
        assert energy.paragraphs == energy_before.paragraphs
        # Metadata-only change keeps the alignment; the seed lost a source file only, so its
        # paragraphs (002 has all nine English ones) and alignment stay.
        assert store.alignment("energy-transition-local-consent") == [
            AlignmentPair((1,), (1,), 0.8)]
        seed = store.article(SEED_ID)
        assert seed is not None and seed.sources == (SEED_FILES[1],)
        assert [p.id for p in seed.paragraphs] == [p.id for p in seed_before.paragraphs]
        assert store.alignment(SEED_ID) == [AlignmentPair((1,), (1,), 0.9)]
        assert store.article("seoul-should-not-rush-into-a-chip-alliance") is None
        assert store.counts()["articles"] == 3


def test_paragraph_ids_survive_reingestion_into_a_fresh_store(make_settings: MakeSettings,
                                                             tmp_path: Path) -> None:
    settings = make_settings(copy_seeds(tmp_path / "articles"))
    ingest(settings)
    with Store.open(settings) as store:
        ids = [p.id for p in store.paragraphs()]
    (settings.data_dir / "dari.sqlite3").unlink()
    ingest(settings)
    with Store.open(settings) as store:
        assert [p.id for p in store.paragraphs()] == ids


def test_edited_paragraph_drops_alignment(make_settings: MakeSettings, tmp_path: Path) -> None:
    corpus = copy_seeds(tmp_path / "articles")
    settings = make_settings(corpus)
    ingest(settings)
    with Store.open(settings) as store:
        store.set_alignment(SEED_ID, [AlignmentPair((1,), (1,), 0.9)])
        old_ids = {p.id for p in store.paragraphs()}
    path = corpus / SEED_FILES[1]
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("미국이 원하는 한·미·일 협력은", "미국이 바라는 한·미·일 협력은"),
                    encoding="utf-8")
    assert ingest(settings).updated == [SEED_ID]
    with Store.open(settings) as store:
        assert store.alignment(SEED_ID) == []
        new_ids = {p.id for p in store.paragraphs()}
        assert len(old_ids - new_ids) == 1 and len(new_ids - old_ids) == 1


def _write_bad_files(corpus: Path) -> dict[str, str]:
    """Every kind of bad file; returns file name -> expected reason fragment."""
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02\xff" * 300)
    (corpus / "latin1.txt").write_bytes("Caf\u00e9\n\nTexte fran\u00e7ais.".encode("latin-1"))
    (corpus / "no_title.txt").write_bytes(("word " * 100 + ".\n\nBody.").encode())
    (corpus / "front_matter.md").write_text('+++\ntitle = "X"\nauthor = \n+++\n\nText.\n',
                                            encoding="utf-8")
    with (corpus / "huge.txt").open("wb") as handle:
        handle.write(b"Huge\n\n" + b"Text text text. " * (50 * 1024 * 1024 // 16 + 1))
    # Past the per-file bounds (defaults: 20,000 characters a paragraph, 2,000 paragraphs).
    (corpus / "long_paragraph.txt").write_text("Long\n\n" + "가나다" * 7000, encoding="utf-8")
    (corpus / "many_paragraphs.txt").write_text(
        "Many\n\n" + "\n\n".join(f"Paragraph number {i} says little." for i in range(2001)),
        encoding="utf-8")
    return {
        "long_paragraph.txt": "paragraph 1 is 21,000 characters long; the limit is 20,000 "
                              "characters ([corpus].max_paragraph_chars)",
        "many_paragraphs.txt": "2,001 paragraphs; the limit is 2,000 paragraphs per file "
                               "([corpus].max_paragraphs)",
        "empty.txt": "empty file",
        "binary.txt": "binary",
        "latin1.txt": "not UTF-8",
        "no_title.txt": "no title",
        "front_matter.md": "line 3: front matter is not valid TOML",
        "huge.txt": "too large",
    }


def test_bad_files_are_skipped_and_the_rest_ingested(make_settings: MakeSettings,
                                                     tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    corpus = copy_seeds(tmp_path / "articles")
    copy_all_fixtures(corpus)
    expected = _write_bad_files(corpus)
    korean = "한일 어업 협정\n\n양국 어민들은 합의를 충분히 오래 기다렸다.\n"
    (corpus / "cp949.txt").write_bytes(korean.encode("cp949"))
    (corpus / "notes.pdf").write_bytes(b"%PDF-1.4 not an article")  # other extensions: ignored
    (corpus / ".hidden.txt").write_text("Hidden\n\nText.", encoding="utf-8")
    settings = make_settings(corpus)
    with caplog.at_level(logging.WARNING, logger="corpus"):
        report = ingest(settings)
    assert not report.ok
    assert dict(report.skipped).keys() == expected.keys()
    for name, reason in report.skipped:
        assert expected[name] in reason, (name, reason)
        # One warning line naming the file and the reason.
        assert any(name in r.getMessage() and reason in r.getMessage() for r in caplog.records)
    assert report.warnings == [("cp949.txt", "not UTF-8: decoded as Korean CP949/EUC-KR")]
    assert len(report.added) == 5  # seed + 3 fixtures + the CP949 article
    with Store.open(settings) as store:
        korean_article = store.find_articles("한일 어업 협정")[0]
        assert korean_article.in_language("ko")[0].text == "양국 어민들은 합의를 충분히 오래 기다렸다."
        assert korean_article.title_ko == "한일 어업 협정"


def test_file_turned_bad_keeps_its_article(make_settings: MakeSettings, tmp_path: Path) -> None:
    corpus = copy_seeds(tmp_path / "articles")
    copy_all_fixtures(corpus)
    settings = make_settings(corpus)
    ingest(settings)
    with Store.open(settings) as store:
        before = store.article(SEED_ID)
    (corpus / SEED_FILES[1]).write_bytes(b"\x00garbage\x00")
    report = ingest(settings)
    assert report.skipped == [(SEED_FILES[1], "binary file, not text")]
    assert report.kept == [SEED_ID] and report.removed == [] and report.updated == []
    with Store.open(settings) as store:
        assert store.article(SEED_ID) == before


def test_interrupted_ingestion_leaves_previous_state(make_settings: MakeSettings,
                                                     tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = copy_seeds(tmp_path / "articles")
    settings = make_settings(corpus)
    ingest(settings)
    with Store.open(settings) as store:
        before, digest = _snapshot(store), store.corpus_digest()
    copy_all_fixtures(corpus)
    (corpus / SEED_FILES[0]).unlink()

    # Crash (Ctrl-C) after the second article has been written inside the transaction.
    real_put = Store.put_article
    calls = {"n": 0}

    def crashing_put(self: Store, *args: object, **kwargs: object) -> None:
        real_put(self, *args, **kwargs)  # type: ignore[arg-type]
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(Store, "put_article", crashing_put)
    with pytest.raises(KeyboardInterrupt):
        ingest(settings)
    assert calls["n"] == 2
    monkeypatch.undo()
    with Store.open(settings) as store:
        assert _snapshot(store) == before and store.corpus_digest() == digest
    report = ingest(settings)  # the next run completes normally
    assert len(report.added) == 3 and report.updated == [SEED_ID]


def test_corpus_dir_from_settings(make_settings: MakeSettings, tmp_path: Path) -> None:
    """Nested folders are part of the corpus; sources are corpus-relative names."""
    corpus = tmp_path / "articles"
    copy_seeds(corpus / "khan")
    settings = make_settings(corpus)
    assert settings.corpus_dir == corpus.resolve()
    ingest(settings)
    with Store.open(settings) as store:
        assert store.article(SEED_ID).sources == tuple(f"khan/{n}" for n in SEED_FILES)


def test_many_files(make_settings: MakeSettings, tmp_path: Path) -> None:
    """A few hundred articles: each stored once, nothing merged wrongly, re-ingest is a no-op."""
    from tests.corpus_support import write_synthetic_corpus

    corpus = write_synthetic_corpus(tmp_path / "articles", 150)
    copy_seeds(corpus)
    settings = make_settings(corpus)
    report = ingest(settings)
    assert len(report.added) == 151 and report.ok
    with Store.open(settings) as store:
        assert store.counts() == {"articles": 151, "en": 150 * 8 + 9, "ko": 150 * 8 + 8}
        assert all(len(a.sources) == 1 for a in store.articles() if a.id != SEED_ID)
    again = ingest(settings)
    assert len(again.unchanged) == 151 and not again.changed


def test_sigkill_during_ingestion_leaves_old_or_new_state(tmp_path: Path) -> None:
    """A real crash: `dari corpus` is killed (SIGKILL) as soon as it starts writing the store.

    Whatever the moment, the store must hold either the previous corpus or the new one —
    never a part of it — and pass SQLite's integrity check.
    """
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.corpus_support import REPO, write_synthetic_corpus

    corpus = copy_seeds(tmp_path / "articles")
    data = tmp_path / "data"
    cmd = [sys.executable, "-m", "dari", "corpus", "--corpus", str(corpus), "--data", str(data)]
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, timeout=120)
    write_synthetic_corpus(corpus, 300)
    wal = data / "dari.sqlite3-wal"
    for _attempt in range(3):
        before = wal.stat().st_mtime_ns if wal.exists() else 0
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if wal.exists() and wal.stat().st_mtime_ns != before:
                os.kill(proc.pid, signal.SIGKILL)  # the first write of the transaction
                break
            time.sleep(0.0005)
        proc.wait(timeout=60)
        conn = sqlite3.connect(data / "dari.sqlite3")
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count = conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        paragraphs = conn.execute("SELECT COUNT(*) FROM paragraphs").fetchone()[0]
        conn.close()
        assert (count, paragraphs) in ((1, 17), (301, 17 + 300 * 16)), (count, paragraphs)
        if count == 301:
            break
    # The corpus is complete after a normal run, whatever the crashes did.
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, timeout=120)
    with Store(data / "dari.sqlite3") as store:
        assert store.counts()["articles"] == 301
