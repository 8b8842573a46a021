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
