"""A Discord API emulator: the REST routes and gateway the Dari bot uses, on 127.0.0.1.

The real discord.py client connects to it (see :mod:`bot.api_base`). Every REST
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
from typing import Any

from aiohttp import BodyPartReader, web

from emulator.api import API_PREFIX, RECORD, ApiError, RecordedRequest, invalid_form, json_response
from emulator.driver import DriverMixin, Interaction
from emulator.gateway import Gateway
from emulator.interactions import InteractionRoutes
from emulator.messages import MessageRoutes
from emulator.state import PUBLIC_THREAD, State

log = logging.getLogger(__name__)


class DiscordEmulator(MessageRoutes, InteractionRoutes, DriverMixin):
    """Discord REST + gateway on 127.0.0.1 (port 0 → a free port), with one guild.

    ``token`` is the bot token the emulator accepts. After :meth:`start`, point discord.py
    at it with ``bot.api_base.use_api_base(emu.api_base)``.
    """

    def __init__(self, token: str = "emulator-token", *, host: str = "127.0.0.1", port: int = 0,
                 interaction_ack_seconds: float = 3.0,
                 heartbeat_interval_ms: int | None = None) -> None:
        self.host, self._port = host, port
        self.state = State(token=token)
        self.gateway = Gateway(self)
        self.requests: list[RecordedRequest] = []
        # File names of attachments fetched from /attachments/… (outside the REST log).
        self.attachment_downloads: list[str] = []
        self.interactions: dict[int, Interaction] = {}
        # Discord forgets an interaction not acknowledged within 3 s (error 10062).
        self.interaction_ack_seconds = interaction_ack_seconds
        # Discord asks for a heartbeat every 41.25 s; a test of event-loop liveness asks
        # for one every fraction of a second and checks the gaps (gateway.heartbeat_times).
        if heartbeat_interval_ms is not None:
            self.gateway.heartbeat_interval_ms = heartbeat_interval_ms
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
        server = site._server
        sockets = server.sockets if isinstance(server, asyncio.Server) else ()
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

    async def __aenter__(self) -> DiscordEmulator:
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
        record = request[RECORD]
        assert isinstance(record, RecordedRequest)
        files: list[tuple[str, bytes]] = []
        body: Any = {}
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    raise ApiError(400, 50109, "nested multipart bodies are not supported")
                data = await part.read()
                if part.name == "payload_json":
                    body = json.loads(data.decode("utf-8"))
                elif part.filename:
                    files.append((part.filename, bytes(data)))
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
        log.error("emulator: UNKNOWN ROUTE %s %s — not emulated; add it to the emulator "
                  "(emulator/server.py routes)",
                  request.method, request.path)
        return json_response(
            {"code": 0, "message": f"emulator: unknown route {request.method} {request.path}"}, status=404)

    async def _no_content(self, request: web.Request) -> web.Response:
        if "channel_id" in request.match_info:
            self._channel(request)
        return web.Response(status=204)

    # -- lookups ------------------------------------------------------------------------

    def _guild(self, request: web.Request) -> int:
        raw = request.match_info.get("guild_id") or ""
        if not raw.isdigit() or int(raw) not in self.state.guild_names:
            raise ApiError(404, 10004, "Unknown Guild")
        return int(raw)

    # -- misc routes --------------------------------------------------------------------

    async def _get_attachment(self, request: web.Request) -> web.Response:
        att = self.state.attachments.get(int(request.match_info["attachment_id"]))
        if att is None or not att.url.endswith("/" + request.match_info["filename"]):
            return json_response({"code": 0, "message": "404: Not Found"}, status=404)
        self.attachment_downloads.append(request.match_info["filename"])
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
        data = self.state.guild_payload(self._guild(request))
        for key in ("members", "channels", "threads", "presences", "voice_states"):
            data.pop(key, None)
        return json_response(data)

    async def _get_guild_channels(self, request: web.Request) -> web.Response:
        gid = self._guild(request)
        return json_response([c for c in self.state.channels.values()
                              if c["type"] != PUBLIC_THREAD and int(c["guild_id"]) == gid])

    async def _get_roles(self, request: web.Request) -> web.Response:
        gid = self._guild(request)
        return json_response([r.payload() for r in self.state.guild_roles(gid)])

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
            return self._guild(request)
        return None

    def _store_command(self, scope: int | None, body: dict[str, Any],
                       existing: dict[str, dict[str, Any]]) -> dict[str, Any]:
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 32:
            raise invalid_form([f"name: command name {name!r} must be 1-32 characters"])
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
            raise invalid_form(["body must be a list of commands"])
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
        if not isinstance(body, dict):
            raise invalid_form(["body must be a command object"])
        command = self._store_command(scope, body, existing)
        commands[:] = [c for c in commands if c["name"] != command["name"]] + [command]
        self.commands_synced.set()
        return json_response(command, status=201)

    async def _delete_command(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        commands = self.state.commands.get(scope, [])
        commands[:] = [c for c in commands if c["id"] != request.match_info["command_id"]]
        return web.Response(status=204)
