"""How rare a word is in its language at large, not in the corpus.

A corpus of a few articles lacks most everyday words ("want", "fix", "방법"), so "the corpus
never saw this word" alone says little about a question; a *rare* word it never saw — a name,
a term of a topic ("Honshu", "페니키아") — says that the question is about something the
articles do not discuss. The language-wide estimate comes from e5's own tokenizer: its
SentencePiece unigram model was trained on CC-100 (web text in 100 languages), and minus the
log-probability of a word's best segmentation into its pieces is a frequency estimate that
needs no word list. In English a common word is one piece (10–14 nats) and a name several
(20 and up). In Korean the vocabulary is mostly single syllables (about 10 nats each), so
there the estimate is mostly the word's length in syllables: common native nouns are one or
two syllables, while names of people and transliterated foreign names, the words that mark a
topic, are three or more.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from functools import lru_cache
from pathlib import Path

from embeddings.encoder import is_default_model
from embeddings.protocols import TextEncoder

log = logging.getLogger(__name__)

METASPACE = "\u2581"  # SentencePiece's word-start mark
UNKNOWN_PENALTY = 10.0  # a character no piece covers: this much rarer than the rarest piece


class WordRarity:
    """``rarity(word)``: minus the log-probability, in nats, of the best segmentation of
    ``word`` (as the keyword tokenizer writes it: lowercased, stemmed, a Korean morpheme;
    each space-separated part a word) under the unigram model in ``tokenizer_file`` (a
    ``tokenizers`` JSON file with a Unigram model): SentencePiece's own Viterbi search.

    The 17 MB file is read on first use or by :meth:`warm` (half a second), not at load.
    """

    def __init__(self, tokenizer_file: Path) -> None:
        self._file = Path(tokenizer_file)
        self._lock = threading.Lock()
        self._pieces: dict[str, float] | None = None  # piece -> minus its log-probability
        self._longest = 0
        self._unknown = 0.0
        self.rarity = lru_cache(maxsize=65536)(self._rarity)

    @classmethod
    def of_encoder(cls, encoder: TextEncoder) -> WordRarity | None:
        """The rarity of the default model's tokenizer in ``encoder``'s materialised
        directory, or None (the evidence is then left out): the floor it is compared with
        (``fusion.UNSEEN_RARITY``) is in the nats of e5's unigram model, and another
        model's tokenizer (often not a unigram one) would need its own."""
        # Encoder has model_path; the TextEncoder protocol does not require one.
        path = getattr(encoder, "model_path", None)
        if path is None or not is_default_model(encoder.model_name):
            return None
        file = Path(path) / "tokenizer.json"
        return _shared(file) if file.is_file() else None

    def __call__(self, word: str) -> float:
        return self.rarity(word)

    @property
    def loaded(self) -> bool:
        """Whether the model has been read (by a first question or :meth:`warm`)."""
        return self._pieces is not None

    def warm(self) -> None:
        """Read the model now (the bot does it at start: `Retriever.warm`)."""
        self._load()

    def _load(self) -> dict[str, float]:
        with self._lock:
            if self._pieces is None:
                pieces: dict[str, float] = {}
                try:
                    spec = json.loads(self._file.read_text(encoding="utf-8"))["model"]
                    if spec.get("type") != "Unigram":
                        raise ValueError("not a Unigram tokenizer")
                    vocab = spec["vocab"]
                    unknown = spec.get("unk_id")
                    pieces = {str(p): -float(s) for i, (p, s) in enumerate(vocab) if i != unknown}
                except (OSError, ValueError, KeyError, TypeError) as exc:
                    # No rarity: the unknown-words evidence is left out, the search goes on.
                    log.warning("word rarity unavailable from %s (%s): questions are judged "
                                "without it", self._file, exc)
                if pieces:
                    self._longest = max(map(len, pieces))
                    self._unknown = max(pieces.values()) + UNKNOWN_PENALTY
                self._pieces = pieces
                log.debug("word rarity: %d pieces from %s", len(pieces), self._file)
            return self._pieces

    def _rarity(self, word: str) -> float:
        pieces = self._pieces if self._pieces is not None else self._load()
        if not pieces:
            return 0.0  # common as any word: never counts as unknown
        return sum(self._segment(METASPACE + part, pieces) for part in word.split())

    def _segment(self, text: str, pieces: dict[str, float]) -> float:
        # best[i]: the cheapest segmentation of text[:i]; a character that no piece starting
        # there covers is an unknown piece on its own (as in SentencePiece).
        best = [0.0] + [math.inf] * len(text)
        for start in range(len(text)):
            if best[start] == math.inf:
                continue
            covered = False
            for end in range(start + 1, min(len(text), start + self._longest) + 1):
                cost = pieces.get(text[start:end])
                if cost is not None:
                    covered = covered or end == start + 1
                    best[end] = min(best[end], best[start] + cost)
            if not covered:
                best[start + 1] = min(best[start + 1], best[start] + self._unknown)
        return best[-1]


@lru_cache(maxsize=4)
def _shared(file: Path) -> WordRarity:
    # One per tokenizer file in a process: every reload of the index shares it (its pieces
    # take ~30 MB, read once).
    return WordRarity(file)
