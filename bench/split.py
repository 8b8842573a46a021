"""Passage splitting of giant paragraphs: seconds per MB for three shapes at 1, 5 and 20 MB.

Shapes (each one paragraph, no line breaks):

- ``unbroken``: no whitespace and no punctuation at all, mixed scripts (Hangul, Latin,
  digits, Han) — the worst case for sentence and word cutting;
- ``words``: words separated by spaces, no punctuation (one endless sentence), English and
  Korean mixed;
- ``line``: one giant line of ordinary English and Korean sentences (with abbreviations).

Splitting is linear when seconds per MB stay about the same from 1 to 20 MB.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from embeddings.protocols import TextEncoder

log = logging.getLogger(__name__)

SHAPES = ("unbroken", "words", "line")
SIZES_MB = (1, 5, 20)

_ALPHABET = "가나다라마바사아자차카타파하동맹안보협력abcdefghijklmnopXYZ0123456789漢字日本語"
_WORDS = ("alliance", "동맹", "security", "안보", "cooperation", "협력", "Japan", "일본", "the",
          "of", "trilateral", "군사", "exercises", "훈련", "Seoul", "서울")
_SENTENCES = (
    "Mr. Kim met the U.S. envoy in Seoul on Monday.",
    "그는 한미일 안보 협력이 중요하다고 말했다.",
    "Critics say it goes too far, and the public is divided.",
    "정말 그럴까?",
    "The ministry, however, declined to comment on the talks!",
    "전문가들은 \"신중해야 한다\"고 지적했다.",
)


def make_text(shape: str, chars: int, seed: int = 9) -> str:
    """A deterministic paragraph of exactly ``chars`` characters in ``shape``."""
    rng = random.Random(seed)
    if shape == "unbroken":
        return "".join(rng.choices(_ALPHABET, k=chars))
    pool = _WORDS if shape == "words" else _SENTENCES if shape == "line" else None
    if pool is None:
        raise ValueError(f"unknown shape {shape!r}; one of {', '.join(SHAPES)}")
    parts: list[str] = []
    length = 0
    while length < chars:
        piece = rng.choice(pool)
        parts.append(piece)
        length += len(piece) + 1
    return " ".join(parts)[:chars]


def run(sizes_mb: tuple[int, ...] = SIZES_MB,
        encoder: TextEncoder | None = None) -> dict[str, Any]:
    """Seconds to split each shape at each size, and seconds per MB."""
    from embeddings.passages import split_passage_spans

    if encoder is None:
        encoder = _encoder()
    rows: dict[str, dict[str, dict[str, float]]] = {}
    for shape in SHAPES:
        rows[shape] = {}
        for mb in sizes_mb:
            text = make_text(shape, mb * 1_000_000)
            started = time.perf_counter()
            spans = split_passage_spans(text, encoder)
            seconds = time.perf_counter() - started
            rows[shape][f"{mb}MB"] = {"seconds": round(seconds, 2),
                                      "seconds_per_mb": round(seconds / mb, 3),
                                      "passages": len(spans)}
            log.info("split %s %d MB: %.1f s (%.2f s/MB), %d passages", shape, mb, seconds,
                     seconds / mb, len(spans))
    return {"split": rows}


def print_table(results: dict[str, Any]) -> None:
    """One line per shape: seconds and seconds per MB at each size."""
    for shape, row in results["split"].items():
        cells = "  ".join(f"{size}: {v['seconds']:.1f} s ({v['seconds_per_mb']:.2f} s/MB)"
                          for size, v in row.items())
        print(f"  {shape:>9}: {cells}", flush=True)


def main() -> int:
    """`python -m bench.split [MB ...]`: this benchmark alone, figures as JSON on stdout."""
    import json
    import sys

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sizes = tuple(int(a) for a in sys.argv[1:]) or SIZES_MB
    results = run(sizes)
    print_table(results)
    print(json.dumps(results, indent=2))
    return 0


def _encoder() -> TextEncoder:
    # The project's settings and model, as bench.encode uses them.
    from embeddings.encoder import Encoder
    from settings.config import load_settings

    return Encoder.from_settings(load_settings(None, check_corpus=False))


if __name__ == "__main__":
    raise SystemExit(main())
