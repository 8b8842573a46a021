"""The ONNX Runtime encoder: the default model without torch, transformers or sentence-transformers.

It runs the graph ``embeddings.onnx_export`` wrote at materialisation (XLM-R encoder, mean
pooling and L2 normalisation inside the graph) and tokenizes with the ``tokenizers`` package
from the same ``tokenizer.json`` the sentence-transformers model uses, with the same prompts,
special tokens and truncation to the model's window. Importing and using it loads neither
torch nor transformers, which is what makes a cold ``dari ask`` fast and the process small.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from embeddings.convert import MARKER, PASSAGE_PROMPT, QUERY_PROMPT
from embeddings.onnx_export import VARIANTS
from embeddings.protocols import as_texts

logger = logging.getLogger(__name__)

# Tokens in flight when encoding passages (texts sorted longest-first), shared by the
# streams below: long passages go in small batches and short ones in large, so no batch costs
# much more than another and the padding stays small. Small: a batch's activations (the
# FFN's 1,536 floats a token beside the residual stream, ~10 KB a token) then stay in the
# CPU's caches — ~10 MB at 1k tokens, ~160 MB at 16k — while a 512 x 384 GEMM is still large
# enough to block well. Measured on the 2-core AMD EPYC Zen 4 (one process, best of three
# interleaved rounds), passages/s in one stream at 16k / 2k / 1k: the bench's seed paragraphs
# 25.4 / 29.4 / 29.9, KorQuAD paragraphs 9.7 / 10.7 / 11.4, news sentences 90.4 / 97.0 / 98.2;
# in two streams of 256 / 512 / 768 / 1,024 tokens each, seed paragraphs 26.5 / 26.7 / 25.8 /
# 25.6 against 24.8 for one stream of 1k (docs/encoder.md).
DEFAULT_TOKEN_BUDGET = 1024
# Attention scores per batch (texts x width x width; the graph holds them for every head):
# past a few million the score tensors leave the caches and long passages run slower than
# in small batches.
DEFAULT_ATTENTION_BUDGET = 1 << 21
# Fewer batches than this go through the query session (one batch at a time, every thread
# on it): a second session is worth making only for a refresh-sized job, not for the few
# sentences an answer may encode.
_STREAMED_BATCHES = 4
# The fewest padded tokens a stream's batch is allowed (the measured best on two cores).
_STREAM_TOKENS = 512


def _cores() -> int:
    """The cores this process may use: physical cores, no more than its CPU affinity allows
    (a container pinned to two CPUs of a large host gets two streams, not one per host core)."""
    # Imported here: psutil takes ~28 ms to import, which every cold `dari ask` would pay
    # for a count that only a refresh-sized job reads.
    import psutil

    physical = psutil.cpu_count(logical=False) or 1
    try:
        allowed = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        allowed = physical
    return max(1, min(physical, allowed))


class OnnxEncoder:
    """Encodes queries and passages with the default model's ONNX graph (CPU, thread-safe)."""

    def __init__(
        self,
        model_dir: Path,
        model_name: str,
        *,
        variant: str = "fp32",
        batch_size: int = 32,
        threads: int = 0,
        token_budget: int = DEFAULT_TOKEN_BUDGET,
        attention_budget: int = DEFAULT_ATTENTION_BUDGET,
    ) -> None:
        from tokenizers import Tokenizer

        if variant not in VARIANTS:
            raise ValueError(f"unknown ONNX variant {variant!r} (known: {', '.join(VARIANTS)})")
        model_dir = Path(model_dir)
        onnx_dir = model_dir / "onnx"
        self.model_name = model_name
        self.model_path = model_dir
        self.variant = variant
        self.quantized = variant == "int8"
        self.batch_size = batch_size
        self.token_budget = max(token_budget, 512)
        self.attention_budget = max(attention_budget, 512 * 512)
        self._lock = threading.Lock()

        st_config = json.loads((model_dir / "config_sentence_transformers.json").read_text("utf-8"))
        prompts: dict[str, str] = st_config.get("prompts", {})
        self._query_prompt = prompts.get("query", QUERY_PROMPT)
        self._passage_prompt = prompts.get("document") or prompts.get("passage", PASSAGE_PROMPT)
        self.window: int = int(json.loads(
            (model_dir / "sentence_bert_config.json").read_text("utf-8"))["max_seq_length"])
        self.dimension: int = int(json.loads((model_dir / "config.json").read_text("utf-8"))["hidden_size"])

        # One tokenizer that truncates like sentence-transformers (to the window, specials
        # included) and pads nothing (batches are padded here), and one that counts
        # untruncated — loaded on first count (splitting passages at refresh): each load
        # parses the 17 MB tokenizer.json (0.8 s), and a question never counts.
        tokenizer_file = str(model_dir / "tokenizer.json")
        self._tokenizer = Tokenizer.from_file(tokenizer_file)
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=self.window)
        self._tokenizer_file = tokenizer_file
        self._counter_loaded: Any = None
        self._counter_lock = threading.Lock()
        self._pad_id = self._tokenizer.token_to_id("<pad>")
        if self._pad_id is None:  # pragma: no cover - the materialised tokenizer has it
            raise ValueError(f"{tokenizer_file} has no <pad> token")

        self._graph = str(onnx_dir / VARIANTS[variant])
        self._session = self._new_session(threads)
        # Passages are encoded as independent streams, one core each, on a session of their
        # own with one thread (made on the first refresh-sized job and kept): on two cores,
        # two batches at once ran 4-9 % faster than one batch on both cores (the threads of
        # one batch wait for each other at every operator), while a question, one small
        # batch, is 25 % faster on both cores (docs/encoder.md). The streams' own session
        # also keeps their activation arena out of the query session, whose memory then
        # stays that of questions after a refresh.
        self._threads = threads
        self._bulk: Any = None
        self._bulk_lock = threading.Lock()

        overhead = max(self._prompt_overhead(True), self._prompt_overhead(False))
        self.max_tokens: int = self.window - overhead
        self.fingerprint: str = self._fingerprint(onnx_dir)

    def _new_session(self, threads: int) -> Any:
        """An ONNX Runtime session of the graph with ``threads`` intra-op threads (0: its
        default, one per physical core)."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads > 0:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle pool threads would otherwise spin for a while after each batch, taking CPU
        # from the bot's other work and from whatever shares the machine (no loss measured).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # ORT warns about shape merges in nodes its own optimizer inserts: noise for users.
        options.log_severity_level = 3
        return ort.InferenceSession(self._graph, sess_options=options,
                                    providers=["CPUExecutionProvider"])

    @cached_property
    def streams(self) -> int:
        """Passage batches encoded at once: ``threads`` when set, else one per core the
        process may use."""
        return self._threads if self._threads > 0 else _cores()

    def _bulk_session(self) -> Any:
        """The streams' one-thread session (made on first use)."""
        with self._bulk_lock:
            if self._bulk is None:
                self._bulk = self._new_session(1)
            return self._bulk

    def _fingerprint(self, onnx_dir: Path) -> str:
        """Hash of the graph file (its sha256, recorded at export), tokenizer, prompts, window.

        The variant is in it through the file: fp32 and int8 vectors differ, and so do ONNX
        and torch vectors (by float rounding at least), so each gets its own fingerprint and
        an index built by another is re-encoded rather than mixed.
        """
        marker = json.loads((onnx_dir / MARKER).read_text("utf-8"))
        digest = hashlib.sha256()
        digest.update(f"onnx:{self.variant}:{marker['sha256'][VARIANTS[self.variant]]}".encode())
        digest.update(f"tokenizer={marker.get('tokenizer_sha256', '')}".encode())
        digest.update(f"prompts={self._query_prompt!r},{self._passage_prompt!r}".encode())
        digest.update(f"window={self.window}".encode())
        sample = self._tokenizer.encode("passage: Dari 다리 fingerprint ①").ids  # far below the window
        digest.update(repr(sample).encode())
        return digest.hexdigest()[:16]

    # -- tokens -------------------------------------------------------------------------
    @property
    def _counter(self) -> Any:
        """The untruncated tokenizer (loaded on first use)."""
        with self._counter_lock:
            if self._counter_loaded is None:
                from tokenizers import Tokenizer

                counter = Tokenizer.from_file(self._tokenizer_file)
                counter.no_padding()
                counter.no_truncation()
                self._counter_loaded = counter
            return self._counter_loaded

    def _prompt_overhead(self, is_query: bool) -> int:
        prompt = self._query_prompt if is_query else self._passage_prompt
        # Tokens of the prompt alone plus specials (far below the window: the truncating
        # tokenizer counts them exactly); the text's first token absorbs the space.
        return len(self._tokenizer.encode(prompt).ids) - (1 if prompt.endswith(" ") else 0)

    def count_tokens(self, text: str, is_query: bool = False) -> int:
        """Tokens the model is fed for ``text`` with its prompt and special tokens, untruncated."""
        prompt = self._query_prompt if is_query else self._passage_prompt
        return len(self._counter.encode(prompt + text).ids)

    def fits(self, text: str) -> bool:
        """True when ``text`` is encoded as a passage without truncation."""
        return self.count_tokens(text, is_query=False) <= self.window

    # -- encoding -----------------------------------------------------------------------
    def _run(self, ids: list[list[int]], session: Any = None) -> np.ndarray:
        """Vectors of already tokenized texts, as one padded batch (on the query session,
        or on ``session``)."""
        longest = max(len(row) for row in ids)
        input_ids = np.full((len(ids), longest), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(ids), longest), dtype=np.int64)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        feed = {"input_ids": input_ids, "attention_mask": mask}
        if session is not None:  # a stream's: ONNX Runtime runs a session from many threads
            (vectors,) = session.run(None, feed)
        else:
            with self._lock:  # one batch at a time: queries interleave between passage batches
                (vectors,) = self._session.run(None, feed)
        return np.asarray(vectors, dtype=np.float32)

    def _tokenize(self, texts: list[str], prompt: str) -> list[list[int]]:
        return [e.ids for e in self._tokenizer.encode_batch([prompt + t for t in texts])]

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions with the ``query: `` prompt: float32 (n, dimension), L2-normalised."""
        texts = as_texts(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        ids = self._tokenize(texts, self._query_prompt)
        for start in range(0, len(ids), self.batch_size):
            out[start : start + self.batch_size] = self._run(ids[start : start + self.batch_size])
        return out

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Embed passages with the ``passage: `` prompt: float32 (n, dimension), L2-normalised.

        Texts are processed longest-first in batches of at most ``batch_size`` texts and
        about ``token_budget`` padded tokens in flight (a refresh-sized job runs as
        ``streams`` batches at once, one core each, sharing it), with a tqdm bar when
        ``progress``. Passages
        over the window are truncated, so a warning names how many; split them first
        (``embeddings.passages.split_passages``).
        """
        texts = as_texts(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        ids = self._tokenize(texts, self._passage_prompt)
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]), reverse=True)
        too_long = sum(1 for i in order[:64] if not self.fits(texts[i]))
        if too_long:
            logger.warning("%d passage(s) exceed the %d-token window and will be truncated;"
                           " split them with split_passages", too_long, self.window)
        widths = [len(ids[i]) for i in order]
        streams = self.streams
        batches = self._batches(widths, streams)
        if streams > 1 and len(batches) < _STREAMED_BATCHES:
            streams, batches = 1, self._batches(widths, 1)
        bar = tqdm(total=len(texts), desc="Encoding passages", unit="passage",
                   disable=not progress)
        try:
            if streams == 1:
                for a, b in batches:
                    idx = order[a:b]
                    out[idx] = self._run([ids[i] for i in idx])
                    bar.update(len(idx))
                return out
            session = self._bulk_session()
            pool = ThreadPoolExecutor(max_workers=streams, thread_name_prefix="dari-encode")
            try:
                # Submitted longest first: the streams take them in order, so the last
                # batches, the cheapest, even out the streams' ends.
                running = {pool.submit(self._run, [ids[i] for i in order[a:b]], session): (a, b)
                           for a, b in batches}
                for done in as_completed(running):
                    a, b = running[done]
                    out[order[a:b]] = done.result()
                    bar.update(b - a)
            finally:
                # An error or an interrupt (Ctrl-C) stops here: the batches not started are
                # dropped, and only the ones running finish.
                pool.shutdown(wait=True, cancel_futures=True)
        finally:
            bar.close()
        return out

    def _batches(self, widths: list[int], streams: int) -> list[tuple[int, int]]:
        """Batches (``start``, ``end``) over texts of token counts ``widths`` (longest
        first) for ``streams`` streams at once: at most ``batch_size`` texts, and the token
        and attention budgets shared by the streams."""
        # Each stream keeps batches of 512 tokens at least (a smaller GEMM blocks poorly), so
        # on more than two cores more tokens are in flight (and more cache holds them).
        tokens = max(self.token_budget // streams, _STREAM_TOKENS)
        cells = max(self.attention_budget // streams, _STREAM_TOKENS * _STREAM_TOKENS)
        out: list[tuple[int, int]] = []
        start = 0
        while start < len(widths):
            # The first (longest) text sets the padded width of the batch.
            width = widths[start]
            size = max(1, min(self.batch_size, tokens // width, cells // (width * width)))
            out.append((start, min(start + size, len(widths))))
            start += size
        return out
