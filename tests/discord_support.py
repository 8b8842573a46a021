"""Pytest helpers to run a real discord.py bot against the Discord emulator.

Usage in a test module::

    from tests.discord_support import discord_emulator, running_bot  # noqa: F401 (fixture)

    async def test_something(discord_emulator):
        emu = discord_emulator
        settings = settings_for(emu, make_settings())
        async with running_bot(emu, DariBot(settings, service, feedback), commands=["ask"]) as bot:
            user = emu.add_user("mina", locale="ko")
            inter = await emu.invoke_command(user, "ask", {"question": "…"})
            await inter.wait_done()

The bot runs in the test's own event loop (``bot.start(token)`` in a task); teardown
closes it and the emulator, and points discord.py back at discord.com.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest_asyncio

from bot.api_base import reset_api_base, use_api_base
from emulator.harness import running_bot, settings_for, start_bot, stop_bot
from emulator.server import DiscordEmulator

__all__ = ["TOKEN", "discord_emulator", "emulator_running", "running_bot", "settings_for", "start_bot", "stop_bot"]

log = logging.getLogger(__name__)

TOKEN = "emulator-token"


@asynccontextmanager
async def emulator_running(**options: Any) -> AsyncIterator[DiscordEmulator]:
    """A started emulator (``options`` go to ``DiscordEmulator``) with discord.py pointed at
    it; stopped, and discord.py pointed back at discord.com, on exit."""
    emu = DiscordEmulator(TOKEN, **options)
    await emu.start()
    use_api_base(emu.api_base)
    try:
        yield emu
    finally:
        await emu.stop()
        reset_api_base()


@pytest_asyncio.fixture(loop_scope="function")
async def discord_emulator() -> AsyncIterator[DiscordEmulator]:
    """A started emulator with discord.py pointed at it (function scope, the test's loop)."""
    async with emulator_running() as emu:
        yield emu
