"""Turn answers, hits, articles and paragraphs into Discord embeds and messages.

Everything here is pure (no network): it builds :class:`discord.Embed` objects that fit
Discord's limits, escapes quoted text (markdown and mentions) and cuts only at word
boundaries, so a reply never breaks words or markdown and never pings anyone.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import discord

from bot.i18n import Lang, t
from corpus.models import Article, Paragraph
from corpus.sentences import sentence_ends
from embeddings.models import Answer, Hit

# Discord's documented limits.
MESSAGE_LIMIT = 2000
EMBED_TITLE_LIMIT = 256
EMBED_DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
FIELDS_PER_EMBED = 25
THREAD_NAME_LIMIT = 100

ELLIPSIS = "…"
EMBED_COLOUR = discord.Colour.from_rgb(0x3B, 0x6E, 0xA5)
# Terminal escape sequences (CSI like ESC[31m, OSC like ESC]0;title BEL, and 2-byte ones).
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
# Discord mention syntax: users, roles, channels, slash commands, custom emoji, timestamps.
_MENTION = re.compile(r"<@[!&]?\d+>|<#\d+>|</([\w\- ]+):\d+>|<a?:(\w+):\d+>|<t:(-?\d+)(?::\w)?>")
_PLAIN_MENTION = {"<@&": "@role", "<@": "@user", "<#": "#channel"}


@dataclass
class Page:
    """One message to send: optional text content plus embeds, all within limits."""

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)


def escape(text: str) -> str:
    """Escape Discord markdown and mentions so quoted text shows literally and pings nobody."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def cut(text: str, limit: int, *, suffix: str = ELLIPSIS, prefer_sentence: bool = False) -> str:
    """``text`` shortened to at most ``limit`` characters at a word (or sentence) boundary.

    Adds ``suffix`` when something was cut. A single word longer than the limit (no space to
    cut at) is the only case cut mid-word, since there is no other way to fit it.
    """
    text = text.strip()
    if len(text) <= limit:
        return text
    room = max(0, limit - len(suffix) - 1)  # -1: the space before the suffix
    head = text[: room + 1]
    if prefer_sentence:
        # Every sentence end but the last span's: that one is where ``head`` was cut.
        ends = sentence_ends(head)[:-1]
        if ends and ends[-1] > room // 2:
            # A whole sentence (or several) reads better than a longer cut mid-sentence.
            return f"{head[: ends[-1]].rstrip()} {suffix}".rstrip()
    space = head.rfind(" ")
    nl = head.rfind("\n")
    at = max(space, nl)
    if at <= 0:
        at = room
    return head[:at].rstrip() + suffix


def _plain_mention(match: re.Match[str], names: Mapping[str, str]) -> str:
    token = match.group(0)
    if token in names:
        return names[token]
    if match.group(1):
        return "/" + match.group(1)  # </command:id>
    if match.group(2):
        return ":" + match.group(2) + ":"  # <:emoji:id>
    if match.group(3):
        return "(time)"  # a timestamp; how it reads depends on the reader's clock
    for prefix, plain in _PLAIN_MENTION.items():
        if token.startswith(prefix):
            return plain
    return token  # pragma: no cover - the pattern has no other alternatives


def _visible(text: str) -> str:
    """``text`` without terminal escapes and control, format (bidi override, zero-width)
    and surrogate characters; line breaks and other separators become spaces."""
    text = _ANSI.sub("", text)
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if category in ("Zl", "Zp") or ch in "\t\n\r\v\f":
            out.append(" ")
        elif category not in ("Cc", "Cf", "Cs"):
            out.append(ch)
    return " ".join("".join(out).split())


def plain_question(question: str, names: Mapping[str, str] | None = None) -> str:
    """``question`` as people read it: mention syntax as plain text (``<@&123>`` ->
    ``@moderators`` from ``names``, or ``@role``; ``<:emoji:id>`` -> ``:emoji:``), terminal
    escapes, control and bidi-override characters removed (they cannot reorder or hide the
    text around them), whitespace collapsed.

    It is what the bot searches: a mention's id is markup, not words, and its digits would
    read to the retrieval as a number the question asks about (``question.anchor_terms``),
    to the encoder as noise.
    """
    names = {k: _visible(v) for k, v in (names or {}).items()}
    return _visible(_MENTION.sub(lambda m: _plain_mention(m, names), question))


