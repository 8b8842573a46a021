"""Heavy input never stalls the bot (issue 9), end to end through the emulator.

The real bot (real discord.py client, real service, real index and model) runs against the
emulator; its refreshes run in their own process (`dari index --events`), which the tests
hold open, kill or let run past its time limit at known checkpoints of the real code path
(``DARI_TEST_PAUSE_AT`` in ``embeddings.refresh``, inherited by the child process).

Liveness bounds here are the ones the issue asks for: Discord's 3 s to acknowledge an
interaction, and gateway heartbeats (asked for every 0.25 s) arriving without long gaps.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bench.split import make_text
from bot.client import DariBot
from bot.format import escape
from bot.i18n import t
from dari.service import DariService
from embeddings.manifest import index_root, read_current
from emulator.server import DiscordEmulator
from emulator.state import EPHEMERAL
from tests.bot_support import (
    COMMANDS,
    Service,
    assert_no_mentions_anywhere,
    bot_settings,
    embed_text,
    feedback_store,
)
from tests.discord_support import emulator_running, running_bot
from tests.index_support import index_encoder, make_corpus, settings_for, warm_cache  # noqa: F401

ANSWER_TIMEOUT = 90.0
HEARTBEAT_MS = 250
# The bound: Discord forgets an interaction not acknowledged within 3 s.
ACK_LIMIT_S = 3.0


@pytest.fixture(scope="module")
def refresh_service(tmp_path_factory: pytest.TempPathFactory, shared_model_dir: Path,
                    index_encoder: Any, warm_cache: Path) -> Iterator[DariService]:
    """Its own corpus (seed + Jeju), indexed once: these tests add and remove files."""
    base = tmp_path_factory.mktemp("bot-refresh")
    corpus = make_corpus(base / "articles")
    settings = settings_for(base, shared_model_dir, corpus, warm_cache=warm_cache,
                            extra="[discord]\ncooldown_seconds = 60.0\n")
    service = Service(settings, index_encoder)
    service.ensure_index()
    yield service
    service.close()


@pytest_asyncio.fixture(loop_scope="function")
async def emulator() -> AsyncIterator[DiscordEmulator]:
    """An emulator asking for a heartbeat every 0.25 s: a stalled event loop shows at once."""
    async with emulator_running(heartbeat_interval_ms=HEARTBEAT_MS) as emu:
        yield emu


def _bot(emu: DiscordEmulator, service: DariService, *, index: dict[str, Any] | None = None,
         corpus: dict[str, Any] | None = None, **discord: Any) -> DariBot:
    settings = bot_settings(emu, service, **discord)
    if index:
        settings = dataclasses.replace(settings, index=dataclasses.replace(settings.index, **index))
    if corpus:
        settings = dataclasses.replace(settings, corpus=dataclasses.replace(settings.corpus, **corpus))
    return DariBot(settings, service, feedback_store(settings), guild_ready_timeout=0.1)


def _ack_seconds(inter: Any) -> float:
    assert inter.callback is not None, "never acknowledged"
    return inter.callback.at - inter.created


def _last(inter: Any) -> str:
    """What the user sees last: an error after progress edits comes as a (private) follow-up."""
    messages = inter.visible_messages
    return messages[-1]["content"] if messages else ""


def _assert_heartbeats_kept_up(emu: DiscordEmulator, caplog: pytest.LogCaptureFixture) -> None:
    times = emu.gateway.heartbeat_times
    assert len(times) >= 4, times
    gaps = [b - a for a, b in zip(times, times[1:])]
    # A blocked event loop delays every heartbeat (the issue saw 44 s); allow scheduling noise.
    assert max(gaps) < 2.5, f"heartbeat gap {max(gaps):.2f}s (interval {HEARTBEAT_MS} ms)"
    behind = [r for r in caplog.records if "Can't keep up" in r.getMessage()
              or "heartbeat blocked" in r.getMessage()]
    assert not behind, behind[0].getMessage()


def _file(title: str, shape: str, size: int) -> bytes:
    """A .txt article of ``size`` bytes (UTF-8): a title line, then one giant paragraph."""
    data = (title + "\n\n" + make_text(shape, size)).encode("utf-8")[:size]
    return data.decode("utf-8", "ignore").encode("utf-8")  # no half character at the end


QUESTIONS = (
    "Why are Jeju tangerine farmers planting mango trees?",
    "How far north is the tangerine growing area moving each year?",
    "What does the United States want from military cooperation with Korea and Japan?",
    "제주 감귤 농가들은 무엇을 대신 심고 있나?",
    "Will the provincial government subsidise greenhouses for citrus farmers?",
)


async def _ask_during(emu: DiscordEmulator, busy: list[Any]) -> list[Any]:
    """Five users ask while ``busy`` interactions are in flight; all are answered."""
    asks = []
    for i, question in enumerate(QUESTIONS):
        asks.append(await emu.invoke_command(emu.add_user(f"asker{i}"), "ask", {"question": question}))
        await asyncio.sleep(0.2)
    await asyncio.gather(*(a.wait_done(timeout=ANSWER_TIMEOUT) for a in asks))
    for inter in asks:
        assert not inter.errors, inter.errors  # no late acknowledgement, nothing refused
        assert _ack_seconds(inter) < ACK_LIMIT_S
        assert inter.embeds or inter.content == t("answer.none", "en") or inter.content
    assert all(not b.errors for b in busy)
    return asks


async def test_heavy_uploads_are_refused_clearly_while_others_are_answered(
        emulator: DiscordEmulator, refresh_service: DariService, caplog: pytest.LogCaptureFixture) -> None:
    emu = emulator
    corpus = Path(refresh_service.settings.corpus_dir)
    before = sorted(p.name for p in corpus.iterdir())
    # A title line, then one paragraph: 5 M characters with no break at all, and 2 M
    # characters of sentences on one line.
    breakless = _file("A file without breaks", "unbroken", 5 * 1024 * 1024)
    one_line = _file("A file of one line", "line", 2 * 1024 * 1024)
    caplog.set_level(logging.WARNING, logger="discord")

    # Defaults: both are over [discord].max_upload_kb and refused before being downloaded.
    async with running_bot(emu, _bot(emu, refresh_service), commands=COMMANDS):
        admin = emu.add_user("heavy-admin", admin=True)
        uploads = [await emu.invoke_command(admin, "add-article", attachments={"file": (name, data)})
                   for name, data in (("breakless.txt", breakless), ("one_line.txt", one_line))]
        await _ask_during(emu, uploads)
        for upload, (name, data) in zip(uploads, (("breakless.txt", breakless), ("one_line.txt", one_line))):
            await upload.wait_done(timeout=30)
            assert upload.ephemeral and _ack_seconds(upload) < ACK_LIMIT_S
            assert upload.content == t("add.too_big", "en", name=escape(name), size=f"{len(data) / 1024:,.0f}",
                                       max="1,024")
        assert emu.attachment_downloads == []  # refused from the attachment's declared size
        _assert_heartbeats_kept_up(emu, caplog)

    # A server that allows large uploads: downloaded and read, then refused for the
    # paragraph limit, naming the file and the limit; the bot answers meanwhile.
    emu.gateway.heartbeat_times.clear()
    async with running_bot(emu, _bot(emu, refresh_service, max_upload_kb=8192), commands=COMMANDS):
        admin = emu.add_user("heavy-admin-2", admin=True)
        uploads = [await emu.invoke_command(admin, "add-article", attachments={"file": (name, data)})
                   for name, data in (("breakless.txt", breakless), ("one_line.txt", one_line))]
        await _ask_during(emu, uploads)
        for upload, name in zip(uploads, ("breakless.txt", "one_line.txt")):
            await upload.wait_done(timeout=60)
            assert upload.ephemeral
            assert re.fullmatch(
                f"The file “{name.replace('_', '.{1,2}')}” was not added: paragraph 1 is "
                r"[\d,]{9} characters long; the limit is 20,000 characters "
                r"\(\[corpus\]\.max\\_paragraph\\_chars\)", upload.content), upload.content
        assert sorted(emu.attachment_downloads) == ["breakless.txt", "one_line.txt"]
        _assert_heartbeats_kept_up(emu, caplog)
        assert_no_mentions_anywhere(emu)
    assert sorted(p.name for p in corpus.iterdir()) == before  # nothing refused stays


def _generated_articles(corpus: Path, count: int) -> None:
    """``count`` small English articles: a larger corpus to encode (a few hundred passages)."""
    towns = ("Andong", "Gyeongju", "Mokpo", "Sokcho", "Tongyeong", "Jeonju", "Chuncheon", "Yeosu")
    crafts = ("paper lanterns", "bamboo baskets", "celadon bowls", "knotted silk", "brass bells",
              "lacquer boxes")
    for i in range(count):
        town, craft = towns[i % len(towns)], crafts[i % len(crafts)]
        paragraphs = [
            f"In {town}, workshop {i} has made {craft} for {20 + i} years, and its owner says "
            f"orders doubled after a festival in spring number {i}.",
            f"Apprentices at workshop {i} train for {3 + i % 4} years before they may sign a piece, "
            f"and the town pays half of their wages during the first {i % 3 + 1} years.",
            f"Tourists to {town} can watch {craft} being made on weekends; workshop {i} limits "
            f"visits to {10 + i} people an hour so the work is not interrupted.",
            f"The craft council of {town} fears that rising rents will push workshop {i} out of "
            f"the old quarter within {5 + i % 5} years unless the city steps in.",
            f"A museum exhibit planned for year {2025 + i % 3} will show {craft} from workshop {i} "
            f"beside pieces from three other provinces.",
        ]
        body = "\n\n".join(paragraphs)
        (corpus / f"craft_{i:02d}.md").write_text(
            f'+++\nid = "craft-{i:02d}"\ntitle = "Workshop {i} of {town} Keeps Making {craft.title()}"\n'
            f'outlet = "Test Crafts"\npublished = 2024-03-{i % 28 + 1:02d}\n+++\n\n{body}\n',
            encoding="utf-8")


SUWON = """+++
id = "suwon-fortress-night-walks"
title = "Night Walks Along Suwon's Fortress Walls"
outlet = "Test Post"
published = 2024-09-14
+++

