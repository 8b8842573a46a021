"""Shared setup for the bot's end-to-end tests: a real indexed service, the real bot,
the Discord emulator, and checks on what the bot sent.

The service (store, index, encoder) is built once per module: it is blocking, thread-safe
code with no event loop of its own, so each test can run its own emulator and bot (started
in about a second) on top of it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.client import DariBot
from bot.feedback import FeedbackStore
from dari.service import DariService
from emulator.server import DiscordEmulator
from settings.config import Settings
from tests.discord_support import running_bot
from tests.discord_support import settings_for as emulator_settings
from tests.index_support import make_corpus, settings_for

COMMANDS = ("ask", "search", "source", "passage", "reindex", "status", "add-article", "report")
SEED_ID = "how-far-can-south-korea-us-japan-military-cooperation-go"
JEJU_ID = "jeju-tangerines"
LONG_ID = "ulleungdo-lighthouse"
LONG_NAME = "ulleungdo_lighthouse.md"

_EN_CLAUSES = [
    "the keepers of the old lighthouse on Ulleungdo climb the iron stairs before dawn",
    "they polish the great Fresnel lens by hand while the winter storm rattles the windows",
    "they log every passing squid boat and every change in the wind in a leather-bound book",
    "they radio the harbour at Jeodong whenever the swell rises above four metres",
    "they repair the generator with parts that arrive only when the ferry can dock",
    "they share kimchi stew with the coast guard crews who shelter below the cliff",
    "they keep the beam turning through blizzards that cut the island off for weeks",
    "they remember the keepers before them who never left the rock for a whole winter",
]
_KO_CLAUSES = [
    "울릉도 옛 등대의 등대지기들은 새벽이 오기 전에 쇠 계단을 오르고",
    "겨울 폭풍이 창문을 흔드는 동안 커다란 프레넬 렌즈를 손으로 닦으며",
    "지나가는 오징어잡이 배와 바람의 변화를 가죽 장부에 빠짐없이 적고",
    "너울이 4미터를 넘으면 저동항에 무전을 치며",
    "여객선이 접안할 수 있을 때에만 들어오는 부품으로 발전기를 고치고",
    "절벽 아래로 피항한 해경 대원들과 김치찌개를 나누어 먹으며",
    "섬이 몇 주씩 고립되는 눈보라 속에서도 불빛이 돌아가게 지키고",
    "겨울 내내 바위섬을 떠나지 않았던 선배 등대지기들을 기억한다",
]


def _long_paragraph(clauses: list[str], repeat: int, joiner: str, end: str) -> str:
    # One very long sentence per paragraph: trimming to sentences cannot make it short,
    # so only the bot's own cutting keeps the reply within Discord's limits.
    parts = [clauses[(i * 3) % len(clauses)] if i % 2 else clauses[i % len(clauses)]
             for i in range(repeat)]
    return joiner.join(parts) + end


LONG_ARTICLE = (
    "+++\n"
    f'id = "{LONG_ID}"\n'
    'title = "Winter Nights With the Lighthouse Keepers of Ulleungdo **@everyone**"\n'
    'title_ko = "울릉도 등대지기들의 겨울밤"\n'
    'outlet = "Test Weekly"\n'
    "published = 2024-02-01\n"
    'author = "Park Test"\n'
    'url = "https://example.org/ulleungdo"\n'
    "+++\n\n"
    + "\n\n".join(_long_paragraph(_EN_CLAUSES, 28, ", and ", ".") for _ in range(3))
    + "\n\n"
    + "\n\n".join(_long_paragraph(_KO_CLAUSES, 24, ", ", ".") for _ in range(3))
    + "\n"
)

# A small valid curated article for /add-article.
UPLOAD_ARTICLE = """+++
id = "busan-ferris-wheel"
title = "Busan Debates a Giant Ferris Wheel on Its Beachfront"
outlet = "Test Herald"
published = 2024-05-03
author = "Lee Test"
+++

Residents of Haeundae are divided over a plan to build a 120-metre Ferris wheel on the beachfront, with shop owners welcoming tourists and neighbours fearing traffic and shadows.

해운대 주민들은 해변에 120미터 높이의 대관람차를 세우는 계획을 두고 관광객을 반기는 상인들과 교통 체증과 그림자를 걱정하는 이웃들로 나뉘어 있다.
"""


class Service(DariService):
    """The real service, given the session's already-loaded encoder (loading takes seconds)."""

    def __init__(self, settings: Settings, encoder: Any) -> None:
        self._preloaded = encoder
        super().__init__(settings)

    @property
    def encoder(self) -> Any:
        return self._preloaded


