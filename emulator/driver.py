"""The user side of the emulator: people who post messages and run slash commands.

Mixed into :class:`emulator.server.DiscordEmulator`, so tests and the sandbox write
``await emu.invoke_command(user, "ask", {"question": "…"})``. Slash commands are built
from the schema the bot *registered* (a command the bot did not sync, an unknown option
or a value of the wrong type fails here, with a message naming it). Every wait is bounded
by a timeout and wakes on state changes, never on fixed sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from emulator.base import EmulatorBase
from emulator.state import EPHEMERAL, LOADING, PUBLIC_THREAD, Role, User

Files = Mapping[str, tuple[str, bytes]] | None
OptionWrapper = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]

OPTION_TYPES = {1: "subcommand", 2: "subcommand group", 3: "string", 4: "integer", 5: "boolean",
                6: "user", 7: "channel", 8: "role", 9: "mentionable", 10: "number", 11: "attachment"}


class DriverError(AssertionError):
    """The test asked for something the bot never registered, or gave a wrong value."""


@dataclass
class ResponseEvent:
    """One thing the bot did to answer an interaction, in order."""

    kind: str  # "callback" | "followup" | "edit" | "followup_edit" | "delete"
    type: int | None  # callback type for "callback" (4 message, 5 deferred, 8 choices, …)
    data: dict[str, Any]
    files: list[tuple[str, bytes]]
    message: dict[str, Any] | None  # snapshot of the affected message after the change
    at: float


class Interaction:
    """An interaction the driver created and everything the bot answered to it."""

    def __init__(self, emu: DriverMixin, *, type: int, user: User, channel_id: int,
                 name: str | None, payload_builder: Callable[[Interaction], dict[str, Any]]) -> None:
        self.emu = emu
        self.id = emu.state.ids.next()
        self.token = "itk_" + secrets.token_urlsafe(24)
        self.type = type
        self.user = user
        self.channel_id = channel_id
        self.name = name
        self.created = time.monotonic()
        self.responses: list[ResponseEvent] = []
        self.original: dict[str, Any] | None = None
        self.followups: list[dict[str, Any]] = []
        self.target_message: dict[str, Any] | None = None
        self.errors: list[str] = []
        self.payload = payload_builder(self)

    def __repr__(self) -> str:
        return (f"<Interaction {self.name or self.type} by {self.user.name}: "
                f"{[(e.kind, e.type) for e in self.responses]}>")

    def _record(self, kind: str, rtype: int | None, data: dict[str, Any],
                files: list[tuple[str, bytes]], message: dict[str, Any] | None) -> None:
        self.responses.append(ResponseEvent(kind, rtype, copy.deepcopy(data), list(files),
                                            copy.deepcopy(message), time.monotonic()))

    # -- what the bot answered -----------------------------------------------------------

    @property
    def acknowledged(self) -> bool:
        return any(e.kind == "callback" for e in self.responses)

    @property
    def callback_type(self) -> int | None:
        """4 message, 5 deferred message, 6 deferred update, 7 update, 8 choices, 9 modal."""
        for e in self.responses:
            if e.kind == "callback":
                return e.type
        return None

    @property
    def callback(self) -> ResponseEvent | None:
        return next((e for e in self.responses if e.kind == "callback"), None)

    @property
    def deferred(self) -> bool:
        return self.callback_type in (5, 6)

    @property
    def message(self) -> dict[str, Any] | None:
        """The answer as the user sees it now (after every edit): the original response,
        or the first follow-up if the original was deleted. ``original`` is always the former."""
        visible = self.visible_messages
        return visible[0] if visible else None

    @property
    def ephemeral(self) -> bool:
        return bool(self.message and self.message["flags"] & EPHEMERAL)

    @property
    def content(self) -> str:
        return (self.message or {}).get("content") or ""

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return (self.message or {}).get("embeds") or []

    @property
    def edits(self) -> list[ResponseEvent]:
        """Edits of the original response, in order (progress updates show up here)."""
        return [e for e in self.responses if e.kind == "edit"
                or (e.kind == "followup" and e.message is not None and self.original is not None
                    and e.message["id"] == self.original["id"])]

    @property
    def visible_messages(self) -> list[dict[str, Any]]:
        """Original response and follow-ups, current state, in order (deleted ones left out)."""
        out = [self.original] if self.original is not None else []
        out += self.followups
        return [m for m in out if not m.get("deleted")]

    @property
    def choices(self) -> list[dict[str, Any]] | None:
        """Autocomplete choices (callback type 8), or None before the bot answered."""
        cb = self.callback
        if cb is None or cb.type != 8:
            return None
        return list(cb.data.get("choices") or [])

    @property
    def modal(self) -> dict[str, Any] | None:
        cb = self.callback
        return cb.data if cb is not None and cb.type == 9 else None

    def is_complete(self) -> bool:
        """True once the user sees a real answer (a deferral alone is not one)."""
        cb = self.callback_type
        if cb is None:
            return False
        if cb in (5, 6):
            first = next(i for i, e in enumerate(self.responses) if e.kind == "callback")
            return any(e.kind in ("edit", "followup", "delete") for e in self.responses[first + 1:])
        return True

    def _describe(self) -> str:
        seen = ", ".join(f"{e.kind}{'' if e.type is None else f'({e.type})'}" for e in self.responses)
        errs = f"; emulator errors: {self.errors}" if self.errors else ""
        return f"/{self.name or self.type} by {self.user.name}: saw [{seen or 'nothing'}]{errs}"

    async def wait_done(self, timeout: float = 15.0, quiet: float = 0.5) -> Interaction:
        """Wait until the answer is complete and nothing changed for ``quiet`` seconds.

        Raises ``TimeoutError`` naming what was received if that does not happen in ``timeout``.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        await self.emu.wait_until(self.is_complete, timeout,
                                  lambda: f"a complete answer to {self._describe()}")
        while True:
            last = self.responses[-1].at if self.responses else self.created
            idle = time.monotonic() - last
            if idle >= quiet:
                return self
            remaining = deadline - loop.time()
            if remaining <= 0:
                return self  # still being edited at the deadline: return what there is
            await self._wait_for_change(len(self.responses), min(quiet - idle, remaining))

    async def _wait_for_change(self, count: int, timeout: float) -> None:
        """Until the bot responds again (more than ``count`` responses), at most ``timeout``."""
        with contextlib.suppress(TimeoutError):
            await self.emu.wait_until(lambda: len(self.responses) != count, timeout, "")

    async def wait_for(self, predicate: Callable[[Interaction], Any], timeout: float = 15.0,
                       what: str = "a condition") -> Any:
        """Wait until ``predicate(self)`` is truthy (e.g. an edit showing progress)."""
        return await self.emu.wait_until(lambda: predicate(self), timeout,
                                         lambda: f"{what} on {self._describe()}")