Suwon has lit the Hwaseong Fortress walls for night walks, and guides now lead tours that end at the Paldalmun gate.
"""
SUWON_QUESTION = "Where do the guided night walks along the Hwaseong Fortress walls in Suwon end?"


def _pause(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, point: str) -> tuple[Path, Path]:
    """Make the next refresh process pause at ``point``; returns (marker, release) files."""
    marker, release = tmp_path / f"paused-{point}", tmp_path / f"release-{point}"
    monkeypatch.setenv("DARI_TEST_PAUSE_AT", point)
    monkeypatch.setenv("DARI_TEST_PAUSE_FILE", str(marker))
    monkeypatch.setenv("DARI_TEST_RELEASE_FILE", str(release))
    return marker, release


def _unpause(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DARI_TEST_PAUSE_AT", "DARI_TEST_PAUSE_FILE", "DARI_TEST_RELEASE_FILE"):
        monkeypatch.delenv(name, raising=False)


async def _wait_paused(emu: DiscordEmulator, marker: Path, timeout: float = 180) -> int:
    await emu.wait_until(marker.exists, timeout, f"the refresh process to pause ({marker.name})")
    return int(marker.read_text(encoding="utf-8").split()[0])


async def test_reindex_runs_in_its_own_process_killed_or_held_while_the_old_index_answers(
        emulator: DiscordEmulator, refresh_service: DariService, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    emu = emulator
    corpus = Path(refresh_service.settings.corpus_dir)
    root = index_root(refresh_service.settings.data_dir)
    old = read_current(root)
    _generated_articles(corpus, 30)
    (corpus / "suwon_night_walks.md").write_text(SUWON, encoding="utf-8")
    caplog.set_level(logging.WARNING, logger="discord")
    async with running_bot(emu, _bot(emu, refresh_service), commands=COMMANDS):
        admin = emu.add_user("root", admin=True)

        # 1. Killed (SIGKILL) while encoding: a clear message, the old index keeps answering.
        marker, _ = _pause(monkeypatch, tmp_path, "encoding")
        killed = await emu.invoke_command(admin, "reindex", {})
        pid = await _wait_paused(emu, marker)
        assert pid != os.getpid()  # the refresh is not in the bot's process
        os.kill(pid, signal.SIGKILL)
        await killed.wait_for(lambda i: "did not finish" in _last(i), timeout=60, what="the failure")
        assert _last(killed) == t("reindex.failed", "en",
                                   reason="the refresh process was killed (SIGKILL) (while working "
                                          "on craft\\_00.md)"), _last(killed)
        # Encoding the 151 new passages takes seconds: the reply showed it, and the file.
        assert any("encode 0/151 · craft\\_00.md" in e.message["content"]
                   for e in killed.edits if e.message), [e.message for e in killed.edits]
        assert read_current(root) == old
        inter = await emu.invoke_command(emu.add_user("olive"), "ask", {"question": QUESTIONS[0]})
        await inter.wait_done(timeout=ANSWER_TIMEOUT)
        assert "Jeju" in embed_text(inter.visible_messages[0])

        # 2. Held open after the new generation is written, before the swap: progress edits
        # arrive, a question is answered from the old generation, a second refresh is refused.
        marker, release = _pause(monkeypatch, tmp_path, "written")
        reindex = await emu.invoke_command(admin, "reindex", {})
        await _wait_paused(emu, marker)
        await reindex.wait_for(lambda i: "index 3/3" in i.content, timeout=30, what="a progress edit")
        inter = await emu.invoke_command(emu.add_user("pat"), "ask", {"question": SUWON_QUESTION})
        await inter.wait_done(timeout=ANSWER_TIMEOUT)
        assert _ack_seconds(inter) < ACK_LIMIT_S
        assert "Suwon" not in "".join(embed_text(m) for m in inter.visible_messages)
        assert refresh_service.retriever().generation == old
        _unpause(monkeypatch)
        second = await emu.invoke_command(admin, "reindex", {})
        busy = t("reindex.busy", "en")
        await second.wait_for(lambda i: _last(i) == busy, timeout=60, what="the busy note")
        release.write_text("go", encoding="utf-8")
        await reindex.wait_for(lambda i: i.content.startswith("Index refreshed"), timeout=120,
                               what="the refresh to finish")
        stages = [e.message["content"] for e in reindex.edits if e.message]
        assert stages[0] == t("reindex.start", "en")
        for stage in ("ingest", "index"):  # (all vectors are cached now: encoding is instant)
            assert any(f"… {stage} " in s for s in stages), (stage, stages)
        assert any(" · " in s for s in stages)  # with the file being worked on
        # 33 articles; the 151 new passages (30 x 5 + Suwon) were encoded by the killed run
        # before it died, and their cached vectors were kept.
        assert "33 articles" in reindex.content and "(0 newly encoded, " in reindex.content, \
            reindex.content

        # The new generation is served at once; the killed run's leftovers are gone.
        new = read_current(root)
        assert new != old and refresh_service.retriever().generation == new
        inter = await emu.invoke_command(emu.add_user("quinn"), "ask", {"question": SUWON_QUESTION})
        await inter.wait_done(timeout=ANSWER_TIMEOUT)
        assert "Suwon" in embed_text(inter.visible_messages[0])
        assert not any(p.name.startswith(".") for p in root.iterdir())
        _assert_heartbeats_kept_up(emu, caplog)
        assert assert_no_mentions_anywhere(emu) >= 6


UPLOAD = """+++
id = "busan-ferris-wheel"
title = "Busan Debates a Giant Ferris Wheel on Its Beachfront"
outlet = "Test Herald"
published = 2024-05-03
+++

