"""`dari report [--json]`: what was asked, answered and refused, and the feedback given —
the same store and numbers as the bot's `/report` (all servers together)."""

from __future__ import annotations

import argparse
import json
import sys

from bot.feedback import FEEDBACK_FILE, FeedbackStore
from settings.config import Settings


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    """Add `report` to the CLI."""
    report = subparsers.add_parser(
        "report", parents=[parent], help="questions, refusals and feedback over 7 and 30 days",
        description="Questions asked, answered and refused over the last 7 and 30 days, the most "
                    "frequent refused questions, the answers with most 👎 and quotes per article, "
                    "from the bot's question log in the data directory.",
    )
    report.add_argument("--json", action="store_true", help="print the report as JSON")
    report.add_argument("--top", type=int, default=10, metavar="N",
                        help="entries per list (default 10)")
    report.set_defaults(func=report_command, needs_corpus=False)


def report_command(args: argparse.Namespace, settings: Settings) -> int:
    """Print the report (text, or JSON with --json)."""
    if args.top < 1:
        print("dari report: --top must be at least 1", file=sys.stderr)
        return 2
    path = settings.data_dir / FEEDBACK_FILE
    if not path.is_file():
        print(f"dari report: no question log yet ({path}); the bot writes it as it answers",
              file=sys.stderr)
    store = FeedbackStore.open(settings.data_dir, settings.feedback.retention_days)
    try:
        report = store.report(top=args.top)
    finally:
        store.close()
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print("\n".join(report.lines()))
    return 0