class DriverMixin(EmulatorBase):
    """User-side actions and waits; mixed into the emulator."""

    def __init__(self) -> None:
        self.message_events: list[tuple[str, dict[str, Any]]] = []
        self._action_cursor = 0
        # Gateway events for members/roles added after the bot connected; sent before the
        # next user action so the bot's cache knows them (add_user/add_role are not async).
        self._pending_events: list[tuple[str, dict[str, Any]]] = []

    async def flush(self) -> None:
        """Send pending GUILD_ROLE_CREATE / GUILD_MEMBER_ADD events (driver actions do this)."""
        while self._pending_events:
            event, data = self._pending_events.pop(0)
            await self.gateway.dispatch(event, data)

    # -- people and places ------------------------------------------------------------------

    def add_user(self, name: str, *, admin: bool = False, locale: str = "en-US",
                 roles: list[int] | None = None) -> User:
        """A guild member; ``admin`` gives the Admin role (Manage Guild permission)."""
        user = self.state.add_user(name, admin=admin, locale=locale, roles=roles)
        if self.gateway.sessions:
            for gid in self.state.guild_names:  # members are in every guild
                self._pending_events.append(("GUILD_MEMBER_ADD", self.state.member_payload(user)
                                             | {"guild_id": str(gid)}))
        return user

    def add_guild(self, name: str, *,
                  shard: tuple[int, int] | None = None) -> int:
        """A further guild (with #general) before the bot connects; ``shard=(id, count)``
        gives it an id Discord routes to that shard. Returns the guild id."""
        if self.gateway.sessions:
            raise DriverError("add guilds before the bot connects (no GUILD_CREATE is sent later)")
        return self.state.add_guild(name, shard=shard)

    def add_role(self, name: str, permissions: int = 0) -> Role:
        """A role with the given permission bits (0: none), e.g. for configured admin role ids."""
        role = self.state.add_role(name, permissions)
        if self.gateway.sessions:
            self._pending_events.append(("GUILD_ROLE_CREATE", {"guild_id": str(self.state.guild_id),
                                                               "role": role.payload()}))
        return role

    @property
    def bot_user(self) -> User:
        return self.state.bot

    @property
    def guild_id(self) -> int:
        return self.state.guild_id

    @property
    def admin_role_id(self) -> int:
        return self.state.admin_role.id

    def channel_id(self, name: str = "general", guild_id: int | None = None) -> int:
        """Id of a text channel by name (#general, #questions, #random exist in the first guild)."""
        return self.state.channel_by_name(name, guild_id)

    @property
    def threads(self) -> list[dict[str, Any]]:
        """Every thread (channel type 11) created so far, in creation order."""
        return [c for c in self.state.channels.values() if c["type"] == PUBLIC_THREAD]

    def messages(self, channel_id: int) -> list[dict[str, Any]]:
        """Messages in a channel or thread, oldest first (ephemeral ones are not in channels)."""
        return list(self.state.messages.get(channel_id, []))

    def registered_commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        """A guild's commands (the first guild's by default) then global ones, as synced."""
        gid = guild_id or self.state.guild_id
        return list(self.state.commands.get(gid, [])) + list(self.state.commands.get(None, []))

    def command(self, name: str, guild_id: int | None = None) -> dict[str, Any]:
        for cmd in self.registered_commands(guild_id):
            if cmd["name"] == name and cmd.get("type", 1) == 1:
                return cmd
        have = sorted(c["name"] for c in self.registered_commands(guild_id))
        raise DriverError(f"the bot has not registered a slash command /{name} (registered: {have})")

    def context_command(self, name: str, kind: int = 3,
                        guild_id: int | None = None) -> dict[str, Any]:
        """A registered context-menu command (``kind`` 3: message, 2: user) by its name or
        one of its localised names."""
        for cmd in self.registered_commands(guild_id):
            names = {cmd["name"], *(cmd.get("name_localizations") or {}).values()}
            if cmd.get("type", 1) == kind and name in names:
                return cmd
        have = sorted(c["name"] for c in self.registered_commands(guild_id) if c.get("type", 1) == kind)
        raise DriverError(f"the bot has not registered a context menu {name!r} (registered: {have})")

    def cursor(self) -> int:
        """Position in the bot-message log; pass as ``after=`` to wait for newer messages."""
        return len(self.message_events)

    # -- waiting --------------------------------------------------------------------------

    def _log_message(self, kind: str, message: dict[str, Any]) -> None:
        self.message_events.append((kind, copy.deepcopy(message)))
        self._notify()

    async def wait_until(self, predicate: Callable[[], Any], timeout: float,
                         what: str | Callable[[], str] = "a condition") -> Any:
        """Return ``predicate()`` once truthy; re-checked whenever emulator state changes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                described = what() if callable(what) else what
                raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {described}")
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    async def wait_for_message(self,
                               predicate: Callable[[dict[str, Any]], Any] | None = None,
                               timeout: float = 15.0, *, after: int | None = None,
                               channel_id: int | None = None) -> dict[str, Any]:
        """The first bot message (created or edited) after ``after`` matching ``predicate``.

        ``after`` defaults to the log position when the last driver action (send_message,
        invoke_command, click) started, so a reply that came quickly is not missed.
        Returns a snapshot of the message as it was at that create/edit.
        """
        start = self._action_cursor if after is None else after
        bot_id = str(self.state.bot.id)

        def find() -> dict[str, Any] | None:
            for kind, message in self.message_events[start:]:
                if kind == "delete" or message["author"]["id"] != bot_id:
                    continue
                if channel_id is not None and int(message["channel_id"]) != channel_id:
                    continue
                if predicate is None or predicate(message):
                    return message
            return None

        where = f" in channel {channel_id}" if channel_id is not None else ""
        return await self.wait_until(find, timeout, f"a bot message{where} matching the predicate")

    # -- actions --------------------------------------------------------------------------

    async def send_message(self, channel_id: int, user: User, content: str, *,
                           mentions_bot: bool = False,
                           attachments: list[tuple[str, bytes]] | None = None) -> dict[str, Any]:
        """``user`` posts ``content`` in a channel or thread (MESSAGE_CREATE to the bot)."""
        if channel_id not in self.state.channels:
            raise DriverError(f"unknown channel id {channel_id}")
        await self.flush()
        self._action_cursor = self.cursor()
        if mentions_bot and self.state.bot.mention not in content:
            content = f"{self.state.bot.mention} {content}"
        atts = [self.state.add_attachment(channel_id, name, data) for name, data in attachments or []]
        message = self.state.message_payload(channel_id, user, {"content": content}, attachments=atts)
        await self._store_and_dispatch(message)
        return message

    def _resolve_subcommand(self, cmd: dict[str, Any], subcommand: str | None
                            ) -> tuple[list[dict[str, Any]], OptionWrapper]:
        """Option schema of the (sub)command and a function wrapping values into the tree."""
        schema = cmd.get("options") or []
        if not subcommand:
            if any(o["type"] in (1, 2) for o in schema):
                raise DriverError(f"/{cmd['name']} has subcommands; pass subcommand=")
            return schema, lambda opts: opts
        wrap_path: list[dict[str, Any]] = []
        for part in subcommand.split():
            found = next((o for o in schema if o["name"] == part and o["type"] in (1, 2)), None)
            if found is None:
                raise DriverError(f"/{cmd['name']} has no subcommand {part!r}")
            wrap_path.append(found)
            schema = found.get("options") or []

        def wrap(opts: list[dict[str, Any]]) -> list[dict[str, Any]]:
            for node in reversed(wrap_path):
                opts = [{"name": node["name"], "type": node["type"], "options": opts}]
            return opts

        return schema, wrap

    def _option_value(self, cmd: str, opt: dict[str, Any], value: Any,
                      channel_id: int, resolved: dict[str, dict[str, Any]]) -> Any:
        kind, name = opt["type"], opt["name"]
        what = f"/{cmd} option {name!r} ({OPTION_TYPES.get(kind, kind)})"
        if kind == 3:
            if not isinstance(value, str):
                raise DriverError(f"{what} needs a str, got {value!r}")
            if "min_length" in opt and len(value) < opt["min_length"]:
                raise DriverError(f"{what} must be at least {opt['min_length']} characters")
            if "max_length" in opt and len(value) > opt["max_length"]:
                raise DriverError(f"{what} must be at most {opt['max_length']} characters")
        elif kind == 4:
            if isinstance(value, bool) or not isinstance(value, int):
                raise DriverError(f"{what} needs an int, got {value!r}")
        elif kind == 10:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise DriverError(f"{what} needs a number, got {value!r}")
        elif kind == 5:
            if not isinstance(value, bool):
                raise DriverError(f"{what} needs a bool, got {value!r}")
        elif kind in (6, 9) and isinstance(value, User):
            resolved.setdefault("users", {})[str(value.id)] = value.payload()
            resolved.setdefault("members", {})[str(value.id)] = self.state.member_payload(
                value, with_user=False, with_permissions=True)
            return str(value.id)
        elif kind in (8, 9) and isinstance(value, Role):
            resolved.setdefault("roles", {})[str(value.id)] = value.payload()
            return str(value.id)
        elif kind == 7:
            cid = int(value)
            if cid not in self.state.channels:
                raise DriverError(f"{what}: unknown channel {value!r}")
            ch = self.state.channels[cid]
            resolved.setdefault("channels", {})[str(cid)] = {
                k: ch[k] for k in ("id", "type", "name", "parent_id", "thread_metadata") if k in ch
            } | {"permissions": str((1 << 53) - 1)}
            return str(cid)
        elif kind == 11:
            if not (isinstance(value, tuple) and len(value) == 2
                    and isinstance(value[1], (bytes, bytearray))):
                raise DriverError(f"{what} needs (filename, bytes), got {type(value).__name__}")
            att = self.state.add_attachment(channel_id, value[0], bytes(value[1]))
            resolved.setdefault("attachments", {})[str(att.id)] = att.payload()
            return str(att.id)
        else:
            raise DriverError(f"{what}: value {value!r} not supported by the driver")
        choices = opt.get("choices")
        if choices and value not in [c["value"] for c in choices]:
            raise DriverError(f"{what}: {value!r} is not one of the choices "
                              f"{[c['value'] for c in choices]}")
        if kind in (4, 10):
            if "min_value" in opt and value < opt["min_value"]:
                raise DriverError(f"{what}: {value} is below min_value {opt['min_value']}")
            if "max_value" in opt and value > opt["max_value"]:
                raise DriverError(f"{what}: {value} is above max_value {opt['max_value']}")
        return value

    def _build_options(self, cmd: dict[str, Any], options: Mapping[str, Any],
                       channel_id: int, subcommand: str | None, *, focused: str | None = None,
                       partial: str = "") -> tuple[list[dict[str, Any]], dict[str, Any]]:
        schema, wrap = self._resolve_subcommand(cmd, subcommand)
        by_name = {o["name"]: o for o in schema}
        resolved: dict[str, dict[str, Any]] = {}
        out: list[dict[str, Any]] = []
        for key, value in options.items():
            opt = by_name.get(key)
            if opt is None:
                raise DriverError(f"/{cmd['name']} has no option {key!r} (options: {sorted(by_name)})")
            if key == focused:
                continue
            out.append({"name": key, "type": opt["type"],
                        "value": self._option_value(cmd["name"], opt, value, channel_id, resolved)})
        if focused is not None:
            opt = by_name.get(focused)
            if opt is None:
                raise DriverError(f"/{cmd['name']} has no option {focused!r} (options: {sorted(by_name)})")
            if not opt.get("autocomplete"):
                raise DriverError(f"/{cmd['name']} option {focused!r} has no autocomplete")
            out.append({"name": focused, "type": opt["type"], "value": partial, "focused": True})
        else:
            missing = [o["name"] for o in schema if o.get("required") and o["name"] not in options]
            if missing:
                raise DriverError(f"/{cmd['name']}: missing required option(s) {missing}")
        return wrap(out), resolved

    def _interaction_payload(self, inter: Interaction, data: dict[str, Any],
                             locale: str, message: dict[str, Any] | None = None) -> dict[str, Any]:
        state = self.state
        channel = state.channels[inter.channel_id]
        gid = state.guild_of(inter.channel_id)
        payload = {
            "id": str(inter.id),
            "application_id": str(state.application_id),
            "type": inter.type,
            "token": inter.token,
            "version": 1,
            "guild_id": str(gid),
            "guild": {"id": str(gid), "locale": "en-US", "features": []},
            "channel_id": str(inter.channel_id),
            "channel": copy.deepcopy(channel),
            "member": state.member_payload(inter.user, with_permissions=True),
            "locale": locale,
            "guild_locale": "en-US",
            "data": data,
            "app_permissions": str(state.permissions_of(state.bot)),
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(gid)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if message is not None:
            payload["message"] = copy.deepcopy(message)
        return payload

    async def _start_interaction(self, inter: Interaction) -> Interaction:
        await self.flush()
        self.interactions[inter.id] = inter
        inter.created = time.monotonic()
        await self.gateway.dispatch("INTERACTION_CREATE", copy.deepcopy(inter.payload))
        return inter

    async def invoke_command(self, user: User, name: str,
                             options: Mapping[str, Any] | None = None, *, channel_id: int | None = None,
                             locale: str | None = None, subcommand: str | None = None,
                             attachments: Files = None) -> Interaction:
        """``user`` runs ``/name`` with ``options`` (INTERACTION_CREATE type 2).

        ``attachments`` maps attachment option names to ``(filename, bytes)``. ``locale``
        defaults to the user's. Returns at once; await ``interaction.wait_done()``.
        """
        cid = channel_id if channel_id is not None else self.channel_id("general")
        if cid not in self.state.channels:
            raise DriverError(f"unknown channel id {cid}")
        cmd = self.command(name, self.state.guild_of(cid))
        values = dict(options or {})
        values.update(attachments or {})
        self._action_cursor = self.cursor()

        def build(inter: Interaction) -> dict[str, Any]:
            opts, resolved = self._build_options(cmd, values, cid, subcommand)
            data: dict[str, Any] = {"id": cmd["id"], "name": name, "type": 1, "options": opts}
            if resolved:
                data["resolved"] = resolved
            if "guild_id" in cmd:
                data["guild_id"] = cmd["guild_id"]
            return self._interaction_payload(inter, data, locale or user.locale)

        inter = Interaction(self, type=2, user=user, channel_id=cid, name=name, payload_builder=build)
        return await self._start_interaction(inter)

    async def autocomplete(self, user: User, name: str, option: str, partial: str, *,
                           other_options: Mapping[str, Any] | None = None, channel_id: int | None = None,
                           locale: str | None = None, subcommand: str | None = None,
                           timeout: float = 10.0) -> list[dict[str, Any]]:
        """``user`` types ``partial`` into ``option`` of ``/name``; returns the bot's choices."""
        cid = channel_id if channel_id is not None else self.channel_id("general")
        cmd = self.command(name)
        values = dict(other_options or {})

        def build(inter: Interaction) -> dict[str, Any]:
            opts, resolved = self._build_options(cmd, values, cid, subcommand, focused=option,
                                                 partial=partial)
            data: dict[str, Any] = {"id": cmd["id"], "name": name, "type": 1, "options": opts}
            if resolved:
                data["resolved"] = resolved
            if "guild_id" in cmd:
                data["guild_id"] = cmd["guild_id"]
            return self._interaction_payload(inter, data, locale or user.locale)

        inter = Interaction(self, type=4, user=user, channel_id=cid, name=name, payload_builder=build)
        await self._start_interaction(inter)
        await self.wait_until(lambda: inter.acknowledged, timeout,
                              f"autocomplete choices for /{name} {option}={partial!r}")
        if inter.choices is None:
            raise DriverError(f"autocomplete for /{name} answered with callback type {inter.callback_type}")
        return inter.choices

    async def invoke_message_command(self, user: User, name: str,
                                     message: dict[str, Any], *,
                                     locale: str | None = None) -> Interaction:
        """``user`` right-clicks ``message`` and picks the bot's context menu ``name`` (an
        application command of type 3; INTERACTION_CREATE type 2 with ``target_id`` and the
        message in ``resolved.messages``). Returns at once; await ``wait_done()``."""
        stored = self.state.find_message(int(message["id"]))
        if stored is None:
            raise DriverError(f"message {message['id']} is not in any channel")
        cid = int(stored["channel_id"])
        cmd = self.context_command(name, 3, self.state.guild_of(cid))
        self._action_cursor = self.cursor()

        def build(inter: Interaction) -> dict[str, Any]:
            data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": 3,
                                    "target_id": stored["id"],
                                    "resolved": {"messages": {stored["id"]: copy.deepcopy(stored)}}}
            if "guild_id" in cmd:
                data["guild_id"] = cmd["guild_id"]
            return self._interaction_payload(inter, data, locale or user.locale)

        inter = Interaction(self, type=2, user=user, channel_id=cid, name=cmd["name"], payload_builder=build)
        return await self._start_interaction(inter)

    def _visible_message(self, message_id: int) -> dict[str, Any] | None:
        """A channel message, or an ephemeral one (only its interaction knows it)."""
        stored = self.state.find_message(message_id)
        if stored is not None:
            return stored
        for inter in self.interactions.values():
            for candidate in inter.visible_messages:
                if int(candidate["id"]) == message_id:
                    return candidate
        return None

    async def click(self, user: User, message: dict[str, Any], custom_id: str, *,
                    component_type: int = 2, values: list[str] | None = None,
                    locale: str | None = None) -> Interaction:
        """``user`` clicks a button (or picks ``values`` in a select) on a bot message,
        in a channel or an ephemeral one."""
        stored = self._visible_message(int(message["id"]))
        if stored is None:
            raise DriverError(f"message {message['id']} is not in any channel or interaction")
        ids = _custom_ids(stored.get("components") or [])
        if custom_id not in ids:
            raise DriverError(f"message {message['id']} has no component {custom_id!r} (has {ids})")
        self._action_cursor = self.cursor()
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = values
        cid = int(stored["channel_id"])
        inter = Interaction(self, type=3, user=user, channel_id=cid, name=None,
                            payload_builder=lambda i: self._interaction_payload(
                                i, data, locale or user.locale, stored))
        inter.target_message = stored
        return await self._start_interaction(inter)


def custom_ids(components: list[dict[str, Any]]) -> list[str]:
    """Every component ``custom_id`` in a message's component rows, in order."""
    return _custom_ids(components)


def _custom_ids(components: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for comp in components:
        if "custom_id" in comp:
            out.append(comp["custom_id"])
        out += _custom_ids(comp.get("components") or [])
    return out


def loading(message: dict[str, Any]) -> bool:
    """True while a deferred response still shows "thinking…"."""
    return bool(message.get("flags", 0) & LOADING)
