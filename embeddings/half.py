"""Float16 storage read back as float32, exactly and fast.

Sentence and companion vectors are stored as float16 (half the size, memory-mapped), and a
search gathers a few thousand rows of them. numpy's float16 → float32 cast does not use the
CPU's conversion instructions: on the 2-core build machine it took 1.2 ms for 1,500 rows of
384 (more than the product that follows), while the bit arithmetic below gives the same
floats, bit for bit, in a fraction of it: ``rows_dot`` over those rows (gather, conversion
and product) takes ~0.55 ms. A search's sentence evidence goes through :func:`run_max`, which
the compiled kernel serves when the install built it (then a third of that again).
"""

from __future__ import annotations

import numpy as np

from embeddings.kernels import compiled
from embeddings.ragged import ranges, segment_max

# A float16's bits sign-extended to 32 and shifted left by 13 put its exponent and mantissa
# at a float32's mantissa end, whose value is then the float16's times 2**-112 (the formats'
# exponents are biased by 15 and 127); the sign lands on the float32's sign bit, and the
# three copies of it the extension shifted into the exponent's top bits are cleared. One
# multiplication by 2**112 restores the value, subnormals and zero included.
_TO_FLOAT32 = np.int32(13)
_SPILLED_SIGN = np.int32(-0x70000001)  # 0x8FFFFFFF: the sign and the 28 low bits
_REBIAS = np.float32(2.0**112)
# Rows converted at a time. Converting a whole gather at once allocates a few MB of
# temporaries per question, and the kernel hands back freed large blocks: measured, 1,365
# page faults and 3.4 ms for 1,500 rows of 384, against 2 faults and 0.55 ms in chunks of 128
# (the plain cast: 1.4 ms). A row's product can differ from an unchunked one's in the last
# bit (BLAS orders the tail rows' sums otherwise), far below any score difference that counts.
CHUNK = 128


def _unbiased(half: np.ndarray) -> np.ndarray:
    """``half`` (float16) as float32 times 2**-112: the bits moved, not yet rescaled.

    Three array passes (extend, shift, mask). Masking magnitude and sign apart and joining
    them took six: ``rows_dot`` over 1,500 rows of 384 took 1.07 ms that way against 0.55 ms
    (same run), and a search at 100k paragraphs spends 2.55 instead of 3.1–3.5 ms in it."""
    bits = np.ascontiguousarray(half).view(np.int16).astype(np.int32)
    bits <<= _TO_FLOAT32
    bits &= _SPILLED_SIGN
    return bits.view(np.float32)


def to_float32(half: np.ndarray) -> np.ndarray:
    """``half`` as float32, equal to ``half.astype(np.float32)`` for every finite float16
    (vectors hold no infinities or NaN); an array of another type is cast as usual."""
    if half.dtype != np.float16:
        return np.asarray(half, dtype=np.float32)
    values = _unbiased(half)
    values *= _REBIAS
    return values


def rows_dot(half: np.ndarray, rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """The float32 product of the (float16) ``half[rows]`` with ``vector``, ``CHUNK`` rows
    at a time.

    The rescaling by 2**112 is moved onto ``vector`` (one multiplication of a few hundred
    floats instead of one per gathered value, a tenth of the time): scaling by a power of two
    is exact, so every product, and so every sum, rounds as with the rescaled rows (float16
    subnormals become float32 subnormals, as exact)."""
    vector = np.asarray(vector, dtype=np.float32)
    if half.dtype != np.float16:
        return np.asarray(half[rows], dtype=np.float32) @ vector
    scaled = vector * _REBIAS
    out = np.empty(len(rows), dtype=np.float32)
    for a in range(0, len(rows), CHUNK):
        out[a:a + CHUNK] = _unbiased(half[rows[a:a + CHUNK]]) @ scaled
    return out


def run_max(matrix: np.ndarray, starts: np.ndarray, ends: np.ndarray, vector: np.ndarray,
            empty: float = 0.0) -> np.ndarray:
    """For each run ``starts[i]:ends[i]`` of ``matrix``'s rows (float16 or float32), the
    largest product of a row with ``vector`` (float64; ``empty`` for an empty run): each
    paragraph's best stored sentence, in one call for a search's few hundred candidates.

    The compiled kernel (``embeddings/_rows.c``) reads each row once, converts it in
    registers and asks for the next run's rows ahead: measured at 100k paragraphs right after
    a query encoding (as the ask path runs it), e5's and the companion's sentence rows of 300
    candidates took 0.64–0.70 ms against 1.8–1.9 ms for the gather, conversion and product
    below. Both agree to float32 rounding (the order of the additions differs)."""
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    ends = np.ascontiguousarray(ends, dtype=np.int64)
    vector = np.ascontiguousarray(vector, dtype=np.float32)
    if compiled is not None and matrix.ndim == 2 and matrix.dtype in (np.float16, np.float32) \
            and matrix.flags.c_contiguous:
        out = np.empty(len(starts), dtype=np.float64)
        compiled.best_rows(matrix, starts, ends, vector, out, float(empty))
        return out
    return segment_max(rows_dot(matrix, ranges(starts, ends), vector), ends - starts, empty)
