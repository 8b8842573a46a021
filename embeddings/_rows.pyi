# Types of the compiled kernel (embeddings/_rows.c).
from typing import Any

KERNEL: str

def best_rows(matrix: Any, starts: Any, ends: Any, query: Any, out: Any, empty: float, /) -> None: ...
def window_coverage(terms: Any, unit_start: Any, paragraph_units: Any, numbers: Any, query: Any,
                    weights: Any, window: int, out: Any, /) -> None: ...
