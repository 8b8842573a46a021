"""The one sentence splitter (corpus.sentences) that corpus, passages, answers and the bot use."""

from __future__ import annotations

from corpus import lang, sentences
from embeddings import passages
from embeddings import sentences as stored_sentences


def test_titles_initials_and_abbreviations_do_not_end_sentences() -> None:
    text = ("Dr. Kim met Joe R. Biden in the U.S. capital. U.S. Forces Korea stayed. "
            "Ties with the U.S. The next day, talks resumed.")
    assert sentences.split_sentences(text) == [
        "Dr. Kim met Joe R. Biden in the U.S. capital.",
        "U.S. Forces Korea stayed.",
        "Ties with the U.S.",
        "The next day, talks resumed.",
    ]


def test_hyphenated_abbreviation_and_closing_quotes() -> None:
    text = "Korea-U.S. relations may suffer. He said “enough.” Then he left."
    assert sentences.split_sentences(text) == [
        "Korea-U.S. relations may suffer.", "He said “enough.”", "Then he left."]


def test_korean_and_glued_lines_split_without_a_space_before_hangul() -> None:
    assert sentences.split_sentences("동맹은 중요하다. 그러나 한계도 있다!") == [
        "동맹은 중요하다.", "그러나 한계도 있다!"]
    assert sentences.split_sentences("It ends here.한국어로 시작한다.") == [
        "It ends here.", "한국어로 시작한다."]


def test_spans_are_verbatim_slices_without_outer_whitespace() -> None:
    text = "  One.   Two?\n\nThree  "
    spans = sentences.sentence_spans(text)
    assert [text[a:b] for a, b in spans] == ["One.", "Two?", "Three"]
    assert sentences.sentence_ends(text) == [b for _, b in spans]
    assert sentences.sentence_spans("   ") == []


def test_a_text_of_only_abbreviations_is_one_sentence() -> None:
    # Each candidate end looks back a bounded distance: this stays linear (and one sentence).
    assert len(sentences.sentence_spans("Mr. Dr. Gen. " * 20_000)) == 1


def test_every_user_of_sentences_calls_this_splitter() -> None:
    text = ("The U.S. and Japan agree. Dr. Kim disagrees. 한국은 다르다. 그렇다.")
    spans = sentences.sentence_spans(text)
    assert passages.sentence_spans is sentences.sentence_spans
    assert stored_sentences.split_sentences(text, "en") == [text[a:b] for a, b in spans]
    assert lang.sentence_spans is sentences.sentence_spans
