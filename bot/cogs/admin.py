"""Admin commands: ``/reindex [full]``, ``/status`` and ``/add-article file``.

Rights are checked in code (Manage Server or a configured admin role); the commands'
``default_permissions`` only hides them from other users in Discord's client.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import PurePath
from collections.abc import Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import require_admin
from bot.client import DariBot, language_of
from bot.errors import UserFacingError
from bot.format import EMBED_COLOUR, Page, cut, escape
from bot.i18n import Lang, cmd, t
from bot.send import defer, edit_text, send_pages
from embeddings.lock import RefreshBusy

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]

# Interaction edits are rate limited (about 5 per 5 s); one a second stays well inside.
PROGRESS_EDIT_SECONDS = 1.0


class RefreshProgress:
    """Latest progress of a refresh, written by the worker thread, read by the event loop."""

    def __init__(self, observers: list[Progress] | None = None) -> None:
        self._observers = list(observers or [])
        self._lock = threading.Lock()
        self.stage = ""
        self.done = 0
        self.total = 0
        self.version = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        # Called from the refresh thread: only store numbers, never touch discord here.
        with self._lock:
            self.stage, self.done, self.total = stage, done, total
            self.version += 1
        for observer in self._observers:
            observer(stage, done, total)

    def snapshot(self) -> tuple[int, str, int, int]:
        with self._lock:
            return self.version, self.stage, self.done, self.total


def report_summary(report: Any, lang: Lang) -> str:
    """A one-line summary of a refresh report (``embeddings.refresh.RefreshReport``)."""
    values = {name: getattr(report, name, 0) for name in ("articles", "paragraphs", "encoded", "cached")}
    key = "reindex.up_to_date" if getattr(report, "up_to_date", False) else "reindex.summary"
    return t(key, lang, **values)


def report_seconds(report: Any, started: float) -> float:
    for name in ("duration_s", "seconds", "elapsed", "duration"):
        value = getattr(report, name, None)
        if isinstance(value, (int, float)):
            return float(value)
    return time.monotonic() - started


class AdminCog(commands.Cog):
    """Index maintenance for server managers."""

    def __init__(self, bot: DariBot) -> None:
        self.bot = bot
        # Extra receivers of refresh progress, called in the refresh thread (monitoring;
        # the tests use one to hold a refresh open at a known stage).
        self.progress_observers: list[Progress] = []

    async def run_refresh(self, interaction: discord.Interaction, full: bool,
                          lang: Lang) -> tuple[Any, float]:
        """Refresh in a worker thread, editing the reply with progress until it ends.

        The old index answers other users meanwhile (the service swaps at the end).
        Raises :class:`UserFacingError` ``reindex.busy`` if a refresh is already running.
        """
        progress = RefreshProgress(self.progress_observers)
        started = time.monotonic()
        job = asyncio.create_task(asyncio.to_thread(self.bot.service.refresh, full, progress))
        shown = -1
        while not job.done():
            await asyncio.wait({job}, timeout=PROGRESS_EDIT_SECONDS)
            version, stage, done, total = progress.snapshot()
            if job.done() or version == shown or version == 0:
                continue
            shown = version
            try:
                await edit_text(interaction, t("reindex.progress", lang, stage=stage, done=done,
                                               total=total))
            except discord.HTTPException:
                log.debug("progress edit failed", exc_info=True)
        try:
            report = job.result()
        except RefreshBusy:
            raise UserFacingError("reindex.busy") from None
        log.info("refresh (full=%s) by %s done in %.1fs: %s", full, interaction.user,
                 time.monotonic() - started, report)
        return report, report_seconds(report, started)

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
        report, seconds = await self.run_refresh(interaction, full, lang)
        await edit_text(interaction, cut(t("reindex.done", lang, seconds=seconds,
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
        """/add-article: validate an uploaded article, save it under a safe name, index it."""
        from corpus.parse import CorpusFileError
        from corpus.upload import save_upload

        lang = language_of(interaction)
        require_admin(interaction, self.bot.settings.discord)
        settings = self.bot.settings
        shown_name = escape(cut(file.filename, 100))
        suffix = PurePath(file.filename).suffix.lower()
        if suffix not in {e.lower() for e in settings.corpus.extensions}:
            raise UserFacingError("add.bad_type", name=shown_name)
        max_bytes = int(settings.corpus.max_file_mb * 1024 * 1024)
        # Refuse before downloading: the attachment's size is known from the payload.
        if file.size > max_bytes:
            raise UserFacingError("add.too_big", size=file.size, max=max_bytes)
        await defer(interaction, ephemeral=True)
        data = await file.read()
        try:
            path = await asyncio.to_thread(
                save_upload, settings.corpus_dir, file.filename, data, max_bytes
            )
        except CorpusFileError as exc:
            log.info("upload %r by %s refused: %s", file.filename, interaction.user, exc.reason)
            raise UserFacingError("add.invalid", name=shown_name, reason=escape(exc.reason)) from None
        log.info("upload %r by %s saved as %s", file.filename, interaction.user, path)
        try:
            report, _ = await self.run_refresh(interaction, False, lang)
        except UserFacingError as exc:
            if exc.key == "reindex.busy":
                raise UserFacingError("add.saved_busy", name=escape(path.name)) from None
            raise
        await edit_text(interaction, cut(t("add.saved", lang, name=escape(path.name),
                                           summary=report_summary(report, lang)), 1900))


async def setup(bot: DariBot) -> None:
    """Extension entry point."""
    await bot.add_cog(AdminCog(bot))
