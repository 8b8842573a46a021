"""`dari run`: the main job (`make run`).

With ``DISCORD_TOKEN`` set it serves the bot on Discord. Without it, it runs offline on the
bundled corpus and model: ingest, build or refresh the index, print what is indexed, and
start the sandbox — the real bot against the local emulator, with a terminal chat (or, when
standard input is not a terminal, one scripted line at a time).
"""

from __future__ import annotations

import argparse
import logging
import sys

from dari.commands import bot as bot_commands
from settings.config import Settings, discord_token

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    """Add `run` to the CLI."""
    run = subparsers.add_parser(
        "run", parents=[parent],
        help="the main job: serve on Discord with DISCORD_TOKEN, else index and open the sandbox",
        description="With DISCORD_TOKEN set, run the bot on Discord (dari serve). Without it, "
                    "ingest the corpus, refresh the index and start the local sandbox chat "
                    "(dari sandbox).",
    )
    run.set_defaults(func=run_command)


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """Serve on Discord when a token is set; otherwise refresh the index and open the sandbox."""
    if discord_token() is not None:
        log.info("DISCORD_TOKEN is set: serving on Discord")
        return bot_commands.serve_command(args, settings)

    # Lazy: the service pulls in the model and FAISS, which `dari --help` must not load.
    from dari.service import DariService

    if not args.verbose:
        # The terminal becomes the chat: Dari's own progress bars and summaries below say
        # what happens; INFO log lines would only repeat them (-v shows them).
        logging.getLogger().setLevel(logging.WARNING)
    print("No DISCORD_TOKEN: running offline on the local corpus, with the sandbox chat.\n"
          "(Set DISCORD_TOKEN to serve on Discord; see README.md.)", file=sys.stderr)
    # Refresh first so edits to the corpus since the last run are picked up; an unchanged
    # corpus costs a parse and a digest comparison, nothing is re-encoded.
    service = DariService(settings)
    try:
        report = service.refresh()
        print(report.summary(), file=sys.stderr)
        status = service.status()
        paragraphs = ", ".join(f"{n} {lang}" for lang, n in status.paragraphs.items())
        print(f"Indexed: {status.articles} articles ({paragraphs}) with {status.model}",
              file=sys.stderr)
        # The same service (model and index loaded) serves the sandbox.
        return bot_commands.sandbox_command(args, settings, service)
    finally:
        service.close()
