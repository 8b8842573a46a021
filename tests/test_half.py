"""Float16 storage read back as float32 (``embeddings.half``)."""

from __future__ import annotations

import numpy as np

from embeddings.half import CHUNK, rows_dot, to_float32


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
