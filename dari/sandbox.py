"""`dari sandbox`: chat with the real bot through a local Discord emulator, in a terminal.

You are the member "you" (admin) in #general. ``/name args`` runs a slash command the
bot registered; any other line is a message mentioning the bot (it answers in a thread),
and later plain lines go to that thread as follow-ups. Each complete reply is printed as
text, buttons numbered (``[1 Full paragraph] [2 원문] [3 More] [4 👍] [5 👎]``): ``/click 4``
clicks one on the latest message that has buttons. ``/say text`` posts a message without
addressing the bot; ``/ask-message`` is the "Ask Dari" context menu on the latest message
someone (not the bot) posted here. When stdin is not a terminal, lines are read one at a
time and the program exits
at end of input, so it can be scripted::

    printf '/ask 한미일 군사협력의 한계는?\\n' | dari sandbox
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import discord

from bot.api_base import reset_api_base
from emulator.driver import DriverError, Interaction, custom_ids
from emulator.harness import settings_for, start_bot, stop_bot
from emulator.render import LOADING, render_message
from emulator.server import DiscordEmulator
from emulator.state import PUBLIC_THREAD, User
from settings.config import Settings

log = logging.getLogger(__name__)

MakeBot = Callable[[Settings], discord.Client]
TRUE_WORDS = {"true", "yes", "y", "1", "on"}
FALSE_WORDS = {"false", "no", "n", "0", "off"}
LOCAL_HELP = ("Sandbox: type a question to ask in #general (the bot answers in a thread; "
              "following lines go to that thread), /click N to click button N under the "
              "latest answer, /say text to post without asking the bot, /ask-message for "
              "\"Ask Dari\" on the latest message, /new to start over in #general, "
              "/help for commands, /quit or end of input to leave.")
CONTEXT_MENU = "Ask Dari"


def sandbox_locale() -> str:
    """"ko" when $LANG (or $LC_ALL) is Korean, else "en-US"."""
    lang = os.environ.get("LC_ALL") or os.environ.get("LANG") or ""
    return "ko" if lang.lower().startswith("ko") else "en-US"


class Sandbox:
    """The chat loop on top of a started emulator and bot."""

    def __init__(self, emu: DiscordEmulator, user: User, out: TextIO, *, reply_timeout: float,
                 quiet: float = 0.5) -> None:
        self.emu = emu
        self.user = user
        self.out = out
        self.reply_timeout = reply_timeout
        self.quiet = quiet
        self.general = emu.channel_id("general")
        self.thread_id: int | None = None
        self.printed: dict[str, str] = {}  # message id -> text as last printed
        self.shown_cursor = emu.cursor()
        # The latest printed message with buttons, and its buttons' custom ids (/click N).
        self.buttons_on: dict[str, Any] | None = None
        self.buttons: list[str] = []

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    # -- commands ----------------------------------------------------------------------

    def help_text(self) -> str:
        lines = [LOCAL_HELP, "Commands the bot registered:"]
        for cmd in self.emu.registered_commands():
            lines.append(f"  /{cmd['name']} — {cmd.get('description', '')}")
            for opt in cmd.get("options") or []:
                if opt["type"] in (1, 2):
                    subs = " ".join(f"{o['name']}:" for o in opt.get("options") or [])
                    lines.append(f"      {opt['name']} {subs}  {opt.get('description', '')}")
                    continue
                need = "" if opt.get("required") else " (optional)"
                kind = _type_name(opt["type"])
                if opt.get("choices"):
                    kind = "|".join(str(c["value"]) for c in opt["choices"])
                lines.append(f"      {opt['name']}:<{kind}>{need}  {opt.get('description', '')}")
        return "\n".join(lines)

    def parse_command(self, line: str) -> tuple[str, str | None, dict[str, Any]]:
        """``/name [sub] key:value …`` or ``/name free text`` → (name, subcommand, options)."""
        name, _, rest = line[1:].strip().partition(" ")
        cmd = self.emu.command(name)
        schema = cmd.get("options") or []
        subcommand: str | None = None
        rest = rest.strip()
        parts: list[str] = []
        while any(o["type"] in (1, 2) for o in schema):
            word, _, rest = rest.partition(" ")
            found = next((o for o in schema if o["name"] == word and o["type"] in (1, 2)), None)
            if found is None:
                subs = [o["name"] for o in schema if o["type"] in (1, 2)]
                raise DriverError(f"/{'/'.join([name, *parts])} needs a subcommand: {', '.join(subs)}")
            parts.append(word)
            schema = found.get("options") or []
            rest = rest.strip()
        if parts:
            subcommand = " ".join(parts)
        by_name = {o["name"]: o for o in schema}
        raw: dict[str, str] = {}
        if rest:
            keys = "|".join(re.escape(k) for k in sorted(by_name, key=len, reverse=True))
            marks = list(re.finditer(rf"(?:^|\s)({keys}):", rest)) if keys else []
            if marks and marks[0].start() == 0:
                for i, m in enumerate(marks):
                    end = marks[i + 1].start() if i + 1 < len(marks) else len(rest)
                    raw[m.group(1)] = rest[m.end():end].strip()
            else:
                strings = [o for o in schema if o["type"] == 3]
                target = next((o for o in strings if o.get("required")), strings[0] if strings else None)
                if target is None and len(schema) == 1:
                    target = schema[0]  # e.g. "/progress 3" for a single integer option
                if target is None:
                    raise DriverError(f"/{name} takes no text; use key:value (options: {sorted(by_name)})")
                raw[target["name"]] = rest
        return name, subcommand, {k: self._convert(name, by_name[k], v) for k, v in raw.items()}

    def _convert(self, cmd: str, opt: dict[str, Any], text: str) -> Any:
        kind, key = opt["type"], opt["name"]
        try:
            if kind == 4:
                return int(text)
            if kind == 10:
                return float(text)
        except ValueError:
            raise DriverError(f"/{cmd} {key}: {text!r} is not a {_type_name(kind)}") from None
        if kind == 5:
            if text.lower() in TRUE_WORDS | FALSE_WORDS:
                return text.lower() in TRUE_WORDS
            raise DriverError(f"/{cmd} {key}: {text!r} is not true/false")
        if kind == 11:
            path = Path(text).expanduser()
            if not path.is_file():
                raise DriverError(f"/{cmd} {key}: no such file {text!r}")
            return (path.name, path.read_bytes())
        if kind == 7:
            return self.emu.channel_id(text.lstrip("#"))
        if kind in (6, 9):
            for user in self.emu.state.users.values():
                if user.name == text.lstrip("@"):
                    return user
            raise DriverError(f"/{cmd} {key}: no member named {text!r}")
        return text

    # -- waiting and printing --------------------------------------------------------------

    def _bot_messages_since(self, cursor: int) -> list[dict[str, Any]]:
        """Final state of every bot message created or edited after ``cursor``, in order."""
        latest: dict[str, dict[str, Any]] = {}
        bot_id = str(self.emu.state.bot.id)
        for kind, message in self.emu.message_events[cursor:]:
            if message["author"]["id"] != bot_id:
                continue
            if kind == "delete":
                latest.pop(message["id"], None)
            else:
                latest[message["id"]] = message
        return list(latest.values())

    async def settle(self, cursor: int, done: Callable[[], bool], timeout: float | None = None) -> bool:
        """Wait for ``done()`` and then ``quiet`` seconds without bot activity; False on timeout."""
        timeout = self.reply_timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            await self.emu.wait_until(done, timeout, "the bot's reply")
        except TimeoutError:
            return False
        while True:
            try:
                await self._wait_for_event(len(self.emu.message_events))
            except TimeoutError:
                if not any(m["flags"] & LOADING for m in self._bot_messages_since(cursor)):
                    return True
            if loop.time() > deadline:
                return False

    async def _wait_for_event(self, count: int) -> None:
        """Until a message event past ``count`` (raises TimeoutError after ``quiet`` s)."""
        await self.emu.wait_until(lambda: len(self.emu.message_events) != count, self.quiet, "")

    def show(self, cursor: int) -> None:
        """Print bot messages changed since ``cursor`` (final state; each version once)."""
        for message in self._bot_messages_since(cursor):
            channel = self.emu.state.channels.get(int(message["channel_id"]), {})
            thread = channel.get("name") if channel.get("type") == PUBLIC_THREAD else None
            ids = custom_ids(message.get("components") or [])
            numbers = {cid: i for i, cid in enumerate(ids, 1)}
            text = render_message(message, thread_name=thread, author=True, numbers=numbers)
            before = self.printed.get(message["id"])
            if before == text:
                continue
            self.printed[message["id"]] = text
            if before is not None:
                text = "(edited) " + text
            if ids:
                self.buttons_on, self.buttons = message, ids
            elif self.buttons_on is not None and self.buttons_on["id"] == message["id"]:
                self.buttons_on, self.buttons = None, []
            self.say(text)
            self.say("")
        self.shown_cursor = self.emu.cursor()

    def show_updates(self) -> None:
        """Print what the bot changed since the last reply was printed (late edits)."""
        self.show(self.shown_cursor)

    async def finish(self, linger: float = 2.0) -> None:
        """At end of input: wait until the bot has been idle for ``linger`` seconds (bounded
        by ``reply_timeout``) and print late edits, e.g. the last state of a progress reply."""
        quiet, self.quiet = self.quiet, max(self.quiet, linger)
        try:
            await self.settle(self.shown_cursor, lambda: True)
        finally:
            self.quiet = quiet
        self.show_updates()

    def _schema(self, name: str, subcommand: str | None) -> dict[str, dict[str, Any]]:
        schema = self.emu.command(name).get("options") or []
        for part in (subcommand or "").split():
            schema = next(o for o in schema if o["name"] == part).get("options") or []
        return {o["name"]: o for o in schema}

    async def _autocomplete(self, name: str, subcommand: str | None, plain: dict[str, Any],
                            channel: int) -> None:
        """Like a user picking from the suggestions: typed text in an autocomplete option
        becomes the bot's first suggestion, unless it already is one of the values."""
        for key, opt in self._schema(name, subcommand).items():
            typed = plain.get(key)
            if not opt.get("autocomplete") or not isinstance(typed, str):
                continue
            others = {k: v for k, v in plain.items() if k != key}
            choices = await self.emu.autocomplete(self.user, name, key, typed, other_options=others,
                                                  channel_id=channel, subcommand=subcommand,
                                                  timeout=self.reply_timeout)
            if not choices or any(str(c["value"]) == typed for c in choices):
                continue
            plain[key] = choices[0]["value"]
            self.say(f"({key}: picked “{choices[0]['name']}” from {len(choices)} suggestion(s))")

    async def run_command(self, line: str) -> None:
        name, subcommand, options = self.parse_command(line)
        attachments = {k: v for k, v in options.items() if isinstance(v, tuple)}
        plain = {k: v for k, v in options.items() if k not in attachments}
        await self._autocomplete(name, subcommand, plain, self.thread_id or self.general)
        channel = self.thread_id or self.general
        cursor = self.emu.cursor()
        inter = await self.emu.invoke_command(self.user, name, plain, channel_id=channel,
                                              subcommand=subcommand, attachments=attachments)
        await self._finish(inter, cursor)

    async def click(self, arg: str) -> None:
        """``/click N``: click button N of the latest message with buttons."""
        if self.buttons_on is None or not self.buttons:
            raise DriverError("no message with buttons yet; ask a question first")
        if not arg.strip().isdigit() or not 1 <= int(arg) <= len(self.buttons):
            raise DriverError(f"/click takes a button number from 1 to {len(self.buttons)}")
        cursor = self.emu.cursor()
        inter = await self.emu.click(self.user, self.buttons_on, self.buttons[int(arg) - 1])
        await self._finish(inter, cursor)

    async def say_plain(self, text: str) -> None:
        """``/say text``: post in the current place without addressing the bot."""
        if not text.strip():
            raise DriverError("/say needs some text")
        channel = self.thread_id or self.general
        await self.emu.send_message(channel, self.user, text)
        self.say(f"(posted in {'the thread' if self.thread_id else '#general'}; "
                 "/ask-message asks Dari about it)")

    async def ask_message(self) -> None:
        """``/ask-message``: "Ask Dari" on the latest message a person posted here."""
        channel = self.thread_id or self.general
        bot_id = str(self.emu.state.bot.id)
        people = [m for m in self.emu.messages(channel) if m["author"]["id"] != bot_id]
        if not people:
            raise DriverError("no message here to ask about; post one with /say first")
        cursor = self.emu.cursor()
        inter = await self.emu.invoke_message_command(self.user, CONTEXT_MENU, people[-1])
        await self._finish(inter, cursor)

    async def _finish(self, inter: Interaction, cursor: int) -> None:
        try:
            await inter.wait_done(timeout=self.reply_timeout, quiet=self.quiet)
        except TimeoutError as exc:
            self.show(cursor)
            self.say(f"(no complete reply: {exc})")
            return
        self.show(cursor)

    async def run_message(self, text: str) -> None:
        cursor = self.emu.cursor()
        if self.thread_id is None:
            sent = await self.emu.send_message(self.general, self.user, text, mentions_bot=True)
        else:
            sent = await self.emu.send_message(self.thread_id, self.user, text)
        bot_id = str(self.emu.state.bot.id)
        ok = await self.settle(cursor, lambda: any(
            m["author"]["id"] == bot_id for _, m in self.emu.message_events[cursor:]))
        if self.thread_id is None and int(sent["id"]) in self.emu.state.channels:
            self.thread_id = int(sent["id"])  # the bot opened a thread on the question
        self.show(cursor)
        if not ok:
            self.say(f"(no reply from the bot within {self.reply_timeout:.0f}s)")

    async def handle(self, line: str) -> bool:
        """Process one input line; False means quit."""
        self.show_updates()
        line = line.strip()
        if not line:
            return True
        if line in ("/quit", "/exit"):
            return False
        if line == "/help":
            self.say(self.help_text())
            return True
        if line == "/new":
            self.thread_id = None
            self.say("(back in #general)")
            return True
        word, _, rest = line.partition(" ")
        try:
            if word == "/click":
                await self.click(rest)
            elif word == "/say":
                await self.say_plain(rest)
            elif word == "/ask-message":
                await self.ask_message()
            elif line.startswith("/"):
                await self.run_command(line)
            else:
                await self.run_message(line)
        except DriverError as exc:
            self.say(f"error: {exc}")
        return True


