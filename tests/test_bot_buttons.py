"""End to end: the buttons under answers, votes, "Ask Dari" on a message, /report,
follow-ups in threads and sharding — users click and right-click through the Discord
emulator, the real bot answers from the real index, and the question log is the real
SQLite file. (One module, so the bot service's index is built once for all of them.)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from bot.client import ShardedDariBot, build_bot
from bot.feedback import FeedbackStore
from bot.format import escape
from bot.i18n import t
from emulator.driver import custom_ids
from emulator.render import button_label
from emulator.server import DiscordEmulator
from emulator.state import EPHEMERAL
from tests.bot_support import (
    JEJU_ID,
    SEED_ID,
    assert_no_mentions_anywhere,
    bot_service,  # noqa: F401 - fixture
    bot_settings,
    dari_bot,
    embed_text,
)
from tests.discord_support import discord_emulator, running_bot  # noqa: F401 - fixture
from tests.index_support import index_encoder, warm_cache  # noqa: F401 - fixtures

ANSWER_TIMEOUT = 60.0
SEED_QUESTION = ("What does the United States want from military cooperation between South Korea, "
                 "the U.S. and Japan?")
REFUSED_QUESTION = "What is the best recipe for chocolate chip cookies with brown butter?"


async def ask(emu: DiscordEmulator, user: Any, question: str, **kw: Any) -> Any:
    inter = await emu.invoke_command(user, "ask", {"question": question}, **kw)
    return await inter.wait_done(timeout=ANSWER_TIMEOUT)


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, custom_id) of every button on a message."""
    out = []
    for row in message.get("components") or []:
        for comp in row.get("components") or []:
            out.append((button_label(comp), comp.get("custom_id", "")))
    return out


def button(message: dict[str, Any], label: str) -> str:
    found = [cid for name, cid in buttons(message) if name == label]
    assert found, (label, buttons(message))
    return found[0]


async def click(emu: DiscordEmulator, user: Any, message: dict[str, Any], label: str) -> Any:
    inter = await emu.click(user, message, button(message, label))
    return await inter.wait_done(timeout=ANSWER_TIMEOUT)


def answer_id(message: dict[str, Any]) -> int:
    """The question-log id carried by a message's buttons."""
    return int(custom_ids(message["components"])[0].split(":")[2])


async def test_buttons_under_answer_full_other_language_more(discord_emulator, bot_service):
    emu = discord_emulator
    async with dari_bot(emu, bot_service) as bot:
        user = emu.add_user("alice")
        inter = await ask(emu, user, SEED_QUESTION)
        answer = inter.visible_messages[-1]
        assert [name for name, _ in buttons(answer)] == [
            t("button.full", "en"), t("button.korean_first", "en"), t("button.more", "en"), "👍", "👎"]
        row = bot.feedback.answer(answer_id(answer))
        assert row is not None and row.found and row.kind == "ask" and row.language == "en"
        assert row.question == SEED_QUESTION and row.guild_id == emu.guild_id
        assert row.passages and row.passages[0].article_id == SEED_ID

        full = await click(emu, user, answer, t("button.full", "en"))
        assert full.ephemeral and full.deferred
        first = full.visible_messages[0]["embeds"][0]
        quoted = row.passages[0]
        assert f"¶ {quoted.position} (English)" in first["title"]
        paragraph = bot_service.passage(SEED_ID, "en", quoted.position)
        assert paragraph is not None
        # The whole paragraph (not the trimmed quote) with its Korean counterpart under it.
        assert escape(paragraph[0].text)[:300] in first["description"]
        assert any("Korean original" in f["name"] for f in first.get("fields") or [])

        other = await click(emu, user, answer, t("button.korean_first", "en"))
        assert other.ephemeral
        lead = other.visible_messages[0]["embeds"][0]
        assert "(Korean)" in lead["title"] and any(
            "English translation" in f["name"] for f in lead.get("fields") or [])

        more = await click(emu, user, answer, t("button.more", "en"))
        assert more.ephemeral
        text = "\n".join(embed_text(m) for m in more.visible_messages)
        assert t("more.title", "en") in text or t("more.none", "en") in text
        shown_first = {f["value"] for f in answer["embeds"][0]["fields"]}
        more_fields = {f["value"] for m in more.visible_messages for e in m.get("embeds") or []
                       for f in e.get("fields") or []}
        assert not shown_first & more_fields  # the next passages, not the same ones again
        assert all(m["flags"] & EPHEMERAL for i in (full, other, more) for m in i.visible_messages)
        assert assert_no_mentions_anywhere(emu) >= 4


