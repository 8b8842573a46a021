"""Shared helpers for the corpus tests: fixture articles and the facts they must yield."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "articles"
SEED_FILES = ("000_bf73b40dd2f47372.txt", "002_7732f792edb64a8e.txt")
CORPUS_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "corpus"

SEED_ID = "how-far-can-south-korea-us-japan-military-cooperation-go"
SEED_META = {
    "title": "How Far Can South Korea-US-Japan Military Cooperation Go?",
    "outlet": "Khan",
    "country": "South Korea",
    "published": "2022-07-15",
    "author": "Yu Shin-mo",
    "translator": "Anukrati Mehta",
    "editor": "Helaine Schweitzer",
}

# What the hand-written fixtures must ingest to: id -> (en count, ko count, sources).
FIXTURE_ARTICLES = {
    "energy-transition-local-consent": (3, 3, ("energy_consent.md",)),
    "seoul-should-not-rush-into-a-chip-alliance": (
        4, 4, ("chip_alliance.txt", "chip_alliance_curated.md"),
    ),
    "the-quiet-crisis-of-rural-schools": (3, 0, ("rural_schools.txt",)),
}

# Words that only occur in the site's furniture of the fixtures and seeds: none may be stored.
BOILERPLATE_MARKERS = (
    "This post appeared", "About this publication", "Hot this week", "Related Articles",
    "Leave a Reply", "Be the first to comment", "Comments", "Topics", "Tokyo’s Chip Subsidies",
    "Friend-Shoring", "Remittances", "Shrinking Towns", "Beijing Bets", "Irish Times",
    "Peace Report", "MAGA", "Shielding America", "link to original", "Published in",
    "Translated from", "Edited by", "* * *",
)


def copy_files(dest: Path, *names: str, source: Path = CORPUS_FIXTURES) -> Path:
    """Copy named files (from the fixtures, or ``source``) into ``dest``; returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(source / name, dest / name)
    return dest


def copy_seeds(dest: Path) -> Path:
    """Copy the two bundled seed files into ``dest``."""
    return copy_files(dest, *SEED_FILES, source=SEEDS)


def copy_all_fixtures(dest: Path) -> Path:
    """Copy every hand-written fixture article into ``dest``."""
    names = sorted(p.name for p in CORPUS_FIXTURES.iterdir() if p.is_file())
    return copy_files(dest, *names)


_EN_WORDS = ("alliance trade security policy election market court climate energy labor housing"
             " budget minister treaty coast village school").split()
_KO_WORDS = "동맹 무역 안보 정책 선거 시장 법원 기후 에너지 노동 주택 예산 장관 조약 해안 마을 학교".split()


def write_synthetic_corpus(dest: Path, count: int, seed: int = 0) -> Path:
    """``count`` distinct scraped-format articles (8 + 8 paragraphs, site furniture) in ``dest``.

    For scale tests and the ingestion benchmark; the text is random words, not real articles.
    """
    import random

    rng = random.Random(seed)
    dest.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        en = [" ".join(rng.choice(_EN_WORDS) for _ in range(60)).capitalize() + "."
              for _ in range(8)]
        ko = [" ".join(rng.choice(_KO_WORDS) for _ in range(40)) + "." for _ in range(8)]
        text = (
            f"Synthetic Article {i} on {rng.choice(_EN_WORDS).title()}\n\n"
            "Published in Khan (South Korea) on 15 July 2022\nby Writer (link to original)\n"
            "Translated from by Translator. Edited by Editor.\n"
            + "\n\n".join(en) + "\n\n" + "\n\n".join(ko)
            + "\nThis post appeared on the front page as a direct link to the original article"
            " with the above link .\n\nHot this week\n\nCanada: A Headline\n\nJapan: Another\n"
        )
        (dest / f"synthetic_{i:05d}.txt").write_text(text, encoding="utf-8")
    return dest


def bench_ingest(count: int = 1000) -> str:
    """Ingest ``count`` synthetic files twice into a temp dir; returns a one-line summary.

    ``python -c "from tests.corpus_support import bench_ingest; print(bench_ingest())"``
    """
    import tempfile
    import time

    from corpus.ingest import ingest
    from settings.config import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        corpus = write_synthetic_corpus(Path(tmp) / "articles", count)
        settings = load_settings(corpus_dir=corpus, data_dir=Path(tmp) / "data")
        times = []
        for _ in range(2):
            wall, cpu = time.perf_counter(), time.process_time()
            report = ingest(settings)
            times.append((time.perf_counter() - wall, time.process_time() - cpu))
        return (f"{count} files: first ingest {times[0][0]:.2f}s wall / {times[0][1]:.2f}s CPU,"
                f" unchanged re-ingest {times[1][0]:.2f}s wall / {times[1][1]:.2f}s CPU"
                f" ({len(report.unchanged)} unchanged)")
