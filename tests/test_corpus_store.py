"""The SQLite store on its own: schema, lookups, alignments, metadata, threads, transactions."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from corpus.dedupe import build_articles
from corpus.models import AlignmentPair, Article
from corpus.parse import parse_file
from corpus.store import SCHEMA_VERSION, Store, StoreError
from tests.corpus_support import CORPUS_FIXTURES, SEED_FILES, SEED_ID, SEEDS


@pytest.fixture(scope="module")
def articles() -> list[Article]:
    """The seed article and the fixture articles, parsed and merged (no store involved)."""
    paths = [SEEDS / n for n in SEED_FILES] + sorted(CORPUS_FIXTURES.iterdir())
    return build_articles([parse_file(p, 1 << 20) for p in paths])


@pytest.fixture
def store(tmp_path: Path, articles: list[Article]) -> Store:
    with Store(tmp_path / "data" / "dari.sqlite3") as s:
        with s.transaction():
            for article in articles:
                s.put_article(article)
        yield s


def test_schema_is_versioned_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dari.sqlite3"
    with Store(path) as s:
        assert s.schema_version == SCHEMA_VERSION >= 1
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"articles", "paragraphs", "sources", "alignments", "meta"} <= tables
    conn.close()


def test_reopening_keeps_data_and_newer_schema_is_refused(store: Store) -> None:
    path = store.path
    store.set_meta("k", "v")
    store.close()
    with Store(path) as again:
        assert again.get_meta("k") == "v" and again.counts()["articles"] == 4
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer than this Dari supports"):
        Store(path)


def test_articles_ordered_by_title_with_everything(store: Store, articles: list[Article]) -> None:
    stored = store.articles()
    assert [a.title for a in stored] == sorted((a.title for a in articles), key=str.casefold)
    assert {a.id: a for a in stored} == {a.id: a for a in articles}
    assert store.article("nope") is None
    seed = store.article(SEED_ID)
    assert seed is not None and seed.sources == SEED_FILES and len(seed.paragraphs) == 17


def test_paragraph_lookups_and_counts(store: Store) -> None:
    ko = store.paragraphs("ko")
    assert ko and all(p.language == "ko" for p in ko)
    assert len(store.paragraphs()) == len(ko) + len(store.paragraphs("en"))
    first = ko[0]
    assert store.paragraph(first.id) == first and store.paragraph("missing") is None
    assert store.counts() == {"articles": 4, "en": 9 + 3 + 4 + 3, "ko": 8 + 3 + 4}


def test_find_articles_exact_then_prefix_then_substring(store: Store) -> None:
    ids = lambda q, **kw: [a.id for a in store.find_articles(q, **kw)]  # noqa: E731
    assert ids("how far can south korea us japan military cooperation go") == [SEED_ID]
    assert ids("  HOW-FAR can South Korea–US–Japan Military Cooperation Go?!") == [SEED_ID]
    assert ids(SEED_ID) == [SEED_ID]
    assert ids("에너지 전환에는") == ["energy-transition-local-consent"]  # Korean title
    assert ids("seoul should not") == ["seoul-should-not-rush-into-a-chip-alliance"]
    assert ids("zzz") == []
    assert len(ids("")) == 4 and len(ids("", limit=2)) == 2
    # A prefix match ranks before a substring match, whatever the alphabetical order.
    store.put_article(Article(id="zz-alliance", title="Alliance Politics"))
    assert ids("alliance") == ["zz-alliance", "seoul-should-not-rush-into-a-chip-alliance"]
    # An exact title beats a title that merely starts with it.
    store.put_article(Article(id="energy", title="Energy"))
    assert ids("energy") == ["energy", "energy-transition-local-consent"]


def test_alignment_and_aligned_counterparts(store: Store) -> None:
    pairs = [AlignmentPair((1,), (1,), 0.9), AlignmentPair((2, 3), (2,), 0.7),
             AlignmentPair((4,), (), 0.0)]
    store.set_alignment(SEED_ID, pairs)
    assert store.alignment(SEED_ID) == pairs
    seed = store.article(SEED_ID)
    en, ko = seed.in_language("en"), seed.in_language("ko")
    assert store.aligned(en[0]) == (ko[0],)
    assert store.aligned(en[2]) == (ko[1],)
    assert store.aligned(ko[1]) == (en[1], en[2])
    assert store.aligned(en[3]) == () and store.aligned(en[8]) == ()
    with pytest.raises(KeyError):
        store.set_alignment("nope", pairs)
    store.set_alignment(SEED_ID, [])
    assert store.alignment(SEED_ID) == []


def test_delete_cascades(store: Store) -> None:
    store.set_alignment(SEED_ID, [AlignmentPair((1,), (1,), 0.9)])
    assert store.delete_article(SEED_ID) and not store.delete_article(SEED_ID)
    assert store.alignment(SEED_ID) == []
    assert not any(p.article_id == SEED_ID for p in store.paragraphs())
    assert not any(a == SEED_ID for a, _ in store.sources().values())


def test_transaction_rolls_back_everything(store: Store) -> None:
    before = store.articles()
    with pytest.raises(RuntimeError), store.transaction():
        store.delete_article(SEED_ID)
        store.set_meta("half", "done")
        raise RuntimeError("crash")
    assert store.articles() == before and store.get_meta("half") is None


def test_meta_and_corpus_digest(store: Store, articles: list[Article]) -> None:
    assert store.get_meta("missing") is None
    store.set_meta("index.digest", "abc")
    store.set_meta("index.digest", "def")
    assert store.get_meta("index.digest") == "def"
    digest = store.corpus_digest()
    store.set_meta("other", "x")  # metadata does not change the content digest
    assert store.corpus_digest() == digest
    store.delete_article("the-quiet-crisis-of-rural-schools")
    assert store.corpus_digest() != digest


def test_safe_from_worker_threads(store: Store, articles: list[Article]) -> None:
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                assert len(store.articles()) in (3, 4)
                store.find_articles("seoul")
                store.counts()
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    rural = next(a for a in articles if a.id == "the-quiet-crisis-of-rural-schools")
    for _ in range(30):
        with store.transaction():
            store.delete_article(rural.id)
            store.put_article(rural)
    stop.set()
    for t in threads:
        t.join()
    assert errors == []


async def test_usable_through_asyncio_to_thread(store: Store) -> None:
    results = await asyncio.gather(*(asyncio.to_thread(store.find_articles, q)
                                     for q in ("seoul", "energy", "how far", "")))
    assert [len(r) for r in results] == [1, 1, 1, 4]


def test_migrations_upgrade_existing_store_and_failures_roll_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The migration runner on a real file: a later version is applied on open, data kept;
    a failing migration leaves the file at its previous version."""
    import corpus.store as store_module

    path, before = store.path, store.articles()
    store.close()
    original = store_module.MIGRATIONS
    broken = (*original,
              "ALTER TABLE articles ADD COLUMN summary TEXT; INSERT INTO nowhere VALUES (1)")
    monkeypatch.setattr(store_module, "MIGRATIONS", broken)
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", len(broken))
    with pytest.raises(StoreError):
        Store(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert "summary" not in {r[1] for r in conn.execute("PRAGMA table_info(articles)")}
    conn.close()

    good = (*original, "ALTER TABLE articles ADD COLUMN summary TEXT")
    monkeypatch.setattr(store_module, "MIGRATIONS", good)
    with Store(path) as upgraded:
        assert upgraded.schema_version == SCHEMA_VERSION + 1
        assert upgraded.articles() == before


def test_a_file_that_is_not_a_store_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "dari.sqlite3"
    path.write_bytes(b"this is not an SQLite database at all" * 100)
    with pytest.raises(StoreError, match="not a usable Dari store"):
        Store(path)
