"""Sentence splitting, trimming to the most relevant sentences, grouping and rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.models import Article, Paragraph
from embeddings.answer import ELLIPSIS, build_answer, render_text, split_sentences, trim
from embeddings.models import Hit
from tests.quality_support import make_encoder, seed_paragraphs


@pytest.fixture(scope="module")
def encoder(shared_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return make_encoder(shared_model_dir, tmp_path_factory.mktemp("answer"))


def _hit(article: str, lang: str, pos: int, text: str, aligned: tuple[Paragraph, ...] = ()) -> Hit:
    para = Paragraph(id=f"{article}-{lang}{pos}", article_id=article, language=lang,  # type: ignore[arg-type]
                     position=pos, text=text)
    return Hit(paragraph=para, article=Article(id=article, title=f"Title {article}", outlet="Khan",
                                               published="2022-07-15"),
               score=1.0, aligned=aligned)


def test_english_sentences_keep_abbreviations() -> None:
    en, _ = seed_paragraphs()
    sentences = split_sentences(en[0], "en")
    assert len(sentences) == 2
    assert sentences[1].endswith("as the U.S. and should join together.")
    assert split_sentences("Biden drew attention by using the expression “trilateral engagement”. "
                           "We can infer it!", "en")[0].endswith("”.")


def test_abbreviations_before_capitalised_words() -> None:
    text = ("Just as the nature and goal of U.S. Forces Korea have expanded, cooperation will "
            "extend further. Talks with the U.S. The next day, Dr. Kim and Joe R. Biden met.")
    assert split_sentences(text, "en") == [
        "Just as the nature and goal of U.S. Forces Korea have expanded, cooperation will "
        "extend further.",
        "Talks with the U.S.",
        "The next day, Dr. Kim and Joe R. Biden met."]


def test_korean_sentences() -> None:
    _, ko = seed_paragraphs()
    sentences = split_sentences(ko[4], "ko")
    assert len(sentences) == 6
    assert sentences[0].startswith("지난달 29일") and sentences[-1].endswith("드러나 있다.")
    # Without final periods, kiwipiepy cuts at the endings.
    assert split_sentences("정말 그렇다 그런데 아니다", "ko") == ["정말 그렇다", "그런데 아니다"]
    assert split_sentences("  ", "ko") == []


def test_trim_keeps_most_relevant_sentences_in_order(encoder) -> None:  # type: ignore[no-untyped-def]
    _, ko = seed_paragraphs()
    question = "What did Kishida Fumio say?"
    trimmed = trim(ko[4], "ko", None, encoder, 2, question)
    assert "기시다 후미오" in trimmed
    assert trimmed.count(ELLIPSIS) >= 1 and len(trimmed) < len(ko[4])
    short = "Only one sentence here."
    assert trim(short, "en", None, encoder, 2, question) == short


def test_trim_keeps_the_answering_sentence_not_only_the_echo(encoder) -> None:  # type: ignore[no-untyped-def]
    # Korean ¶4: the sentence that echoes the question ("…한반도를 넘어…") is followed by the
    # one that answers it (the South China Sea / Taiwan Strait contingency). Sentences are
    # chosen by cosine *and* the question's terms, so the answer stays in the quote.
    _, ko = seed_paragraphs()
    question = "한·미·일 군사협력이 한반도를 넘어 확대되면 어떤 문제가 있나?"
    trimmed = trim(ko[3], "ko", None, encoder, 3, question)
    assert "한반도를 넘어" in trimmed and "대만해협" in trimmed
    kept = [s for s in split_sentences(trimmed, "ko") if s != ELLIPSIS]
    assert len(kept) == 3 and len(trimmed) < len(ko[3])


def test_build_answer_groups_by_article_and_trims(encoder) -> None:  # type: ignore[no-untyped-def]
    en, ko = seed_paragraphs()
    counterpart = Paragraph(id="A-ko5", article_id="A", language="ko", position=5, text=ko[4])
    hits = [_hit("A", "en", 6, en[5], (counterpart,)), _hit("B", "en", 1, "Other article."),
            _hit("A", "en", 5, en[4], (counterpart,)), _hit("C", "en", 1, "Fourth.")]
    answer = build_answer("기시다 총리는 무엇을 말했나?", hits, passages=3, max_sentences=2,
                          encoder=encoder)
    assert answer.language == "ko" and answer.found
    assert [(h.article.id, h.paragraph.position) for h in answer.hits] == [("A", 6), ("A", 5), ("B", 1)]
    assert "Kishida" in answer.quotes[0] and ELLIPSIS in answer.quotes[0]
    text = render_text(answer)
    assert text.count("■ Title A") == 1 and text.count("Korean ¶5:") == 1  # grouped, shown once
    assert "Khan, 2022-07-15" in text


def test_long_counterpart_is_trimmed_to_the_translation_of_the_quote(encoder) -> None:  # type: ignore[no-untyped-def]
    # English ¶4 (6 sentences) is quoted trimmed; its Korean original (7 sentences) must show
    # the sentences that translate the quoted ones, not the whole paragraph.
    en, ko = seed_paragraphs()
    counterpart = Paragraph(id="A-ko4", article_id="A", language="ko", position=4, text=ko[3])
    hit = _hit("A", "en", 4, en[3], (counterpart,))
    answer = build_answer("Does the US want to use Korean and Japanese military power in its "
                          "Indo-Pacific strategy?", [hit], passages=3, max_sentences=2,
                          encoder=encoder)
    assert "Indo-Pacific" in answer.quotes[0] and ELLIPSIS in answer.quotes[0]
    (shown,) = answer.counterpart_texts(0)
    assert "인도·태평양 전략" in shown and ELLIPSIS in shown and len(shown) < len(ko[3]) * 0.7
    assert len([s for s in split_sentences(shown, "ko") if s != ELLIPSIS]) <= 3
    text = render_text(answer)
    assert f"Korean ¶4: {shown}" in text and ko[3] not in text
    # A short counterpart stays whole.
    short = Paragraph(id="A-ko1", article_id="A", language="ko", position=1, text="짧은 문단이다.")
    whole = build_answer("Indo-Pacific strategy", [_hit("A", "en", 4, en[3], (short,))],
                         passages=3, max_sentences=2, encoder=encoder)
    assert whole.counterpart_texts(0) == ("짧은 문단이다.",)


def test_nothing_relevant_message() -> None:
    assert "찾지 못했습니다" in render_text(build_answer("김치 레시피", [], passages=3, max_sentences=2))
    empty = build_answer("kimchi recipe", [], passages=3, max_sentences=2)
    assert not empty.found and render_text(empty).startswith("Nothing")
    assert build_answer("x", [], passages=3, max_sentences=2, interface_language="ko").language == "ko"
