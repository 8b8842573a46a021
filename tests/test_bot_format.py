"""Rendering answers within Discord's limits: escaping, grouping, cutting, languages.

These build real ``Answer``/``Hit`` values (the dataclasses the service returns) and check
the embeds the bot would send; the end-to-end tests check the same through the emulator.
"""

from __future__ import annotations

import re

import discord
import pytest

from bot.checks import Cooldown, meaningful, validate_question
from bot.errors import UserFacingError
from bot.format import (
    EMBED_TOTAL_LIMIT,
    FIELD_VALUE_LIMIT,
    chunk_text,
    cut,
    escape,
    plain_question,
    render_answer,
    render_passage,
    render_search,
    thread_name,
)
from bot.i18n import MESSAGES, interface_language, t
from corpus.models import Article, Paragraph
from embeddings.models import Answer, Hit
from embeddings.question import anchor_terms


def _article(aid: str = "a1", title: str = "How Far Can Cooperation Go?") -> Article:
    return Article(id=aid, title=title, outlet="Khan", published="2022-07-15",
                   author="Yu Shin-mo", url=f"https://example.org/{aid}", title_ko="협력은 어디까지")


def _para(aid: str, lang: str, pos: int, text: str) -> Paragraph:
    return Paragraph(id=f"{aid}-{lang}-{pos}", article_id=aid, language=lang,  # type: ignore[arg-type]
                     position=pos, text=text)


def _hit(article: Article, pos: int, text: str, aligned_text: str | None = None) -> Hit:
    aligned = (_para(article.id, "ko", pos, aligned_text),) if aligned_text else ()
    return Hit(paragraph=_para(article.id, "en", pos, text), article=article, score=0.8,
               aligned=aligned)


def _sizes_ok(page) -> None:
    assert len(page.embeds) <= 10
    assert sum(len(e) for e in page.embeds) <= EMBED_TOTAL_LIMIT
    assert page.content is None or len(page.content) <= 2000
    for embed in page.embeds:
        assert len(embed.title or "") <= 256
        assert len(embed.description or "") <= 4096
        assert len(embed.fields) <= 25
        for f in embed.fields:
            assert len(f.name) <= 256 and len(f.value) <= FIELD_VALUE_LIMIT


def test_long_answer_stays_within_limits_and_cuts_at_words() -> None:
    words = " ".join(f"word{i} *bold* @everyone" for i in range(900))  # ~20k characters
    korean = " ".join(["한국과 미국과 일본의 군사 협력은 어디까지 갈 수 있는가."] * 300)
    a, b = _article("a1"), _article("a2", "Another **title** @everyone")
    hits = tuple(_hit(art, i, words, korean) for art in (a, b) for i in (1, 2))
    answer = Answer(question="q", language="en", hits=hits, quotes=tuple(words for _ in hits))
    pages = render_answer(answer, "en")
    assert len(pages) >= 2  # more than 6,000 characters: split over messages
    for page in pages:
        _sizes_ok(page)
        for embed in page.embeds:
            for f in embed.fields:
                # Every quoted line is a block quote whose words are whole.
                for line in f.value.splitlines():
                    assert line.startswith("> ")
                    last = line.rstrip("…").split()[-1]
                    assert re.fullmatch(r"word\d+|\\\*bold\\\*|@\u200beveryone|[가-힣.]+", last), last
                assert "@everyone" not in f.value


def test_two_passages_of_one_article_are_grouped_with_counterpart() -> None:
    art = _article()
    hits = (_hit(art, 2, "Second paragraph.", "둘째 문단."), _hit(art, 5, "Fifth paragraph."))
    answer = Answer(question="q", language="en", hits=hits, quotes=("Second paragraph.", "Fifth paragraph."))
    (page,) = render_answer(answer, "en")
    assert len(page.embeds) == 1
    embed = page.embeds[0]
    assert embed.title == escape(art.title) and embed.url == art.url
    assert "Khan" in embed.description and "2022-07-15" in embed.description
    names = [f.name for f in embed.fields]
    assert names[0].startswith("¶ 2") and "Korean original" in names[1] and names[2].startswith("¶ 5")
    assert embed.fields[1].value == "> 둘째 문단."


