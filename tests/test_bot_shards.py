"""Sharding: two Dari processes' worth of bots (shard 0 and shard 1 of 2) on one emulated
Discord; each identifies with its shard, gets only its guilds and answers only there."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.client import ShardedDariBot, build_bot
from bot.feedback import FeedbackStore
from emulator.server import DiscordEmulator
from tests.bot_support import bot_service, bot_settings, embed_text  # noqa: F401 - fixture
from tests.discord_support import discord_emulator, running_bot  # noqa: F401 - fixture
from tests.index_support import index_encoder  # noqa: F401 - fixture

ANSWER_TIMEOUT = 60.0


def shard_of(guild_id: int, count: int = 2) -> int:
    return (guild_id >> 22) % count


async def test_two_shards_each_answer_only_their_guilds(discord_emulator: DiscordEmulator,
                                                        bot_service, tmp_path: Path):
    emu = discord_emulator
    guilds = {0: emu.add_guild("Shard zero guild", shard=(0, 2)),
              1: emu.add_guild("Shard one guild", shard=(1, 2))}
    base = bot_settings(emu, bot_service, cooldown_seconds=0.0)
    stores: dict[int, FeedbackStore] = {}
    bots = {}
    for shard in (0, 1):
        discord_cfg = dataclasses.replace(base.discord, shard_count=2, shard_ids=[shard],
                                          guild_ids=[emu.guild_id, *guilds.values()])
        settings = dataclasses.replace(base, discord=discord_cfg)
        # One question log per process here, so what each answered can be told apart.
        stores[shard] = FeedbackStore.open(tmp_path / f"shard{shard}", 90)
        bots[shard] = build_bot(settings, bot_service, stores[shard], guild_ready_timeout=0.1)
        assert isinstance(bots[shard], ShardedDariBot)
    user = emu.add_user("mina")
    try:
        async with running_bot(emu, bots[0], commands=["ask"]), running_bot(emu, bots[1]):
            identifies = sorted(tuple(s.shard or ()) for s in emu.gateway.sessions.values())
            assert identifies == [(0, 2), (1, 2)]
            for shard, bot in bots.items():
                own = {g.id for g in bot.guilds}
                assert guilds[shard] in own and guilds[1 - shard] not in own
                assert all(shard_of(g) == shard for g in own)
            for shard in (0, 1):
                general = emu.channel_id("general", guilds[shard])
                await emu.send_message(general, user, "Why are Jeju tangerine farmers planting mango trees?",
                                       mentions_bot=True)
                reply = await emu.wait_for_message(lambda m: m.get("components"), timeout=ANSWER_TIMEOUT)
                assert "Jeju" in embed_text(reply)
                assert int(reply["guild_id"]) == guilds[shard]
            # A slash command in a guild is answered by that guild's shard too.
            inter = await emu.invoke_command(user, "ask", {"question": "Why are Jeju tangerine farmers "
                                                                       "planting mango trees?"},
                                             channel_id=emu.channel_id("general", guilds[1]))
            await inter.wait_done(timeout=ANSWER_TIMEOUT)
            assert inter.message is not None and "Jeju" in embed_text(inter.message)
        logged = {shard: [r[0] for r in stores[shard]._conn.execute("SELECT guild_id FROM answers")]
                  for shard in (0, 1)}
        assert logged == {0: [guilds[0]], 1: [guilds[1], guilds[1]]}
    finally:
        for store in stores.values():
            store.close()


def test_shard_settings_validated(make_settings):
    from settings.config import ConfigError

    settings = make_settings(extra="[discord]\nshard_count = 4\nshard_ids = [0, 3]\n")
    assert (settings.discord.shard_count, settings.discord.shard_ids) == (4, [0, 3])
    with pytest.raises(ConfigError, match=r"\[discord\].shard_ids: shard 4 is not in 0..shard_count-1"):
        make_settings(extra="[discord]\nshard_count = 4\nshard_ids = [4]\n")
    with pytest.raises(ConfigError, match=r"\[feedback\].retention_days"):
        make_settings(extra="[feedback]\nretention_days = 0\n")
