"""The gateway websocket: HELLO, IDENTIFY/RESUME, heartbeats, READY, GUILD_CREATE, dispatch.

Transport compression follows the URL's ``compress=`` query: ``zlib-stream`` (one shared
zlib context per connection, each message ends with Z_SYNC_FLUSH) and ``zstd-stream`` when
a zstd module is importable; otherwise plain text frames (which every client accepts).
WebSocket permessage-deflate is negotiated by aiohttp only if the client offers it
(discord.py 2.7 offers it for the voice gateway only, not for the main gateway).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSCloseCode, WSMsgType, web

from . import payloads
from .models import PRIVILEGED_INTENTS, Intent

if TYPE_CHECKING:
    from .server import DiscordStandIn

log = logging.getLogger("discord_standin.gateway")

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, RESUME, RECONNECT = 0, 1, 2, 3, 6, 7
REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 8, 9, 10, 11
REPLAY_BUFFER = 1000


def _zstd_compressor() -> Any | None:
    try:
        import zstandard  # type: ignore[import-not-found]

        obj = zstandard.ZstdCompressor().compressobj()
        return lambda data: obj.compress(data) + obj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
    except ImportError:
        pass
    try:
        from compression import zstd  # type: ignore[import-not-found]

        comp = zstd.ZstdCompressor()
        return lambda data: comp.compress(data, mode=zstd.ZstdCompressor.FLUSH_BLOCK)
    except ImportError:
        return None


class Connection:
    """One websocket connection, with its own compression context."""

    def __init__(self, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.ws = ws
        self.requested_compression = compress
        self._lock = asyncio.Lock()
        self._compress: Any | None = None
        self.compression: str | None = None
        self.permessage_deflate = False
        if compress == "zlib-stream":
            z = zlib.compressobj()
            self._compress = lambda data: z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH)
            self.compression = compress
        elif compress == "zstd-stream":
            self._compress = _zstd_compressor()
            self.compression = compress if self._compress else None

    def describe(self) -> dict[str, Any]:
        return {
            "requested_compression": self.requested_compression,
            "compression": self.compression,
            "permessage_deflate": self.permessage_deflate,
        }

    async def send(self, payload: dict[str, Any]) -> None:
        text = json.dumps(payload, separators=(",", ":"))
        async with self._lock:
            if self.ws.closed:
                return
            if self._compress is None:
                await self.ws.send_str(text)
            else:
                await self.ws.send_bytes(self._compress(text.encode()))


@dataclass
class Session:
    id: str
    intents: int
    identify: dict[str, Any]
    seq: int = 0
    connection: Connection | None = None
    buffer: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=REPLAY_BUFFER))
    presence: dict[str, Any] | None = None
    heartbeats: int = 0
    last_heartbeat_at: float | None = None
    shard: tuple[int, int] = (0, 1)  # (shard id, shard count) from IDENTIFY

    def has(self, intent: Intent) -> bool:
        return bool(self.intents & intent)

    def serves(self, guild_id: int | None) -> bool:
        """Discord's rule: a guild is on shard ``(guild_id >> 22) % shard_count``; direct
        messages are on shard 0."""
        shard_id, count = self.shard
        return shard_of(guild_id, count) == shard_id


def shard_of(guild_id: int | None, count: int) -> int:
    """The shard a guild's events go to (Discord: ``(guild_id >> 22) % num_shards``)."""
    return 0 if guild_id is None else (guild_id >> 22) % max(1, count)


