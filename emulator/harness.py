"""Start and stop a real discord.py bot against a running emulator (tests and sandbox).

The bot runs in the caller's event loop: ``bot.start(token)`` in a task, exactly as in
production, only pointed at the emulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

import discord

from bot.api_base import use_api_base
from emulator.server import DiscordEmulator
from settings.config import Settings

log = logging.getLogger(__name__)


def settings_for(emu: DiscordEmulator, settings: Settings) -> Settings:
    """``settings`` pointed at the emulator: ``api_base`` set, its guild in ``guild_ids``."""
    guild_ids = list(settings.discord.guild_ids)
    if emu.guild_id not in guild_ids:
        guild_ids.append(emu.guild_id)
    discord_cfg = dataclasses.replace(settings.discord, api_base=emu.api_base, guild_ids=guild_ids)
    return dataclasses.replace(settings, discord=discord_cfg)


async def start_bot(emu: DiscordEmulator, bot: discord.Client, *, commands: Iterable[str] = (),
                    timeout: float = 60.0) -> asyncio.Task[None]:
    """Run ``bot.start(emu.token)`` in a task; return once it is ready and ``commands`` are synced.

    Raises ``RuntimeError`` (with the cause) if the bot task dies first — a bad token or an
    exception in ``setup_hook`` — and ``TimeoutError`` if it is not ready in ``timeout``.
    """
    use_api_base(emu.api_base)
    task = asyncio.create_task(bot.start(emu.token), name="discord-bot")
    wanted = set(commands)

    async def ready() -> None:
        await bot.wait_until_ready()
        await emu.wait_until(lambda: wanted <= {c["name"] for c in emu.registered_commands()},
                             timeout, f"the bot to register commands {sorted(wanted)}")

    waiter = asyncio.create_task(ready())
    done, _ = await asyncio.wait({task, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    if waiter in done:
        waiter.result()
        return task
    waiter.cancel()
    if task in done:
        exc = task.exception()
        await bot.close()
        raise RuntimeError(f"the bot stopped before it was ready: {exc!r}") from exc
    await stop_bot(bot, task)
    raise TimeoutError(f"the bot was not ready within {timeout}s")


async def stop_bot(bot: discord.Client, task: asyncio.Task[Any], timeout: float = 15.0) -> None:
    """Close the bot and wait for its task; an exception it died with is re-raised."""
    if not bot.is_closed():
        await asyncio.wait_for(bot.close(), timeout)
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout)


@contextlib.asynccontextmanager
async def running_bot(emu: DiscordEmulator, bot: discord.Client, *, commands: Iterable[str] = (),
                      timeout: float = 60.0) -> AsyncIterator[discord.Client]:
    """``async with running_bot(emu, bot):`` — the bot is ready inside, closed after."""
    task = await start_bot(emu, bot, commands=commands, timeout=timeout)
    try:
        yield bot
    finally:
        await stop_bot(bot, task)
