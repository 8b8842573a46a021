"""Paragraph alignment: the seed article with real embeddings, and synthetic edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from corpus.align import align, counterparts
from tests.quality_support import make_encoder, seed_paragraphs

EXPECTED = [((1,), (1,)), ((2,), (2,)), ((3,), (3,)), ((4,), (4,)), ((5, 6), (5,)),
            ((7,), (6,)), ((8,), (7,)), ((9,), (8,))]


@pytest.fixture(scope="module")
def encoder(shared_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return make_encoder(shared_model_dir, tmp_path_factory.mktemp("align"))


@pytest.fixture(scope="module")
def seed_similarity(encoder) -> np.ndarray:  # type: ignore[no-untyped-def]
    en, ko = seed_paragraphs()
    return encoder.encode_passages(en) @ encoder.encode_passages(ko).T


def test_seed_paragraph_counts() -> None:
    en, ko = seed_paragraphs()
    assert (len(en), len(ko)) == (9, 8)
    assert en[4].startswith("The Korea-U.S.-Japan summit") and ko[4].startswith("지난달 29일")


def test_seed_alignment_with_embeddings(seed_similarity: np.ndarray) -> None:
    en, ko = seed_paragraphs()
    pairs = align(en, ko, seed_similarity)
    assert [(p.en, p.ko) for p in pairs] == EXPECTED


def test_merged_beads_scored_by_encoding(encoder, seed_similarity: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    # A slice around the merge keeps the number of encodings (and the test) small.
    en, ko = seed_paragraphs()
    en, ko, sim = en[3:7], ko[3:6], seed_similarity[3:7, 3:6]
    calls: list[tuple[tuple[int, ...], tuple[int, ...]]] = []

    def group(ei, kj) -> float:  # type: ignore[no-untyped-def]
        calls.append((tuple(ei), tuple(kj)))
        a = encoder.encode_passages([" ".join(en[i] for i in ei)])[0]
        b = encoder.encode_passages([" ".join(ko[j] for j in kj)])[0]
        return float(a @ b)

    pairs = align(en, ko, sim, group_similarity=group)
    assert [(p.en, p.ko) for p in pairs] == [((1,), (1,)), ((2, 3), (2,)), ((4,), (3,))]
    assert ((1, 2), (1,)) in calls and all(len(e) + len(k) == 3 for e, k in calls)


def test_seed_alignment_lengths_only() -> None:
    en, ko = seed_paragraphs()
    assert [(p.en, p.ko) for p in align(en, ko)] == EXPECTED


def test_dropped_paragraph_is_unmatched(seed_similarity: np.ndarray) -> None:
    en, ko = seed_paragraphs()
    # The translation drops the original's third paragraph.
    ko_extra = ko[:]
    en_short = en[:2] + en[3:]
    sim = np.delete(seed_similarity, 2, axis=0)
    pairs = align(en_short, ko_extra, sim)
    assert ((), (3,)) in [(p.en, p.ko) for p in pairs]
    mapping = counterparts(pairs)
    assert mapping[("en", 1)] == (1,) and ("ko", 3) not in mapping


def test_split_paragraph_is_one_to_two(encoder) -> None:  # type: ignore[no-untyped-def]
    en, ko = seed_paragraphs()
    # Merge two English paragraphs into one: the Korean pair must come out as a 1–2 bead.
    en_merged = [*en[:2], en[2] + " " + en[3], *en[4:]]
    sim = encoder.encode_passages(en_merged) @ encoder.encode_passages(ko).T
    pairs = [(p.en, p.ko) for p in align(en_merged, ko, sim)]
    assert ((3,), (3, 4)) in pairs
    assert pairs[0] == ((1,), (1,))


def test_empty_sides_and_bad_matrix() -> None:
    assert [(p.en, p.ko) for p in align(["a"], [])] == [((1,), ())]
    assert align([], []) == []
    with pytest.raises(ValueError):
        align(["a", "b"], ["가"], np.zeros((1, 1)))
