"""Language-wide word rarity from e5's own unigram tokenizer (the unknown-words evidence)."""

from __future__ import annotations

from pathlib import Path

import pytest

from embeddings import fusion
from embeddings.convert import materialise_default_model
from embeddings.rarity import WordRarity
from embeddings.tokenize import tokenize


@pytest.fixture(scope="module")
def rarity(shared_model_dir: Path) -> WordRarity:
    return WordRarity(materialise_default_model(shared_model_dir) / "tokenizer.json")


def test_everyday_words_are_common_and_names_rare_in_both_languages(rarity: WordRarity) -> None:
    # Words as the keyword tokenizer writes them (lowercased, stemmed; Korean morphemes).
    common = [*tokenize("want fix summit"), *tokenize("아버지 학교")]
    rare = [*tokenize("Phoenicia Zanzibar"), *tokenize("페니키아 하현우")]
    assert common and rare
    assert max(map(rarity, common)) < fusion.UNSEEN_RARITY <= min(map(rarity, rare))
    # A longer spelling of the same rare thing is no less rare; the value is cached, stable.
    assert rarity("페니키아") == rarity("페니키아") > rarity("아버지")


def test_only_the_default_models_tokenizer_judges_rarity(tmp_path: Path) -> None:
    class Other:
        model_name = "some/other-model"
        model_path = tmp_path

    assert WordRarity.of_encoder(Other()) is None  # type: ignore[arg-type]
    Other.model_name = "intfloat/multilingual-e5-small"
    assert WordRarity.of_encoder(Other()) is None  # type: ignore[arg-type] - no tokenizer.json
    # A tokenizer that is not a unigram model: no word is rare, and nothing raises.
    (tmp_path / "tokenizer.json").write_text('{"model": {"type": "BPE"}}', encoding="utf-8")
    found = WordRarity.of_encoder(Other())  # type: ignore[arg-type]
    assert found is not None and found("페니키아") == 0.0
