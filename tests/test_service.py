"""The service facade (search, ask, lookups, refresh while answering, reload) and its CLI."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from dari.cli import main
from dari.service import DariService, RefreshBusy
from embeddings.manifest import index_root, read_current
from embeddings.refresh import refresh
from settings.config import Settings
from tests.index_support import (
    EXTRA_ARTICLE,
    EXTRA_NAME,
    index_encoder,  # noqa: F401 - fixture
    indexed,  # noqa: F401 - fixture
    make_corpus,
    settings_for,
    warm_cache,  # noqa: F401 - fixture
)

SEED = "how-far-can-south-korea-us-japan-military-cooperation-go"
JEJU = "jeju-tangerines"
SEED_ALIGNMENT = [([1], [1]), ([2], [2]), ([3], [3]), ([4], [4]), ([5, 6], [5]), ([7], [6]),
                  ([8], [7]), ([9], [8])]


@pytest.fixture(scope="module")
def service(indexed: Settings, index_encoder: Any) -> DariService:
    svc = DariService(indexed, encoder=index_encoder)
    yield svc
    svc.close()


def test_search_and_ask(service: DariService) -> None:
    hits = service.search("Jeju tangerine growers and warm winters", k=2)
    assert hits and hits[0].article.id == JEJU
    answer = service.ask("What are Jeju tangerine farmers planting instead?")
    assert answer.found and answer.hits[0].article.id == JEJU
    assert len(answer.quotes) == len(answer.hits)
    with pytest.raises(ValueError, match="language"):
        service.search("anything", language="fr")


def test_the_index_is_served_with_the_word_rarity_read(service: DariService) -> None:
    # What the bot calls at start: the index and the rarity its no-answer rule reads for
    # words the corpus never saw, so no first question waits for the tokenizer file.
    service.ensure_index()
    rarity = service.retriever().rarity
    assert rarity is not None and rarity.loaded
    # A question about what the articles never mention, named by words rare everywhere.
    assert not service.ask("페니키아 상인들은 가나안에서 무엇을 교역했나?").found


def test_article_lookups(service: DariService) -> None:
    assert {a.id for a in service.articles()} == {SEED, JEJU}
    assert service.resolve_article(JEJU).id == JEJU
    assert service.resolve_article("warm winters push jeju tangerine farmers north").id == JEJU
    assert service.resolve_article("따뜻한 겨울, 제주 감귤 농가를 북쪽으로 밀어내다").id == JEJU
    assert service.resolve_article("no such article anywhere") is None
    assert service.resolve_article("") is None
    found = service.passage(JEJU, "en", 2)
    assert found is not None
    para, aligned = found
    assert "Jeolla" in para.text and aligned and "전라남도" in aligned[0].text
    assert service.passage(JEJU, "en", 99) is None
    assert service.passage("nope", "en", 1) is None


def test_status(service: DariService) -> None:
    status = service.status()
    assert status.articles == 2 and status.paragraphs == {"en": 12, "ko": 11}
    assert status.generation == read_current(index_root(service.settings.data_dir))
    assert status.last_refresh and status.last_duration_s is not None and status.last_duration_s > 0
    assert "e5" in status.model


def test_refresh_keeps_answering_from_the_old_index_until_the_swap(
        tmp_path: Path, shared_model_dir: Path, index_encoder: Any, warm_cache: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = make_corpus(tmp_path / "articles")
    settings = settings_for(tmp_path, shared_model_dir, corpus, warm_cache=warm_cache)
    svc = DariService(settings, encoder=index_encoder, load_index=False)
    try:
        svc.ensure_index()
        old = svc.status().generation
        assert old is not None
        (corpus / EXTRA_NAME).unlink()
        marker = tmp_path / "paused"
        # Pause the real refresh after it wrote the new generation, before the swap.
        monkeypatch.setenv("DARI_TEST_PAUSE_AT", "written")
        monkeypatch.setenv("DARI_TEST_PAUSE_FILE", str(marker))
        monkeypatch.setenv("DARI_TEST_PAUSE_SECONDS", "3")
        result: dict[str, Any] = {}
        worker = threading.Thread(target=lambda: result.update(report=svc.refresh()))
        worker.start()
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert worker.is_alive() and time.monotonic() < deadline
            time.sleep(0.02)
        # Mid-refresh: the store already lost the article, the live index still has it.
        hits = svc.search("Jeju tangerine growers", k=2)
        assert hits and hits[0].article.id == JEJU
        with pytest.raises(RefreshBusy):
            svc.refresh()
        worker.join(120)
        assert not worker.is_alive()
        new = result["report"].generation
        assert new != old and svc.status().generation == new
        assert all(h.article.id != JEJU for h in svc.search("Jeju tangerine growers", k=3))
    finally:
        svc.close()


def test_reloads_when_another_process_swapped_the_index(
        tmp_path: Path, shared_model_dir: Path, index_encoder: Any, warm_cache: Path) -> None:
    corpus = make_corpus(tmp_path / "articles", extra=False)
    settings = settings_for(tmp_path, shared_model_dir, corpus, warm_cache=warm_cache)
    refresh(settings, encoder=index_encoder, show_progress=False)
    svc = DariService(settings, encoder=index_encoder)
    try:
        assert all(h.article.id != JEJU for h in svc.search("Jeju tangerine growers", k=3))
        (corpus / EXTRA_NAME).write_text(EXTRA_ARTICLE, encoding="utf-8")
        # A refresh through another store connection and encoder object: the same code path
        # as `dari index` in another process; the service only sees CURRENT change.
        refresh(settings, encoder=index_encoder, show_progress=False)
        hits = svc.search("Jeju tangerine growers", k=3)
        assert hits and hits[0].article.id == JEJU
    finally:
        svc.close()


def test_cli_show_json_alignment_of_the_seed(indexed: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", SEED, "--json", "--config", str(indexed.source)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["article"]["id"] == SEED
    assert len(data["paragraphs"]["en"]) == 9 and len(data["paragraphs"]["ko"]) == 8
    got = [(pair["en"], pair["ko"]) for pair in data["alignment"]]
    assert got == SEED_ALIGNMENT
    # By title, as text: side by side.
    assert main(["show", "How Far Can South Korea-US-Japan Military Cooperation Go?",
                 "--config", str(indexed.source)]) == 0
    out = capsys.readouterr().out
    assert out.count("│") > 20 and "[5]" in out and "[6]" in out


def test_cli_show_unknown_article(indexed: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "Jeju", "--config", str(indexed.source)]) == 0  # unique partial title
    capsys.readouterr()
    assert main(["show", "nothing like this", "--config", str(indexed.source)]) == 1
    assert "no article" in capsys.readouterr().err


def test_cli_search(indexed: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "감귤 농가", "--lang", "ko", "-k", "2", "--json",
                 "--config", str(indexed.source)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["hits"] and all(h["paragraph"]["language"] == "ko" for h in data["hits"])
    top = data["hits"][0]
    assert top["article"]["id"] == JEJU and top["aligned"] and top["aligned"][0]["language"] == "en"
    assert main(["search", "tangerine", "-k", "1", "--config", str(indexed.source)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1. Warm Winters Push Jeju") and "¶" in out
    assert main(["search", "x", "-k", "0", "--config", str(indexed.source)]) == 2


def test_cli_ask_english_korean_and_off_topic(indexed: Settings,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    cfg = str(indexed.source)
    assert main(["ask", "Why are Jeju tangerine farmers planting mango trees?", "--config", cfg]) == 0
    out = capsys.readouterr().out
    assert out.startswith("■ Warm Winters Push Jeju Tangerine Farmers North — Test Daily, 2023-01-20")
    assert "  > " in out and "mango" in out  # the quoted passage
    assert "↳ Korean ¶" in out and "망고" in out  # with its Korean original under it
    assert "How Far Can South Korea" not in out  # nothing unrelated padded in

    assert main(["ask", "제주 감귤 농가는 왜 망고를 심나요?", "--json", "--config", cfg]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["found"] and data["language"] == "ko"
    top = data["passages"][0]
    assert top["article"] == JEJU and top["aligned"]
    assert {top["language"], top["aligned"][0]["language"]} == {"en", "ko"}

    assert main(["ask", "who won the 2018 World Cup?", "--config", cfg]) == 0
    assert capsys.readouterr().out.strip() == "Nothing in the articles answers this question."
    assert main(["ask", "   ", "--config", cfg]) == 2
    assert "empty" in capsys.readouterr().err


def test_cli_run_without_token_indexes_and_opens_the_sandbox(
        indexed: Settings, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import io
    import sys

    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO("/ask What are Jeju tangerine farmers planting?\n"))
    assert main(["run", "--config", str(indexed.source)]) == 0
    captured = capsys.readouterr()
    assert "No DISCORD_TOKEN" in captured.err and "Indexed: 2 articles" in captured.err
    assert "Jeju" in captured.out and "mango" in captured.out  # the bot's reply, rendered
