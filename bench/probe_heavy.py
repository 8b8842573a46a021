"""The issue-9 probe, repeated: the bot as its own `dari serve` process against the emulator,
an admin uploading a heavy file while five users ask.

Phase 1 uses the default limits (a 5 MB file is over ``[discord].max_upload_kb`` and refused
before download). Phase 2 raises the upload and paragraph limits so the 5 MB paragraph
without breaks is accepted and its refresh really runs, in its own process, until
``[index].max_refresh_minutes`` (2 here) stops it. Meanwhile five users ask, one a second;
the probe records how long each interaction took to be acknowledged (Discord allows 3 s)
and answered, and the gaps between gateway heartbeats (asked for every second).

Usage: ``python -m bench.probe_heavy`` (a few minutes; prints JSON). Not part of `make bench`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.split import make_text
from emulator.server import DiscordEmulator

log = logging.getLogger("bench.probe_heavy")

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = (
    "How far can South Korea-US-Japan military cooperation go?",
    "What does the United States want from its allies?",
    "한미일 군사협력은 어디까지 갈 수 있나?",
    "Why is it difficult for Korea to expand cooperation with Japan?",
    "북한 핵 위협에 대한 대응은?",
)


def _config(base: Path, emu: DiscordEmulator, extra: str) -> Path:
    from settings.config import load_settings

    model_dir = load_settings(None, check_corpus=False).model_dir
    corpus = base / "articles"
    corpus.mkdir(parents=True, exist_ok=True)
    for path in sorted((REPO / "articles").glob("*.txt")):
        shutil.copy(path, corpus / path.name)
    config = base / "config.toml"
    config.write_text(
        f'[paths]\ncorpus_dir = "{corpus}"\ndata_dir = "{base / "data"}"\n'
        f'[embeddings]\nmodel_dir = "{model_dir}"\n'
        f'[discord]\napi_base = "{emu.api_base}"\nguild_ids = [{emu.guild_id}]\n'
        f"cooldown_seconds = 0.0\n{extra}", encoding="utf-8")
    return config


async def _until_answering(emu: DiscordEmulator, timeout: float = 180) -> None:
    """Wait until the bot answers at all (commands are synced before discord.py is ready)."""
    deadline = time.monotonic() + timeout
    user = emu.add_user("warmup")
    while time.monotonic() < deadline:
        inter = await emu.invoke_command(user, "ask", {"question": "warm-up question"})
        try:
            await inter.wait_done(timeout=30)
        except TimeoutError:
            continue
        if not inter.errors:
            return
        await asyncio.sleep(1.0)
    raise TimeoutError("the bot process never answered")


async def _phase(name: str, extra: str, upload: tuple[str, bytes], base: Path) -> dict[str, Any]:
    emu = DiscordEmulator("probe-token", heartbeat_interval_ms=1000)
    await emu.start()
    config = _config(base / name, emu, extra)
    env = {**os.environ, "DISCORD_TOKEN": emu.token}
    # Index first (as an admin would), so the bot starts answering at once.
    subprocess.run([sys.executable, "-m", "dari", "index", "--config", str(config)], env=env,
                   check=True, capture_output=True)
    bot = subprocess.Popen([sys.executable, "-m", "dari", "serve", "--config", str(config)],
                           env=env,
                           stderr=open(base / f"{name}-bot.log", "wb"))  # noqa: SIM115 - the bot owns it
    try:
        await emu.wait_until(lambda: {"ask", "add-article"} <= {c["name"] for c in emu.registered_commands()},
                             180, "the bot process to sync its commands")
        await _until_answering(emu)
        admin = emu.add_user("admin", admin=True)
        started = time.monotonic()
        up = await emu.invoke_command(admin, "add-article", attachments={"file": upload})
        asks = []
        for i, question in enumerate(QUESTIONS):
            await asyncio.sleep(1.0)
            asks.append(await emu.invoke_command(emu.add_user(f"user{i}"), "ask", {"question": question}))
        await asyncio.gather(*(a.wait_done(timeout=240) for a in asks), return_exceptions=True)

        def final(i: Any) -> str:
            return i.visible_messages[-1]["content"] if i.visible_messages else ""

        await emu.wait_until(lambda: any(w in final(up) for w in ("not added", "indexed", "Saved")),
                             600, "the upload's final answer")
        beats = emu.gateway.heartbeat_times
        gaps = [b - a for a, b in zip(beats, beats[1:], strict=False)]
        return {
            "upload": {"file": upload[0], "bytes": len(upload[1]),
                       "ack_s": round(up.callback.at - up.created, 3) if up.callback else None,
                       "final_after_s": round(up.responses[-1].at - started, 1),
                       "answer": final(up)},
            "asks": [{"question": a_q, "ack_s": round(a.callback.at - a.created, 3) if a.callback else None,
                      "answered_s": round(a.responses[-1].at - a.created, 2) if a.responses else None,
                      "errors": [str(e) for e in a.errors], "answered": bool(a.embeds) or bool(a.content)}
                     for a, a_q in zip(asks, QUESTIONS, strict=False)],
            "heartbeats": len(emu.gateway.heartbeat_times),
            "max_heartbeat_gap_s": round(max(gaps), 2) if gaps else None,
        }
    finally:
        bot.terminate()
        try:
            bot.wait(30)
        except subprocess.TimeoutExpired:
            bot.kill()
        await emu.stop()


async def probe() -> dict[str, Any]:
    """Both phases; returns their figures."""
    base = Path(tempfile.mkdtemp(prefix="dari-probe-"))
    data = ("A file without breaks\n\n" + make_text("unbroken", 5 * 1024 * 1024)).encode()[:5 * 1024 * 1024]
    data = data.decode("utf-8", "ignore").encode()
    upload = ("breakless.txt", data)
    results = {
        "defaults": await _phase("defaults", "", upload, base),
        "accepted": await _phase(
            "accepted", "max_upload_kb = 8192\n[corpus]\nmax_paragraph_chars = 10000000\n"
                        "[index]\nmax_refresh_minutes = 2.0\n", upload, base),
    }
    shutil.rmtree(base, ignore_errors=True)
    return results


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(json.dumps(asyncio.run(probe()), indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