def thread_name(question: str, names: Mapping[str, str] | None = None) -> str:
    """A thread name made from a question: plain, safe and within Discord's 100 characters.

    The question as :func:`plain_question` reads it; ``@everyone``/``@here`` are defused
    like quoted text; cut at a word boundary.
    """
    text = plain_question(question, names)
    text = re.sub(r"@(everyone|here)\b", "@\u200b\\1", text)
    return cut(text, THREAD_NAME_LIMIT) or "question"


def escaped_cut(text: str, limit: int, *, prefer_sentence: bool = True) -> str:
    """Escape ``text`` and fit the result in ``limit`` characters, cutting the raw text.

    Cutting before escaping keeps escapes whole (a cut never leaves a lone backslash).
    """
    budget = limit
    while True:
        out = escape(cut(text, budget, prefer_sentence=prefer_sentence))
        if len(out) <= limit or budget <= 1:
            return out[:limit]
        # Escapes add characters: shrink the raw budget by the overshoot and retry.
        budget -= max(1, len(out) - limit)


def quote_block(text: str, limit: int) -> str:
    """``text`` escaped, shown as a Discord block quote, within ``limit`` characters."""
    lines_budget = limit
    while True:
        body = escaped_cut(text, lines_budget)
        lines = [ln for ln in body.splitlines() if ln.strip()] or [body]
        out = "\n".join("> " + ln for ln in lines)
        if len(out) <= limit or lines_budget <= 4:
            return out[:limit]
        lines_budget -= len(out) - limit


