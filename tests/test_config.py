"""Settings load from config.toml, and bad settings fail with the key and the file named."""

from __future__ import annotations

from pathlib import Path

import pytest

from settings.config import DEFAULT_CONFIG, ConfigError, load_settings


def test_project_config_loads() -> None:
    settings = load_settings()
    assert settings.source == DEFAULT_CONFIG
    assert settings.corpus_dir.name == "articles"
    assert settings.corpus_dir.is_dir()
    assert settings.embeddings.model == "intfloat/multilingual-e5-small"
    assert settings.model_dir == settings.data_dir / "models"
    # The limits that bound what one upload or one refresh may cost.
    assert settings.discord.max_upload_kb == 1024
    assert settings.corpus.max_paragraph_chars == 20_000 and settings.corpus.max_paragraphs == 2_000
    assert settings.index.max_refresh_minutes == 60.0
    assert settings.embeddings.backend == "onnx"  # the measured default (README, Encoder)


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "articles").mkdir(exist_ok=True)
    path = tmp_path / "config.toml"
    path.write_text('[paths]\ncorpus_dir = "articles"\n' + text, encoding="utf-8")
    return path


def test_relative_paths_resolve_against_config_file(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, 'data_dir = "d"\n'))
    assert settings.corpus_dir == (tmp_path / "articles").resolve()
    assert settings.data_dir == (tmp_path / "d").resolve()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[retrieval]\ntop_kk = 3\n", "[retrieval].top_kk"),
        ("[retrieval]\ntop_k = \"three\"\n", "[retrieval].top_k must be an integer"),
        ("[discord]\nguild_ids = [\"x\"]\n", "[discord].guild_ids[0] must be an integer"),
        ("[answer]\npassages = 0\n", "[answer].passages must be greater than 0"),
        ("[nonsense]\na = 1\n", "'nonsense'"),
        ("[logging]\nlevel = \"LOUD\"\n", "[logging].level"),
        ("[retrieval\n", "not valid TOML"),
        ("[discord]\nmax_upload_kb = 0\n", "[discord].max_upload_kb must be greater than 0"),
        ("[corpus]\nmax_paragraph_chars = -5\n", "[corpus].max_paragraph_chars must be greater than 0"),
        ("[corpus]\nmax_paragraphs = 0\n", "[corpus].max_paragraphs must be greater than 0"),
        ("[index]\nmax_refresh_minutes = -1\n", "[index].max_refresh_minutes must not be negative"),
        ("[embeddings]\nbackend = \"tensorflow\"\n", "[embeddings].backend must be one of 'onnx', 'torch'"),
        ("[embeddings]\nbackend = 1\n", "[embeddings].backend must be a string"),
    ],
)
def test_bad_settings_name_key_and_file(tmp_path: Path, text: str, needle: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert needle in str(info.value)
    assert str(path) in str(info.value)


def test_missing_corpus_dir_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[paths]\ncorpus_dir = "nowhere"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[paths\].corpus_dir.*does not exist"):
        load_settings(path)


def test_overrides_replace_paths(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    settings = load_settings(corpus_dir=other, data_dir=tmp_path / "data")
    assert settings.corpus_dir == other.resolve()
    assert settings.data_dir == (tmp_path / "data").resolve()


def test_token_only_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from settings.config import discord_token

    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    assert discord_token() is None
    monkeypatch.setenv("DISCORD_TOKEN", " abc ")
    assert discord_token() == "abc"
