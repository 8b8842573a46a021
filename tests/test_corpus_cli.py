"""`dari corpus` end to end: summary, --json, exit status, --config/--corpus/--data."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from dari.cli import main
from settings.config import Settings
from tests.corpus_support import (
    FIXTURE_ARTICLES,
    REPO,
    SEED_FILES,
    SEED_ID,
    SEED_META,
    copy_all_fixtures,
    copy_seeds,
)


def test_json_lists_articles_with_metadata_and_counts(
    make_settings: Callable[..., Settings], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = copy_seeds(tmp_path / "articles")
    make_settings(corpus)
    config = tmp_path / "config.toml"
    assert main(["corpus", "--config", str(config), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    (article,) = out["articles"]
    assert article == {
        "id": SEED_ID, **SEED_META, "title_ko": None, "url": None,
        "sources": list(SEED_FILES), "paragraphs": {"en": 9, "ko": 8},
    }
    assert out["report"]["added"] == [SEED_ID] and out["report"]["ok"] is True
    assert main(["corpus", "--config", str(config), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["report"]["unchanged"] == [SEED_ID] and again["report"]["added"] == []


def test_summary_and_exit_status_one_when_a_file_is_skipped(
    make_settings: Callable[..., Settings], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = copy_all_fixtures(tmp_path / "articles")
    (corpus / "broken.md").write_text("+++\ntitle = \n+++\n\nText.", encoding="utf-8")
    make_settings(corpus)
    assert main(["corpus", "--config", str(tmp_path / "config.toml")]) == 1
    out = capsys.readouterr().out
    assert "added 3, updated 0, removed 0, unchanged 0, skipped 1" in out
    assert "skipped broken.md: line 2: front matter is not valid TOML" in out
    assert "- Seoul Should Not Rush Into a Chip Alliance [seoul-should-not-rush-into-a-chip-alliance]" in out
    assert "paragraphs: 4 en, 4 ko; sources: chip_alliance.txt, chip_alliance_curated.md" in out
    # Fix the file: the next run reads everything and exits 0.
    (corpus / "broken.md").unlink()
    assert main(["corpus", "--config", str(tmp_path / "config.toml"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert sorted(a["id"] for a in data["articles"]) == sorted(FIXTURE_ARTICLES)


def test_corpus_and_data_flags_override_config(
    make_settings: Callable[..., Settings], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_settings(tmp_path / "articles")  # an empty corpus in the config
    other = copy_seeds(tmp_path / "elsewhere")
    data = tmp_path / "other-data"
    args = ["corpus", "--config", str(tmp_path / "config.toml"), "--corpus", str(other),
            "--data", str(data), "--json"]
    assert main(args) == 0
    assert [a["id"] for a in json.loads(capsys.readouterr().out)["articles"]] == [SEED_ID]
    assert (data / "dari.sqlite3").is_file()
    assert not (tmp_path / "data" / "dari.sqlite3").exists()


def test_missing_corpus_dir_is_a_config_error(
    make_settings: Callable[..., Settings], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_settings(tmp_path / "articles")
    code = main(["corpus", "--config", str(tmp_path / "config.toml"),
                 "--corpus", str(tmp_path / "missing")])
    assert code == 2
    assert "corpus directory" in capsys.readouterr().err


def test_real_entry_point(tmp_path: Path) -> None:
    corpus = copy_seeds(tmp_path / "articles")
    result = subprocess.run(
        [sys.executable, "-m", "dari", "corpus", "--corpus", str(corpus),
         "--data", str(tmp_path / "data"), "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["articles"][0]["paragraphs"] == {"en": 9, "ko": 8}


def test_unusable_store_is_a_clear_error(
    make_settings: Callable[..., Settings], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_settings(copy_seeds(tmp_path / "articles"))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "dari.sqlite3").write_bytes(b"not a database, just text" * 200)
    assert main(["corpus", "--config", str(tmp_path / "config.toml")]) == 2
    assert "not a usable Dari store" in capsys.readouterr().err
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x", encoding="utf-8")
    assert main(["corpus", "--config", str(tmp_path / "config.toml"),
                 "--data", str(blocker / "data")]) == 2
    assert "cannot use the data directory" in capsys.readouterr().err