Residents of Haeundae are divided over a plan to build a 120-metre Ferris wheel on the beachfront.
"""


async def test_refresh_over_its_time_limit_is_stopped_and_the_upload_not_kept(
        emulator: DiscordEmulator, refresh_service: DariService, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    emu = emulator
    corpus = Path(refresh_service.settings.corpus_dir)
    root = index_root(refresh_service.settings.data_dir)
    old = read_current(root)
    # Held after reading the corpus; its last file (sorted) is the upload.
    _pause(monkeypatch, tmp_path, "ingested")
    bot = _bot(emu, refresh_service, index={"max_refresh_minutes": 0.25})
    async with running_bot(emu, bot, commands=COMMANDS):
        admin = emu.add_user("editor", admin=True)
        upload = await emu.invoke_command(admin, "add-article",
                                          attachments={"file": ("zz_busan_wheel.md", UPLOAD.encode())})
        inter = await emu.invoke_command(emu.add_user("sam"), "ask", {"question": QUESTIONS[1]})
        await inter.wait_done(timeout=ANSWER_TIMEOUT)
        assert inter.embeds and _ack_seconds(inter) < ACK_LIMIT_S
        await upload.wait_for(lambda i: "was not added" in _last(i), timeout=120, what="the refusal")
        reason = t("reindex.timeout", "en", minutes="0.25", file="zz\\_busan\\_wheel.md")
        assert _last(upload) == t("add.not_indexed", "en", name="zz\\_busan\\_wheel.md",
                                  reason=reason), _last(upload)
        assert upload.visible_messages[-1]["flags"] & EPHEMERAL
        assert bot.refresher.running == 0  # the process was stopped, not left running
    assert not (corpus / "zz_busan_wheel.md").exists()
    assert read_current(root) == old
