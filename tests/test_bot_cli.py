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
