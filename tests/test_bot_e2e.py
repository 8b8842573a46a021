"""End to end: users drive the real bot through the Discord emulator; we assert on what
the bot sent (messages, interaction responses, the REST payloads themselves).

Real parts throughout: the real index and model behind the real service, the real
discord.py client, the emulator's REST + gateway.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import pytest

from bot.format import escape
from bot.i18n import t
from emulator.driver import DriverError
from emulator.server import DiscordEmulator
from emulator.state import EPHEMERAL
from tests.bot_support import (
    COMMANDS,
    JEJU_ID,
    LONG_ID,
    SEED_ID,
    UPLOAD_ARTICLE,
    assert_no_mentions_anywhere,
    bot_service,  # noqa: F401 - fixture
    corrupt_positions,
    dari_bot,
    embed_text,
)
from tests.discord_support import discord_emulator  # noqa: F401 - fixture
from tests.index_support import index_encoder, warm_cache  # noqa: F401 - fixtures

ANSWER_TIMEOUT = 60.0


async def ask(emu: DiscordEmulator, user, question: str, **kw):
    inter = await emu.invoke_command(user, "ask", {"question": question}, **kw)
    return await inter.wait_done(timeout=ANSWER_TIMEOUT)


def _limits_ok(message: dict) -> None:
    assert len(message.get("content") or "") <= 2000
    embeds = message.get("embeds") or []
    assert len(embeds) <= 10
    total = 0
    for e in embeds:
        total += len(e.get("title") or "") + len(e.get("description") or "")
        total += len((e.get("footer") or {}).get("text") or "")
        assert len(e.get("description") or "") <= 4096
        for f in e.get("fields") or []:
            assert len(f["value"]) <= 1024 and len(f["name"]) <= 256
            total += len(f["name"]) + len(f["value"])
    assert total <= 6000


def _grouped_by_article(messages: list[dict]) -> None:
    """Each article has one embed (plus "(continued)" ones when it is too long for one)."""
    titles = [e.get("title") for m in messages for e in m.get("embeds") or []
              if e.get("title") and not e["title"].endswith(t("answer.more", "en"))
              and not e["title"].endswith(t("answer.more", "ko"))]
    assert len(titles) == len(set(titles)), titles


async def test_commands_synced_to_guild_with_korean_localisations(discord_emulator, bot_service):
    emu = discord_emulator
    async with dari_bot(emu, bot_service):
        names = {c["name"]: c for c in emu.registered_commands()}
        assert set(COMMANDS) <= set(names)
        assert all(c.get("guild_id") == str(emu.guild_id) for c in names.values())
        assert names["ask"]["name_localizations"]["ko"] == "질문"
        assert names["ask"]["description_localizations"]["ko"]
        assert names["add-article"]["name_localizations"]["ko"] == "기사추가"
        option = names["search"]["options"][0]
        assert option["name_localizations"]["ko"] == "검색어"
        # Admin commands carry the Manage Server hint (the real check is in code).
        assert int(names["reindex"]["default_member_permissions"]) == 1 << 5


async def test_ask_english_quotes_passages_with_citation_and_counterpart(discord_emulator, bot_service):
    emu = discord_emulator
    async with dari_bot(emu, bot_service):
        user = emu.add_user("alice")
        inter = await ask(emu, user, "What does the United States want from military cooperation "
                                     "between South Korea, the U.S. and Japan?")
        assert inter.deferred and not inter.ephemeral
        msg = inter.visible_messages[0]
        assert msg["content"] == f"**{t('answer.title', 'en')}**"
        first = msg["embeds"][0]
        assert first["title"].startswith("How Far Can South Korea")
        assert "url" not in first  # the seed files carry no link; none is invented
        assert "Khan" in first["description"] and "2022-07-15" in first["description"]
        assert "Yu Shin-mo" in first["description"]
        fields = first["fields"]
        assert re.match(r"¶ \d+ · English", fields[0]["name"])
        assert fields[0]["value"].startswith("> ")
        assert "Korean original" in fields[1]["name"]
        assert re.search("[가-힣]", fields[1]["value"])
        text = embed_text(msg)
        assert "military" in text and "lighthouse" not in text
        # The best passages are the seed article's; weaker ones from other articles may follow
        # (how weak may still be quoted is the retrieval threshold's call, not the bot's).
        assert msg["embeds"][0]["title"].startswith("How Far Can South Korea")
        _grouped_by_article(inter.visible_messages)
        assert assert_no_mentions_anywhere(emu) >= 1


async def test_ask_korean_gets_korean_interface_and_english_counterpart(discord_emulator, bot_service):
    emu = discord_emulator
    async with dari_bot(emu, bot_service):
        user = emu.add_user("minji")
        inter = await ask(emu, user, "제주 감귤 농가들은 따뜻한 겨울 때문에 무엇을 대신 심고 있나?")
        msg = inter.visible_messages[0]
        assert msg["content"] == f"**{t('answer.title', 'ko')}**"
        first = msg["embeds"][0]
        assert first["title"] == "따뜻한 겨울, 제주 감귤 농가를 북쪽으로 밀어내다"
        names = [f["name"] for f in first["fields"]]
        assert any("한국어" in n for n in names)
        assert any("영어 번역" in n for n in names)
        assert "망고" in embed_text(msg) or "mango" in embed_text(msg)
        _grouped_by_article(inter.visible_messages)
        # A Korean Discord locale alone switches the interface too.
        other = emu.add_user("jun", locale="ko")
        inter = await ask(emu, other, "Why are Jeju tangerine farmers planting mango trees?")
        assert inter.visible_messages[0]["content"] == f"**{t('answer.title', 'ko')}**"


async def test_nothing_relevant_is_one_line(discord_emulator, bot_service):
    emu = discord_emulator
    async with dari_bot(emu, bot_service):
        user = emu.add_user("bob")
        inter = await ask(emu, user, "What is the best recipe for chocolate chip cookies with "
                                     "brown butter?")
        msg = inter.visible_messages[0]
        assert msg["content"] == t("answer.none", "en") and not msg["embeds"]


async def test_mention_opens_thread_and_followups_are_answered_there(discord_emulator, bot_service,
                                                                    caplog):
    emu = discord_emulator
    async with dari_bot(emu, bot_service):
        user = emu.add_user("carol")
        general = emu.channel_id("general")
        # Not addressed to the bot: ignored (checked by what the bot answers next).
        await emu.send_message(general, user, "lunch at noon anyone?")
        question = await emu.send_message(
            general, user, "why are tangerine growers on Jeju replacing their orchards?",
            mentions_bot=True)
        reply = await emu.wait_for_message(lambda m: m.get("embeds"), timeout=ANSWER_TIMEOUT)
        threads = emu.threads
        assert len(threads) == 1 and threads[0]["id"] == question["id"]  # thread on the message
        assert int(reply["channel_id"]) == int(threads[0]["id"])
        assert "Jeju" in embed_text(reply) or "제주" in embed_text(reply)
        assert all(int(m["channel_id"]) != general for _, m in emu.message_events
                   if m["author"]["id"] == str(emu.bot_user.id))
        # A follow-up in the thread, without a mention, from another user (own cooldown).
        dave = emu.add_user("dave")
        thread_id = int(threads[0]["id"])
        await emu.send_message(thread_id, dave, "How far is the area for growing tangerines moving north each year?")
        follow = await emu.wait_for_message(lambda m: m.get("embeds"), timeout=ANSWER_TIMEOUT)
        assert int(follow["channel_id"]) == thread_id
        assert "kilometre" in embed_text(follow) or "킬로미터" in embed_text(follow)
        assert len(emu.threads) == 1
        assert_no_mentions_anywhere(emu)
        # Nothing went wrong on the way (e.g. mentions taken for unknown text commands).
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_question_channel_needs_no_mention(discord_emulator, bot_service):
    emu = discord_emulator
    async with dari_bot(emu, bot_service):
        user = emu.add_user("erin")
        channel = emu.channel_id("questions")
        await emu.send_message(channel, user, "What do the lighthouse keepers of Ulleungdo do in winter storms?")
        reply = await emu.wait_for_message(lambda m: m.get("embeds"), timeout=ANSWER_TIMEOUT)
        assert emu.threads and int(reply["channel_id"]) == int(emu.threads[0]["id"])
        assert "Ulleungdo" in embed_text(reply)
        # Empty (emoji only) → a clear reply, not an answer.
        await emu.send_message(channel, emu.add_user("fay"), "🤔🤔")
        note = await emu.wait_for_message(timeout=ANSWER_TIMEOUT)
        assert note["content"] == t("question.empty", "en")


async def test_everyone_in_question_pings_nobody(discord_emulator, bot_service):
    emu = discord_emulator
    async with dari_bot(emu, bot_service):
        user = emu.add_user("mallory")
        role = emu.add_role("staff")
        general = emu.channel_id("general")
        await emu.send_message(general, user, f"@everyone <@&{role.id}> what do Jeju tangerine farmers "
                                              "plant now?\u202e\x1b[31m!", mentions_bot=True)
        await emu.wait_for_message(lambda m: m.get("embeds"), timeout=ANSWER_TIMEOUT)
        # The thread name shows the mentions as plain text, defused, without control characters.
        assert emu.threads[-1]["name"] == "@\u200beveryone @staff what do Jeju tangerine farmers plant now?!"
        inter = await ask(emu, emu.add_user("trent"),
                          f"@everyone <@&{role.id}> @here lighthouse keepers of Ulleungdo?")
        # The long article's title contains "@everyone": quoted, it must be defused.
        assert "@everyone" not in embed_text(inter.visible_messages[0])
        assert assert_no_mentions_anywhere(emu) >= 2


async def test_long_answer_and_passage_within_limits(discord_emulator, bot_service):
    emu = discord_emulator
    async with dari_bot(emu, bot_service):
        user = emu.add_user("gina")
        inter = await ask(emu, user, "What do the keepers of the Ulleungdo lighthouse do during the "
                                     "winter storm?")
        messages = inter.visible_messages
        assert messages and not inter.errors
        for m in messages:
            _limits_ok(m)
        assert "Ulleungdo" in messages[0]["embeds"][0]["title"]
        assert messages[0]["embeds"][0]["url"] == "https://example.org/ulleungdo"
        # Whole words only: each quoted line ends with a complete word or the ellipsis.
        for m in messages:
            for e in m["embeds"]:
                for f in e["fields"]:
                    assert f["value"].rstrip().endswith(("…", ".", "?", "!", "”", "\"", ")"))
        inter = await emu.invoke_command(user, "passage", {"article": LONG_ID, "number": 2})
        await inter.wait_done(timeout=ANSWER_TIMEOUT)
        messages = inter.visible_messages
        for m in messages:
            _limits_ok(m)
        full = "".join(embed_text(m) for m in messages)
        assert "Fresnel" in full and "프레넬" in full


async def test_search_is_ephemeral_compact_list(discord_emulator, bot_service):
    emu = discord_emulator
    async with dari_bot(emu, bot_service):
        user = emu.add_user("hana")
        inter = await emu.invoke_command(user, "search", {"query": "tangerine", "language": "en", "limit": 2})
        await inter.wait_done(timeout=ANSWER_TIMEOUT)
        assert inter.ephemeral
        embed = inter.embeds[0]
        lines = [ln for ln in embed["description"].split("\n\n") if ln]
        assert 1 <= len(lines) <= 2
        assert "Jeju" in lines[0] and "(en)" in lines[0] and re.search(r"¶ \d+", lines[0])
        assert re.search(r"`\d\.\d\d`", lines[0])


async def test_source_autocomplete_both_languages_and_card(discord_emulator, bot_service):
    emu = discord_emulator
    async with dari_bot(emu, bot_service):
        user = emu.add_user("ian")
        choices = await emu.autocomplete(user, "source", "article", "Military Cooperation")
        assert choices and choices[0]["value"] == SEED_ID
        choices = await emu.autocomplete(user, "source", "article", "감귤")
        assert [c["value"] for c in choices] == [JEJU_ID]
        assert "/" in choices[0]["name"] and "제주" in choices[0]["name"]
        assert len(await emu.autocomplete(user, "source", "article", "")) >= 3
        inter = await emu.invoke_command(user, "source", {"article": SEED_ID})
        await inter.wait_done(timeout=ANSWER_TIMEOUT)
        embed = inter.embeds[0]
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert fields["Outlet"] == "Khan" and fields["Date"] == "2022-07-15"
        assert fields["Author"] == "Yu Shin-mo"
        assert re.fullmatch(r"English \d+ · Korean \d+", fields["Paragraphs"])
        assert not fields["Paragraphs"].endswith(" 0")
        # An unknown article: a short private message.
        inter = await emu.invoke_command(user, "source", {"article": "no such article at all"})
        await inter.wait_done(timeout=ANSWER_TIMEOUT)
        shown = list(inter.visible_messages)
        assert len(shown) == 1 and shown[0]["flags"] & EPHEMERAL
        assert "No article matches" in shown[0]["content"]


async def test_passage_with_aligned_counterpart(discord_emulator, bot_service):
    emu = discord_emulator
    async with dari_bot(emu, bot_service):
        user = emu.add_user("jay", locale="ko")
        inter = await emu.invoke_command(user, "passage", {"article": JEJU_ID, "number": 1, "language": "ko"})
        await inter.wait_done(timeout=ANSWER_TIMEOUT)
        embed = inter.embeds[0]
        assert embed["description"].startswith("제주도의 감귤 재배 농민들은")
        assert "¶ 1" in embed["title"] and "한국어" in embed["title"]
        assert embed["fields"][0]["value"].startswith("Tangerine growers on Jeju")
        assert "영어 번역" in embed["fields"][0]["name"]
        inter = await emu.invoke_command(user, "passage", {"article": JEJU_ID, "number": 40})
        await inter.wait_done(timeout=ANSWER_TIMEOUT)
        assert inter.visible_messages[0]["flags"] & EPHEMERAL
        assert "40" in inter.visible_messages[0]["content"]


async def test_question_checks_and_cooldown(discord_emulator, bot_service):
    emu = discord_emulator
    async with dari_bot(emu, bot_service):
        user = emu.add_user("kim")
        # /ask and /search declare max_length from [discord].max_question_chars, so Discord's
        # client (here the driver) refuses a longer question before the bot sees it.
        for name, option in (("ask", "question"), ("search", "query")):
            schema = {o["name"]: o for o in emu.command(name)["options"]}
            assert schema[option]["max_length"] == 300
        with pytest.raises(DriverError, match="at most 300 characters"):
            await emu.invoke_command(user, "ask", {"question": "x" * 301})
        # Messages have no schema: the bot's own check answers them.
        channel = emu.channel_id("questions")
        await emu.send_message(channel, user, "x" * 301)
        note = await emu.wait_for_message(timeout=ANSWER_TIMEOUT)
        assert note["content"] == t("question.too_long", "en", n=301, max=300)
        inter = await ask(emu, user, "   😀 ")
        assert inter.ephemeral and inter.content == t("question.empty", "en")
        await emu.send_message(channel, emu.add_user("yuna"), "감귤" * 151)  # Korean: Korean reply
        note = await emu.wait_for_message(timeout=ANSWER_TIMEOUT)
        assert note["content"] == t("question.too_long", "ko", n=302, max=300)
        inter = await ask(emu, user, "Why are Jeju tangerines getting sour?")
        assert inter.embeds
        inter = await ask(emu, user, "And what about mangoes?")
        assert inter.ephemeral and re.fullmatch(r"Please wait \d+ seconds before asking again\.", inter.content)
        # Another user is not slowed down by kim's cooldown.
        inter = await ask(emu, emu.add_user("lee"), "And what about mangoes on Jeju?")
        assert not inter.ephemeral


async def test_admin_commands_refused_for_members_and_logged(discord_emulator, bot_service, caplog):
    emu = discord_emulator
    async with dari_bot(emu, bot_service):
        user = emu.add_user("nosy")
        with caplog.at_level(logging.WARNING, logger="bot.checks"):
            for name, options in (("reindex", {}), ("status", {}),
                                  ("add-article", {"file": ("x.md", UPLOAD_ARTICLE.encode())})):
                inter = await emu.invoke_command(user, name, options)
                await inter.wait_done(timeout=ANSWER_TIMEOUT)
                assert inter.ephemeral and inter.content == t("admin.refused", "en"), name
        assert sum("refused admin command" in r.getMessage() for r in caplog.records) == 3
        assert not (Path(bot_service.settings.corpus_dir) / "x.md").exists()


async def test_admin_role_from_config_and_status(discord_emulator, bot_service):
    emu = discord_emulator
    role = emu.add_role("dari-admins")
    async with dari_bot(emu, bot_service, admin_role_ids=[role.id]):
        member = emu.add_user("moderator", roles=[role.id])
        inter = await emu.invoke_command(member, "status")
        await inter.wait_done(timeout=ANSWER_TIMEOUT)
        assert inter.ephemeral
        fields = {f["name"]: f["value"] for f in inter.embeds[0]["fields"]}
        assert int(fields["Articles"]) >= 3
        assert re.search(r"English \d+ · Korean \d+", fields["Paragraphs"])
        assert "e5" in fields["Model"]
        assert fields["Last refresh"] != "never" and fields["Duration"].endswith(" s")


async def test_add_article_good_bad_and_traversal(discord_emulator, bot_service):
    emu = discord_emulator
    corpus = Path(bot_service.settings.corpus_dir)
    async with dari_bot(emu, bot_service):
        admin = emu.add_user("editor", admin=True)
        bad = await emu.invoke_command(admin, "add-article", attachments={"file": ("notes.pdf", b"%PDF-1.4")})
        await bad.wait_done(timeout=30)
        assert bad.ephemeral and bad.content == t("add.bad_type", "en", name="notes.pdf")
        broken = await emu.invoke_command(
            admin, "add-article", attachments={"file": ("broken.md", b"+++\ntitle = \n+++\n\nText.\n")})
        await broken.wait_done(timeout=30)
        assert broken.ephemeral and broken.visible_messages[-1]["content"].startswith(
            "The file “broken.md” was not added: ")
        assert not (corpus / "broken.md").exists()
        before = {p.name for p in corpus.iterdir()}
        good = await emu.invoke_command(
            admin, "add-article",
            attachments={"file": ("../../../busan wheel.md", UPLOAD_ARTICLE.encode())})
        await good.wait_for(lambda i: "indexed" in i.content or any(
            m["content"] == t("error.generic", "en") for m in i.visible_messages),
            timeout=180, what="the upload to be indexed")
        added = {p.name for p in corpus.iterdir()} - before
        assert len(added) == 1
        (name,) = added
        assert "/" not in name and not name.startswith(".") and name.endswith(".md")
        assert good.content.startswith(f"Saved as “{escape(name)}” and indexed: ")
        assert not (corpus.parent.parent / "busan wheel.md").exists()
        inter = await ask(emu, emu.add_user("pat"), "Why is Haeundae divided over a Ferris wheel?")
        assert "Ferris" in embed_text(inter.visible_messages[0])
        assert_no_mentions_anywhere(emu)


async def test_exception_in_command_then_bot_keeps_answering(discord_emulator, bot_service, caplog):
    emu = discord_emulator
    async with dari_bot(emu, bot_service):
        user = emu.add_user("quinn")
        with caplog.at_level(logging.ERROR, logger="bot.client"), \
                corrupt_positions(bot_service.settings, JEJU_ID):
            inter = await emu.invoke_command(user, "passage", {"article": JEJU_ID, "number": 1})
            await inter.wait_done(timeout=30)
        shown = inter.visible_messages
        assert len(shown) == 1 and shown[0]["flags"] & EPHEMERAL
        assert shown[0]["content"] == t("error.generic", "en")
        failures = [r for r in caplog.records if "command /passage failed" in r.getMessage()]
        assert failures and failures[0].exc_info is not None  # the traceback is logged
        inter = await emu.invoke_command(user, "passage", {"article": JEJU_ID, "number": 1})
        await inter.wait_done(timeout=30)
        assert inter.embeds[0]["description"].startswith("Tangerine growers")


async def test_dropped_gateway_resumes_and_answers(discord_emulator, bot_service):
    emu = discord_emulator
    async with dari_bot(emu, bot_service):
        # Held: the question is posted while the bot is disconnected, so it can only
        # arrive through the RESUME replay.
        assert await emu.drop_connections(hold=True) == 1
        question = await emu.send_message(emu.channel_id("questions"), emu.add_user("ruth"),
                                          "What do Jeju tangerine farmers plant now?")
        emu.release_gateway()
        await emu.wait_until(lambda: any(s.resumes for s in emu.gateway.sessions.values()), 30,
                             "the bot to resume its gateway session")
        reply = await emu.wait_for_message(lambda m: m.get("embeds"), timeout=ANSWER_TIMEOUT)
        assert int(reply["channel_id"]) == int(question["id"])  # in the thread on the question
        inter = await ask(emu, emu.add_user("sue"), "Why are Jeju tangerines sour?")
        assert inter.embeds
        assert emu.gateway.identifies == 1  # resumed, not a new session


PERIODIC_ARTICLE = """+++
id = "gangneung-coffee-street"
title = "Gangneung's Coffee Street Outgrows Its Seaside Roots"
outlet = "Test Times"
published = 2024-08-09
author = "Choi Test"
+++

