"""Buttons under answers, persistent across restarts.

Each button is a :class:`discord.ui.DynamicItem` whose ``custom_id`` carries the answer's
id in the question log (``dari:full:42``, ``dari:vote:42:down``): the passages the answer
quoted (article and paragraph ids) are in that row of the SQLite log, not in memory, so a
click works after the bot restarted. A custom id has room for 100 characters; three
paragraph ids (``<article id>:<lang>:<hash>``) do not fit, one answer id always does.

- *Full paragraph*: each quoted paragraph whole, with its counterpart, privately;
- *원문 / Translation*: the same passages with the other language first, privately;
- *More*: the next passages for the same question, privately;
- 👍 / 👎: one vote per user and answer (again: withdrawn; the other: changed);
- *Post in channel* (under a private "Ask Dari" answer): posts the answer publicly.

A refusal ("nothing relevant") carries 👎 only, so a user can say the corpus has it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.client import DariBot, send_ephemeral
from bot.errors import UserFacingError
from bot.feedback import LoggedAnswer
from bot.format import Page, escape, pack_pages, render_answer, render_passage
from bot.i18n import Lang, interface_language, t
from bot.send import NO_MENTIONS, defer, send_pages, send_to_channel
from bot.service import AnswerService

log = logging.getLogger(__name__)

Button = discord.ui.Button[discord.ui.View]
Handler = Callable[[DariBot, discord.Interaction, LoggedAnswer], Awaitable[None]]


def answer_view(answer_id: int, found: bool, first_language: str | None, lang: Lang, *,
                post: bool = False) -> discord.ui.View:
    """The buttons under an answer (``found`` False: a refusal, 👎 only)."""
    view = discord.ui.View(timeout=None)
    if found:
        other = "button.english_first" if first_language == "ko" else "button.korean_first"
        view.add_item(AnswerButton("full", answer_id, t("button.full", lang)))
        view.add_item(AnswerButton("swap", answer_id, t(other, lang)))
        view.add_item(AnswerButton("more", answer_id, t("button.more", lang)))
        view.add_item(VoteButton(answer_id, "up"))
    view.add_item(VoteButton(answer_id, "down"))
    if post and found:
        view.add_item(PostButton(answer_id, t("button.post", lang)))
    return view


def view_for(row: LoggedAnswer, lang: Lang, *, post: bool = False) -> discord.ui.View:
    """:func:`answer_view` for a logged answer."""
    first = row.passages[0].language if row.passages else None
    return answer_view(row.id, row.found, first, lang, post=post)


class AnswerButton(discord.ui.DynamicItem[Button],
                   template=r"^dari:(?P<action>full|swap|more):(?P<answer>[0-9]{1,19})$"):
    """Full paragraph / other language first / more passages."""

    def __init__(self, action: str, answer_id: int, label: str) -> None:
        super().__init__(discord.ui.Button(label=label or action, style=discord.ButtonStyle.secondary,
                                           custom_id=f"dari:{action}:{answer_id}"))
        self.action = action
        self.answer_id = answer_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> AnswerButton:
        label = item.label if isinstance(item, discord.ui.Button) else None
        return cls(match["action"], int(match["answer"]), label or match["action"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await run_click(interaction, self.answer_id, ACTIONS[self.action])


class VoteButton(discord.ui.DynamicItem[Button],
                 template=r"^dari:vote:(?P<answer>[0-9]{1,19}):(?P<vote>up|down)$"):
    """👍 / 👎 on an answer."""

    def __init__(self, answer_id: int, vote: str) -> None:
        super().__init__(discord.ui.Button(emoji="👍" if vote == "up" else "👎",
                                           style=discord.ButtonStyle.secondary,
                                           custom_id=f"dari:vote:{answer_id}:{vote}"))
        self.answer_id = answer_id
        self.vote = vote

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> VoteButton:
        return cls(int(match["answer"]), match["vote"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await run_click(interaction, self.answer_id, vote_up if self.vote == "up" else vote_down)


class PostButton(discord.ui.DynamicItem[Button], template=r"^dari:post:(?P<answer>[0-9]{1,19})$"):
    """Under a private "Ask Dari" answer: post it in the channel."""

    def __init__(self, answer_id: int, label: str) -> None:
        super().__init__(discord.ui.Button(label=label or "Post", style=discord.ButtonStyle.primary,
                                           custom_id=f"dari:post:{answer_id}"), row=1)
        self.answer_id = answer_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> PostButton:
        label = item.label if isinstance(item, discord.ui.Button) else None
        return cls(int(match["answer"]), label or "Post")

    async def callback(self, interaction: discord.Interaction) -> None:
        await run_click(interaction, self.answer_id, post_answer)


DYNAMIC_ITEMS = (AnswerButton, VoteButton, PostButton)


def _bot(interaction: discord.Interaction) -> DariBot:
    client = interaction.client
    if not isinstance(client, DariBot):  # pragma: no cover - these buttons belong to DariBot
        raise TypeError(f"Dari's buttons need a DariBot, got {type(client).__name__}")
    return client


async def run_click(interaction: discord.Interaction, answer_id: int, handler: Handler) -> None:
    """Load the answer's log row and run ``handler``; a refusal or failure is told privately.

    Component callbacks do not go through the command tree's error handler, so this is
    their one handler, with the same contract: log the traceback, tell the user briefly.
    """
    bot = _bot(interaction)
    lang = interface_language(None, interaction.locale)
    interaction.extras["lang"] = lang
    try:
        row = await asyncio.to_thread(bot.feedback.answer, answer_id)
        if row is None:
            raise UserFacingError("button.expired", days=bot.settings.feedback.retention_days)
        # The answer's language: a Korean question's buttons answer in Korean, whoever clicks.
        interaction.extras["lang"] = lang = row.language
        await handler(bot, interaction, row)
    except UserFacingError as exc:
        await send_ephemeral(interaction, t(exc.key, lang, **exc.values))
    except Exception:
        log.exception("button %s on answer %s failed for user %s", handler.__name__, answer_id,
                      interaction.user.id)
        await send_ephemeral(interaction, t("error.generic", lang))


def passage_pages(service: AnswerService, row: LoggedAnswer, lang: Lang, *,
                  other_first: bool) -> list[Page]:
    """The answer's quoted paragraphs in full (blocking: store reads), each with its
    counterpart; with ``other_first`` the counterpart leads and the quoted one follows."""
    embeds: list[discord.Embed] = []
    shown: set[str] = set()
    for quoted in row.passages:
        if quoted.paragraph_id in shown:
            continue
        article = service.resolve_article(quoted.article_id)
        paragraph = next((p for p in article.paragraphs if p.id == quoted.paragraph_id),
                         None) if article is not None else None
        if article is None or paragraph is None:
            continue  # the corpus changed since the answer: that passage is gone
        found = service.passage(article.id, paragraph.language, paragraph.position)
        aligned = found[1] if found else ()
        if other_first and aligned:
            lead = aligned[0]
            back = service.passage(article.id, lead.language, lead.position)
            paragraph, aligned = lead, (back[1] if back else (paragraph,))
        shown.add(paragraph.id)
        shown.update(p.id for p in aligned)
        for page in render_passage(article, paragraph, aligned, lang):
            embeds.extend(page.embeds)
    if not embeds:
        return [Page(content=t("button.gone", lang))]
    return pack_pages(embeds)


async def show_full(bot: DariBot, interaction: discord.Interaction, row: LoggedAnswer) -> None:
    await defer(interaction, ephemeral=True)
    pages = await asyncio.to_thread(passage_pages, bot.service, row, row.language, other_first=False)
    await send_pages(interaction, pages, ephemeral=True)


async def show_other_first(bot: DariBot, interaction: discord.Interaction, row: LoggedAnswer) -> None:
    await defer(interaction, ephemeral=True)
    pages = await asyncio.to_thread(passage_pages, bot.service, row, row.language, other_first=True)
    await send_pages(interaction, pages, ephemeral=True)


async def show_more(bot: DariBot, interaction: discord.Interaction, row: LoggedAnswer) -> None:
    await defer(interaction, ephemeral=True)
    answer = await asyncio.to_thread(bot.service.ask_more, row.search_text, len(row.passages))
    if not answer.found:
        await send_pages(interaction, [Page(content=t("more.none", row.language))], ephemeral=True)
        return
    pages = render_answer(answer, row.language)
    pages[0].content = f"**{t('more.title', row.language)}**"
    await send_pages(interaction, pages, ephemeral=True)


async def _vote(bot: DariBot, interaction: discord.Interaction, row: LoggedAnswer, vote: int) -> None:
    try:
        now = await asyncio.to_thread(bot.feedback.vote, row.id, interaction.user.id, vote)
    except KeyError:
        raise UserFacingError("button.expired", days=bot.settings.feedback.retention_days) from None
    key = {1: "vote.up", -1: "vote.down", 0: "vote.withdrawn"}[now]
    await interaction.response.send_message(t(key, row.language), ephemeral=True,
                                            allowed_mentions=NO_MENTIONS)


async def vote_up(bot: DariBot, interaction: discord.Interaction, row: LoggedAnswer) -> None:
    await _vote(bot, interaction, row, 1)


async def vote_down(bot: DariBot, interaction: discord.Interaction, row: LoggedAnswer) -> None:
    await _vote(bot, interaction, row, -1)


async def post_answer(bot: DariBot, interaction: discord.Interaction, row: LoggedAnswer) -> None:
    """Post a private "Ask Dari" answer in the channel, with its buttons (Post used up)."""
    lang = row.language
    channel = interaction.channel
    if not isinstance(channel, discord.abc.Messageable):
        raise UserFacingError("error.guild_only")
    # Replace the private message's buttons at once (acknowledges within Discord's 3 s).
    await interaction.response.edit_message(view=view_for(row, lang), allowed_mentions=NO_MENTIONS)
    answer = await asyncio.to_thread(bot.service.ask, row.search_text)
    pages = render_answer(answer, lang)
    header = t("post.header", lang, name=escape(interaction.user.display_name))
    pages[0].content = f"{header}\n{pages[0].content or ''}".strip()
    await send_to_channel(channel, pages, view=view_for(row, lang))
    if interaction.channel_id is not None:
        await asyncio.to_thread(bot.feedback.set_channel, row.id, interaction.channel_id)
    await interaction.followup.send(t("post.done", lang), ephemeral=True, allowed_mentions=NO_MENTIONS)


ACTIONS: dict[str, Handler] = {"full": show_full, "swap": show_other_first, "more": show_more}