def chunk_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` characters at line or word boundaries."""
    pieces: list[str] = []
    rest = text.strip()
    while rest:
        if len(rest) <= limit:
            pieces.append(rest)
            break
        head = rest[: limit + 1]
        at = head.rfind("\n")
        if at < limit // 2:
            at = head.rfind(" ")
        if at <= 0:
            at = limit
        pieces.append(rest[:at].rstrip())
        rest = rest[at:].lstrip()
    return pieces


def language_name(language: str, lang: Lang) -> str:
    """Human name of a corpus language in the interface language."""
    return t(f"lang.{language}", lang) if language in ("en", "ko") else language


def article_title(article: Article, lang: Lang) -> str:
    """The article title to show: the Korean one for a Korean interface when there is one."""
    if lang == "ko" and article.title_ko:
        return article.title_ko
    return article.title or article.id


def citation_line(article: Article, lang: Lang) -> str:
    """Outlet · date · author, escaped; the parts that are known."""
    parts = [p for p in (article.outlet, article.published, article.author) if p]
    if article.translator:
        parts.append(f"{t('source.translator', lang)}: {article.translator}")
    return escape(" · ".join(parts))


def _other(language: str) -> str:
    return "ko" if language == "en" else "en"


def _paragraph_label(paragraph: Paragraph, lang: Lang) -> str:
    return f"¶ {paragraph.position} · {language_name(paragraph.language, lang)}"


def _article_embed(article: Article, lang: Lang, suffix: str = "") -> discord.Embed:
    title = cut(escape_title(article_title(article, lang)), EMBED_TITLE_LIMIT - len(suffix)) + suffix
    embed = discord.Embed(title=title, colour=EMBED_COLOUR, url=article.url or None)
    line = citation_line(article, lang)
    if line:
        embed.description = cut(line, EMBED_DESCRIPTION_LIMIT)
    return embed


def escape_title(text: str) -> str:
    """Titles render markdown in embeds too, so they are escaped like quoted text."""
    return escape(text)


def _group_hits(
    answer: Answer,
) -> list[tuple[Article, list[tuple[Hit, str, tuple[str, ...]]]]]:
    """Hits grouped by article, in order of each article's best hit, with the quote and the
    counterpart texts to show for each."""
    groups: dict[str, tuple[Article, list[tuple[Hit, str, tuple[str, ...]]]]] = {}
    quotes = list(answer.quotes) + [""] * (len(answer.hits) - len(answer.quotes))
    shown: set[str] = set()
    for i, (hit, quote) in enumerate(zip(answer.hits, quotes, strict=False)):
        if hit.paragraph.id in shown:
            # Already on screen as an earlier hit's counterpart (a translation pair often
            # ranks both sides): quoting it again would repeat the same passage.
            continue
        shown.add(hit.paragraph.id)
        shown.update(p.id for p in hit.aligned)
        key = hit.article.id
        if key not in groups:
            groups[key] = (hit.article, [])
        groups[key][1].append((hit, quote or hit.paragraph.text, answer.counterpart_texts(i)))
    return list(groups.values())


def _hit_fields(hit: Hit, quote: str, counterparts: Sequence[str],
                lang: Lang) -> list[tuple[str, str]]:
    """The field(s) for one passage: the quote and, if any, its aligned counterpart."""
    fields = [(_paragraph_label(hit.paragraph, lang), quote_block(quote, FIELD_VALUE_LIMIT))]
    if hit.aligned:
        other = hit.aligned[0].language
        positions = ", ".join(str(p.position) for p in hit.aligned)
        name = f"↳ {t('answer.aligned.' + other, lang)} · ¶ {positions}"
        text = "\n".join(counterparts)
        # The counterpart is context, not the answer: keep it shorter than the quote's room.
        fields.append((name, quote_block(text, 700)))
    return fields


def _embed_size(embed: discord.Embed) -> int:
    return len(embed)


def _pack_fields(
    article: Article, fields: list[tuple[str, str]], lang: Lang
) -> list[discord.Embed]:
    """Put fields into the article's embed; overflow goes into "(continued)" embeds."""
    embeds = [_article_embed(article, lang)]
    for name, value in fields:
        current = embeds[-1]
        needed = len(name) + len(value)
        if (
            len(current.fields) >= FIELDS_PER_EMBED
            or _embed_size(current) + needed > EMBED_TOTAL_LIMIT - 200
        ):
            current = _article_embed(article, lang, suffix=" " + t("answer.more", lang))
            current.description = None
            embeds.append(current)
        current.add_field(name=cut(name, FIELD_NAME_LIMIT), value=value, inline=False)
    return embeds


def pack_pages(embeds: Sequence[discord.Embed], content: str | None = None) -> list[Page]:
    """Pack embeds into messages: ≤ 10 embeds and ≤ 6,000 embed characters per message."""
    pages: list[Page] = [Page(content=content)]
    total = 0
    for embed in embeds:
        size = _embed_size(embed)
        page = pages[-1]
        if page.embeds and (
            len(page.embeds) >= EMBEDS_PER_MESSAGE or total + size > EMBED_TOTAL_LIMIT
        ):
            pages.append(Page())
            total = 0
            page = pages[-1]
        page.embeds.append(embed)
        total += size
    return pages


def render_answer(answer: Answer, lang: Lang) -> list[Page]:
    """The reply to a question: a one-line "nothing relevant" or quoted passages by article."""
    if not answer.found:
        return [Page(content=t("answer.none", lang))]
    embeds: list[discord.Embed] = []
    for article, items in _group_hits(answer):
        fields: list[tuple[str, str]] = []
        for hit, quote, counterparts in items:
            fields.extend(_hit_fields(hit, quote, counterparts, lang))
        embeds.extend(_pack_fields(article, fields, lang))
    embeds[-1].set_footer(text=t("answer.footer", lang))
    header = f"**{t('answer.title', lang)}**"
    return pack_pages(embeds, content=header)


def _link_target(url: str) -> str:
    """A URL safe inside ``[text](url)``: parentheses and spaces would end or break the link."""
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def render_search(query: str, hits: Sequence[Hit], lang: Lang) -> Page:
    """A compact list of hits: article, paragraph number, language, first words, score."""
    if not hits:
        return Page(content=t("search.none", lang))
    title = cut(t("search.title", lang, q=escape_title(query)), EMBED_TITLE_LIMIT)
    lines = []
    for rank, hit in enumerate(hits, 1):
        name = cut(article_title(hit.article, lang), 80)
        first = escaped_cut(hit.paragraph.text, 110, prefer_sentence=False)
        link = f" [↗]({_link_target(hit.article.url)})" if hit.article.url else ""
        lines.append(
            f"**{rank}.** {escape(name)}{link} · ¶ {hit.paragraph.position} "
            f"({hit.paragraph.language}) · `{hit.score:.2f}`\n{first}"
        )
    description = ""
    for line in lines:
        if len(description) + len(line) + 2 > EMBED_DESCRIPTION_LIMIT:
            break
        description += line + "\n\n"
    embed = discord.Embed(title=title, description=description.strip(), colour=EMBED_COLOUR)
    return Page(embeds=[embed])


def render_source(article: Article, lang: Lang) -> discord.Embed:
    """An article's metadata, link and paragraph count per language."""
    unknown = t("source.unknown", lang)
    embed = discord.Embed(
        title=cut(escape_title(article.title or article.id), EMBED_TITLE_LIMIT),
        url=article.url or None,
        colour=EMBED_COLOUR,
    )
    if article.title_ko:
        embed.description = escape(cut(article.title_ko, 1000))
    for key, value in (
        ("source.outlet", article.outlet),
        ("source.country", article.country),
        ("source.date", article.published),
        ("source.author", article.author),
        ("source.translator", article.translator),
        ("source.editor", article.editor),
    ):
        embed.add_field(name=t(key, lang), value=escape(cut(value or unknown, 1000)), inline=True)
    en = len(article.in_language("en"))
    ko = len(article.in_language("ko"))
    embed.add_field(name=t("source.paragraphs", lang), value=t("source.counts", lang, en=en, ko=ko),
                    inline=False)
    embed.add_field(name=t("source.link", lang), value=cut(article.url or unknown, 1000), inline=False)
    if article.sources:
        files = ", ".join(f"`{s}`" for s in article.sources)
        embed.set_footer(text=cut(f"{t('source.files', lang)}: {files}", FOOTER_LIMIT))
    return embed


def render_passage(
    article: Article, paragraph: Paragraph, aligned: Iterable[Paragraph], lang: Lang
) -> list[Page]:
    """One paragraph in full with its aligned counterpart(s) in the other language."""
    label = f"{article_title(article, lang)} — ¶ {paragraph.position} " \
            f"({language_name(paragraph.language, lang)})"
    embed = discord.Embed(title=cut(escape_title(label), EMBED_TITLE_LIMIT),
                          url=article.url or None, colour=EMBED_COLOUR)
    body = chunk_text(escape(paragraph.text), EMBED_DESCRIPTION_LIMIT)
    embed.description = body[0] if body else ""
    embeds = [embed]
    for extra in body[1:]:
        embeds.append(discord.Embed(description=extra, colour=EMBED_COLOUR))
    aligned = list(aligned)
    target = embeds[-1]
    if aligned:
        for p in aligned:
            name = f"↳ {t('answer.aligned.' + p.language, lang)} · ¶ {p.position}"
            for i, piece in enumerate(chunk_text(escape(p.text), FIELD_VALUE_LIMIT)):
                if len(target) + len(name) + len(piece) > EMBED_TOTAL_LIMIT - 100 or \
                        len(target.fields) >= FIELDS_PER_EMBED:
                    target = discord.Embed(colour=EMBED_COLOUR)
                    embeds.append(target)
                target.add_field(name=name if i == 0 else "…", value=piece, inline=False)
    else:
        target.set_footer(text=t("passage.no_counterpart", lang))
    line = citation_line(article, lang)
    if line and not embeds[0].footer.text:
        embeds[0].set_footer(text=cut(line, FOOTER_LIMIT))
    return pack_pages(embeds)