Roasters along Anmok Beach in Gangneung now ship beans nationwide, and the city's coffee festival draws more visitors than its beaches in autumn.
"""


async def test_periodic_refresh_picks_up_new_files(discord_emulator, bot_service):
    emu = discord_emulator
    corpus = Path(bot_service.settings.corpus_dir)
    (corpus / "gangneung_coffee.md").write_text(PERIODIC_ARTICLE, encoding="utf-8")
    # 0.02 minutes: the first refresh runs about a second after start.
    async with dari_bot(emu, bot_service, refresh_minutes=0.02) as bot:
        await asyncio.wait_for(bot.periodic_done.wait(), 180)
        user = emu.add_user("sam")
        choices = await emu.autocomplete(user, "source", "article", "Gangneung")
        assert [c["value"] for c in choices] == ["gangneung-coffee-street"]
    assert not bot.periodic_refresh.is_running()


def test_dari_sandbox_answers_piped_input(bot_service, monkeypatch, capsys):
    """`dari sandbox` (the CLI) runs the real bot on the emulator and prints its replies."""
    import io
    import sys

    from dari.cli import main

    lines = ("/ask Why are Jeju tangerine farmers planting mango trees?\n"
             "/ask 제주 감귤 재배지는 해마다 얼마나 북쪽으로 옮겨 가나?\n/search tangerine\n")
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    assert main(["sandbox", "--config", str(bot_service.settings.source)]) == 0
    out = capsys.readouterr().out
    assert t("answer.title", "en") in out and "Jeju" in out
    assert "Best passages for: tangerine" in out
    assert t("answer.title", "ko") in out and "Please wait" not in out  # no cooldown locally
