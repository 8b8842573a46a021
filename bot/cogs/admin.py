"""Admin commands: ``/reindex [full]``, ``/status`` and ``/add-article file``.

Rights are checked in code (Manage Server or a configured admin role); the commands'
``default_permissions`` only hides them from other users in Discord's client. Refreshes run
in a separate process (``DariBot.refresh_index``); the reply is edited with its progress.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path, PurePath

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import require_admin
from bot.client import DariBot, language_of
from bot.errors import UserFacingError
from bot.format import EMBED_COLOUR, Page, cut, escape
from bot.i18n import Lang, cmd, t
from bot.offload import in_process
from bot.refresher import RefreshFailed, RefreshTimedOut
from bot.send import defer, edit_text, send_pages
from corpus.parse import CorpusFileError
from corpus.upload import safe_filename, save_upload
from embeddings.lock import RefreshBusy
from embeddings.refresh import RefreshReport

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]

# Interaction edits are rate limited (about 5 per 5 s); one a second stays well inside.
PROGRESS_EDIT_SECONDS = 1.0


class RefreshProgress:
    """Latest progress of a refresh process, as it reports it; read by the edit loop."""

    def __init__(self, observers: list[Progress] | None = None) -> None:
        self._observers = list(observers or [])
        self.stage = ""
        self.done = 0
        self.total = 0
        self.file: str | None = None
        self.version = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        # Called on the event loop as the refresh process reports: only store numbers.
        self.stage, self.done, self.total = stage, done, total
        self.version += 1
        for observer in self._observers:
            observer(stage, done, total)

    def note_file(self, name: str) -> None:
        """The corpus file the refresh is working on now."""
        self.file = name

    def text(self, lang: Lang) -> str:
        """The progress line for the reply."""
        line = t("reindex.progress", lang, stage=self.stage, done=self.done, total=self.total)
        if self.file:
            line += " · " + escape(cut(self.file, 200))
        return line


def report_summary(report: RefreshReport, lang: Lang) -> str:
    """A one-line summary of a refresh report."""
    key = "reindex.up_to_date" if report.up_to_date else "reindex.summary"
    return t(key, lang, articles=report.articles, paragraphs=report.paragraphs,
             encoded=report.encoded, cached=report.cached)


class AdminCog(commands.Cog):
    """Index maintenance for server managers."""

    def __init__(self, bot: DariBot) -> None:
        self.bot = bot
        # Extra receivers of refresh progress, called on the event loop as the refresh
        # process reports (monitoring); they must not block.
        self.progress_observers: list[Progress] = []

    async def run_refresh(self, interaction: discord.Interaction, full: bool,
                          lang: Lang) -> RefreshReport:
        """Refresh in a separate process, editing the reply with progress until it ends.

        The old index answers other users meanwhile (the new one is served once it is
        live). Raises :class:`UserFacingError`: ``reindex.busy`` if a refresh is already
        running, ``reindex.timeout`` past ``[index].max_refresh_minutes`` (naming the file
        it was on), ``reindex.failed`` if the process failed or was killed.
        """
        progress = RefreshProgress(self.progress_observers)
        started = time.monotonic()
        job = asyncio.create_task(self.bot.refresh_index(full, progress, progress.note_file))
        shown = -1
        try:
            while not job.done():
                await asyncio.wait({job}, timeout=PROGRESS_EDIT_SECONDS)
                if job.done() or progress.version in (shown, 0):
                    continue
                shown = progress.version
                try:
                    await edit_text(interaction, cut(progress.text(lang), 1900))
                except discord.HTTPException:
                    log.debug("progress edit failed", exc_info=True)
        finally:
            if not job.done():
                job.cancel()  # this command was cancelled: the refresh process is killed
        try:
            report = job.result()
        except RefreshBusy:
            raise UserFacingError("reindex.busy") from None
        except RefreshTimedOut as exc:
            raise UserFacingError("reindex.timeout", log_as_warning=True, minutes=f"{exc.minutes:g}",
                                  file=escape(cut(exc.file or "?", 200))) from None
        except RefreshFailed as exc:
            log.error("refresh (full=%s) by %s failed: %s", full, interaction.user, exc)
            raise UserFacingError("reindex.failed", reason=escape(cut(str(exc), 300))) from None
        log.info("refresh (full=%s) by %s done in %.1fs: %s", full, interaction.user,
                 time.monotonic() - started, report)
        return report

    @app_commands.command(name=cmd("reindex.name"), description=cmd("reindex.desc"))
    @app_commands.rename(full=cmd("reindex.full.name"))
    @app_commands.describe(full=cmd("reindex.full.desc"))
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def reindex(self, interaction: discord.Interaction, full: bool = False) -> None:
        """/reindex: refresh the index from the corpus directory, showing progress."""
        lang = language_of(interaction)
        require_admin(interaction, self.bot.settings.discord)
        await defer(interaction, ephemeral=True)
        await edit_text(interaction, t("reindex.start", lang))
        report = await self.run_refresh(interaction, full, lang)
        await edit_text(interaction, cut(t("reindex.done", lang, seconds=report.duration_s,
                                           summary=report_summary(report, lang)), 1900))

    @app_commands.command(name=cmd("status.name"), description=cmd("status.desc"))
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def status(self, interaction: discord.Interaction) -> None:
        """/status: what is indexed, the model, the last refresh and its duration."""
        lang = language_of(interaction)
        require_admin(interaction, self.bot.settings.discord)
        await defer(interaction, ephemeral=True)
        status = await asyncio.to_thread(self.bot.service.status)
        embed = discord.Embed(title=t("status.title", lang), colour=EMBED_COLOUR)
        embed.add_field(name=t("status.articles", lang), value=str(status.articles))
        counts = " · ".join(
            f"{t('lang.' + code, lang) if code in ('en', 'ko') else code} {n}"
            for code, n in sorted(status.paragraphs.items())
        ) or "0"
        embed.add_field(name=t("status.paragraphs", lang), value=counts)
        embed.add_field(name=t("status.model", lang), value=escape(cut(status.model, 1000)),
                        inline=False)
        never = t("status.never", lang)
        embed.add_field(name=t("status.last_refresh", lang), value=status.last_refresh or never)
        duration = f"{status.last_duration_s:.1f} s" if status.last_duration_s is not None else never
        embed.add_field(name=t("status.duration", lang), value=duration)
        await send_pages(interaction, [Page(embeds=[embed])], ephemeral=True)

    @app_commands.command(name=cmd("add.name"), description=cmd("add.desc"))
    @app_commands.rename(file=cmd("add.file.name"))
    @app_commands.describe(file=cmd("add.file.desc"))
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def add_article(self, interaction: discord.Interaction, file: discord.Attachment) -> None:
        """/add-article: validate an uploaded article, save it under a safe name, index it.

        Too large (``[discord].max_upload_kb``) is refused before downloading; unreadable or
        past the ``[corpus]`` paragraph limits before saving; and if its refresh fails or
        runs over its time limit, the file is removed again: a refused upload never stays
        in the corpus to stall the next refresh.
        """
        lang = language_of(interaction)
        require_admin(interaction, self.bot.settings.discord)
        settings = self.bot.settings
        shown_name = escape(cut(file.filename, 100))
        suffix = PurePath(file.filename).suffix.lower()
        if suffix not in {e.lower() for e in settings.corpus.extensions}:
            raise UserFacingError("add.bad_type", name=shown_name)
        max_kb = settings.discord.max_upload_kb
        # Refuse before downloading: the attachment's size is known from the payload.
        if file.size > max_kb * 1024:
            raise UserFacingError("add.too_big", name=shown_name, size=f"{file.size / 1024:,.0f}",
                                  max=f"{max_kb:,}")
        await defer(interaction, ephemeral=True)
        data = await file.read()
        try:
            target = Path(settings.corpus_dir) / safe_filename(file.filename)
            existed = target.exists()
            # Parsing up to max_upload_kb of text is CPU-bound: in a thread it would hold
            # the interpreter lock for seconds and stall the gateway; a process cannot.
            path = await in_process(
                save_upload, settings.corpus_dir, file.filename, data, max_kb * 1024,
                max_paragraph_chars=settings.corpus.max_paragraph_chars,
                max_paragraphs=settings.corpus.max_paragraphs)
        except CorpusFileError as exc:
            log.info("upload %r by %s refused: %s", file.filename, interaction.user, exc.reason)
            raise UserFacingError("add.invalid", name=shown_name, reason=escape(exc.reason)) from None
        log.info("upload %r by %s saved as %s", file.filename, interaction.user, path)
        try:
            report = await self.run_refresh(interaction, False, lang)
        except UserFacingError as exc:
            if exc.key == "reindex.busy":
                raise UserFacingError("add.saved_busy", name=escape(path.name)) from None
            if not existed:
                # Not indexed: take it out again, so the next refresh does not retry it.
                path.unlink(missing_ok=True)
                log.warning("upload %s removed again: its refresh did not finish (%s)",
                            path, exc.key)
                raise UserFacingError("add.not_indexed", name=escape(path.name),
                                      reason=t(exc.key, lang, **exc.values)) from None
            raise
        await edit_text(interaction, cut(t("add.saved", lang, name=escape(path.name),
                                           summary=report_summary(report, lang)), 1900))


async def setup(bot: DariBot) -> None:
    """Extension entry point."""
    await bot.add_cog(AdminCog(bot))
