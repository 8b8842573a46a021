"""``/report`` for admins: questions, refusals and feedback over the last 7 and 30 days.

Private (ephemeral), for the server it is run in. One embed within Discord's limits; when a
section does not fit, the whole report is attached as CSV as well.
"""

from __future__ import annotations

import asyncio
import io
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import require_admin
from bot.client import DariBot, language_of
from bot.feedback import Report
from bot.format import EMBED_COLOUR, FIELD_VALUE_LIMIT, Page, cut, escape
from bot.i18n import Lang, cmd, t
from bot.send import defer, send_pages

log = logging.getLogger(__name__)

REPORT_FILE = "dari-report.csv"
# Entries shown per section; the CSV has them all.
TOP = 10


def _section(lines: list[str], lang: Lang) -> tuple[str, bool]:
    """Lines joined within a field's limit; False when some were left out."""
    if not lines:
        return t("report.none", lang), True
    out: list[str] = []
    size = 0
    for line in lines:
        if size + len(line) + 1 > FIELD_VALUE_LIMIT - 2:
            return "\n".join(out + ["…"]), False
        out.append(line)
        size += len(line) + 1
    return "\n".join(out), True


def render_report(report: Report, lang: Lang) -> tuple[discord.Embed, bool]:
    """The report as one embed, and whether everything fit in it."""
    embed = discord.Embed(title=t("report.title", lang), colour=EMBED_COLOUR)
    embed.description = "\n".join(
        t("report.period", lang, days=p.days, asked=p.asked, answered=p.answered, refused=p.refused,
          up=p.up, down=p.down) for p in report.periods)
    days = max((p.days for p in report.periods), default=30)
    complete = True
    refused = [f"{r.count}× {escape(cut(r.question, 150))}" for r in report.refused[:TOP]]
    disputed = [f"#{d.answer_id} 👎 {d.down} 👍 {d.up} · {escape(cut(d.question, 120))}\n"
                f"  ↳ {escape(cut(', '.join(d.passages), 200))}" for d in report.disputed[:TOP]]
    articles = [f"{a.quotes} · {escape(cut(a.article_id, 100))}" for a in report.articles[:TOP]]
    for key, lines, total in (("report.refused", refused, len(report.refused)),
                              ("report.disputed", disputed, len(report.disputed)),
                              ("report.articles", articles, len(report.articles))):
        value, fits = _section(lines, lang)
        complete = complete and fits and total <= TOP
        embed.add_field(name=t(key, lang, days=days), value=value, inline=False)
    if not complete:
        embed.set_footer(text=t("report.attached", lang))
    return embed, complete


class ReportCog(commands.Cog):
    """What was asked, what was missing, what was marked wrong."""

    def __init__(self, bot: DariBot) -> None:
        self.bot = bot

    @app_commands.command(name=cmd("report.name"), description=cmd("report.desc"))
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def report(self, interaction: discord.Interaction) -> None:
        """/report: this server's questions and feedback, privately."""
        lang = language_of(interaction)
        require_admin(interaction, self.bot.settings.discord)
        await defer(interaction, ephemeral=True)
        report = await asyncio.to_thread(self.bot.feedback.report, TOP * 10, interaction.guild_id)
        embed, complete = render_report(report, lang)
        files = None
        if not complete:
            data = io.BytesIO(report.to_csv().encode("utf-8"))
            files = [discord.File(data, filename=REPORT_FILE)]
        await send_pages(interaction, [Page(embeds=[embed])], ephemeral=True, files=files)


async def setup(bot: DariBot) -> None:
    """Extension entry point."""
    await bot.add_cog(ReportCog(bot))
