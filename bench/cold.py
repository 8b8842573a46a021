"""Cold `dari ask`: process start to answer printed, on the bundled corpus.

A throwaway data directory (the materialised model linked in) is indexed once with
`dari index`; then ``RUNS`` fresh `dari ask` processes are timed and the median reported,
beside a bare ``python -c pass`` start in the same run (the floor no command can beat).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from settings.config import load_settings

REPO = Path(__file__).resolve().parent.parent
RUNS = 3
QUESTION = "What did the article say about Japan?"


def _timed(args: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return elapsed


def run() -> dict[str, Any]:
    """``cold_ask_s`` (median of RUNS) and the bare interpreter start of the same run."""
    model_dir = load_settings(None, check_corpus=False).model_dir
    with tempfile.TemporaryDirectory(prefix="dari-cold-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        (data / "models").symlink_to(Path(model_dir).resolve(), target_is_directory=True)
        where = ["--data", str(data), "--corpus", str(REPO / "articles")]  # after the command
        dari = [sys.executable, "-m", "dari"]
        _timed([*dari, "index", *where])
        asks = [_timed([*dari, "ask", QUESTION, *where]) for _ in range(RUNS)]
        bare = [_timed([sys.executable, "-c", "pass"]) for _ in range(RUNS)]
    return {"cold_ask_s": round(statistics.median(asks), 2),
            "cold_ask_runs_s": [round(x, 2) for x in asks],
            "python_start_s": round(statistics.median(bare), 3)}


if __name__ == "__main__":
    print(json.dumps(run()))
