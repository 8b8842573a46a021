"""The Discord client: :class:`DariBot`, its command tree with the one error handler,
command sync and the optional periodic refresh.

The bot never touches the index itself: everything goes through the service it is given
(:class:`bot.service.AnswerService`; the application passes ``dari.service.DariService``), and
every service call runs in a worker thread (``asyncio.to_thread``) to keep the gateway
heartbeat and other users' commands responsive. Refreshes (/reindex, /add-article, the
periodic one) are long and CPU-bound, so they run in a separate process
(``bot.refresher``): nothing long shares the interpreter with the gateway.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.api_base import use_api_base
from bot.errors import UserFacingError
from bot.feedback import FeedbackStore
from bot.i18n import DariTranslator, interface_language, t
from bot.refresher import FileNote, Progress, RefreshFailed, RefreshProcess
from bot.service import AnswerService
from embeddings.lock import RefreshBusy
from embeddings.manifest import NoIndex
from embeddings.refresh import RefreshReport
from settings.config import Settings

log = logging.getLogger(__name__)

EXTENSIONS = ("bot.cogs.ask", "bot.cogs.lookup", "bot.cogs.admin", "bot.cogs.buttons",
              "bot.cogs.report")
NO_MENTIONS = discord.AllowedMentions.none()


def intents() -> discord.Intents:
    """Gateway intents: defaults plus message content (needed for channel questions)."""
    wanted = discord.Intents.default()
    wanted.message_content = True
    # Member lists and presences are not needed: admin checks use the interaction's member.
    wanted.members = False
    wanted.presences = False
    return wanted


class DariTree(app_commands.CommandTree):
    """Command tree whose :meth:`on_error` is the single error handler for every command."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError, /
    ) -> None:
        try:
            await self._report(interaction, error)
        except Exception:
            # The handler itself must never be what stops the bot from answering next time.
            log.exception("error handler failed for /%s", _name(interaction))

    async def _report(self, interaction: discord.Interaction, error: Exception) -> None:
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        lang = interaction.extras.get("lang") or interface_language(None, interaction.locale)
        if isinstance(original, UserFacingError):
            text = t(original.key, lang, **original.values)
            level = logging.WARNING if original.log_as_warning else logging.INFO
            log.log(level, "/%s refused for %s: %s", _name(interaction), interaction.user, original.key)
        elif _is_index_missing(original):
            log.warning("/%s: no index yet (%s)", _name(interaction), original)
            text = t("error.not_ready", lang)
        elif isinstance(original, app_commands.NoPrivateMessage):
            text = t("error.guild_only", lang)
        elif isinstance(original, app_commands.CommandOnCooldown):
            text = t("cooldown", lang, s=max(1, round(original.retry_after)))
        else:
            log.error(
                "command /%s failed for user %s", _name(interaction), interaction.user,
                exc_info=original,
            )
            text = t("error.generic", lang)
        await send_ephemeral(interaction, text)


def _is_index_missing(error: BaseException) -> bool:
    return isinstance(error, NoIndex)


def _name(interaction: discord.Interaction) -> str:
    return interaction.command.qualified_name if interaction.command else "?"