def _type_name(kind: int) -> str:
    return {3: "text", 4: "integer", 5: "true/false", 6: "member", 7: "#channel", 8: "role",
            9: "member", 10: "number", 11: "file path"}.get(kind, str(kind))


async def _read_line(stdin: TextIO, interactive: bool, prompt: str) -> str | None:
    """One line (without newline), or None at end of input.

    Read in a daemon thread, not the loop's executor: a Ctrl-C while waiting at the prompt
    must not leave ``asyncio.run`` waiting for a thread blocked in ``input()``.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str | None] = loop.create_future()

    def read() -> None:
        try:
            if interactive:
                line: str | None = input(prompt)
            else:
                raw = stdin.readline()
                line = None if raw == "" else raw.rstrip("\n")
        except EOFError:
            line = None
        except BaseException as exc:  # noqa: BLE001 - handed to the loop
            loop.call_soon_threadsafe(_set_exception, future, exc)
            return
        loop.call_soon_threadsafe(_set_result, future, line)

    threading.Thread(target=read, name="sandbox-input", daemon=True).start()
    return await future


def _set_result(future: asyncio.Future[str | None], value: str | None) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future[str | None], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


async def run_sandbox(settings: Settings, make_bot: MakeBot, *, stdin: TextIO = sys.stdin,
                      stdout: TextIO = sys.stdout, reply_timeout: float = 180.0,
                      start_timeout: float = 600.0, quiet: float = 0.5) -> int:
    """Start the emulator and the bot from ``make_bot(settings pointed at it)``, then chat.

    A reply is printed once complete and followed by ``quiet`` seconds without change.
    Returns 0 at end of input or /quit, 1 if the bot could not start.
    """
    interactive = stdin.isatty() and stdout.isatty()
    history = settings.data_dir / "sandbox_history" if interactive else None
    if history is not None:
        _load_history(history)
    quieted = _quiet_library_logs()
    emu = DiscordEmulator("sandbox-" + os.urandom(8).hex())
    await emu.start()
    task: asyncio.Task[None] | None = None
    bot: discord.Client | None = None
    try:
        client_log = logging.getLogger("discord.client")
        level = client_log.level
        if quieted:
            client_log.setLevel(logging.ERROR)  # "PyNaCl is not installed": no voice here anyway
        try:
            bot = make_bot(settings_for(emu, settings))
        finally:
            client_log.setLevel(level)
        try:
            task = await start_bot(emu, bot, timeout=start_timeout)
        except (RuntimeError, TimeoutError) as exc:
            print(f"dari sandbox: the bot did not start: {exc}", file=sys.stderr)
            return 1
        user = emu.add_user("you", admin=True, locale=sandbox_locale())
        chat = Sandbox(emu, user, stdout, reply_timeout=reply_timeout, quiet=quiet)
        if interactive:
            chat.say(f"Dari sandbox — local Discord at {emu.base_url}; you are 'you' (admin, "
                     f"locale {user.locale}) in #general.\n{LOCAL_HELP}")
        while True:
            where = "#general" if chat.thread_id is None else "thread"
            line = await _read_line(stdin, interactive, f"you ({where})> ")
            if line is None or not await chat.handle(line):
                await chat.finish()
                return 0
    finally:
        if bot is not None and task is not None:
            await stop_bot(bot, task)
        await emu.stop()
        reset_api_base()
        for name, level in quieted.items():
            logging.getLogger(name).setLevel(level)
        if history is not None:
            _save_history(history)


def _load_history(path: Path) -> None:
    """Line editing for input(), with the previous sessions' lines (Up arrow)."""
    try:
        import readline
    except ImportError:  # pragma: no cover - not on every platform
        return
    with contextlib.suppress(OSError):  # first session, or unreadable: start empty
        readline.read_history_file(path)
    readline.set_history_length(1000)


def _save_history(path: Path) -> None:
    try:
        import readline

        path.parent.mkdir(parents=True, exist_ok=True)
        readline.write_history_file(path)
    except (ImportError, OSError) as exc:
        log.debug("sandbox history not saved: %s", exc)


def _quiet_library_logs() -> dict[str, int]:
    """Keep discord.py's and the emulator's INFO lines out of the chat (unless debugging)."""
    if logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
        return {}
    saved = {}
    for name in ("discord", "emulator"):
        logger = logging.getLogger(name)
        saved[name] = logger.level
        logger.setLevel(logging.WARNING)
    return saved
