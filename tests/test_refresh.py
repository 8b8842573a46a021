"""Incremental refresh, model mismatch, and SIGKILL at every stage of a real refresh.

Real encoder, real FAISS, real SQLite, the real `dari index` CLI in subprocesses: the kill
test runs exactly the refresh process the bot starts (``bot.refresher``).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.refresher import refresh_command
from corpus.store import Store
from embeddings.companion import COMPANION, COMPANION_SENTENCES
from embeddings.keyword import K1, B, parameters_of, tokens_of
from embeddings.lock import RefreshBusy, RefreshLock
from embeddings.manifest import KEYWORD_DIR, IndexMismatch, Manifest, index_root, read_current
from embeddings.refresh import CHECKPOINTS, refresh
from embeddings.retriever import Retriever
from embeddings.tokenize import TOKENS_VERSION
from tests.conftest import REPO
from tests.index_support import (
    EXTRA_ARTICLE,
    EXTRA_NAME,
    NOTE_ARTICLE,
    NOTE_NAME,
    index_encoder,  # noqa: F401 - fixture
    make_corpus,
    run_dari,
    settings_for,
    warm_cache,  # noqa: F401 - fixture
)

OLD_SENTENCE = "many are replacing their orchards with mango and banana trees"
NEW_SENTENCE = "many are replacing their orchards with persimmon and kiwi vines"
JEJU = "jeju-tangerines"
NOTE = "ferry-note"


def texts_of(retriever: Retriever) -> set[str]:
    return {p.text for p in retriever.snapshot.all_paragraphs()}


def test_incremental_refresh_encodes_only_what_changed(tmp_path: Path, shared_model_dir: Path,
                                                       index_encoder: Any) -> None:
    # A small corpus and a cold cache: one bilingual article (3 + 3) and one English note (2).
    corpus = tmp_path / "articles"
    corpus.mkdir()
    (corpus / EXTRA_NAME).write_text(EXTRA_ARTICLE, encoding="utf-8")
    (corpus / NOTE_NAME).write_text(NOTE_ARTICLE, encoding="utf-8")
    settings = settings_for(tmp_path, shared_model_dir, corpus)
    root = index_root(settings.data_dir)

    first = refresh(settings, encoder=index_encoder, show_progress=False)
    assert first.paragraphs == 8 and first.articles == 2 and first.passages == 8
    assert first.encoded == 8 and first.cached == 0
    assert first.aligned_articles == 1  # the English-only note has nothing to align
    assert read_current(root) == first.generation and first.kind == "flat"
    # Companion vectors: one per paragraph, in the generation's paragraph order, and one per
    # stored sentence (the rows of the e5 sentence vectors).
    assert first.companion_encoded == 8 + first.sentences
    stored = np.load(root / first.generation / COMPANION)
    assert stored.shape == (8, 512) and stored.dtype == np.float16
    sentences = np.load(root / first.generation / COMPANION_SENTENCES)
    assert sentences.shape == (first.sentences, 512)

    # Nothing changed: no encoding, no new generation.
    again = refresh(settings, encoder=index_encoder, show_progress=False)
    assert again.up_to_date and again.generation == first.generation and again.encoded == 0

    # One paragraph changed: exactly its passage is encoded, the rest come from the cache.
    extra = corpus / EXTRA_NAME
    extra.write_text(EXTRA_ARTICLE.replace(OLD_SENTENCE, NEW_SENTENCE), encoding="utf-8")
    changed = refresh(settings, encoder=index_encoder, show_progress=False)
    assert not changed.up_to_date and changed.generation != first.generation
    assert changed.encoded == 1 and changed.cached == 7
    # The companion's vectors are cached by text too: the changed paragraph and its new sentences.
    assert changed.companion_encoded == 1 + changed.sentences_encoded
    assert changed.ingest.updated == [JEJU]
    assert changed.aligned_articles == 1
    live = Retriever.load(settings, index_encoder)
    assert live.generation == changed.generation
    assert any(NEW_SENTENCE in t for t in texts_of(live))
    assert not any(OLD_SENTENCE in t for t in texts_of(live))
    hits = live.search("orchards replaced with persimmon and kiwi vines", k=3, language="en")
    assert hits and hits[0].article.id == JEJU and NEW_SENTENCE in hits[0].paragraph.text

    # An article removed: its paragraphs leave the index, nothing is encoded.
    (corpus / NOTE_NAME).unlink()
    removed = refresh(settings, encoder=index_encoder, show_progress=False)
    assert removed.ingest.removed == [NOTE]
    assert removed.encoded == 0 and removed.paragraphs == 6 and removed.passages == 6
    live = Retriever.load(settings, index_encoder)
    assert all(p.article_id != NOTE for p in live.snapshot.all_paragraphs())
    assert all(h.article.id != NOTE for h in live.search("overnight ferry from Mokpo", k=5))

    # Re-added: its vectors are still in the cache.
    (corpus / NOTE_NAME).write_text(NOTE_ARTICLE, encoding="utf-8")
    back = refresh(settings, encoder=index_encoder, show_progress=False)
    assert back.encoded == 0 and back.cached == back.passages == 8
    hits = Retriever.load(settings, index_encoder).search("overnight ferry from Mokpo", k=1)
    assert hits and hits[0].article.id == NOTE

    # Only the live generation and the previous one are kept.
    assert sorted(p.name for p in root.iterdir()) == sorted(
        ["CURRENT", back.generation, removed.generation])

    # --full ignores the cache and always rebuilds.
    full = refresh(settings, full=True, encoder=index_encoder, show_progress=False)
    assert full.encoded == 8 and full.cached == 0 and full.generation != back.generation
    assert full.companion_encoded == 8 + full.sentences
    assert full.aligned_articles == 1


def test_index_of_another_model_is_refused_then_rebuilt(tmp_path: Path, shared_model_dir: Path,
                                                         index_encoder: Any, warm_cache: Path) -> None:
    settings = settings_for(tmp_path, shared_model_dir, make_corpus(tmp_path / "articles", extra=False),
                            warm_cache=warm_cache)
    report = refresh(settings, encoder=index_encoder, show_progress=False)
    gen_dir = index_root(settings.data_dir) / report.generation
    data = json.loads((gen_dir / "manifest.json").read_text(encoding="utf-8"))
    data.update(model="some/other-model", fingerprint="0" * 64)
    (gen_dir / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(IndexMismatch) as err:
        Retriever.load(settings, index_encoder)
    assert "some/other-model" in str(err.value) and "dari index --full" in str(err.value)
    # A normal refresh sees the live index does not match this model and rebuilds it
    # (the cached vectors are keyed by the real fingerprint, so nothing is re-encoded).
    rebuilt = refresh(settings, encoder=index_encoder, show_progress=False)
    assert not rebuilt.up_to_date and rebuilt.encoded == 0
    assert Retriever.load(settings, index_encoder).manifest.fingerprint == index_encoder.fingerprint


def test_companion_vectors_of_another_release_are_set_aside_then_rebuilt(
        tmp_path: Path, shared_model_dir: Path, index_encoder: Any, warm_cache: Path) -> None:
    settings = settings_for(tmp_path, shared_model_dir, make_corpus(tmp_path / "articles", extra=False),
                            warm_cache=warm_cache)
    report = refresh(settings, encoder=index_encoder, show_progress=False)
    assert Retriever.load(settings, index_encoder).companion is not None
    gen_dir = index_root(settings.data_dir) / report.generation
    data = json.loads((gen_dir / "manifest.json").read_text(encoding="utf-8"))
    data["extra"]["companion"] = "use-multilingual-v3:an-older-release"
    (gen_dir / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    # Its vectors do not compare with this release's questions: searched without them.
    stale = Retriever.load(settings, index_encoder)
    assert stale.companion is None and stale.search("Why did Biden visit Seoul?", k=1) is not None
    # A refresh sees the mismatch and writes a generation with this release's vectors.
    rebuilt = refresh(settings, encoder=index_encoder, show_progress=False)
    assert not rebuilt.up_to_date and rebuilt.encoded == 0
    assert Retriever.load(settings, index_encoder).companion is not None


@pytest.mark.parametrize("older", ["bm25-parameters", "tokeniser"])
def test_keyword_side_of_an_older_release_is_rebuilt(
        older: str, tmp_path: Path, shared_model_dir: Path, index_encoder: Any,
        warm_cache: Path) -> None:
    settings = settings_for(tmp_path, shared_model_dir, make_corpus(tmp_path / "articles", extra=False),
                            warm_cache=warm_cache)
    report = refresh(settings, encoder=index_encoder, show_progress=False)
    keyword_dir = index_root(settings.data_dir) / report.generation / KEYWORD_DIR
    assert parameters_of(keyword_dir) == (K1, B) and tokens_of(keyword_dir) == TOKENS_VERSION
    # A generation scored by an older release (bm25s's defaults) or tokenised by one (before
    # the version was recorded) still answers …
    if older == "bm25-parameters":
        params = keyword_dir / "bm25" / "params.index.json"
        params.write_text(json.dumps({**json.loads(params.read_text(encoding="utf-8")),
                                      "k1": 1.5, "b": 0.75}), encoding="utf-8")
    else:
        meta_path = keyword_dir / "keyword.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        del meta["tokens"]
        meta_path.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        assert tokens_of(keyword_dir) == 1
    assert Retriever.load(settings, index_encoder).search("Dokdo", k=1)
    # … and the next refresh rebuilds its keyword side (nothing re-encoded).
    rebuilt = refresh(settings, encoder=index_encoder, show_progress=False)
    assert not rebuilt.up_to_date and rebuilt.encoded == 0
    fresh = index_root(settings.data_dir) / rebuilt.generation / KEYWORD_DIR
    assert parameters_of(fresh) == (K1, B) and tokens_of(fresh) == TOKENS_VERSION
    assert refresh(settings, encoder=index_encoder, show_progress=False).up_to_date


def test_second_refresh_is_refused_while_one_runs(tmp_path: Path, shared_model_dir: Path,
                                                   index_encoder: Any) -> None:
    settings = settings_for(tmp_path, shared_model_dir, make_corpus(tmp_path / "articles", extra=False))
    with RefreshLock(Path(settings.data_dir) / "refresh.lock"), \
            pytest.raises(RefreshBusy, match="already running"):
        refresh(settings, encoder=index_encoder, show_progress=False)
    assert read_current(index_root(settings.data_dir)) is None  # the refused one did nothing


def _wait_for(path: Path, proc: Any, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"refresh ended (rc {proc.returncode}) before pausing:\n{err[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"refresh did not reach its checkpoint within {timeout}s")
        time.sleep(0.05)


def _assert_store_consistent(settings: Any) -> None:
    db = sqlite3.connect(Path(settings.data_dir) / "dari.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        db.close()
    with Store.open(settings) as store:
        counts = store.counts()
        assert counts["articles"] == 2 and counts["en"] == 12 and counts["ko"] == 11
        # Ingest is one transaction: the changed paragraph is entirely new or entirely old.
        jeju = store.article(JEJU)
        assert jeju is not None and len(jeju.paragraphs) == 6


def test_refresh_killed_at_any_point_leaves_the_old_index_working(
        tmp_path: Path, shared_model_dir: Path, index_encoder: Any, warm_cache: Path) -> None:
    corpus = make_corpus(tmp_path / "articles")
    settings = settings_for(tmp_path, shared_model_dir, corpus, warm_cache=warm_cache)
    root = index_root(settings.data_dir)
    old = refresh(settings, encoder=index_encoder, show_progress=False).generation
    assert old is not None and read_current(root) == old

    (corpus / EXTRA_NAME).write_text(EXTRA_ARTICLE.replace(OLD_SENTENCE, NEW_SENTENCE), encoding="utf-8")
    query = "Jeju farmers replacing tangerine orchards"
    # "aligned" leaves the same on-disk state as "encoding" (store written, no generation
    # yet) and each killed run costs a model load, so it is covered by the assertion below.
    points = [p for p in CHECKPOINTS if p != "aligned"]
    assert "aligned" in CHECKPOINTS
    for point in points:
        marker = tmp_path / f"paused-{point}"
        # The bot's refresh process: `dari index --events --nice 10` on the same settings.
        proc = subprocess.Popen(
            refresh_command(settings), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env={**os.environ, "DARI_TEST_PAUSE_AT": point,
                            "DARI_TEST_PAUSE_FILE": str(marker)})
        _wait_for(marker, proc)
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        events = [json.loads(line) for line in out.splitlines()]
        assert events and events[0] == {"event": "progress", "stage": "ingest", "done": 0, "total": 1}
        assert not any(e["event"] == "done" for e in events)  # it never reported a result

        live = read_current(root)
        expected_new = point == "swapped"  # killed after the swap: the new one is live
        assert (live != old) if expected_new else (live == old), point
        retriever = Retriever.load(settings, index_encoder)
        assert retriever.manifest.count == retriever.dense.ntotal
        hits = retriever.search(query, k=3, language="en")
        assert hits and hits[0].article.id == JEJU, point
        sentence = NEW_SENTENCE if expected_new else OLD_SENTENCE
        assert any(sentence in t for t in texts_of(retriever)), point
        # The lock died with the process.
        with RefreshLock(Path(settings.data_dir) / "refresh.lock"):
            pass
        _assert_store_consistent(settings)

    # Leftovers of the killed runs (a hidden half-built dir, a complete but never-swapped
    # generation) are cleaned up by the next refresh, which completes normally.
    assert any(p.name.startswith(".building-") for p in root.iterdir())
    final = run_dari(settings, "index")
    assert final.returncode == 0, final.stderr[-3000:]
    live = read_current(root)
    retriever = Retriever.load(settings, index_encoder)
    assert any(NEW_SENTENCE in t for t in texts_of(retriever))
    names = {p.name for p in root.iterdir()}
    assert len(names) == 3 and "CURRENT" in names and live in names
    assert not any(n.startswith(".") for n in names)
    _assert_store_consistent(settings)
    assert Manifest.read(root / live).count == retriever.dense.ntotal
