"""Float16 storage read back as float32 (``embeddings.half``)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from embeddings import half
from embeddings.half import CHUNK, rows_dot, run_max, to_float32
from embeddings.kernels import KERNEL
from embeddings.ragged import ranges, segment_max

# Without a C compiler the install skips the kernel: one test below says so and fails; the
# others that need the kernel are skipped rather than failing for the same reason.
needs_kernel = pytest.mark.skipif(KERNEL == "numpy", reason="embeddings/_rows.c was not built")


def test_every_finite_float16_converts_to_the_float32_numpy_gives() -> None:
    every = np.arange(2**16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    finite = every[np.isfinite(every)]  # subnormals, both zeros and the largest included
    assert np.array_equal(to_float32(finite).view(np.uint32),
                          finite.astype(np.float32).view(np.uint32))


def test_a_strided_or_float32_array_converts_as_the_plain_cast() -> None:
    rng = np.random.default_rng(3)
    half = (rng.standard_normal((7, 10)) * 0.05).astype(np.float16)
    assert np.array_equal(to_float32(half[:, ::3]), half[:, ::3].astype(np.float32))
    single = rng.standard_normal((4, 3)).astype(np.float32)
    assert np.array_equal(to_float32(single), single)


def test_rows_dot_over_several_chunks_matches_the_plain_product() -> None:
    rng = np.random.default_rng(4)
    half = (rng.standard_normal((3 * CHUNK + 5, 16)) * 0.05).astype(np.float16)
    rows = rng.permutation(len(half))[: 2 * CHUNK + 7]
    vector = rng.standard_normal(16).astype(np.float32)
    got = rows_dot(half, rows, vector)
    assert got.dtype == np.float32 and got.shape == (len(rows),)
    np.testing.assert_allclose(got, half[rows].astype(np.float32) @ vector, rtol=0, atol=1e-6)
    assert rows_dot(half, rows[:0], vector).shape == (0,)


def test_rows_dot_rounds_as_the_product_of_the_converted_rows() -> None:
    # The rescale moved onto the vector is exact: the same floats as converting first,
    # bit for bit, for unit vectors as stored (and for rows holding float16 subnormals).
    rng = np.random.default_rng(5)
    rows32 = rng.standard_normal((300, 384)).astype(np.float32)
    rows32 /= np.linalg.norm(rows32, axis=1, keepdims=True)
    half = rows32.astype(np.float16)
    half[:5, :7] = np.float16(3e-6)  # float16 subnormals
    vector = rng.standard_normal(384).astype(np.float32)
    vector /= np.linalg.norm(vector)
    rows = np.arange(len(half))
    expected = np.concatenate([to_float32(half[a:a + CHUNK]) @ vector
                               for a in range(0, len(half), CHUNK)])
    assert np.array_equal(rows_dot(half, rows, vector).view(np.uint32), expected.view(np.uint32))


def _runs_case(dtype: type, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                           np.ndarray, np.ndarray]:
    """A matrix of unit rows (float16 subnormals among them), a question vector, and runs of
    every kind: empty, one row, several, the last row, repeated and out of order."""
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((200, dim)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    matrix = rows.astype(dtype)
    matrix[:3, :5] = 3e-6
    vector = rng.standard_normal(dim).astype(np.float32)
    vector /= np.linalg.norm(vector)
    starts = np.array([0, 5, 5, 17, 199, 40, 0, 120], dtype=np.int64)
    ends = np.array([3, 5, 6, 60, 200, 41, 200, 125], dtype=np.int64)
    expected = np.array([(matrix[a:b].astype(np.float64) @ vector).max() if b > a else -2.0
                         for a, b in zip(starts, ends)])
    return matrix, starts, ends, vector, expected


@pytest.mark.parametrize("kernel", [pytest.param("compiled", marks=needs_kernel), "numpy"])
def test_run_max_takes_each_runs_best_product_in_float16_and_float32(
        kernel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Widths of the two encoders (384, 512) and one that leaves a tail of single values; the
    # compiled kernel and numpy (what a machine without a C compiler runs) alike.
    if kernel == "numpy":
        monkeypatch.setattr(half, "compiled", None)
    for dtype in (np.float16, np.float32):
        for dim in (384, 512, 37):
            matrix, starts, ends, vector, expected = _runs_case(dtype, dim, dim)
            got = run_max(matrix, starts, ends, vector, empty=-2.0)
            assert got.dtype == np.float64 and got.shape == (len(starts),)
            np.testing.assert_allclose(got, expected, rtol=0, atol=2e-6)
            assert got[1] == -2.0  # the empty run
    assert run_max(matrix, starts[:0], ends[:0], vector).shape == (0,)


def test_the_install_builds_the_compiled_kernel_and_it_agrees_with_numpy() -> None:
    # A machine with a C compiler (every one Dari is built on) must not fall back silently.
    assert KERNEL in ("avx2", "plain"), "embeddings/_rows.c was not built: `pip install -e .`"
    matrix, starts, ends, vector, _ = _runs_case(np.float16, 384, 9)
    numpy_side = segment_max(rows_dot(matrix, ranges(starts, ends), vector), ends - starts, -2.0)
    np.testing.assert_allclose(run_max(matrix, starts, ends, vector, -2.0), numpy_side,
                               rtol=0, atol=2e-6)


@needs_kernel
def test_the_portable_loops_agree_with_the_vector_kernel() -> None:
    # DARI_ROWS_KERNEL=plain keeps the portable loops (a machine without AVX2 runs them):
    # computed in a fresh process, they give what this one's kernel gives.
    script = ("import sys, numpy as np; from embeddings.half import run_max; "
              "from embeddings.kernels import KERNEL; "
              "a = np.load(sys.argv[1]); "
              "out = run_max(a['matrix'], a['starts'], a['ends'], a['vector'], -2.0); "
              "np.save(sys.argv[2], out); print(KERNEL)")
    with tempfile.TemporaryDirectory() as tmp:
        for dtype, dim in ((np.float16, 384), (np.float32, 37)):
            matrix, starts, ends, vector, expected = _runs_case(dtype, dim, 11)
            case, result = Path(tmp) / "case.npz", Path(tmp) / "out.npy"
            np.savez(case, matrix=matrix, starts=starts, ends=ends, vector=vector)
            done = subprocess.run([sys.executable, "-c", script, str(case), str(result)],
                                  env={**os.environ, "DARI_ROWS_KERNEL": "plain"},
                                  capture_output=True, text=True, check=True)
            assert done.stdout.strip() == "plain"
            np.testing.assert_allclose(np.load(result), expected, rtol=0, atol=2e-6)
            np.testing.assert_allclose(np.load(result), run_max(matrix, starts, ends, vector, -2.0),
                                       rtol=0, atol=2e-6)


@needs_kernel
def test_run_max_refuses_runs_outside_the_matrix_and_other_types() -> None:
    matrix, starts, ends, vector, _ = _runs_case(np.float16, 384, 12)
    with pytest.raises(IndexError, match="outside the 200 rows"):
        run_max(matrix, np.array([5]), np.array([201]), vector)
    with pytest.raises(IndexError):
        run_max(matrix, np.array([6]), np.array([5]), vector)
    with pytest.raises(ValueError, match="width"):
        run_max(matrix, starts, ends, vector[:100])
