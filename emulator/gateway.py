"""The Discord gateway over WebSocket: HELLO, IDENTIFY/READY, heartbeats, dispatches, RESUME.

Sharding as Discord does it: an IDENTIFY may carry ``shard: [shard_id, shard_count]``; that
session then gets READY and GUILD_CREATE for, and every event of, only the guilds with
``(guild_id >> 22) % shard_count == shard_id``. Events without a guild (DMs) go to shard 0.

A *session* outlives its WebSocket connection: every dispatch gets the session's next
sequence number and is kept, so a client that reconnects with RESUME receives exactly
the events it missed, in order, followed by RESUMED — the behaviour discord.py relies on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:  # pragma: no cover
    from emulator.server import DiscordEmulator

log = logging.getLogger(__name__)

# Opcodes (https://discord.com/developers/docs/topics/opcodes-and-status-codes).
DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, VOICE_STATE, RESUME = 0, 1, 2, 3, 4, 6
RECONNECT, REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 7, 8, 9, 10, 11

HEARTBEAT_INTERVAL_MS = 41250
# Intent bits that change what a session receives.
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_MESSAGE_CONTENT = 1 << 15
MAX_BUFFERED = 10_000


@dataclass
class Connection:
    """One WebSocket; compression state is per connection, as in Discord."""

    ws: web.WebSocketResponse
    compress: bool
    compressor: Any = None

    def __post_init__(self) -> None:
        if self.compress:
            self.compressor = zlib.compressobj()

    async def send(self, payload: dict[str, Any]) -> None:
        raw = json.dumps(payload, ensure_ascii=False)
        if self.compress:
            # zlib-stream: one shared deflate stream, each message ending in a sync flush
            # (the 00 00 ff ff suffix discord.py waits for).
            data = self.compressor.compress(raw.encode("utf-8"))
            data += self.compressor.flush(zlib.Z_SYNC_FLUSH)
            await self.ws.send_bytes(data)
        else:
            await self.ws.send_str(raw)


@dataclass
class Session:
    """A gateway session: identified once, resumable after its connection drops."""

    id: str
    intents: int
    seq: int = 0
    buffer: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    conn: Connection | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    resumes: int = 0
    replayed: int = 0
    shard: tuple[int, int] | None = None  # (shard_id, shard_count) from IDENTIFY

    def serves(self, guild_id: int | None) -> bool:
        """Whether this session receives events of ``guild_id`` (None: no guild, e.g. a DM)."""
        if self.shard is None:
            return True
        shard_id, count = self.shard
        if guild_id is None:
            return shard_id == 0
        return (guild_id >> 22) % count == shard_id

    def wants(self, event: str, data: dict[str, Any], bot_id: int) -> dict[str, Any] | None:
        """The payload this session should get for ``event`` (None: filtered by intents)."""
        if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE"):
            if not self.intents & INTENT_GUILD_MESSAGES:
                return None
            if event != "MESSAGE_DELETE" and not self.intents & INTENT_MESSAGE_CONTENT:
                author = int(data.get("author", {}).get("id", 0))
                mentioned = any(int(m["id"]) == bot_id for m in data.get("mentions", []))
                if author != bot_id and not mentioned:
                    # What Discord does without the privileged message-content intent.
                    data = dict(data, content="", embeds=[], attachments=[], components=[])
        if event in ("GUILD_MEMBER_ADD", "GUILD_MEMBER_UPDATE", "GUILD_MEMBER_REMOVE"):
            return data if self.intents & INTENT_GUILD_MEMBERS else None
        if event == "GUILD_MEMBERS_CHUNK":
            return data  # the answer to the client's own request
        if event.startswith(("GUILD_", "THREAD_", "CHANNEL_")) and not self.intents & INTENT_GUILDS:
            return None
        return data


class Gateway:
    """Gateway endpoint and session registry of one emulator."""

    def __init__(self, emulator: DiscordEmulator) -> None:
        self.emu = emulator
        self.sessions: dict[str, Session] = {}
        self.sockets: set[web.WebSocketResponse] = set()
        self.identifies = 0
        self.heartbeats = 0
        self.heartbeat_interval_ms = HEARTBEAT_INTERVAL_MS
        # time.monotonic() of every heartbeat received: a blocked client event loop shows
        # as a gap much longer than the interval.
        self.heartbeat_times: list[float] = []
        # Query of every gateway connection (v, encoding, compress), for assertions.
        self.connections: list[dict[str, str]] = []
        # Cleared by hold(): new connections wait, so a test can make events pile up
        # while the bot is away and check that RESUME replays them.
        self._open = asyncio.Event()
        self._open.set()

    def hold(self) -> None:
        """Make new gateway connections wait (before HELLO) until :meth:`release`."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    # -- dispatch -----------------------------------------------------------------------

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send ``event`` to every session serving its guild (buffered for resume when
        disconnected)."""
        guild = _guild_of(event, data)
        for session in list(self.sessions.values()):
            if session.serves(guild):
                await self._dispatch_to(session, event, data)

    async def _dispatch_to(self, session: Session, event: str, data: dict[str, Any]) -> None:
        payload_data = session.wants(event, data, self.emu.state.bot.id)
        if payload_data is None:
            return
        async with session.lock:
            session.seq += 1
            payload = {"op": DISPATCH, "t": event, "s": session.seq, "d": payload_data}
            session.buffer.append((session.seq, payload))
            del session.buffer[:-MAX_BUFFERED]
            await self._send(session, payload)

    async def _send(self, session: Session, payload: dict[str, Any]) -> None:
        conn = session.conn
        if conn is None or conn.ws.closed:
            return  # kept in the buffer; a RESUME replays it
        try:
            await conn.send(payload)
        except (ConnectionError, RuntimeError) as exc:
            log.info("gateway: send failed (%s); event kept for resume", exc)

    async def drop_connections(self, code: int = 4000) -> int:
        """Close every gateway WebSocket with ``code``; sessions stay resumable.

        Returns how many connections were closed.
        """
        closed = 0
        for session in self.sessions.values():
            conn = session.conn
            session.conn = None
            if conn is not None and not conn.ws.closed:
                await conn.ws.close(code=code, message=b"emulator: connection dropped")
                closed += 1
        log.info("gateway: dropped %d connection(s) with code %d", closed, code)
        return closed

    async def invalidate_sessions(self) -> None:
        """Forget every session and drop its connection: the client's RESUME gets
        INVALID_SESSION and it must IDENTIFY again (a fresh READY and GUILD_CREATE)."""
        sessions, self.sessions = list(self.sessions.values()), {}
        for session in sessions:
            conn, session.conn = session.conn, None
            if conn is not None and not conn.ws.closed:
                await conn.ws.close(code=4000, message=b"emulator: session invalidated")

    async def close_all(self) -> None:
        self._open.set()
        for ws in list(self.sockets):
            if not ws.closed:
                await ws.close(code=1001, message=b"emulator stopping")

    # -- connection handling ------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """``GET /gateway`` upgraded to a WebSocket."""
        encoding = request.query.get("encoding", "json")
        compress = request.query.get("compress")
        self.connections.append(dict(request.query))
        ws = web.WebSocketResponse(max_msg_size=0, autoclose=False)
        await ws.prepare(request)
        self.sockets.add(ws)
        try:
            if encoding != "json" or compress not in (None, "zlib-stream"):
                log.error("gateway: unsupported encoding=%s compress=%s", encoding, compress)
                await ws.close(code=4002, message=b"emulator supports encoding=json, compress=zlib-stream")
                return ws
            await self._open.wait()
            conn = Connection(ws, compress=compress == "zlib-stream")
            await conn.send({"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms},
                             "s": None, "t": None})
            session: Session | None = None
            async for msg in ws:
                if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    break
                if msg.type is not WSMsgType.TEXT:
                    log.warning("gateway: ignoring non-text frame %s", msg.type)
                    continue
                try:
                    packet = json.loads(msg.data)
                except json.JSONDecodeError:
                    await ws.close(code=4002, message=b"decode error")
                    break
                session = await self._on_packet(conn, session, packet)
                if ws.closed:
                    break
            if session is not None and session.conn is conn:
                session.conn = None
        finally:
            self.sockets.discard(ws)
            if not ws.closed:
                await ws.close()
        return ws

    async def _on_packet(self, conn: Connection, session: Session | None,
                         packet: dict[str, Any]) -> Session | None:
        op = packet.get("op")
        data = packet.get("d")
        if op == HEARTBEAT:
            self.heartbeats += 1
            self.heartbeat_times.append(time.monotonic())
            await conn.send({"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        elif op == IDENTIFY:
            return await self._identify(conn, data or {})
        elif op == RESUME:
            return await self._resume(conn, data or {})
        elif op == REQUEST_MEMBERS and session is not None:
            await self._members_chunk(session, data or {})
        elif op in (PRESENCE, VOICE_STATE):
            pass  # accepted, nothing to emulate
        else:
            log.warning("gateway: unexpected op %r", op)
        return session

    def _token_ok(self, token: str | None) -> bool:
        token = (token or "").removeprefix("Bot ").strip()
        return secrets.compare_digest(token, self.emu.state.token)

    async def _identify(self, conn: Connection, data: dict[str, Any]) -> Session | None:
        if not self._token_ok(data.get("token")):
            log.error("gateway: IDENTIFY with a wrong token")
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return None
        try:
            shard = _shard(data.get("shard"))
        except ValueError:
            log.error("gateway: IDENTIFY with an invalid shard %r", data.get("shard"))
            await conn.ws.close(code=4010, message=b"Invalid shard.")
            return None
        self.identifies += 1
        state = self.emu.state
        session = Session(id=secrets.token_hex(16), intents=int(data.get("intents") or 0),
                          shard=shard)
        session.conn = conn
        # One session per shard: a new IDENTIFY for a shard replaces that shard's session.
        self.sessions = {sid: s for sid, s in self.sessions.items()
                         if s.shard is not None and shard and s.shard[0] != shard[0]}
        self.sessions[session.id] = session
        guilds = [gid for gid in state.guild_names if session.serves(gid)]
        ready = {
            "v": 10,
            "user": state.bot.payload() | {"verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": str(gid), "unavailable": True} for gid in guilds],
            "session_id": session.id,
            "resume_gateway_url": self.emu.gateway_url,
            "application": {"id": str(state.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
        }
        if shard:
            ready["shard"] = list(shard)
        await self._dispatch_to(session, "READY", ready)
        for gid in guilds:
            await self._dispatch_to(session, "GUILD_CREATE", state.guild_payload(gid))
        self.emu._on_gateway_ready()
        return session

    async def _resume(self, conn: Connection, data: dict[str, Any]) -> Session | None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or not self._token_ok(data.get("token")):
            log.info("gateway: RESUME of unknown session %s -> INVALID_SESSION", data.get("session_id"))
            await conn.send({"op": INVALID_SESSION, "d": False, "s": None, "t": None})
            return None
        seq = int(data.get("seq") or 0)
        async with session.lock:
            if session.conn is not None and session.conn is not conn and not session.conn.ws.closed:
                await session.conn.ws.close(code=4000, message=b"session resumed elsewhere")
            session.conn = conn
            session.resumes += 1
            missed = [payload for s, payload in session.buffer if s > seq]
            log.info("gateway: RESUME session %s from seq %d, replaying %d event(s)",
                     session.id, seq, len(missed))
            for payload in missed:
                await self._send(session, payload)
            session.replayed += len(missed)
            await self._send(session, {"op": DISPATCH, "t": "RESUMED", "s": None, "d": {}})
        self.emu._notify()
        return session

    async def _members_chunk(self, session: Session, data: dict[str, Any]) -> None:
        state = self.emu.state
        members = [state.member_payload(u) for u in state.users.values()]
        chunk = {
            "guild_id": str(data.get("guild_id") or state.guild_id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await self._dispatch_to(session, "GUILD_MEMBERS_CHUNK", chunk)


def _shard(value: Any) -> tuple[int, int] | None:
    """``[shard_id, shard_count]`` from IDENTIFY: the pair, or None if absent.

    Raises ``ValueError`` for anything else (Discord closes with 4010 "Invalid shard").
    """
    if value is None:
        return None
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise ValueError(f"invalid shard {value!r}")
    shard_id, count = value
    if count < 1 or not 0 <= shard_id < count:
        raise ValueError(f"invalid shard {value!r}")
    return (shard_id, count)


def _guild_of(event: str, data: dict[str, Any]) -> int | None:
    """The guild an event belongs to (for shard routing)."""
    if event in ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"):
        raw = data.get("id")
    else:
        raw = data.get("guild_id")
    return int(raw) if raw is not None else None
