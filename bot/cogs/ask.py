"""Questions: ``/ask``, messages addressed to the bot (mention, question channel, or a
follow-up in a thread the bot opened), answered in a thread on the question message, and
"Ask Dari" on any message (message context menu), answered privately.

Every answer is logged (``bot.feedback``) before it is sent: its id goes into the custom ids
of the buttons under it (``bot.views``). A follow-up in a thread that leans on the thread's
earlier question (``bot.followup``) is searched together with it.
"""

from __future__ import annotations

import asyncio
import logging
import re

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import Cooldown, declare_max_length, validate_question
from bot.client import DariBot, language_of
from bot.errors import UserFacingError
from bot.feedback import Quoted
from bot.followup import leans_on_context, search_text
from bot.format import plain_question, render_answer, thread_name
from bot.i18n import Lang, cmd, interface_language, t
from bot.send import NO_MENTIONS, defer, send_pages, send_to_channel
from bot.views import answer_view
from embeddings.models import Answer

log = logging.getLogger(__name__)

def quoted(answer: Answer) -> list[Quoted]:
    """The passages an answer quotes, as the question log keeps them."""
    return [Quoted(h.article.id, h.paragraph.id, h.paragraph.language, h.paragraph.position)
            for h in answer.hits]


async def log_and_view(bot: DariBot, answer: Answer, *, question: str, searched: str, lang: Lang,
                       kind: str, guild_id: int | None, channel_id: int | None,
                       post: bool = False) -> discord.ui.View:
    """Record ``answer`` in the question log; the buttons to send under it."""
    passages = quoted(answer)
    answer_id = await asyncio.to_thread(
        bot.feedback.log_answer, question=question, search_text=searched, language=lang,
        kind=kind, passages=passages, guild_id=guild_id, channel_id=channel_id)
    first = passages[0].language if passages else None
    return answer_view(answer_id, answer.found, first, lang, post=post)


