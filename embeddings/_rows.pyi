# Types of the compiled kernel (embeddings/_rows.c).
from typing import Any

KERNEL: str

def best_rows(matrix: Any, starts: Any, ends: Any, query: Any, out: Any, empty: float, /) -> None: ...