def test_trimmed_counterpart_is_shown_when_the_answer_has_it() -> None:
    art = _article()
    hit = _hit(art, 4, "Quoted sentence.", "첫 문장. 번역된 문장. 셋째 문장. 넷째 문장.")
    answer = Answer(question="q", language="en", hits=(hit,), quotes=("Quoted sentence.",),
                    counterparts=(("… 번역된 문장. …",),))
    (page,) = render_answer(answer, "en")
    assert page.embeds[0].fields[1].value == "> … 번역된 문장. …"


def test_counterpart_already_shown_is_not_quoted_again() -> None:
    art = _article()
    en = _hit(art, 4, "English four.", "한국어 넷.")
    ko = Hit(paragraph=en.aligned[0], article=art, score=0.7, aligned=(en.paragraph,))
    other = _hit(art, 6, "English six.")
    answer = Answer(question="q", language="en", hits=(en, ko, other),
                    quotes=("English four.", "한국어 넷.", "English six."))
    (page,) = render_answer(answer, "en")
    names = [f.name for f in page.embeds[0].fields]
    assert len(names) == 3 and names[0].startswith("¶ 4 · English") and names[2].startswith("¶ 6")


def test_nothing_relevant_is_one_line_suggesting_search_in_both_languages() -> None:
    for lang in ("en", "ko"):
        (page,) = render_answer(Answer(question="q", language=lang), lang)
        assert page.embeds == [] and "\n" not in page.content and "/search" in page.content
    assert render_answer(Answer(question="q", language="ko"), "ko")[0].content == t("answer.none", "ko")


def test_korean_interface_text() -> None:
    art = _article()
    answer = Answer(question="협력", language="ko", hits=(_hit(art, 1, "Text.", "본문."),), quotes=("Text.",))
    (page,) = render_answer(answer, "ko")
    assert page.content == f"**{t('answer.title', 'ko')}**"
    embed = page.embeds[0]
    assert embed.title == "협력은 어디까지"  # Korean title for a Korean reader
    assert "한국어 원문" in embed.fields[1].name and "영어" in embed.fields[0].name


def test_escaping_defuses_markdown_and_mentions() -> None:
    text = "**x** <@&123456789012345678> @here `y` [l](http://e.org)"
    out = escape(text)
    assert "\\*\\*x\\*\\*" in out and "<@\u200b&123456789012345678>" in out and "@\u200bhere" in out
    assert "\\`y\\`" in out and "\\[l]" in out


def test_cut_and_split() -> None:
    assert cut("alpha beta gamma", 12) == "alpha beta…"
    assert cut("short", 10) == "short"
    text = "One sentence here. Another one follows! A third? 그리고 한국어 문장입니다. " * 20
    for limit in range(5, 400, 7):
        for sentence in (True, False):
            out = cut(text, limit, prefer_sentence=sentence)
            assert len(out) <= limit and out.endswith("…")
            assert text.startswith(out[:-1].rstrip())  # a prefix of the text, cut at a boundary
    parts = chunk_text("word " * 1000, 2000)
    assert all(len(p) <= 2000 for p in parts) and "".join(parts).replace("word", "") .strip() == ""
    assert all(p.endswith("word") for p in parts)


def test_search_and_passage_render() -> None:
    art = _article()
    page = render_search("cooperation", [_hit(art, 3, "First words of the passage here.")], "en")
    desc = page.embeds[0].description
    assert "¶ 3" in desc and "0.80" in desc and "First words" in desc
    odd = Article(id="w", title="Wiki", url="https://e.org/A_(b) c")
    desc = render_search("q", [_hit(odd, 1, "Text.")], "en").embeds[0].description
    assert "[↗](https://e.org/A_%28b%29%20c)" in desc
    long = "sentence " * 1200  # ~10k characters: description + continuation
    pages = render_passage(art, _para("a1", "en", 1, long), [_para("a1", "ko", 1, "원문 " * 800)], "en")
    for p in pages:
        _sizes_ok(p)
    text = " ".join((e.description or "") + " ".join(f.value for f in e.fields)
                    for p in pages for e in p.embeds)
    assert text.count("sentence") == 1200 and text.count("원문") == 800