class AskCog(commands.Cog):
    """Answers questions by quoting the passages that answer them."""

    def __init__(self, bot: DariBot) -> None:
        self.bot = bot
        # One cooldown for both ways of asking: it limits a user, not a command.
        self.cooldown = Cooldown(bot.settings.discord.cooldown_seconds)
        declare_max_length(self.ask, "question", bot.settings.discord.max_question_chars)
        # Context menus cannot be declared in a cog class body; added to the tree here.
        self.ask_menu = app_commands.ContextMenu(name=cmd("askmsg.name"), callback=self.ask_message)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.ask_menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.ask_menu.name, type=self.ask_menu.type)

    @app_commands.command(name=cmd("ask.name"), description=cmd("ask.desc"))
    @app_commands.rename(question=cmd("ask.question.name"))
    @app_commands.describe(question=cmd("ask.question.desc"))
    async def ask(self, interaction: discord.Interaction, question: str) -> None:
        """/ask: the answer, in the channel, visible to all."""
        await self._answer(interaction, question, kind="ask", private=False)

    async def ask_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """"Ask Dari" on a message: its text answered privately, with a button to post it."""
        text = self.question_text(message)
        language_of(interaction, text)
        if not text.strip():
            raise UserFacingError("context.empty")
        await self._answer(interaction, text, kind="context", private=True)

    async def _answer(self, interaction: discord.Interaction, text: str, *, kind: str,
                      private: bool) -> None:
        """Check, search and reply to an interaction's question (privately, with a button to
        post it, for ``private``), logging the answer for its buttons."""
        language_of(interaction, text)
        # Checks first so their replies can still be ephemeral (before a public defer).
        question = validate_question(text, self.bot.settings.discord.max_question_chars)
        self.cooldown.check(interaction.user.id)
        await defer(interaction, ephemeral=private)
        searched = plain_question(question)
        answer = await asyncio.to_thread(self.bot.service.ask, searched)
        lang = language_of(interaction, question)
        view = await log_and_view(self.bot, answer, question=question, searched=searched, lang=lang,
                                  kind=kind, guild_id=interaction.guild_id,
                                  channel_id=interaction.channel_id, post=private)
        await send_pages(interaction, render_answer(answer, lang), ephemeral=private, view=view)

    # --- messages ---------------------------------------------------------------------

    def is_question(self, message: discord.Message) -> bool:
        """Whether ``message`` is addressed to the bot (and so should be answered)."""
        me = self.bot.user
        if me is None or message.author.bot or message.webhook_id is not None:
            return False
        channel = message.channel
        if isinstance(channel, discord.DMChannel):
            return True
        if any(user.id == me.id for user in message.mentions):
            return True
        own_role = message.guild.self_role if message.guild is not None else None
        if own_role is not None and own_role in message.role_mentions:
            return True  # people often pick the bot's managed role from the @ list
        channels = set(self.bot.settings.discord.question_channels)
        if channel.id in channels:
            return True
        if isinstance(channel, discord.Thread):
            # Follow-ups: threads the bot opened for a question, and threads of question channels.
            return channel.owner_id == me.id or channel.parent_id in channels
        return False

    def question_text(self, message: discord.Message) -> str:
        """The message text without the bot's mention."""
        me = self.bot.user
        text = message.content
        if me is not None:
            text = re.sub(rf"<@!?{me.id}>", " ", text)
        own_role = message.guild.self_role if message.guild is not None else None
        if own_role is not None:
            text = text.replace(f"<@&{own_role.id}>", " ")
        return " ".join(text.split())

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if not self.is_question(message):
            return
        text = self.question_text(message)
        lang = interface_language(text)
        try:
            question = validate_question(text, self.bot.settings.discord.max_question_chars)
            self.cooldown.check(message.author.id)
        except UserFacingError as exc:
            await message.reply(t(exc.key, lang, **exc.values), mention_author=False,
                                allowed_mentions=NO_MENTIONS)
            return
        target = await self._reply_target(message, question)
        try:
            searched, kind = await self._search_text(
                message, plain_question(question, mention_names(message)))
            async with target.typing():
                answer = await asyncio.to_thread(self.bot.service.ask, searched)
            view = await log_and_view(self.bot, answer, question=question, searched=searched,
                                      lang=lang, kind=kind, guild_id=message.guild.id
                                      if message.guild else None, channel_id=_channel_id(target))
            await send_to_channel(target, render_answer(answer, lang), view=view)
        except Exception:
            # Same contract as the command tree's handler: log the traceback, tell the user
            # briefly, keep running.
            log.exception("answering message %s in channel %s failed", message.id, message.channel.id)
            await target.send(t("error.generic", lang), allowed_mentions=NO_MENTIONS)

    async def _search_text(self, message: discord.Message, question: str) -> tuple[str, str]:
        """What to search for ``question`` and the log kind: in a thread with earlier
        questions, a follow-up that leans on them is searched together with them."""
        if not isinstance(message.channel, discord.Thread):
            return question, "message"
        earlier = await asyncio.to_thread(self.bot.feedback.thread_context, message.channel.id)
        if not earlier or not leans_on_context(question):
            return question, "message"
        return search_text(question, [row.question for row in earlier]), "followup"

    async def _reply_target(self, message: discord.Message, question: str) -> discord.abc.Messageable:
        """The thread to answer in: the current one, or a new one on the question message."""
        channel = message.channel
        if isinstance(channel, (discord.Thread, discord.DMChannel)) or message.guild is None:
            return channel
        try:
            return await message.create_thread(
                name=thread_name(question, mention_names(message)),
                auto_archive_duration=1440,
            )
        except discord.HTTPException:
            # No thread permission (or a channel type without threads): answer in place.
            log.warning("could not open a thread in channel %s; answering there", channel.id,
                        exc_info=True)
            return channel


def _channel_id(target: discord.abc.Messageable) -> int | None:
    channel = target if isinstance(target, (discord.Thread, discord.TextChannel, discord.DMChannel)) else None
    return channel.id if channel is not None else None


def mention_names(message: discord.Message) -> dict[str, str]:
    """How each mention in ``message`` reads as plain text: ``<@123>`` -> ``@mina`` etc."""
    names: dict[str, str] = {}
    for user in message.mentions:
        names[f"<@{user.id}>"] = names[f"<@!{user.id}>"] = "@" + user.display_name
    for role in message.role_mentions:
        names[f"<@&{role.id}>"] = "@" + role.name
    for channel in message.channel_mentions:
        names[f"<#{channel.id}>"] = "#" + channel.name
    return names


async def setup(bot: DariBot) -> None:
    """Extension entry point (``bot.load_extension("bot.cogs.ask")``)."""
    await bot.add_cog(AskCog(bot))