class Gateway:
    def __init__(self, server: DiscordStandIn, heartbeat_interval_ms: int) -> None:
        self.server = server
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.sessions: dict[str, Session] = {}
        self.current: Session | None = None
        self.connections: set[Connection] = set()
        self.log: list[tuple[float, str, Any]] = []  # (time, "in"/"out"/"close", op or event)
        self.connect_count = 0
        self.resume_count = 0

    # --- public -----------------------------------------------------------------
    @property
    def connected(self) -> bool:
        s = self.current
        return bool(s and s.connection and not s.connection.ws.closed)

    async def dispatch(
        self, event: str, data: dict[str, Any], session: Session | None = None
    ) -> None:
        """Send a DISPATCH to the bot's session (buffered for RESUME if disconnected); without
        a session, to the newest session of the shard that serves the event's guild."""
        session = session or self.session_for(data.get("guild_id"))
        if session is None:
            raise RuntimeError("no bot has identified on the gateway yet")
        session.seq += 1
        frame = {"op": DISPATCH, "s": session.seq, "t": event, "d": data}
        session.buffer.append(frame)
        self.log.append((time.monotonic(), "out", event))
        if session.connection is not None:
            await session.connection.send(frame)

    def session_for(self, guild_id: Any) -> Session | None:
        """The newest session whose shard serves ``guild_id`` (None: a direct message)."""
        gid = int(guild_id) if guild_id else None
        for session in reversed(list(self.sessions.values())):
            if session.serves(gid):
                return session
        return self.current

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT; discord.py then reconnects and RESUMEs."""
        if self.current and self.current.connection:
            await self.current.connection.send({"op": RECONNECT, "d": None})

    async def close_all(self, code: int = WSCloseCode.GOING_AWAY) -> None:
        for conn in list(self.connections):
            await conn.ws.close(code=code, message=b"stand-in shutting down")

    # --- websocket handler -------------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=True, max_msg_size=0, autoping=True)
        await ws.prepare(request)
        query = request.query
        conn = Connection(ws, query.get("compress"))
        conn.permessage_deflate = bool(ws.compress)
        self.connections.add(conn)
        self.connect_count += 1
        self.log.append((time.monotonic(), "connect", conn.describe()))
        session: Session | None = None
        try:
            if query.get("encoding", "json") != "json":
                await ws.close(code=4002, message=b"only encoding=json is supported")
                return ws
            if query.get("v", "10") not in ("9", "10"):
                await ws.close(code=4012, message=b"Invalid API version")
                return ws
            await conn.send({"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    if msg.type == WSMsgType.BINARY:
                        await ws.close(code=4002, message=b"Error while decoding payload.")
                    continue
                try:
                    frame = json.loads(msg.data)
                    op = frame["op"]
                except (ValueError, KeyError, TypeError):
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                self.log.append((time.monotonic(), "in", op))
                session = await self._on_frame(conn, session, op, frame.get("d"))
        finally:
            self.connections.discard(conn)
            if session is not None and session.connection is conn:
                session.connection = None
            self.log.append((time.monotonic(), "close", ws.close_code))
            self.server.notifier.notify()
        return ws

    async def _on_frame(
        self, conn: Connection, session: Session | None, op: int, d: Any
    ) -> Session | None:
        if op == HEARTBEAT:
            if session:
                session.heartbeats += 1
                session.last_heartbeat_at = time.monotonic()
            await conn.send({"op": HEARTBEAT_ACK})
        elif op == IDENTIFY:
            if session is not None:
                await conn.ws.close(code=4005, message=b"Already authenticated.")
                return session
            return await self._identify(conn, d or {})
        elif op == RESUME:
            return await self._resume(conn, d or {})
        elif op == PRESENCE:
            if session:
                session.presence = d
        elif op == REQUEST_MEMBERS:
            if session is None:
                await conn.ws.close(code=4003, message=b"Not authenticated.")
            else:
                await self._members_chunk(session, d or {})
        elif op in (4, 14, 31, 36, 37):  # voice state / lazy guilds / soundboard etc.: ignore
            pass
        else:
            await conn.ws.close(code=4001, message=b"Unknown opcode.")
        return session

    async def _identify(self, conn: Connection, d: dict[str, Any]) -> Session | None:
        server = self.server
        if d.get("token") != server.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return None
        intents = d.get("intents")
        if not isinstance(intents, int) or intents < 0:
            await conn.ws.close(code=4013, message=b"Invalid intent(s).")
            return None
        if intents & PRIVILEGED_INTENTS & ~server.allowed_privileged_intents:
            await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
            return None
        shard = d.get("shard", [0, 1])
        if (
            not isinstance(shard, list)
            or len(shard) != 2
            or not all(isinstance(n, int) for n in shard)
            or not 0 <= shard[0] < shard[1]
        ):
            await conn.ws.close(code=4010, message=b"Invalid shard.")
            return None
        session = Session(
            id=secrets.token_hex(16),
            intents=intents,
            identify=d,
            connection=conn,
            shard=(shard[0], shard[1]),
        )
        session.presence = d.get("presence")
        self.sessions[session.id] = session
        self.current = session
        world = server.world
        guilds = [g for g in world.guilds if session.serves(g.id)]
        ready = {
            "v": 10,
            "user": payloads.user(world.bot_user) | {"verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "resume_gateway_url": server.gateway_url,
            "session_type": "normal",
            "shard": shard,
            "application": {"id": str(world.application_id), "flags": server.application_flags},
            "private_channels": [],
            "presences": [],
            "relationships": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["rotterdam"],
            "auth_session_id_hash": "",
            "user_settings": {},
            "_trace": ["discord-standin"],
        }
        await self.dispatch("READY", ready, session)
        for guild in guilds:
            await self.dispatch("GUILD_CREATE", self._guild_payload(guild, session), session)
        server.ready_at = time.monotonic()
        server.notifier.notify()
        return session

    def _guild_payload(self, guild: Any, session: Session) -> dict[str, Any]:
        world = self.server.world
        if session.has(Intent.GUILD_MEMBERS):
            members = list(guild.members)
        else:  # without the privileged intent Discord only sends the bot itself
            members = [m for m in guild.members if m.user.id == world.bot_user.id]
        return payloads.guild_create(guild, world, members=members)

    async def _resume(self, conn: Connection, d: dict[str, Any]) -> Session | None:
        session = self.sessions.get(d.get("session_id") or "")
        if session is None or d.get("token") != self.server.token:
            await conn.send({"op": INVALID_SESSION, "d": False})
            return None
        self.resume_count += 1
        session.connection = conn
        self.current = session
        last = d.get("seq") or 0
        for frame in list(session.buffer):
            if frame["s"] > last:
                await conn.send(frame)
        await self.dispatch("RESUMED", {"_trace": ["discord-standin"]}, session)
        self.server.notifier.notify()
        return session

    async def _members_chunk(self, session: Session, d: dict[str, Any]) -> None:
        world = self.server.world
        ids = d.get("guild_id")
        guild_ids = ids if isinstance(ids, list) else [ids]
        for gid in guild_ids:
            guild = world.guild(int(gid))
            if guild is None:
                continue
            members = list(guild.members)
            wanted = {int(u) for u in d.get("user_ids") or []}
            if wanted:
                members = [m for m in members if m.user.id in wanted]
            elif d.get("query"):
                q = str(d["query"]).lower()
                members = [m for m in members if m.user.username.lower().startswith(q)]
            limit = d.get("limit") or 0
            if limit:
                members = members[:limit]
            found = {m.user.id for m in members}
            chunk = {
                "guild_id": str(guild.id),
                "members": [payloads.member(m) for m in members],
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": [str(u) for u in wanted - found],
            }
            if d.get("nonce"):
                chunk["nonce"] = d["nonce"]
            await self.dispatch("GUILD_MEMBERS_CHUNK", chunk, session)
