"""The gateway websocket: HELLO, heartbeats, IDENTIFY/READY/GUILD_CREATE, RESUME, op 7 and op 9."""

from __future__ import annotations

import asyncio
import json
import secrets
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from .server import DiscordStandIn

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE = 3
OP_VOICE_STATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15

_GUILDS_EVENTS = {
    "GUILD_CREATE",
    "GUILD_UPDATE",
    "GUILD_DELETE",
    "CHANNEL_CREATE",
    "CHANNEL_UPDATE",
    "CHANNEL_DELETE",
    "THREAD_CREATE",
    "THREAD_UPDATE",
    "THREAD_DELETE",
    "GUILD_ROLE_CREATE",
    "GUILD_ROLE_UPDATE",
    "GUILD_ROLE_DELETE",
}
_MESSAGE_EVENTS = {"MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE"}


class Connection:
    """One websocket connection, with the zlib-stream compressor if the client asked for it."""

    def __init__(self, ws: web.WebSocketResponse, compress: bool) -> None:
        self.ws = ws
        self._compressor = zlib.compressobj() if compress else None
        self._write_lock = asyncio.Lock()

    async def send(self, payload: dict[str, Any]) -> None:
        """Send one gateway payload (compressed and sync-flushed when negotiated)."""
        text = json.dumps(payload, separators=(",", ":"))
        async with self._write_lock:
            if self.ws.closed:
                return
            if self._compressor is not None:
                data = self._compressor.compress(text.encode()) + self._compressor.flush(
                    zlib.Z_SYNC_FLUSH
                )
                await self.ws.send_bytes(data)
            else:
                await self.ws.send_str(text)


