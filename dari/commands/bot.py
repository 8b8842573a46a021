"""`dari serve`, `dari sandbox`, `dari sync-commands`: running the Discord bot."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
from typing import TYPE_CHECKING

from settings.config import Settings, discord_token

if TYPE_CHECKING:  # the service pulls in the model and FAISS: only for the annotation
    from dari.service import DariService

log = logging.getLogger(__name__)

NO_TOKEN = """\
dari serve: no Discord token. The token comes only from the DISCORD_TOKEN environment variable:

    export DISCORD_TOKEN='<your bot token>'   # Developer Portal → your app → Bot → Reset Token
    dari serve

To try the bot without Discord, run it against the local emulator with a terminal chat:

    dari sandbox
"""


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    """Add `serve`, `sandbox` and `sync-commands` to the CLI."""
    serve = subparsers.add_parser(
        "serve", parents=[parent], help="run the bot on Discord (needs DISCORD_TOKEN)",
        description="Run the bot on Discord. Slash commands are synced to [discord].guild_ids "
                    "at start; the token comes from DISCORD_TOKEN.",
    )
    serve.set_defaults(func=serve_command)

    sandbox = subparsers.add_parser(
        "sandbox", parents=[parent], help="run the real bot against the local emulator, chat in the terminal",
        description="Start the local Discord emulator, run the bot against it and chat with it "
                    "in this terminal (no Discord account or token needed).",
    )
    sandbox.set_defaults(func=sandbox_command)

    sync = subparsers.add_parser(
        "sync-commands", parents=[parent],
        help="register the slash commands globally on Discord (needs DISCORD_TOKEN)",
        description="Sync the slash commands globally (all servers; Discord may take up to an "
                    "hour to show them) and to [discord].guild_ids. Needs DISCORD_TOKEN.",
    )
    sync.set_defaults(func=sync_command, needs_corpus=False)


def serve_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run the bot on Discord until interrupted (sharded with ``[discord].shard_count``)."""
    token = discord_token()
    if token is None:
        print(NO_TOKEN, file=sys.stderr, end="")
        return 2
    # Lazy: discord.py and the model are heavy, and `dari --help` must stay fast.
    from bot.client import build_bot
    from bot.feedback import FeedbackStore
    from dari.service import DariService

    service = DariService(settings)
    feedback = FeedbackStore.open(settings.data_dir, settings.feedback.retention_days)
    try:
        service.ensure_index()
        bot = build_bot(settings, service, feedback)
        # log_handler=None: logging is already configured by the CLI.
        bot.run(token, log_handler=None)
    finally:
        feedback.close()
        service.close()
    return 0


def sandbox_command(args: argparse.Namespace, settings: Settings,
                    service: DariService | None = None) -> int:
    """Run the real bot against the local emulator with a terminal chat; ``service`` is one
    the caller opened already (and closes), so the model is not loaded twice."""
    # Lazy: discord.py and the emulator are only needed for this command.
    from bot.client import DariBot, build_bot
    from bot.feedback import FeedbackStore
    from dari.sandbox import run_sandbox
    from dari.service import DariService

    owned = service is None
    if not args.verbose:
        # The terminal is the chat: INFO lines (connected, synced, index loaded) would
        # interleave with the replies. Warnings still show; -v shows everything.
        logging.getLogger().setLevel(logging.WARNING)
    # The service (and the index, on first use) is ready before the event loop starts:
    # building it inside the loop would stall the emulator for as long as indexing takes.
    service = DariService(settings) if service is None else service
    # The sandbox's questions and votes go to the data directory's log: `dari report` shows them.
    feedback = FeedbackStore.open(settings.data_dir, settings.feedback.retention_days)
    try:
        service.ensure_index()

        def make_sandbox_bot(sandbox_settings: Settings) -> DariBot:
            # One person trying the bot: the per-user cooldown protects a shared server and
            # would only get in the way here.
            local = dataclasses.replace(
                sandbox_settings,
                discord=dataclasses.replace(sandbox_settings.discord, cooldown_seconds=0.0,
                                            shard_count=0, shard_ids=[]),
            )
            # One local guild: no need to wait for more GUILD_CREATEs before READY.
            return build_bot(local, service, feedback, guild_ready_timeout=0.1)

        return asyncio.run(run_sandbox(settings, make_sandbox_bot, stdin=sys.stdin, stdout=sys.stdout))
    finally:
        feedback.close()
        if owned:
            service.close()


def sync_command(args: argparse.Namespace, settings: Settings) -> int:
    """Log in, sync commands globally (and to the configured guilds), log out."""
    token = discord_token()
    if token is None:
        print(NO_TOKEN.replace("dari serve", "dari sync-commands", 1), file=sys.stderr, end="")
        return 2
    return asyncio.run(_sync_globally(settings, token))


async def _sync_globally(settings: Settings, token: str) -> int:
    # Lazy, like the other commands here: discord.py is heavy for `dari --help`.
    import discord

    from bot.client import DariBot

    # Syncing needs the command definitions only; no command runs, so no service is opened.
    bot = DariBot(settings, None, None)
    try:
        async with bot:
            await bot.login(token)  # runs setup_hook: cogs loaded, guild sync done
            synced = await bot.tree.sync()
            names = [f"/{c.name}" if c.type is discord.AppCommandType.chat_input
                     else f"“{c.name}” (message menu)" for c in synced]
            print(f"synced {len(synced)} global commands: " + ", ".join(names))
    except discord.LoginFailure as exc:
        print(f"dari sync-commands: Discord refused the token: {exc}", file=sys.stderr)
        return 2
    return 0