def test_interface_language_rule() -> None:
    assert interface_language("한미일 군사 협력은 어디까지?") == "ko"
    assert interface_language("What about Japan?") == "en"
    assert interface_language("What about Japan?", discord.Locale.korean) == "ko"
    assert interface_language("Yoon 정부의 외교 정책은?") == "ko"
    # Every interface string exists in both languages.
    assert all(set(v) == {"en", "ko"} for v in MESSAGES.values())


def test_question_validation_and_cooldown() -> None:
    for bad in ("", "   ", "😀😀", "?!", "<:smile:123456>"):
        assert not meaningful(bad)
        with pytest.raises(UserFacingError) as info:
            validate_question(bad, 500)
        assert info.value.key == "question.empty"
    with pytest.raises(UserFacingError) as info:
        validate_question("x" * 501, 500)
    assert info.value.key == "question.too_long" and info.value.values == {"n": 501, "max": 500}
    assert validate_question("  why?  ", 500) == "why?"
    cd = Cooldown(30)
    assert cd.hit(1) == 0 and cd.hit(2) == 0
    with pytest.raises(UserFacingError):
        cd.check(1)
    assert Cooldown(0).hit(1) == 0 and Cooldown(0).hit(1) == 0


@pytest.mark.parametrize(
    ("question", "names", "expected"),
    [
        # Mentions read as plain text; @everyone/@here are defused like quoted text.
        ("@everyone <@&123456789012345678> why are tangerines sour?",
         {"<@&123456789012345678>": "@staff"}, "@\u200beveryone @staff why are tangerines sour?"),
        ("<@&99> <@42> <@!42> <#7> </ask:5> <:blob:8> <t:1700000000:R> @here now",
         {}, "@role @user @user #channel /ask :blob: (time) @\u200bhere now"),
        # Bidi overrides and isolates cannot reorder the name; NUL and ANSI escapes vanish.
        ("price \u202eredro\u202c and \u2066x\u2069 \x00nul \x1b[31mred\x1b[0m \x1b]0;title\x07ok",
         {}, "price redro and x nul red ok"),
        # A display name brings no control characters in either.
        ("<@42> asks", {"<@42>": "@mi\u202ena\x07"}, "@mina asks"),
        ("line\none\r\ntwo\u2028three\tfour", {}, "line one two three four"),
        ("\u200b\x1b[2J\u202e", {}, "question"),
    ],
)
def test_thread_names_are_plain_and_safe(question: str, names: dict[str, str], expected: str) -> None:
    assert thread_name(question, names) == expected


def test_the_question_searched_reads_mentions_as_plain_text() -> None:
    # A mention's id is markup: searched, its digits would be a number the question asks
    # about (a passage lacking it would count against the answer).
    question = "<@&1579235604187578369> what happened on June 29? <:wave:112233445566778899>"
    plain = plain_question(question, {"<@&1579235604187578369>": "@staff"})
    assert plain == "@staff what happened on June 29? :wave:"
    assert anchor_terms(plain) == ["29"]
    assert plain_question("<#42>  독도\u202e 얘기\x1b[31m") == "#channel 독도 얘기"


def test_thread_names_are_cut_to_discords_100_at_a_word() -> None:
    name = thread_name("\u202e" + "word " * 60 + "\x00")
    assert len(name) <= 100 and name.endswith("…") and "word wor…" not in name
    assert thread_name("가" * 300) == "가" * 98 + "…"  # no space to cut at: cut mid-run
    for ch in name:
        assert not (ch.isspace() and ch != " ")