async def test_votes_one_per_user_changed_or_withdrawn(discord_emulator, bot_service):
    emu = discord_emulator
    async with dari_bot(emu, bot_service) as bot:
        alice, bob = emu.add_user("alice"), emu.add_user("bob")
        answer = (await ask(emu, alice, SEED_QUESTION)).visible_messages[-1]
        aid = answer_id(answer)
        up = await click(emu, alice, answer, "👍")
        assert up.ephemeral and up.content == t("vote.up", "en")
        assert bot.feedback.votes(aid) == (1, 0)
        again = await click(emu, alice, answer, "👍")
        assert again.content == t("vote.withdrawn", "en") and bot.feedback.votes(aid) == (0, 0)
        await click(emu, alice, answer, "👍")
        changed = await click(emu, alice, answer, "👎")
        assert changed.content == t("vote.down", "en") and bot.feedback.votes(aid) == (0, 1)
        await click(emu, bob, answer, "👎")
        assert bot.feedback.votes(aid) == (0, 2)
        # No user id is stored: only the keyed hashes, one per voter.
        stored = bot.feedback._conn.execute("SELECT voter FROM votes WHERE answer_id = ?",
                                            (aid,)).fetchall()
        assert {r[0] for r in stored} == {bot.feedback.voter(alice.id), bot.feedback.voter(bob.id)}
        assert not any(str(alice.id) in r[0] or str(bob.id) in r[0] for r in stored)
        assert_no_mentions_anywhere(emu)


async def test_refusal_carries_thumbs_down_only(discord_emulator, bot_service):
    emu = discord_emulator
    async with dari_bot(emu, bot_service) as bot:
        user = emu.add_user("bob")
        msg = (await ask(emu, user, REFUSED_QUESTION)).visible_messages[-1]
        assert msg["content"] == t("answer.none", "en")
        assert [name for name, _ in buttons(msg)] == ["👎"]
        await click(emu, user, msg, "👎")
        row = bot.feedback.answer(answer_id(msg))
        assert row is not None and not row.found and bot.feedback.votes(row.id) == (0, 1)


async def test_buttons_work_after_restart(discord_emulator, bot_service):
    emu = discord_emulator
    user = emu.add_user("mina", locale="ko")
    async with dari_bot(emu, bot_service):
        inter = await ask(emu, user, "제주 감귤 농가들은 따뜻한 겨울 때문에 무엇을 대신 심고 있나?")
        answer = inter.visible_messages[-1]
        # Korean question: Korean labels, and the other-language button shows English first.
        assert [name for name, _ in buttons(answer)][:3] == [
            t("button.full", "ko"), t("button.english_first", "ko"), t("button.more", "ko")]
    # A new bot process: no view in memory, only the custom ids and the question log.
    async with dari_bot(emu, bot_service):
        full = await click(emu, user, answer, t("button.full", "ko"))
        lead = full.visible_messages[0]["embeds"][0]
        assert full.ephemeral and "(한국어)" in lead["title"]
        assert "영어 번역" in embed_text(full.visible_messages[0])
        other = await click(emu, user, answer, t("button.english_first", "ko"))
        assert "(영어)" in other.visible_messages[0]["embeds"][0]["title"]
        vote = await click(emu, user, answer, "👍")
        assert vote.content == t("vote.up", "ko")


async def test_ask_dari_context_menu_private_then_posted(discord_emulator, bot_service):
    emu = discord_emulator
    async with dari_bot(emu, bot_service) as bot:
        menus = [c for c in emu.registered_commands() if c.get("type") == 3]
        assert [(c["name"], c["name_localizations"]["ko"]) for c in menus] == [("Ask Dari", "Dari에게 묻기")]
        poster, asker = emu.add_user("poster"), emu.add_user("asker")
        random = emu.channel_id("random")
        # Not addressed to the bot: no answer to the message itself.
        said = await emu.send_message(random, poster, "Why are Jeju tangerine farmers planting mango trees?")
        inter = await emu.invoke_message_command(asker, "Dari에게 묻기", said)
        await inter.wait_done(timeout=ANSWER_TIMEOUT)
        private = inter.visible_messages[-1]
        assert inter.ephemeral and "Jeju" in embed_text(private)
        assert [name for name, _ in buttons(private)][-1] == t("button.post", "en")
        assert not [m for m in emu.messages(random) if m["author"]["id"] == str(emu.bot_user.id)]
        row = bot.feedback.answer(answer_id(private))
        assert row is not None and row.kind == "context" and row.passages[0].article_id == JEJU_ID

        posted = await click(emu, asker, private, t("button.post", "en"))
        assert posted.callback_type == 7  # the private message is updated: Post is used up
        assert t("button.post", "en") not in [name for name, _ in buttons(posted.target_message)]
        public = [m for m in emu.messages(random) if m["author"]["id"] == str(emu.bot_user.id)]
        assert len(public) == 1 and not public[0]["flags"] & EPHEMERAL
        assert public[0]["content"].startswith(t("post.header", "en", name="asker"))
        assert "Jeju" in embed_text(public[0]) and answer_id(public[0]) == row.id
        assert posted.followups[-1]["content"] == t("post.done", "en")
        assert assert_no_mentions_anywhere(emu) >= 3


