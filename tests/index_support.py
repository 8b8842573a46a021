"""Shared setup for the index tests: settings on private dirs, a session encoder, the CLI.

The encoder is the real one (materialised into the session's shared model dir); it is
loaded once per session because loading takes seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from embeddings.protocols import TextEncoder
from settings.config import Settings, load_settings
from tests.conftest import REPO, SEED_FILES, SEEDS, write_config

# A second, unrelated bilingual article in the curated format: lets tests add, change and
# remove an article, and check that a query about its topic finds it and not the seed.
EXTRA_NAME = "jeju_tangerines.md"
EXTRA_ARTICLE = """+++
id = "jeju-tangerines"
title = "Warm Winters Push Jeju Tangerine Farmers North"
title_ko = "따뜻한 겨울, 제주 감귤 농가를 북쪽으로 밀어내다"
outlet = "Test Daily"
published = 2023-01-20
author = "Kim Test"
+++

Tangerine growers on Jeju Island say warmer winters have made their fruit sour and soft, and many are replacing their orchards with mango and banana trees.

Agricultural researchers estimate that the area suitable for growing tangerines is moving north by about a kilometre each year, reaching farms in South Jeolla Province.

The provincial government plans to subsidise greenhouses and new citrus varieties so that farmers do not abandon the island's most famous crop.

제주도의 감귤 재배 농민들은 겨울이 따뜻해지면서 과일이 시고 물러졌다고 말하며, 많은 농가가 과수원을 망고와 바나나 나무로 바꾸고 있다.

농업 연구자들은 감귤 재배 적지가 해마다 약 1킬로미터씩 북쪽으로 이동해 전라남도의 농가까지 이르렀다고 추정한다.

도 당국은 농민들이 섬의 가장 유명한 작물을 포기하지 않도록 온실과 새로운 감귤 품종에 보조금을 지원할 계획이다.
"""


# A short English-only article: a small corpus that is cheap to encode from a cold cache.
NOTE_NAME = "ferry_note.md"
NOTE_ARTICLE = """+++
id = "ferry-note"
title = "Night Ferries Return to Mokpo"
outlet = "Test Daily"
published = 2023-03-02
+++

The overnight ferry between Mokpo and Jeju resumed service this week after a two-year pause.

Passengers said the cabins were crowded but cheaper than flying.
"""


def make_corpus(path: Path, extra: bool = True) -> Path:
    """A corpus dir with the two seed files (one bilingual article) and optionally the extra one."""
    path.mkdir(parents=True, exist_ok=True)
    for name in SEED_FILES:
        shutil.copy(SEEDS / name, path / name)
    if extra:
        (path / EXTRA_NAME).write_text(EXTRA_ARTICLE, encoding="utf-8")
    return path


def settings_for(base: Path, model_dir: Path, corpus: Path | None = None, extra: str = "",
                 warm_cache: Path | None = None) -> Settings:
    """Settings (and ``base/config.toml``) with corpus ``base/articles`` and data ``base/data``.

    ``warm_cache`` is an embedding-cache file copied into the new data dir, so tests that
    are not about encoding do not re-encode the seed article (seconds per test).
    """
    corpus = corpus or (base / "articles")
    corpus.mkdir(parents=True, exist_ok=True)
    cfg = write_config(base / "config.toml", corpus, base / "data", model_dir, extra)
    if warm_cache is not None:
        target = base / "data" / "cache" / "embeddings.sqlite3"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(warm_cache, target)
    return load_settings(cfg)


def run_dari(settings: Settings, *args: str, env: dict[str, str] | None = None,
             timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real `dari` CLI in a subprocess with ``settings``' config file."""
    assert settings.source is not None
    return subprocess.run(
        [sys.executable, "-m", "dari", *args, "--config", str(settings.source)],
        cwd=REPO, env={**os.environ, **(env or {})}, capture_output=True, text=True,
        timeout=timeout,
    )


def start_dari(settings: Settings, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start `dari …` in the background (for the kill tests)."""
    assert settings.source is not None
    return subprocess.Popen(
        [sys.executable, "-m", "dari", *args, "--config", str(settings.source)],
        cwd=REPO, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )


@pytest.fixture(scope="session")
def index_encoder(tmp_path_factory: pytest.TempPathFactory, shared_model_dir: Path) -> TextEncoder:
    """The real encoder, loaded once for the index tests."""
    from embeddings.encoder import Encoder

    base = tmp_path_factory.mktemp("encoder")
    return Encoder.from_settings(settings_for(base, shared_model_dir))


@pytest.fixture(scope="session")
def warm_cache(tmp_path_factory: pytest.TempPathFactory, shared_model_dir: Path,
               index_encoder: TextEncoder) -> Path:
    """An embedding-cache file holding the vectors of the seed and extra articles."""
    import sqlite3

    from embeddings.refresh import refresh

    base = tmp_path_factory.mktemp("warm")
    settings = settings_for(base, shared_model_dir, make_corpus(base / "articles"))
    refresh(settings, encoder=index_encoder, show_progress=False)
    source = Path(settings.data_dir) / "cache" / "embeddings.sqlite3"
    db = sqlite3.connect(source)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything into the main file
    db.close()
    dest = base / "warm-embeddings.sqlite3"
    shutil.copy(source, dest)
    return dest


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, shared_model_dir: Path,
            index_encoder: TextEncoder, warm_cache: Path) -> Settings:
    """Settings of a corpus (seed + extra article) that has been indexed once; read-only."""
    from embeddings.refresh import refresh

    base = tmp_path_factory.mktemp("indexed")
    settings = settings_for(base, shared_model_dir, make_corpus(base / "articles"),
                            warm_cache=warm_cache)
    refresh(settings, encoder=index_encoder, show_progress=False)
    return settings