@pytest.fixture(scope="module")
def bot_service(tmp_path_factory: pytest.TempPathFactory, shared_model_dir: Path,
                index_encoder: Any, warm_cache: Path) -> Iterator[DariService]:
    """Seed + Jeju + long Ulleungdo articles, indexed once, behind the real service.

    The seed and Jeju vectors come from the session's warm cache: each bot test module
    encodes only the Ulleungdo article.
    """
    base = tmp_path_factory.mktemp("bot")
    corpus = make_corpus(base / "articles")
    (corpus / LONG_NAME).write_text(LONG_ARTICLE, encoding="utf-8")
    settings = settings_for(base, shared_model_dir, corpus,
                            extra="[discord]\ncooldown_seconds = 60.0\nmax_question_chars = 300\n",
                            warm_cache=warm_cache)
    service = Service(settings, index_encoder)
    service.ensure_index()
    yield service
    service.close()


def feedback_store(settings: Settings) -> FeedbackStore:
    """The question log in the settings' data directory (shared by the module's bots; a
    test that counts rows looks at ids after its own start)."""
    return FeedbackStore.open(settings.data_dir, settings.feedback.retention_days)


def bot_settings(emu: DiscordEmulator, service: DariService, **discord: Any) -> Settings:
    """The service's settings pointed at the emulator, #questions as question channel."""
    settings = emulator_settings(emu, service.settings)
    values = {"question_channels": [emu.channel_id("questions")], **discord}
    return dataclasses.replace(settings, discord=dataclasses.replace(settings.discord, **values))


@contextlib.asynccontextmanager
async def dari_bot(emu: DiscordEmulator, service: DariService, **discord: Any) -> AsyncIterator[DariBot]:
    """The real Dari bot running against ``emu``, its commands synced to the emulator's guild."""
    settings = bot_settings(emu, service, **discord)
    feedback = feedback_store(settings)
    bot = DariBot(settings, service, feedback, guild_ready_timeout=0.1)
    try:
        async with running_bot(emu, bot, commands=COMMANDS) as running:
            yield running  # type: ignore[misc]
    finally:
        feedback.close()


def sent_payloads(emu: DiscordEmulator) -> list[tuple[str, str, dict[str, Any]]]:
    """Every message body the bot sent (channel posts, interaction replies, followups, edits)."""
    out = []
    for req in emu.requests:
        body = req.json
        if req.method not in ("POST", "PATCH") or not isinstance(body, dict):
            continue
        data = body.get("data") if req.path.startswith("/interactions/") else body
        if isinstance(data, dict) and ("content" in data or "embeds" in data):
            out.append((req.method, req.path, data))
    return out


def assert_no_mentions_anywhere(emu: DiscordEmulator) -> int:
    """Every payload carries ``allowed_mentions`` with ``parse: []``; returns how many were checked."""
    payloads = sent_payloads(emu)
    for method, path, data in payloads:
        allowed = data.get("allowed_mentions")
        assert allowed is not None and allowed.get("parse") == [], (method, path, data)
        assert not allowed.get("users") and not allowed.get("roles"), (method, path, data)
    return len(payloads)


def embed_text(message: dict[str, Any]) -> str:
    """All text of a message's embeds (title, description, fields, footer) in one string."""
    parts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        for f in embed.get("fields") or []:
            parts += [f["name"], f["value"]]
        parts.append((embed.get("footer") or {}).get("text") or "")
    return "\n".join(parts)


@contextlib.contextmanager
def corrupt_positions(settings: Settings, article_id: str) -> Iterator[None]:
    """Write a non-number paragraph position into the store, as a damaged database would have."""
    path = Path(settings.data_dir) / "dari.sqlite3"
    con = sqlite3.connect(path)
    row = con.execute(
        "SELECT id, position FROM paragraphs WHERE article_id = ? AND language = 'en' "
        "ORDER BY position DESC LIMIT 1", (article_id,)).fetchone()
    try:
        # SQLite's CHECK (position >= 1) holds for any text ('x' sorts above numbers).
        con.execute("UPDATE paragraphs SET position = 'x' WHERE id = ?", (row[0],))
        con.commit()
        yield
    finally:
        con.execute("UPDATE paragraphs SET position = ? WHERE id = ?", (row[1], row[0]))
        con.commit()
        con.close()
