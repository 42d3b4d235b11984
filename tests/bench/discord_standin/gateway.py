"""The gateway websocket: HELLO, heartbeats, IDENTIFY/READY/GUILD_CREATE, RESUME, op 7 and op 9.

Sharding as Discord does it: IDENTIFY may carry `shard: [shard_id, shard_count]`; that session is
told only of the guilds with `(guild_id >> 22) % shard_count == shard_id` (READY, GUILD_CREATE)
and receives only their events and interactions; DMs go to shard 0. A shard outside its count is
closed with 4010, and a session that would hold more than `max_guilds_per_session` guilds with
4011 (sharding required).
"""

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
_GUILD_ITSELF_EVENTS = {"GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"}  # the guild id is "id"

CLOSE_INVALID_SHARD = 4010
CLOSE_SHARDING_REQUIRED = 4011
DISCORD_MAX_GUILDS_PER_SESSION = 2500


def shard_of(guild_id: int, shard_count: int) -> int:
    """Discord's rule (kept here too: the stand-in does not import the bot)."""
    return (guild_id >> 22) % shard_count


def event_guild(event: str, data: dict[str, Any]) -> int | None:
    """The guild an event belongs to, or None (a DM, or not guild-bound)."""
    if event in _GUILD_ITSELF_EVENTS:
        return int(data["id"])
    guild_id = data.get("guild_id")
    return int(guild_id) if guild_id else None


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
    shard: tuple[int, int] | None = None
    """(shard_id, shard_count) from IDENTIFY; None: unsharded, every guild."""

    def serves(self, guild_id: int | None) -> bool:
        """Whether this session is told of `guild_id` (None: DMs, which go to shard 0)."""
        if self.shard is None:
            return True
        shard_id, shard_count = self.shard
        if guild_id is None:
            return shard_id == 0
        return shard_of(guild_id, shard_count) == shard_id


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
        self.recommended_shards = 1
        """GET /gateway/bot's `shards` (what auto-sharded clients start when given no count)."""
        self.max_concurrency = 1
        """GET /gateway/bot's `session_start_limit.max_concurrency`."""
        self.max_guilds_per_session = DISCORD_MAX_GUILDS_PER_SESSION
        """More guilds than this on one session closes it with 4011; tests lower it."""
        self.refused_identifies: list[tuple[int, str]] = []
        """(close code, reason) of every IDENTIFY refused for its shard."""
        self._accepting = asyncio.Event()
        self._accepting.set()
        self._greeting = asyncio.Event()
        self._greeting.set()
        self._handlers: set[asyncio.Task[Any]] = set()

    # ----- test controls -------------------------------------------------------------
    def hold_connections(self) -> None:
        """New gateway connections wait (an outage) until release_connections()."""
        self._accepting.clear()

    def release_connections(self) -> None:
        """End an outage begun by hold_connections()."""
        self._accepting.set()
        self.standin.recorder.notify()

    def hold_hello(self) -> None:
        """New gateway connections are accepted but not greeted: the handshake hangs before
        HELLO until release_hello()."""
        self._greeting.clear()

    def release_hello(self) -> None:
        """Greet the connections held by hold_hello()."""
        self._greeting.set()

    @property
    def connected(self) -> bool:
        """Whether a session currently has a live websocket."""
        return self.current is not None and self.current.conn is not None

    def connected_shards(self) -> set[tuple[int, int]]:
        """(shard_id, shard_count) of every sharded session with a live websocket."""
        return {
            s.shard
            for s in self.sessions.values()
            if s.shard is not None and s.conn is not None and not s.invalidated
        }

    def session_of_shard(self, shard_id: int) -> Session | None:
        """The live (not invalidated) session that identified as `shard_id`, if any."""
        for session in reversed(list(self.sessions.values())):
            shard = session.shard
            if shard is not None and shard[0] == shard_id and not session.invalidated:
                return session
        return None

    async def drop(self, code: int = 4000, *, shard: int | None = None) -> None:
        """Close the live websocket with a resumable close code (the session survives);
        `shard` picks a sharded session, else the latest session is dropped."""
        session = self.current if shard is None else self.session_of_shard(shard)
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
        guild_id = event_guild(event, data)
        for session in list(self.sessions.values()):
            if session.invalidated or not session.serves(guild_id):
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
        await self._greeting.wait()
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
        shard, problem = _read_shard(data.get("shard"))
        if problem:
            await self._refuse(conn, CLOSE_INVALID_SHARD, problem)
            return None
        standin = self.standin
        probe = Session(session_id="", intents=0, shard=shard)
        guild_ids = [g for g in standin.bot_guild_ids() if probe.serves(g)]
        if len(guild_ids) > self.max_guilds_per_session:
            await self._refuse(
                conn,
                CLOSE_SHARDING_REQUIRED,
                f"Sharding required: this session would hold {len(guild_ids)} guilds.",
            )
            return None
        self.identify_count += 1
        session = Session(
            session_id=secrets.token_hex(16), intents=int(data.get("intents", 0)), shard=shard
        )
        # A new IDENTIFY replaces the session of the same shard; other shards' sessions live on.
        for earlier in self.sessions.values():
            if earlier.shard == shard:
                earlier.invalidated = True
        self.sessions[session.session_id] = session
        self.current = session
        ready = {
            "v": 10,
            "user": {**standin.bot_user.to_json(), "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g), "unavailable": True} for g in guild_ids],
            "session_id": session.session_id,
            **({"shard": list(shard)} if shard is not None else {}),
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

    async def _refuse(self, conn: Connection, code: int, reason: str) -> None:
        self.refused_identifies.append((code, reason))
        await conn.ws.close(code=code, message=reason.encode()[:120])
        self.standin.recorder.notify()

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
        for session in list(self.sessions.values()):
            if session.conn is conn:
                self._append(session, "GUILD_MEMBERS_CHUNK", chunk)
                await self._flush(session)


def _read_shard(value: Any) -> tuple[tuple[int, int] | None, str]:
    """IDENTIFY's `shard` field as (shard_id, shard_count), or a reason to close with 4010."""
    if value is None:
        return None, ""
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return None, f"Invalid shard: {value!r} is not [shard_id, shard_count]."
    shard_id, shard_count = value
    if shard_count < 1 or not 0 <= shard_id < shard_count:
        return None, f"Invalid shard: {shard_id} is not a shard of {shard_count}."
    return (shard_id, shard_count), ""
