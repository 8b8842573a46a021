"""The `dari` command line: one entry point, one subcommand per job.

Each module in ``dari.commands`` registers its own subcommands, so the CLI grows with the
project without one file knowing every command. Heavy imports (torch, FAISS, discord.py)
happen inside the command functions, so `dari --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from settings.config import ConfigError, Settings, load_settings

log = logging.getLogger(__name__)

COMMAND_MODULES = (
    "dari.commands.corpus",
    "dari.commands.index",
    "dari.commands.bot",
    "dari.commands.ask_eval",
    "dari.commands.run",
    "dari.commands.report",
)

Handler = Callable[[argparse.Namespace, Settings], int]


def common_options() -> argparse.ArgumentParser:
    """Options every subcommand takes: the config file and directory overrides."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--config", type=Path, default=None, metavar="FILE",
                        help="settings file (default: config.toml of the project)")
    parent.add_argument("--corpus", type=Path, default=None, metavar="DIR",
                        help="article directory, overriding [paths].corpus_dir")
    parent.add_argument("--data", type=Path, default=None, metavar="DIR",
                        help="data directory (store, index, models), overriding [paths].data_dir")
    parent.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dari",
        description="Dari (다리): answers questions about Korean–English opinion articles.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parent = common_options()
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers, parent)
    return parser


# Loggers whose INFO lines are Dari's own messages; everything else (faiss's loader, bm25s,
# transformers, discord.py, aiohttp…) speaks only from WARNING up unless -v is given.
PROJECT_LOGGERS = frozenset({"settings", "corpus", "embeddings", "bot", "dari", "emulator", "bench",
                             "eval", "__main__"})


class ProjectOnly(logging.Filter):
    """Pass Dari's own records at the configured level, others from WARNING up."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name.split(".", 1)[0] in PROJECT_LOGGERS


def setup_logging(level: str, *, verbose: bool = False) -> None:
    """Log to stderr at ``level`` (DEBUG with ``verbose``); quiet third parties unless verbose."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        for handler in logging.root.handlers:
            handler.addFilter(ProjectOnly())
        # transformers' "Loading weights" bar reads this when it is first imported (the
        # model is loaded later, inside the command): Dari's own bars stay.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_corpus = getattr(args, "needs_corpus", True)
    try:
        settings = load_settings(
            args.config, corpus_dir=args.corpus, data_dir=args.data, check_corpus=check_corpus
        )
    except ConfigError as exc:
        print(f"dari: configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.logging.level, verbose=args.verbose)
    handler: Handler = args.func
    try:
        return handler(args, settings)
    except ConfigError as exc:
        print(f"dari: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