async def send_ephemeral(interaction: discord.Interaction, text: str) -> None:
    """Tell the user ``text`` privately, whatever state the interaction is in."""
    try:
        if interaction.extras.get("deferred_public") and not interaction.extras.get("replied"):
            # The first followup would replace the public "thinking…" message and inherit its
            # visibility; remove it so the error stays between the bot and the user.
            try:
                await interaction.delete_original_response()
            except discord.HTTPException:
                log.debug("could not delete the deferred reply", exc_info=True)
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.send_message(
                text, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
    except discord.HTTPException:
        # The interaction may have expired; the log already has the cause.
        log.warning("could not send error message for /%s", _name(interaction), exc_info=True)


class DariBot(commands.Bot):
    """The Dari bot: answers questions by quoting the corpus, through ``service``; logs
    questions and votes in ``feedback``.

    ``service`` may be None only for a bot that never answers (``dari sync-commands``).
    """

    def __init__(self, settings: Settings, service: AnswerService | None,
                 feedback: FeedbackStore | None, **options: Any) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,  # unused: no text commands (see on_message)
            intents=intents(),
            tree_cls=DariTree,
            allowed_mentions=NO_MENTIONS,
            help_command=None,
            **options,
        )
        self.settings = settings
        self._service = service
        self._feedback = feedback
        if settings.discord.api_base:
            # A Discord-compatible local server (sandbox, tests) instead of discord.com.
            use_api_base(settings.discord.api_base)
        # Guild ids commands were synced to at start (the sandbox adds its guild).
        self.sync_guild_ids: list[int] = list(settings.discord.guild_ids)
        self.synced = asyncio.Event()
        # Refreshes run in child processes started (and, at close, stopped) by this.
        self.refresher = RefreshProcess(settings)
        # Periodic refresh bookkeeping: runs so far, an event set after each.
        self.periodic_runs = 0
        self.periodic_done = asyncio.Event()

    @property
    def service(self) -> AnswerService:
        """The answering service (every command but syncing needs one)."""
        if self._service is None:
            raise RuntimeError("this DariBot was built without a service (sync-commands only)")
        return self._service

    @property
    def feedback(self) -> FeedbackStore:
        """The question log and votes."""
        if self._feedback is None:
            raise RuntimeError("this DariBot was built without a feedback store (sync-commands only)")
        return self._feedback

    async def refresh_index(self, full: bool = False, progress: Progress | None = None,
                            on_file: FileNote | None = None) -> RefreshReport:
        """Refresh the index in a separate process, then serve the new generation.

        Returns the ``RefreshReport``; raises ``RefreshBusy``, ``RefreshTimedOut`` or
        ``RefreshFailed`` (``bot.refresher``). The old generation answers meanwhile.
        """
        report = await self.refresher.run(full, progress, on_file)
        await asyncio.to_thread(self.service.reload)
        return report

    async def setup_hook(self) -> None:
        """Load the cogs, set the translator, sync commands to the configured guilds."""
        await self.tree.set_translator(DariTranslator())
        for name in EXTENSIONS:
            await self.load_extension(name)
        await self.sync_to_guilds(self.sync_guild_ids)
        minutes = self.settings.discord.refresh_minutes
        if minutes > 0:
            self.periodic_refresh.change_interval(minutes=minutes)
            self.periodic_refresh.start()
        if self._feedback is not None:
            self.daily_purge.start()
        self.synced.set()

    async def sync_to_guilds(self, guild_ids: list[int]) -> None:
        """Copy the global commands to each guild and sync there (instant, unlike global sync)."""
        for guild_id in guild_ids:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to guild %s", len(synced), guild_id)

    async def on_ready(self) -> None:
        log.info("connected as %s (%s) to %d guild(s)", self.user, self.user.id if self.user else "?",
                 len(self.guilds))

    async def on_message(self, message: discord.Message, /) -> None:
        # No text commands: without this override commands.Bot would try to run every
        # mention ("@Dari why …") as a prefix command and log CommandNotFound as an error.
        # Questions are handled by the ask cog's listener.
        return

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        # Event handlers (e.g. on_message) report here; keep running after logging.
        log.exception("error in event %s", event_method)

    @tasks.loop(minutes=60)
    async def periodic_refresh(self) -> None:
        """Pick up changed corpus files; the interval comes from [discord].refresh_minutes."""
        try:
            # Cancelled at shutdown: the refresh process is then killed (safe at any point).
            report = await self.refresh_index(False)
            log.info("periodic refresh done: %s", report.summary())
        except RefreshBusy:
            log.info("periodic refresh skipped: another refresh is running")
        except RefreshFailed as exc:
            log.error("periodic refresh failed: %s; the previous index keeps answering", exc)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("periodic refresh failed; the previous index keeps answering")
        finally:
            self.periodic_runs += 1
            self.periodic_done.set()

    @tasks.loop(hours=24)
    async def daily_purge(self) -> None:
        """Delete questions and votes past ``[feedback].retention_days`` (also done at start)."""
        try:
            await asyncio.to_thread(self.feedback.purge)
        except Exception:
            log.exception("feedback purge failed; retrying in a day")

    @daily_purge.before_loop
    async def _before_purge(self) -> None:
        # The store purged when it was opened; the next purge is a day later.
        await asyncio.sleep(24 * 3600)

    @periodic_refresh.before_loop
    async def _before_refresh(self) -> None:
        await self.wait_until_ready()
        # The first run happens one interval after start, not at once: start-up already
        # loaded a fresh index.
        await asyncio.sleep(self.settings.discord.refresh_minutes * 60)

    async def close(self) -> None:
        if self.periodic_refresh.is_running():
            self.periodic_refresh.cancel()
        if self.daily_purge.is_running():
            self.daily_purge.cancel()
        # A refresh still running is killed, not waited for: it is crash-safe (the index
        # being served stays as it is) and its encoded vectors are already cached.
        await self.refresher.stop()
        await super().close()


class ShardedDariBot(DariBot, commands.AutoShardedBot):
    """:class:`DariBot` over several gateway shards (``[discord].shard_count``/``shard_ids``).

    Each process runs the shards it is given; Discord sends it only their guilds' events
    (guild ``(id >> 22) % shard_count``). Everything else is the same bot.
    """


def build_bot(settings: Settings, service: AnswerService | None, feedback: FeedbackStore | None,
              **options: Any) -> DariBot:
    """The bot for ``settings``: sharded (AutoShardedBot) when ``[discord].shard_count`` is set."""
    cfg = settings.discord
    if cfg.shard_count > 0:
        shard_ids = list(cfg.shard_ids) or None
        return ShardedDariBot(settings, service, feedback, shard_count=cfg.shard_count,
                              shard_ids=shard_ids, **options)
    return DariBot(settings, service, feedback, **options)


def language_of(interaction: discord.Interaction, text: str | None = None) -> str:
    """The interface language for ``interaction`` (and its question text), remembered on it."""
    lang = interface_language(text, interaction.locale)
    interaction.extras["lang"] = lang
    return lang
