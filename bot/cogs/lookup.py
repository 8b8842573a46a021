"""Looking things up: ``/search`` (ephemeral list), ``/source`` (article card with title
autocomplete in both languages) and ``/passage`` (one paragraph with its counterpart)."""

from __future__ import annotations

import asyncio
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import declare_max_length, validate_question
from bot.client import DariBot, language_of
from bot.errors import UserFacingError
from bot.format import (
    Page,
    cut,
    escape,
    language_name,
    plain_question,
    render_passage,
    render_search,
    render_source,
)
from bot.i18n import cmd
from bot.send import defer, send_pages
from corpus.models import Article, Language

log = logging.getLogger(__name__)

SEARCH_MAX = 10
CHOICE_NAME_LIMIT = 100
CHOICES_LIMIT = 25

LANGUAGE_CHOICES = [
    app_commands.Choice(name=cmd("choice.en"), value="en"),
    app_commands.Choice(name=cmd("choice.ko"), value="ko"),
]


def article_choice(article: Article) -> app_commands.Choice[str]:
    """An autocomplete entry: both titles when there are two, the article id as value."""
    name = article.title or article.id
    if article.title_ko and article.title_ko != article.title:
        name = f"{name} / {article.title_ko}"
    return app_commands.Choice(name=cut(name, CHOICE_NAME_LIMIT), value=article.id)


class LookupCog(commands.Cog):
    """Search, source cards and single passages."""

    def __init__(self, bot: DariBot) -> None:
        self.bot = bot
        declare_max_length(self.search, "query", bot.settings.discord.max_question_chars)

    async def article_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Titles (English or Korean) matching what the user typed so far."""
        service = self.bot.service
        if current.strip():
            articles = await asyncio.to_thread(service.find_articles, current, CHOICES_LIMIT)
        else:
            articles = (await asyncio.to_thread(service.articles))[:CHOICES_LIMIT]
        return [article_choice(a) for a in articles][:CHOICES_LIMIT]

    async def _resolve(self, ref: str) -> Article:
        article = await asyncio.to_thread(self.bot.service.resolve_article, ref)
        if article is None:
            raise UserFacingError("source.not_found", ref=escape(cut(ref, 100)))
        return article

    @app_commands.command(name=cmd("search.name"), description=cmd("search.desc"))
    @app_commands.rename(query=cmd("search.query.name"), language=cmd("search.language.name"),
                         limit=cmd("search.limit.name"))
    @app_commands.describe(query=cmd("search.query.desc"), language=cmd("search.language.desc"),
                           limit=cmd("search.limit.desc"))
    @app_commands.choices(language=LANGUAGE_CHOICES)
    async def search(
        self,
        interaction: discord.Interaction,
        query: str,
        language: app_commands.Choice[str] | None = None,
        limit: app_commands.Range[int, 1, SEARCH_MAX] | None = None,
    ) -> None:
        """/search: a compact, ephemeral list of the best passages."""
        lang = language_of(interaction, query)
        text = plain_question(validate_question(query, self.bot.settings.discord.max_question_chars))
        k = limit or min(SEARCH_MAX, self.bot.settings.retrieval.top_k)
        await defer(interaction, ephemeral=True)
        hits = await asyncio.to_thread(
            self.bot.service.search, text, k, language.value if language else None
        )
        await send_pages(interaction, [render_search(text, hits, lang)], ephemeral=True)

    @app_commands.command(name=cmd("source.name"), description=cmd("source.desc"))
    @app_commands.rename(article=cmd("source.article.name"))
    @app_commands.describe(article=cmd("source.article.desc"))
    async def source(self, interaction: discord.Interaction, article: str) -> None:
        """/source: an article's metadata, link and paragraph counts."""
        lang = language_of(interaction)
        await defer(interaction, ephemeral=False)
        found = await self._resolve(article)
        await send_pages(interaction, [Page(embeds=[render_source(found, lang)])])

    @source.autocomplete("article")
    async def _source_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self.article_autocomplete(interaction, current)

    @app_commands.command(name=cmd("passage.name"), description=cmd("passage.desc"))
    @app_commands.rename(article=cmd("passage.article.name"), number=cmd("passage.number.name"),
                         language=cmd("passage.language.name"))
    @app_commands.describe(article=cmd("passage.article.desc"), number=cmd("passage.number.desc"),
                           language=cmd("passage.language.desc"))
    @app_commands.choices(language=LANGUAGE_CHOICES)
    async def passage(
        self,
        interaction: discord.Interaction,
        article: str,
        number: app_commands.Range[int, 1, 100_000],
        language: app_commands.Choice[str] | None = None,
    ) -> None:
        """/passage: one paragraph in full with its aligned counterpart."""
        lang = language_of(interaction)
        corpus_language: Language = "ko" if language is not None and language.value == "ko" else "en"
        await defer(interaction, ephemeral=False)
        found = await self._resolve(article)
        result = await asyncio.to_thread(
            self.bot.service.passage, found.id, corpus_language, number
        )
        if result is None:
            raise UserFacingError(
                "passage.not_found", title=escape(cut(found.title or found.id, 100)),
                lang=language_name(corpus_language, lang), n=number,
                count=len(found.in_language(corpus_language)),
            )
        paragraph, aligned = result
        await send_pages(interaction, render_passage(found, paragraph, aligned, lang))

    @passage.autocomplete("article")
    async def _passage_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self.article_autocomplete(interaction, current)


async def setup(bot: DariBot) -> None:
    """Extension entry point."""
    await bot.add_cog(LookupCog(bot))
