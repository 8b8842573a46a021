"""A Discord API emulator: the REST routes and gateway the Dari bot uses, on 127.0.0.1.

The real discord.py client connects to it (see :mod:`emulator.connect`). Every REST
request is recorded (``emu.requests``) so tests can assert on payloads; routes that are
not emulated answer 404 and are logged loudly, so a missing route is never silent.
The user side (sending messages, invoking slash commands) is in :mod:`emulator.driver`.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from emulator import limits
from emulator.driver import DriverMixin, Interaction
from emulator.gateway import Gateway
from emulator.state import EPHEMERAL, LOADING, PUBLIC_THREAD, Attachment, State, apply_edit

log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
RECORD = web.RequestKey("record", object)
HAS_THREAD = 1 << 5


@dataclass
class RecordedRequest:
    """One REST call the bot made: what tests assert on."""

    method: str
    path: str  # after the /api/v10 prefix, e.g. "/channels/1/messages"
    query: dict[str, str]
    json: Any = None
    files: list[tuple[str, bytes]] = field(default_factory=list)
    status: int = 0


class ApiError(Exception):
    """An error answered the way Discord answers it: status + JSON {code, message, errors}."""

    def __init__(self, status: int, code: int, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors or []

    def response(self) -> web.Response:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = {"_errors": [{"code": "BASE_TYPE_BAD", "message": e} for e in self.errors]}
        return json_response(body, status=self.status)


def json_response(data: Any, status: int = 200) -> web.Response:
    """JSON exactly as Discord labels it: discord.py only parses ``application/json`` verbatim."""
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    return web.Response(body=body, status=status, headers={"Content-Type": "application/json"})


def _invalid(errors: list[str]) -> ApiError:
    return ApiError(400, 50035, "Invalid Form Body: " + "; ".join(errors), errors)


class DiscordEmulator(DriverMixin):
    """Discord REST + gateway on 127.0.0.1 (port 0 → a free port), with one guild.

    ``token`` is the bot token the emulator accepts. After :meth:`start`, point discord.py
    at it with ``emulator.connect.use_api_base(emu.api_base)``.
    """

    def __init__(self, token: str = "emulator-token", *, host: str = "127.0.0.1", port: int = 0,
                 interaction_ack_seconds: float = 3.0) -> None:
        self.host, self._port = host, port
        self.state = State(token=token)
        self.gateway = Gateway(self)
        self.requests: list[RecordedRequest] = []
        self.interactions: dict[int, Interaction] = {}
        # Discord forgets an interaction not acknowledged within 3 s (error 10062).
        self.interaction_ack_seconds = interaction_ack_seconds
        self.bot_ready = asyncio.Event()
        self.commands_synced = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Event()
        DriverMixin.__init__(self)

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def token(self) -> str:
        return self.state.token

    @property
    def port(self) -> int:
        if self._runner is None:
            raise RuntimeError("emulator not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    async def start(self) -> None:
        """Bind and serve; afterwards ``base_url``/``api_base``/``gateway_url`` are real."""
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        self._add_routes(app)
        # No access log: every request is in self.requests, and the sandbox chat stays readable.
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._port)
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        self._port = sockets[0].getsockname()[1]
        self.state.base_url = self.base_url
        log.info("Discord emulator listening on %s (gateway %s)", self.base_url, self.gateway_url)

    async def stop(self) -> None:
        """Close gateway sockets and the HTTP server."""
        if self._runner is None:
            return
        await self.gateway.close_all()
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> "DiscordEmulator":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def drop_connections(self, code: int = 4000, *, hold: bool = False) -> int:
        """Drop the bot's gateway connection(s) like a network failure; it should RESUME.

        With ``hold`` the bot cannot reconnect until :meth:`release_gateway`, so events
        dispatched meanwhile are certainly delivered by the RESUME replay.
        """
        if hold:
            self.gateway.hold()
        return await self.gateway.drop_connections(code)

    def release_gateway(self) -> None:
        """Let held gateway connections proceed (see :meth:`drop_connections`)."""
        self.gateway.release()

    def _notify(self) -> None:
        """Wake everything waiting in the driver (state changed)."""
        self._changed.set()
        self._changed = asyncio.Event()

    def _on_gateway_ready(self) -> None:
        self.bot_ready.set()
        self._notify()

    # -- plumbing -----------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path
        if not path.startswith(API_PREFIX):
            return await handler(request)
        record = RecordedRequest(request.method, path[len(API_PREFIX):], dict(request.query))
        request[RECORD] = record
        self.requests.append(record)
        try:
            if not (record.path.startswith(("/webhooks/", "/interactions/"))):
                # Bot routes need "Bot <token>"; webhook/interaction routes carry their token in the URL.
                auth = request.headers.get("Authorization", "")
                if not auth.startswith("Bot ") or not secrets.compare_digest(auth[4:].strip(), self.token):
                    raise ApiError(401, 0, "401: Unauthorized")
            response = await handler(request)
        except ApiError as exc:
            log.info("emulator: %s %s -> %d %s", request.method, record.path, exc.status, exc.message)
            inter = self._interaction_for_path(record.path)
            if inter is not None:
                # Shown by wait_done's timeout message: why the answer never became visible.
                kind = record.path.split("/")[-1] if record.path.startswith("/interactions/") else "webhook"
                inter.errors.append(f"{request.method} {kind} -> {exc.status} {exc.message}")
            response = exc.response()
        except web.HTTPException as exc:
            # aiohttp's own errors (e.g. a body over client_max_size): record, then let it answer.
            record.status = exc.status
            self._notify()
            raise
        record.status = response.status
        self._notify()
        return response

    async def _body(self, request: web.Request) -> tuple[dict[str, Any] | list[Any], list[tuple[str, bytes]]]:
        """JSON body and uploaded files (discord.py sends multipart with payload_json + files[n])."""
        record: RecordedRequest = request[RECORD]
        files: list[tuple[str, bytes]] = []
        body: Any = {}
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                data = await part.read()  # type: ignore[union-attr]
                if part.name == "payload_json":  # type: ignore[union-attr]
                    body = json.loads(data.decode("utf-8"))
                elif part.filename:  # type: ignore[union-attr]
                    files.append((part.filename, bytes(data)))  # type: ignore[union-attr]
        elif request.can_read_body:
            text = await request.text()
            if text:
                try:
                    body = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ApiError(400, 50109, f"The request body contains invalid JSON: {exc}") from exc
        record.json, record.files = body, files
        return body, files

    def _add_routes(self, app: web.Application) -> None:
        p = API_PREFIX
        r = app.router
        r.add_get("/gateway", self.gateway.handle)
        r.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._get_attachment)
        r.add_get(p + "/gateway", self._get_gateway)
        r.add_get(p + "/gateway/bot", self._get_gateway_bot)
        r.add_get(p + "/users/@me", self._get_me)
        r.add_get(p + "/users/{user_id}", self._get_user)
        r.add_get(p + "/oauth2/applications/@me", self._get_application)
        r.add_get(p + "/applications/@me", self._get_application)
        for prefix in (p + "/applications/{app_id}/commands",
                       p + "/applications/{app_id}/guilds/{guild_id}/commands"):
            r.add_get(prefix, self._get_commands)
            r.add_put(prefix, self._put_commands)
            r.add_post(prefix, self._post_command)
            r.add_delete(prefix + "/{command_id}", self._delete_command)
        r.add_post(p + "/interactions/{interaction_id}/{token}/callback", self._callback)
        r.add_post(p + "/webhooks/{app_id}/{token}", self._followup)
        wh = p + "/webhooks/{app_id}/{token}/messages/{message_id}"
        r.add_get(wh, self._webhook_get)
        r.add_patch(wh, self._webhook_edit)
        r.add_delete(wh, self._webhook_delete)
        ch = p + "/channels/{channel_id}"
        r.add_get(ch, self._get_channel)
        r.add_get(ch + "/messages", self._get_messages)
        r.add_post(ch + "/messages", self._post_message)
        r.add_get(ch + "/messages/{message_id}", self._get_message)
        r.add_patch(ch + "/messages/{message_id}", self._edit_message)
        r.add_delete(ch + "/messages/{message_id}", self._delete_message)
        r.add_post(ch + "/messages/{message_id}/threads", self._thread_from_message)
        r.add_post(ch + "/threads", self._thread_without_message)
        r.add_post(ch + "/typing", self._no_content)
        r.add_put(ch + "/thread-members/@me", self._no_content)
        r.add_put(ch + "/messages/{message_id}/reactions/{emoji}/@me", self._add_reaction)
        r.add_delete(ch + "/messages/{message_id}/reactions/{emoji}/@me", self._remove_reaction)
        g = p + "/guilds/{guild_id}"
        r.add_get(g, self._get_guild)
        r.add_get(g + "/channels", self._get_guild_channels)
        r.add_get(g + "/roles", self._get_roles)
        r.add_get(g + "/members/{user_id}", self._get_member)
        r.add_route("*", "/{tail:.*}", self._unknown)

    async def _unknown(self, request: web.Request) -> web.Response:
        log.error("emulator: UNKNOWN ROUTE %s %s — not emulated; add it to emulator/server.py",
                  request.method, request.path)
        return json_response(
            {"code": 0, "message": f"emulator: unknown route {request.method} {request.path}"}, status=404)

    async def _no_content(self, request: web.Request) -> web.Response:
        if "channel_id" in request.match_info:
            self._channel(request)
        return web.Response(status=204)

    # -- lookups ------------------------------------------------------------------------

    def _channel(self, request: web.Request) -> int:
        try:
            cid = int(request.match_info["channel_id"])
        except ValueError:
            raise ApiError(404, 10003, "Unknown Channel") from None
        if cid not in self.state.channels:
            raise ApiError(404, 10003, "Unknown Channel")
        return cid

    def _message(self, cid: int, request: web.Request) -> dict[str, Any]:
        mid = request.match_info["message_id"]
        for message in self.state.messages.get(cid, []):
            if message["id"] == mid:
                return message
        raise ApiError(404, 10008, "Unknown Message")

    def _guild(self, request: web.Request) -> None:
        if request.match_info.get("guild_id") != str(self.state.guild_id):
            raise ApiError(404, 10004, "Unknown Guild")

    def _interaction_for_path(self, path: str) -> Interaction | None:
        parts = path.split("/")
        if len(parts) > 3 and parts[1] == "interactions" and parts[2].isdigit():
            return self.interactions.get(int(parts[2]))
        if len(parts) > 3 and parts[1] == "webhooks":
            return next((i for i in self.interactions.values() if i.token == parts[3]), None)
        return None

    def _interaction_by_token(self, request: web.Request) -> Interaction:
        if request.match_info.get("app_id") != str(self.state.application_id):
            raise ApiError(404, 10015, "Unknown Webhook")
        token = request.match_info["token"]
        for inter in self.interactions.values():
            if secrets.compare_digest(inter.token, token):
                return inter
        raise ApiError(404, 10015, "Unknown Webhook")

    # -- misc routes --------------------------------------------------------------------

    async def _get_attachment(self, request: web.Request) -> web.Response:
        att = self.state.attachments.get(int(request.match_info["attachment_id"]))
        if att is None or not att.url.endswith("/" + request.match_info["filename"]):
            return json_response({"code": 0, "message": "404: Not Found"}, status=404)
        return web.Response(body=att.data, content_type=att.content_type.split(";")[0])

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.gateway_url})

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        return json_response({
            "url": self.gateway_url,
            "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0,
                                    "max_concurrency": 1},
        })

    async def _get_me(self, request: web.Request) -> web.Response:
        return json_response(self.state.bot.payload() | {"verified": True, "flags": 0})

    async def _get_user(self, request: web.Request) -> web.Response:
        user = self.state.users.get(int(request.match_info["user_id"]))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return json_response(user.payload())

    async def _get_application(self, request: web.Request) -> web.Response:
        owner = {"id": "1", "username": "owner", "discriminator": "0", "global_name": "owner",
                 "avatar": None, "public_flags": 0}
        return json_response({
            "id": str(self.state.application_id), "name": "Dari", "icon": None,
            "description": "Dari test application", "rpc_origins": [], "bot_public": True,
            "bot_require_code_grant": False, "owner": owner, "summary": "", "verify_key": "0" * 64,
            "team": None, "flags": 0, "bot": self.state.bot.payload(), "tags": [],
            "interactions_endpoint_url": None, "redirect_uris": [], "approximate_guild_count": 1,
        })

    async def _get_guild(self, request: web.Request) -> web.Response:
        self._guild(request)
        data = self.state.guild_payload()
        for key in ("members", "channels", "threads", "presences", "voice_states"):
            data.pop(key, None)
        return json_response(data)

    async def _get_guild_channels(self, request: web.Request) -> web.Response:
        self._guild(request)
        return json_response([c for c in self.state.channels.values() if c["type"] != PUBLIC_THREAD])

    async def _get_roles(self, request: web.Request) -> web.Response:
        self._guild(request)
        return json_response([r.payload() for r in self.state.roles.values()])

    async def _get_member(self, request: web.Request) -> web.Response:
        self._guild(request)
        user = self.state.users.get(int(request.match_info["user_id"]))
        if user is None:
            raise ApiError(404, 10007, "Unknown Member")
        return json_response(self.state.member_payload(user))

    # -- application commands -----------------------------------------------------------

    def _command_scope(self, request: web.Request) -> int | None:
        if request.match_info["app_id"] != str(self.state.application_id):
            raise ApiError(403, 50001, "Missing Access")
        if "guild_id" in request.match_info:
            self._guild(request)
            return self.state.guild_id
        return None

    def _store_command(self, scope: int | None, body: dict[str, Any],
                       existing: dict[str, dict[str, Any]]) -> dict[str, Any]:
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 32:
            raise _invalid([f"name: command name {name!r} must be 1-32 characters"])
        old = existing.get(name)
        command = copy.deepcopy(body)
        command.setdefault("type", 1)
        command.setdefault("description", "")
        command.setdefault("options", [])
        command.update({
            "id": old["id"] if old else str(self.state.ids.next()),
            "application_id": str(self.state.application_id),
            "version": str(self.state.ids.next()),
            "default_member_permissions": body.get("default_member_permissions"),
            "nsfw": bool(body.get("nsfw", False)),
        })
        if scope is not None:
            command["guild_id"] = str(scope)
        return command

    async def _get_commands(self, request: web.Request) -> web.Response:
        return json_response(self.state.commands.get(self._command_scope(request), []))

    async def _put_commands(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        body, _ = await self._body(request)
        if not isinstance(body, list):
            raise _invalid(["body must be a list of commands"])
        existing = {c["name"]: c for c in self.state.commands.get(scope, [])}
        commands = [self._store_command(scope, c, existing) for c in body]
        self.state.commands[scope] = commands
        log.info("emulator: %d command(s) synced %s: %s", len(commands),
                 "globally" if scope is None else f"to guild {scope}", [c["name"] for c in commands])
        self.commands_synced.set()
        return json_response(commands)

    async def _post_command(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        body, _ = await self._body(request)
        commands = self.state.commands.setdefault(scope, [])
        existing = {c["name"]: c for c in commands}
        command = self._store_command(scope, body, existing)  # type: ignore[arg-type]
        commands[:] = [c for c in commands if c["name"] != command["name"]] + [command]
        self.commands_synced.set()
        return json_response(command, status=201)

    async def _delete_command(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        commands = self.state.commands.get(scope, [])
        commands[:] = [c for c in commands if c["id"] != request.match_info["command_id"]]
        return web.Response(status=204)

    # -- messages -----------------------------------------------------------------------

    def _save_files(self, cid: int, files: list[tuple[str, bytes]]) -> list[Attachment]:
        return [self.state.add_attachment(cid, name, data) for name, data in files]

    async def _create_bot_message(self, cid: int, body: dict[str, Any], files: list[tuple[str, bytes]],
                                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Validate, store and dispatch a message the bot sends (non-ephemeral)."""
        errors = limits.message_errors(body, has_files=bool(files))
        if errors:
            raise _invalid(errors)
        message = self.state.message_payload(cid, self.state.bot, body,
                                             attachments=self._save_files(cid, files), extra=extra)
        await self._store_and_dispatch(message)
        return message

    async def _store_and_dispatch(self, message: dict[str, Any]) -> None:
        cid = int(message["channel_id"])
        ephemeral = bool(message["flags"] & EPHEMERAL)
        if not ephemeral:
            self.state.messages.setdefault(cid, []).append(message)
            channel = self.state.channels[cid]
            channel["last_message_id"] = message["id"]
            if channel["type"] == PUBLIC_THREAD:
                channel["message_count"] = channel.get("message_count", 0) + 1
                channel["total_message_sent"] = channel.get("total_message_sent", 0) + 1
        self._log_message("create", message)
        if not ephemeral:
            await self.gateway.dispatch("MESSAGE_CREATE", copy.deepcopy(message))

    async def _update_and_dispatch(self, message: dict[str, Any]) -> None:
        self._log_message("update", message)
        if not message["flags"] & EPHEMERAL:
            await self.gateway.dispatch("MESSAGE_UPDATE", copy.deepcopy(message))

    async def _get_channel(self, request: web.Request) -> web.Response:
        return json_response(self.state.channels[self._channel(request)])

    async def _get_messages(self, request: web.Request) -> web.Response:
        cid = self._channel(request)
        try:
            limit = min(int(request.query.get("limit", 50)), 100)
            before = int(request.query.get("before", 1 << 63))
            after = int(request.query.get("after", 0))
        except ValueError:
            raise _invalid(["limit, before and after must be integers"]) from None
        messages = [m for m in self.state.messages[cid] if after < int(m["id"]) < before]
        if "after" in request.query:
            # Discord returns the oldest ones after ``after``, newest first.
            return json_response(list(reversed(messages[:limit])))
        return json_response(list(reversed(messages))[:limit])

    async def _get_message(self, request: web.Request) -> web.Response:
        cid = self._channel(request)
        return json_response(self._message(cid, request))

    async def _post_message(self, request: web.Request) -> web.Response:
        cid = self._channel(request)
        body, files = await self._body(request)
        if not isinstance(body, dict):
            raise _invalid(["body must be an object"])
        ref = body.get("message_reference")
        if ref and ref.get("fail_if_not_exists", True):
            if self.state.find_message(int(ref["message_id"])) is None:
                raise _invalid(["message_reference: Unknown message"])
        message = await self._create_bot_message(cid, body, files)
        return json_response(message)

    async def _edit_message(self, request: web.Request) -> web.Response:
        cid = self._channel(request)
        message = self._message(cid, request)
        if int(message["author"]["id"]) != self.state.bot.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        body, files = await self._body(request)
        await self._apply_bot_edit(message, body, files)  # type: ignore[arg-type]
        return json_response(message)

    async def _apply_bot_edit(self, message: dict[str, Any], body: dict[str, Any],
                              files: list[tuple[str, bytes]]) -> None:
        candidate = copy.deepcopy(message)
        apply_edit(candidate, body, self.state)
        errors = limits.message_errors(candidate, has_files=bool(files or candidate["attachments"]))
        if errors:
            raise _invalid(errors)
        apply_edit(message, body, self.state, self._save_files(int(message["channel_id"]), files))
        await self._update_and_dispatch(message)

    async def _delete_message(self, request: web.Request) -> web.Response:
        cid = self._channel(request)
        message = self._message(cid, request)
        await self._remove_message(message)
        return web.Response(status=204)

    async def _remove_message(self, message: dict[str, Any]) -> None:
        cid = int(message["channel_id"])
        msgs = self.state.messages.get(cid, [])
        if message in msgs:
            msgs.remove(message)
        self._log_message("delete", message)
        if not message["flags"] & EPHEMERAL:
            await self.gateway.dispatch("MESSAGE_DELETE", {
                "id": message["id"], "channel_id": message["channel_id"],
                "guild_id": str(self.state.guild_id)})

    async def _add_reaction(self, request: web.Request) -> web.Response:
        cid = self._channel(request)
        message = self._message(cid, request)
        emoji = request.match_info["emoji"]
        if not any(r["emoji"]["name"] == emoji for r in message["reactions"]):
            message["reactions"].append({"count": 1, "me": True, "emoji": {"id": None, "name": emoji}})
        self._log_message("update", message)
        return web.Response(status=204)

    async def _remove_reaction(self, request: web.Request) -> web.Response:
        cid = self._channel(request)
        message = self._message(cid, request)
        emoji = request.match_info["emoji"]
        message["reactions"] = [r for r in message["reactions"] if r["emoji"]["name"] != emoji]
        self._log_message("update", message)
        return web.Response(status=204)

    # -- threads ------------------------------------------------------------------------

    def _thread_payload(self, tid: int, parent: int, body: dict[str, Any]) -> dict[str, Any]:
        name = str(body.get("name") or "")
        if not 1 <= len(name) <= 100:
            raise _invalid([f"name: thread name must be 1-100 characters (got {len(name)})"])
        return {
            "id": str(tid),
            "type": PUBLIC_THREAD,
            "guild_id": str(self.state.guild_id),
            "parent_id": str(parent),
            "owner_id": str(self.state.bot.id),
            "name": name,
            "last_message_id": None,
            "rate_limit_per_user": int(body.get("rate_limit_per_user") or 0),
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": int(body.get("auto_archive_duration") or 1440),
                "archive_timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
                "locked": False,
                "invitable": bool(body.get("invitable", True)),
            },
        }

    async def _open_thread(self, thread: dict[str, Any]) -> None:
        tid = int(thread["id"])
        self.state.channels[tid] = thread
        self.state.messages.setdefault(tid, [])
        await self.gateway.dispatch("THREAD_CREATE", copy.deepcopy(thread) | {"newly_created": True})
        self._notify()

    async def _thread_from_message(self, request: web.Request) -> web.Response:
        cid = self._channel(request)
        if self.state.channels[cid]["type"] == PUBLIC_THREAD:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        message = self._message(cid, request)
        if "thread" in message:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        body, _ = await self._body(request)
        # Discord gives a thread started from a message the message's id.
        thread = self._thread_payload(int(message["id"]), cid, body)  # type: ignore[arg-type]
        await self._open_thread(thread)
        message["thread"] = copy.deepcopy(thread)
        message["flags"] |= HAS_THREAD
        await self._update_and_dispatch(message)
        return json_response(thread, status=201)

    async def _thread_without_message(self, request: web.Request) -> web.Response:
        cid = self._channel(request)
        body, _ = await self._body(request)
        thread = self._thread_payload(self.state.ids.next(), cid, body)  # type: ignore[arg-type]
        await self._open_thread(thread)
        return json_response(thread, status=201)

    # -- interactions -------------------------------------------------------------------

    async def _callback(self, request: web.Request) -> web.Response:
        inter = self.interactions.get(int(request.match_info["interaction_id"]))
        if inter is None or not secrets.compare_digest(inter.token, request.match_info["token"]):
            raise ApiError(404, 10062, "Unknown interaction")
        body, files = await self._body(request)
        if not isinstance(body, dict) or "type" not in body:
            raise _invalid(["type: this field is required"])
        if inter.acknowledged:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        age = time.monotonic() - inter.created
        if age > self.interaction_ack_seconds:
            raise ApiError(404, 10062, f"Unknown interaction (callback after {age:.1f}s, "
                                       f"limit {self.interaction_ack_seconds}s)")
        rtype = int(body["type"])
        data = body.get("data") or {}
        message: dict[str, Any] | None = None
        if rtype == 4:
            errors = limits.message_errors(data, has_files=bool(files))
            if errors:
                raise _invalid(errors)
            message = self._interaction_message(inter, data, files)
            inter.original = message
            await self._store_and_dispatch(message)
        elif rtype == 5:
            loading = {"content": "", "flags": LOADING | (int(data.get("flags") or 0) & EPHEMERAL)}
            message = self._interaction_message(inter, loading, [])
            inter.original = message
            await self._store_and_dispatch(message)
        elif rtype in (6, 7):
            if inter.type != 3:
                raise ApiError(400, 40043, "Interaction callback type 6/7 is for component interactions")
            if rtype == 7:
                target = inter.target_message
                if target is None:
                    raise ApiError(404, 10008, "Unknown Message")
                await self._apply_bot_edit(target, data, files)
                message = target
        elif rtype == 8:
            if inter.type != 4:
                raise ApiError(400, 40043, "Autocomplete result for a non-autocomplete interaction")
            errors = limits.choices_errors(data.get("choices") or [])
            if errors:
                raise _invalid(errors)
        elif rtype == 9:
            if not data.get("custom_id") or not data.get("title"):
                raise _invalid(["modal: custom_id and title are required"])
        else:
            raise _invalid([f"type: unsupported interaction callback type {rtype}"])
        inter._record("callback", rtype, data, files, message)
        self._notify()
        if "with_response" not in request.query:
            return web.Response(status=204)
        result: dict[str, Any] = {"interaction": {
            "id": str(inter.id), "type": inter.type,
            "response_message_loading": rtype == 5,
            "response_message_ephemeral": bool(message and message["flags"] & EPHEMERAL),
        }}
        if message is not None:
            result["interaction"]["response_message_id"] = message["id"]
            result["resource"] = {"type": rtype, "message": message}
        return json_response(result)

    def _interaction_message(self, inter: Interaction, body: dict[str, Any],
                             files: list[tuple[str, bytes]]) -> dict[str, Any]:
        meta = {"id": str(inter.id), "type": inter.type, "user": inter.user.payload(),
                "authorizing_integration_owners": {"0": str(self.state.guild_id)}}
        if inter.name:
            meta["name"] = inter.name
        return self.state.message_payload(
            inter.channel_id, self.state.bot, body, attachments=self._save_files(inter.channel_id, files),
            extra={"webhook_id": str(self.state.application_id),
                   "application_id": str(self.state.application_id),
                   "type": 20 if inter.type == 2 else 0,
                   "interaction_metadata": meta,
                   "interaction": {"id": str(inter.id), "type": inter.type, "name": inter.name or "",
                                   "user": inter.user.payload()}},
        )

    async def _followup(self, request: web.Request) -> web.Response:
        inter = self._interaction_by_token(request)
        body, files = await self._body(request)
        if not isinstance(body, dict):
            raise _invalid(["body must be an object"])
        if not inter.acknowledged:
            raise ApiError(404, 10015, "Unknown Webhook")
        original = inter.original
        if original is not None and original["flags"] & LOADING and not original.get("deleted"):
            # After a deferral the first follow-up replaces the "thinking…" message.
            await self._apply_bot_edit(original, body, files)
            message = original
        else:
            errors = limits.message_errors(body, has_files=bool(files))
            if errors:
                raise _invalid(errors)
            message = self._interaction_message(inter, body, files)
            await self._store_and_dispatch(message)
            inter.followups.append(message)
        inter._record("followup", None, body, files, message)
        self._notify()
        if request.query.get("wait") in ("true", "1", "True"):
            return json_response(message)
        return web.Response(status=204)

    def _webhook_message(self, inter: Interaction, request: web.Request) -> dict[str, Any]:
        mid = request.match_info["message_id"]
        if mid == "@original":
            if inter.original is not None:
                return inter.original
            if inter.target_message is not None and inter.acknowledged:
                # For a component interaction, @original is the message the component is on.
                return inter.target_message
            raise ApiError(404, 10008, "Unknown Message")
        for message in inter.followups:
            if message["id"] == mid:
                return message
        if inter.original is not None and inter.original["id"] == mid:
            return inter.original
        raise ApiError(404, 10008, "Unknown Message")

    async def _webhook_get(self, request: web.Request) -> web.Response:
        inter = self._interaction_by_token(request)
        return json_response(self._webhook_message(inter, request))

    async def _webhook_edit(self, request: web.Request) -> web.Response:
        inter = self._interaction_by_token(request)
        message = self._webhook_message(inter, request)
        body, files = await self._body(request)
        if not isinstance(body, dict):
            raise _invalid(["body must be an object"])
        await self._apply_bot_edit(message, body, files)
        kind = "edit" if message is inter.original or message is inter.target_message else "followup_edit"
        inter._record(kind, None, body, files, message)
        self._notify()
        return json_response(message)

    async def _webhook_delete(self, request: web.Request) -> web.Response:
        inter = self._interaction_by_token(request)
        message = self._webhook_message(inter, request)
        await self._remove_message(message)
        message["deleted"] = True
        inter._record("delete", None, {}, [], message)
        self._notify()
        return web.Response(status=204)
