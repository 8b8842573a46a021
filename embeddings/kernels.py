"""The compiled kernels of the search (``embeddings/_rows.c``), when the install built them.

A search computes two per-candidate maxima over a few hundred ragged runs: each paragraph's
best stored sentence vector (``embeddings.half.run_max``) and its best window of sentences
for the question's words (``embeddings.sentence_terms``). numpy does each in several passes
over temporaries; the C extension does each in one, reading the memory-mapped rows once.
It is optional: a machine without a C compiler installs without it, and each caller
computes the same in numpy (the tests insist the kernel is built where Dari is developed).
"""

from __future__ import annotations

from types import ModuleType

compiled: ModuleType | None
try:
    import embeddings._rows as compiled
except ImportError:  # pragma: no cover - depends on the install
    compiled = None

# What serves the search: "avx2" or "plain" (the compiled loops), "numpy" without them.
KERNEL: str = compiled.KERNEL if compiled is not None else "numpy"