@dataclass
class Session:
    """A gateway session: every dispatched event is kept so RESUME can replay it."""

    session_id: str
    intents: int
    events: list[dict[str, Any]] = field(default_factory=list)
    sent: int = 0
    conn: Connection | None = None
    invalidated: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Gateway:
    """Serves /gateway websockets for the stand-in and dispatches events to the bot."""

    def __init__(self, standin: DiscordStandIn, heartbeat_interval_ms: int = 41_250) -> None:
        self.standin = standin
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.sessions: dict[str, Session] = {}
        self.current: Session | None = None
        self.identify_count = 0
        self.resume_count = 0
        self.connection_count = 0
        self.heartbeats = 0
        self.identify_payloads: list[dict[str, Any]] = []
        self.compression_seen: list[str | None] = []
        self._accepting = asyncio.Event()
        self._accepting.set()
        self._handlers: set[asyncio.Task[Any]] = set()

    # ----- test controls -------------------------------------------------------------
    def hold_connections(self) -> None:
        """New gateway connections wait (an outage) until release_connections()."""
        self._accepting.clear()

    def release_connections(self) -> None:
        """End an outage begun by hold_connections()."""
        self._accepting.set()
        self.standin.recorder.notify()

    @property
    def connected(self) -> bool:
        """Whether a session currently has a live websocket."""
        return self.current is not None and self.current.conn is not None

    async def drop(self, code: int = 4000) -> None:
        """Close the live websocket with a resumable close code (the session survives)."""
        session = self.current
        if session is None or session.conn is None:
            raise AssertionError("stand-in: no gateway connection to drop")
        conn = session.conn
        session.conn = None
        await conn.ws.close(code=code, message=b"stand-in dropped the connection")
        self.standin.recorder.notify()

    async def send_reconnect(self) -> None:
        """Send op 7 RECONNECT: the client should reconnect and RESUME."""
        await self._send_op(OP_RECONNECT, None)

    async def invalidate_session(self, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION; a non-resumable one forces a fresh IDENTIFY."""
        if not resumable and self.current is not None:
            self.current.invalidated = True
        await self._send_op(OP_INVALID_SESSION, resumable)

    async def _send_op(self, op: int, data: Any) -> None:
        session = self.current
        if session is None or session.conn is None:
            raise AssertionError("stand-in: no gateway connection")
        await session.conn.send({"op": op, "d": data})

    # ----- dispatch ------------------------------------------------------------------
    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Queue an event for every live session (buffered while disconnected) and flush."""
        for session in list(self.sessions.values()):
            if session.invalidated:
                continue
            filtered = self._filter(session, event, data)
            if filtered is None:
                continue
            self._append(session, event, filtered)
            await self._flush(session)
        self.standin.recorder.notify()

    def _filter(self, session: Session, event: str, data: dict[str, Any]) -> dict[str, Any] | None:
        intents = session.intents
        if event in _GUILDS_EVENTS and not intents & INTENT_GUILDS:
            return None
        if event in _MESSAGE_EVENTS:
            wanted = INTENT_GUILD_MESSAGES if data.get("guild_id") else INTENT_DIRECT_MESSAGES
            if not intents & wanted:
                return None
            if event != "MESSAGE_DELETE" and not intents & INTENT_MESSAGE_CONTENT:
                bot_id = str(self.standin.bot_user.id)
                author = (data.get("author") or {}).get("id")
                mentioned = any(m.get("id") == bot_id for m in data.get("mentions") or [])
                if data.get("guild_id") and author != bot_id and not mentioned:
                    data = {
                        **data,
                        "content": "",
                        "embeds": [],
                        "attachments": [],
                        "components": [],
                    }
        return data

    def _append(self, session: Session, event: str, data: dict[str, Any]) -> None:
        seq = len(session.events) + 1
        session.events.append({"op": OP_DISPATCH, "t": event, "s": seq, "d": data})

    async def _flush(self, session: Session) -> None:
        async with session.lock:
            while session.conn is not None and session.sent < len(session.events):
                await session.conn.send(session.events[session.sent])
                session.sent += 1

    # ----- websocket handler ---------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """aiohttp handler for the gateway websocket."""
        await self._accepting.wait()
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True, timeout=2.0)
        await ws.prepare(request)
        compression = request.query.get("compress")
        self.compression_seen.append(compression)
        conn = Connection(ws, compress=compression == "zlib-stream")
        self.connection_count += 1
        self.standin.recorder.notify()
        await conn.send({"op": OP_HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        session: Session | None = None
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                op = payload.get("op")
                data = payload.get("d")
                if op == OP_HEARTBEAT:
                    self.heartbeats += 1
                    await conn.send({"op": OP_HEARTBEAT_ACK})
                elif op == OP_IDENTIFY:
                    session = await self._identify(conn, data)
                    if session is None:
                        break
                elif op == OP_RESUME:
                    session = await self._resume(conn, data)
                elif op == OP_REQUEST_MEMBERS:
                    await self._member_chunks(conn, data)
        finally:
            if session is not None and session.conn is conn:
                session.conn = None
            self.standin.recorder.notify()
        return ws

    async def _identify(self, conn: Connection, data: dict[str, Any]) -> Session | None:
        self.identify_payloads.append(data)
        if data.get("token") != self.standin.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return None
        self.identify_count += 1
        session = Session(session_id=secrets.token_hex(16), intents=int(data.get("intents", 0)))
        self.sessions[session.session_id] = session
        if self.current is not None:
            self.current.invalidated = True
        self.current = session
        standin = self.standin
        guild_ids = standin.bot_guild_ids()
        ready = {
            "v": 10,
            "user": {**standin.bot_user.to_json(), "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g), "unavailable": True} for g in guild_ids],
            "session_id": session.session_id,
            "resume_gateway_url": standin.gateway_url,
            "application": {"id": str(standin.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
        }
        self._append(session, "READY", ready)
        for guild_id in guild_ids:
            self._append(session, "GUILD_CREATE", standin.guild_create_payload(guild_id))
        session.conn = conn
        await self._flush(session)
        standin.recorder.notify()
        return session

    async def _resume(self, conn: Connection, data: dict[str, Any]) -> Session | None:
        session = self.sessions.get(str(data.get("session_id")))
        seq = data.get("seq") or 0
        if (
            data.get("token") != self.standin.token
            or session is None
            or session.invalidated
            or seq > len(session.events)
        ):
            await conn.send({"op": OP_INVALID_SESSION, "d": False})
            return None
        self.resume_count += 1
        async with session.lock:
            session.sent = seq
            self._append(session, "RESUMED", {})
            session.conn = conn
        await self._flush(session)
        self.standin.recorder.notify()
        return session

    async def _member_chunks(self, conn: Connection, data: dict[str, Any]) -> None:
        guild_id = int(data["guild_id"])
        members = self.standin.guild_members_json(guild_id)
        chunk = {
            "guild_id": str(guild_id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        session = self.current
        if session is not None and session.conn is conn:
            self._append(session, "GUILD_MEMBERS_CHUNK", chunk)
            await self._flush(session)
