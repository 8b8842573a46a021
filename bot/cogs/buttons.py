"""Registers the answer buttons (``bot.views``) so clicks work after a restart.

The buttons are :class:`discord.ui.DynamicItem` classes: discord.py matches an incoming
``custom_id`` against their templates, so no view needs to be kept in memory.
"""

from __future__ import annotations

from bot.client import DariBot
from bot.views import DYNAMIC_ITEMS


async def setup(bot: DariBot) -> None:
    """Extension entry point: register the persistent buttons."""
    bot.add_dynamic_items(*DYNAMIC_ITEMS)


async def teardown(bot: DariBot) -> None:
    """Extension unload: stop listening for the buttons."""
    bot.remove_dynamic_items(*DYNAMIC_ITEMS)
