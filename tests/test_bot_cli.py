"""`dari serve` / `dari sync-commands` without a token, and the CLI wiring of the bot commands."""

from __future__ import annotations

import pytest

from dari.cli import build_parser, main


def test_serve_without_token_says_how_to_set_it(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "DISCORD_TOKEN" in err and "export DISCORD_TOKEN=" in err and "dari sandbox" in err


def test_sync_commands_without_token(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "   ")  # blank counts as missing
    assert main(["sync-commands", "--corpus", "/nonexistent/dir"]) == 2  # needs no corpus
    assert "DISCORD_TOKEN" in capsys.readouterr().err


def test_bot_subcommands_registered() -> None:
    parser = build_parser()
    for name in ("serve", "sandbox", "sync-commands"):
        args = parser.parse_args([name])
        assert callable(args.func)


def test_sync_commands_registers_globally_on_the_emulator(tmp_path, monkeypatch, capsys) -> None:
    """`dari sync-commands` logs in, syncs the commands globally and to the guilds, exits."""
    import asyncio
    import threading

    from bot.api_base import reset_api_base
    from emulator.server import DiscordEmulator
    from tests.conftest import write_config

    loop = asyncio.new_event_loop()
    emu_box: dict = {}
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        emu = DiscordEmulator("sync-token")
        loop.run_until_complete(emu.start())
        emu_box["emu"] = emu
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(30)
    emu = emu_box["emu"]
    try:
        cfg = write_config(tmp_path / "config.toml", tmp_path / "articles", tmp_path / "data", None,
                           f'[discord]\napi_base = "{emu.api_base}"\nguild_ids = [{emu.guild_id}]\n')
        monkeypatch.setenv("DISCORD_TOKEN", "sync-token")
        assert main(["sync-commands", "--config", str(cfg)]) == 0
        out = capsys.readouterr().out
        assert out.startswith("synced 9 global commands: ") and "/add-article, /report" in out
        assert "“Ask Dari” (message menu)" in out
        global_names = {c["name"] for c in emu.state.commands.get(None, [])}
        guild_names = {c["name"] for c in emu.state.commands.get(emu.guild_id, [])}
        assert {"ask", "search", "source", "passage", "reindex", "status", "add-article", "report",
                "Ask Dari"} == global_names == guild_names
        # A wrong token is refused with a message, not a traceback.
        monkeypatch.setenv("DISCORD_TOKEN", "wrong")
        assert main(["sync-commands", "--config", str(cfg)]) == 2
        assert "refused the token" in capsys.readouterr().err
    finally:
        asyncio.run_coroutine_threadsafe(emu.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        reset_api_base()