async def test_report_after_conversation_and_refused_for_members(discord_emulator, bot_service):
    emu = discord_emulator
    async with dari_bot(emu, bot_service, cooldown_seconds=0.0) as bot:
        admin, member = emu.add_user("admin", admin=True), emu.add_user("member")
        good = (await ask(emu, member, SEED_QUESTION)).visible_messages[-1]
        await ask(emu, member, "Why are Jeju tangerine farmers planting mango trees?")
        for _ in range(2):
            await ask(emu, member, REFUSED_QUESTION)
        await click(emu, member, good, "👎")
        await click(emu, admin, good, "👎")

        refused = await emu.invoke_command(member, "report", {})
        await refused.wait_done(timeout=ANSWER_TIMEOUT)
        assert refused.ephemeral and refused.content == t("admin.refused", "en")

        inter = await emu.invoke_command(admin, "report", {})
        await inter.wait_done(timeout=ANSWER_TIMEOUT)
        msg = inter.visible_messages[-1]
        assert inter.ephemeral and not msg["attachments"]
        embed = msg["embeds"][0]
        period = t("report.period", "en", days=7, asked=4, answered=2, refused=2, up=0, down=2)
        assert period in embed["description"]
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert f"2× {escape(REFUSED_QUESTION.lower())}" in fields[t("report.refused", "en", days=30)]
        disputed = fields[t("report.disputed", "en", days=30)]
        assert f"#{answer_id(good)} 👎 2" in disputed and SEED_ID in disputed
        articles = fields[t("report.articles", "en", days=30)]
        assert SEED_ID in articles and JEJU_ID in articles

        # Too much for one embed: the whole report comes as a CSV attachment too.
        for i in range(30):
            bot.feedback.log_answer(question=f"question {i} about something the corpus lacks " * 3,
                                    search_text="x", language="en", kind="ask", passages=[],
                                    guild_id=emu.guild_id, channel_id=emu.channel_id("general"))
        inter = await emu.invoke_command(admin, "report", {})
        await inter.wait_done(timeout=ANSWER_TIMEOUT)
        msg = inter.visible_messages[-1]
        assert [a["filename"] for a in msg["attachments"]] == ["dari-report.csv"]
        data = emu.state.attachments[int(msg["attachments"][0]["id"])].data.decode("utf-8")
        assert data.count("\nrefused,") == 31 and "question 29 about" in data
        assert msg["embeds"][0]["footer"]["text"] == t("report.attached", "en")
        assert_no_mentions_anywhere(emu)


async def test_followup_in_thread_searched_with_earlier_question(discord_emulator, bot_service):
    emu = discord_emulator
    async with dari_bot(emu, bot_service, cooldown_seconds=0.0) as bot:
        user = emu.add_user("carol")
        questions = emu.channel_id("questions")
        first = "why are tangerine growers on Jeju replacing their orchards?"
        await emu.send_message(questions, user, first)
        await emu.wait_for_message(lambda m: m.get("embeds"), timeout=ANSWER_TIMEOUT)
        thread = int(emu.threads[0]["id"])
        await emu.send_message(thread, user, "what about mangoes?")
        reply = await emu.wait_for_message(lambda m: m.get("components"), timeout=ANSWER_TIMEOUT)
        follow = bot.feedback.answer(answer_id(reply))
        assert follow is not None and follow.kind == "followup" and follow.channel_id == thread
        assert follow.search_text == f"{first} what about mangoes?"
        assert "Jeju" in embed_text(reply) or "제주" in embed_text(reply)
        # A question that stands on its own is searched alone, even in the thread.
        alone = "What does the United States want from South Korea and Japan in military cooperation?"
        await emu.send_message(thread, user, alone)
        reply = await emu.wait_for_message(lambda m: m.get("components"), timeout=ANSWER_TIMEOUT)
        row = bot.feedback.answer(answer_id(reply))
        assert row is not None and row.kind == "message" and row.search_text == alone
        assert row.passages[0].article_id == SEED_ID
        # A later follow-up leans on the thread's first question and its latest one.
        await emu.send_message(thread, user, "why?")
        reply = await emu.wait_for_message(lambda m: m.get("components"), timeout=ANSWER_TIMEOUT)
        why = bot.feedback.answer(answer_id(reply))
        assert why is not None and why.search_text == f"{first} {alone} why?"
        assert_no_mentions_anywhere(emu)


def test_sandbox_numbers_buttons_clicks_and_asks_about_a_message(bot_service, monkeypatch, capsys):
    """`dari sandbox`: buttons shown by number, /click N, /say then /ask-message; `dari report`
    on the same data directory shows what was asked there."""
    import io
    import json
    import sys

    from dari.cli import main

    lines = ("/ask Why are Jeju tangerine farmers planting mango trees?\n/click 5\n"
             "/say Why are Jeju tangerine farmers planting mango trees?\n/ask-message\n/click 6\n"
             "/click 9\n")
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    config = str(bot_service.settings.source)
    assert main(["sandbox", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "[1 Full paragraph] [2 원문] [3 More] [4 👍] [5 👎]" in out
    assert t("vote.down", "en") in out
    assert "(posted in #general; /ask-message asks Dari about it)" in out
    assert f"[6 {t('button.post', 'en')}]" in out and t("post.done", "en") in out
    assert t("post.header", "en", name="you") in out
    assert "error: /click takes a button number from 1 to 5" in out
    assert main(["report", "--json", "--config", config]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["periods"][0]["asked"] >= 2 and report["periods"][0]["down"] >= 1


# -- sharding: shard 0 and shard 1 of 2 on one emulated Discord --------------------------------


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
