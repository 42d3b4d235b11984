"""REST routes of the stand-in, with fault injection and optional real rate-limit buckets."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .interactions import (
    AUTOCOMPLETE,
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE_MESSAGE,
    MESSAGE_COMPONENT,
    MODAL,
    UPDATE_MESSAGE,
    InteractionHandle,
    InteractionResponse,
)
from .recorder import RecordedRequest
from .state import (
    DM,
    FLAG_REQUIRE_TAG,
    FORUM,
    MSG_EPHEMERAL,
    MSG_LOADING,
    PUBLIC_THREAD,
    Channel,
    Perm,
    iso_now,
)
from .validation import ApiError, invalid_form_body, validate_message, validate_modal

if TYPE_CHECKING:
    from .server import DiscordStandIn

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The parsed body of a request: JSON (or multipart payload_json), and the uploaded files.
PAYLOAD = web.RequestKey("standin_payload", Any)
FILES = web.RequestKey("standin_files", list[dict[str, Any]])


def json_response(status: int, data: Any, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer whose Content-Type is exactly application/json (discord.py checks that)."""
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def error_response(error: ApiError, headers: dict[str, str] | None = None) -> web.Response:
    """Discord's error body for an ApiError."""
    return json_response(error.status, error.body(), headers)


@dataclass
class _Window:
    started: float
    count: int = 0


@dataclass
class RateLimiter:
    """Optional enforcement of per-route buckets and the global limit, with real headers."""

    enabled: bool = False
    per_route: int = 5
    per_seconds: float = 1.0
    global_per_second: int = 50
    buckets: dict[str, _Window] = field(default_factory=dict)
    global_window: _Window | None = None

    def enable(
        self, *, per_route: int = 5, per_seconds: float = 1.0, global_per_second: int = 50
    ) -> None:
        """Start enforcing: `per_route` requests per `per_seconds` per bucket, and a global cap."""
        self.enabled = True
        self.per_route = per_route
        self.per_seconds = per_seconds
        self.global_per_second = global_per_second

    def disable(self) -> None:
        """Stop enforcing."""
        self.enabled = False
        self.buckets.clear()

    def check(
        self, bucket: str, major: str, exempt_global: bool
    ) -> tuple[dict[str, str], ApiError | None, float]:
        """Count a request: headers to send, and a 429 error (with retry_after) if over."""
        now = time.monotonic()
        if not exempt_global:
            window = self.global_window
            if window is None or now - window.started >= 1.0:
                window = self.global_window = _Window(now)
            if window.count >= self.global_per_second:
                retry = max(0.001, 1.0 - (now - window.started))
                return (
                    {"X-RateLimit-Global": "true", "X-RateLimit-Scope": "global"},
                    ApiError(429, 0, "You are being rate limited."),
                    retry,
                )
            window.count += 1
        key = f"{bucket}:{major}"
        win = self.buckets.get(key)
        if win is None or now - win.started >= self.per_seconds:
            win = self.buckets[key] = _Window(now)
        reset_after = max(0.001, self.per_seconds - (now - win.started))
        if win.count >= self.per_route:
            headers = _limit_headers(self.per_route, 0, reset_after, bucket)
            headers["X-RateLimit-Scope"] = "user"
            return headers, ApiError(429, 0, "You are being rate limited."), reset_after
        win.count += 1
        return (
            _limit_headers(self.per_route, self.per_route - win.count, reset_after, bucket),
            None,
            0,
        )


def _limit_headers(limit: int, remaining: int, reset_after: float, bucket: str) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
        "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        "X-RateLimit-Bucket": bucket,
    }


def _too_many(
    retry_after: float, *, is_global: bool, scope: str, headers: dict[str, str]
) -> web.Response:
    body = {
        "message": "You are being rate limited.",
        "retry_after": retry_after,
        "global": is_global,
    }
    if is_global:
        body["code"] = 0
    all_headers = {
        "Retry-After": str(max(1, round(retry_after))),
        "X-RateLimit-Scope": scope,
        "Via": "1.1 google",
        **headers,
    }
    if is_global:
        all_headers["X-RateLimit-Global"] = "true"
    else:
        all_headers.setdefault("X-RateLimit-Limit", "1")
        all_headers.setdefault("X-RateLimit-Remaining", "0")
        all_headers.setdefault("X-RateLimit-Reset-After", f"{retry_after:.3f}")
        all_headers.setdefault("X-RateLimit-Reset", f"{time.time() + retry_after:.3f}")
        all_headers.setdefault("X-RateLimit-Bucket", "standin-fault")
    return json_response(429, body, all_headers)


VIA_PREFIX = "/via/{via}"


class RestApi:
    """Registers the REST routes on an aiohttp app."""

    def __init__(self, standin: DiscordStandIn) -> None:
        self.s = standin
        self.prefix = ""

    def register(self, app: web.Application, prefix: str) -> None:
        """Add every route under `prefix`, the middleware, and the unknown-route catch-all."""
        self.prefix = prefix
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/users/@me", self.get_me),
            ("GET", "/users/{user_id:\\d+}", self.get_user),
            ("GET", "/oauth2/applications/@me", self.get_application),
            ("GET", "/gateway", self.get_gateway),
            ("GET", "/gateway/bot", self.get_gateway_bot),
            ("PUT", "/applications/{app_id}/commands", self.put_global_commands),
            ("GET", "/applications/{app_id}/commands", self.get_global_commands),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self.put_guild_commands),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", self.get_guild_commands),
            ("GET", "/channels/{channel_id}", self.get_channel),
            ("POST", "/channels/{channel_id}/messages", self.post_message),
            ("GET", "/channels/{channel_id}/messages", self.get_messages),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self.patch_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message),
            (
                "POST",
                "/channels/{channel_id}/messages/{message_id}/threads",
                self.thread_from_message,
            ),
            ("POST", "/channels/{channel_id}/threads", self.post_thread),
            ("POST", "/channels/{channel_id}/typing", self.typing),
            ("POST", "/channels/{channel_id}/webhooks", self.create_webhook),
            ("GET", "/channels/{channel_id}/webhooks", self.list_webhooks),
            ("GET", "/guilds/{guild_id}", self.get_guild),
            ("GET", "/guilds/{guild_id}/channels", self.get_guild_channels),
            ("GET", "/guilds/{guild_id}/roles", self.get_roles),
            ("GET", "/guilds/{guild_id}/members", self.get_members),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member),
            ("GET", "/guilds/{guild_id}/threads/active", self.active_threads),
            (
                "GET",
                "/channels/{channel_id}/threads/archived/public",
                self.archived_public_threads,
            ),
            ("POST", "/users/@me/channels", self.open_dm),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self.interaction_callback),
            ("POST", "/webhooks/{webhook_id}/{token}", self.execute_webhook),
            ("GET", "/webhooks/{webhook_id}/{token}/messages/{message_id}", self.webhook_get),
            ("PATCH", "/webhooks/{webhook_id}/{token}/messages/{message_id}", self.webhook_edit),
            ("DELETE", "/webhooks/{webhook_id}/{token}/messages/{message_id}", self.webhook_delete),
        ]
        # The same API again under /via/<name>: a process given that base URL is told apart in
        # the record (`RecordedRequest.via`), e.g. which shard process answered or posted.
        for base in (prefix, VIA_PREFIX + prefix):
            for method, path, handler in routes:
                app.router.add_route(method, base + path, self._wrap(method, path, handler))
            app.router.add_route("*", base + "/{tail:.*}", self.unknown)

    # ----- plumbing ------------------------------------------------------------------
    def _api_path(self, request: web.Request) -> str:
        """The path below the API prefix (and below /via/<name>, if the request came that way)."""
        via = request.match_info.get("via")
        skip = len(self.prefix) + (len(f"/via/{via}") if via is not None else 0)
        return request.path[skip:]

    def _wrap(self, method: str, template: str, handler: Handler) -> Handler:
        needs_auth = not template.startswith(("/interactions/", "/webhooks/"))
        bucket = hashlib.sha1(f"{method} {template}".encode()).hexdigest()[:16]

        async def wrapped(request: web.Request) -> web.StreamResponse:
            record = await self._record(request)
            try:
                response = await self._guarded(request, record, handler, needs_auth, bucket)
            except ApiError as error:
                response = error_response(error)
            record.status = response.status
            self.s.recorder.notify()
            return response

        return wrapped

    async def _guarded(
        self,
        request: web.Request,
        record: RecordedRequest,
        handler: Handler,
        needs_auth: bool,
        bucket: str,
    ) -> web.StreamResponse:
        if needs_auth and request.headers.get("Authorization") != f"Bot {self.s.token}":
            return json_response(401, {"message": "401: Unauthorized", "code": 0})
        path = record.path
        for key in ("channel_id",):
            raw = request.match_info.get(key)
            if raw and raw.isdigit():
                cid = int(raw)
                if cid in self.s.faults.missing_channels:
                    raise ApiError(404, 10003, "Unknown Channel")
                if cid in self.s.faults.forbidden_channels:
                    raise ApiError(403, 50013, "Missing Permissions")
        limit_headers: dict[str, str] = {}
        if self.s.rate_limits.enabled:
            major = "+".join(
                request.match_info.get(k, "")
                for k in ("channel_id", "guild_id", "webhook_id", "token")
            )
            exempt = self._api_path(request).startswith("/interactions/")
            limit_headers, err, retry = self.s.rate_limits.check(bucket, major, exempt)
            if err is not None:
                self.s.recorder.rate_limited.append(record)
                is_global = limit_headers.get("X-RateLimit-Global") == "true"
                scope = limit_headers.pop("X-RateLimit-Scope", "user")
                return _too_many(retry, is_global=is_global, scope=scope, headers=limit_headers)
        fault = self.s.faults.take(request.method, path)
        if fault is not None and fault.status == 429:
            self.s.recorder.rate_limited.append(record)
            return _too_many(
                fault.retry_after, is_global=fault.is_global, scope=fault.scope, headers={}
            )
        if fault is not None and not fault.after_effect:
            return self._fault_response(fault.status, fault.code, fault.message)
        response = await handler(request)
        if fault is not None:
            return self._fault_response(fault.status, fault.code, fault.message)
        for name, value in limit_headers.items():
            response.headers[name] = value
        return response

    @staticmethod
    def _fault_response(status: int, code: int, message: str) -> web.Response:
        if status >= 500:
            return web.Response(status=status, text=f"{status} injected server error")
        return json_response(status, {"message": message or f"{status}", "code": code})

    async def _record(self, request: web.Request) -> RecordedRequest:
        payload: Any = None
        files: list[dict[str, Any]] = []
        content_type = request.content_type
        if content_type.startswith("multipart/"):
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not hasattr(part, "name"):
                    continue
                name = getattr(part, "name", "")
                if name == "payload_json":
                    payload = json.loads(await part.text())  # type: ignore[union-attr]
                else:
                    data = await part.read()  # type: ignore[union-attr]
                    files.append(
                        {
                            "field": name,
                            "filename": getattr(part, "filename", None) or name,
                            "content_type": part.headers.get("Content-Type", ""),
                            "data": bytes(data),
                        }
                    )
        elif request.can_read_body:
            text = await request.text()
            if text:
                try:
                    payload = json.loads(text)
                except json.JSONDecodeError:
                    payload = text
        request[PAYLOAD] = payload if payload is not None else {}
        request[FILES] = files
        path = self._api_path(request)
        record = RecordedRequest(
            method=request.method,
            path=path,
            via=request.match_info.get("via", ""),
            query=dict(request.query),
            json=payload,
            files=[f["filename"] for f in files],
        )
        self.s.recorder.requests.append(record)
        return record

    async def unknown(self, request: web.Request) -> web.StreamResponse:
        """Catch-all: 404 and remember it so tests can assert no unknown route was hit."""
        record = await self._record(request)
        record.status = 404
        self.s.recorder.unknown_routes.append(record)
        self.s.recorder.notify()
        return json_response(404, {"message": "404: Not Found", "code": 0})

    # ----- lookups -------------------------------------------------------------------
    def _channel(self, request: web.Request) -> Channel:
        raw = request.match_info["channel_id"]
        channel = self.s.channels.get(int(raw)) if raw.isdigit() else None
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        if channel.guild_id is not None and channel.guild_id not in self.s.bot_guilds:
            raise ApiError(403, 50001, "Missing Access")
        return channel

    def _message(self, channel: Channel, raw: str) -> dict[str, Any]:
        message = self.s.messages.get(int(raw)) if raw.isdigit() else None
        if message is None or int(message["channel_id"]) != channel.id:
            raise ApiError(404, 10008, "Unknown Message")
        return message

    def _guild_id(self, request: web.Request) -> int:
        raw = request.match_info["guild_id"]
        gid = int(raw) if raw.isdigit() else 0
        if gid not in self.s.guilds:
            raise ApiError(404, 10004, "Unknown Guild")
        if gid not in self.s.bot_guilds:
            raise ApiError(403, 50001, "Missing Access")
        return gid

    def _attachments(self, request: web.Request, payload: dict[str, Any]) -> list[dict[str, Any]]:
        result = []
        described = payload.get("attachments") or []
        for index, f in enumerate(request[FILES]):
            meta = described[index] if index < len(described) else {}
            stored = self.s.store_attachment(
                meta.get("filename") or f["filename"], f["data"], f["content_type"]
            )
            result.append({**stored.to_json(self.s.port), "description": meta.get("description")})
        return result

    def _bot_member(self, channel: Channel) -> Any:
        if channel.guild_id is None:
            return None
        return self.s.guilds[channel.guild_id].members.get(self.s.bot_user.id)

    async def _create_in(
        self,
        channel: Channel,
        payload: dict[str, Any],
        request: web.Request | None,
        *,
        author: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        dispatch: bool = True,
    ) -> dict[str, Any]:
        files = request[FILES] if request is not None else []
        validate_message(payload, file_count=len(files))
        attachments = self._attachments(request, payload) if request is not None else []
        message = self.s.make_message(
            channel,
            author or self.s.bot_user.to_json(),
            payload,
            attachments=attachments,
            member=None if author else self._bot_member(channel),
            extra=extra,
        )
        return await self.s.store_message(channel, message, dispatch=dispatch)

    def _edit(self, message: dict[str, Any], payload: dict[str, Any], request: web.Request) -> None:
        validate_message(payload, allow_empty=True)
        for key in ("content", "embeds", "components", "flags"):
            if key in payload:
                message[key] = (
                    payload[key]
                    if payload[key] is not None
                    else ("" if key == "content" else ([] if key != "flags" else 0))
                )
        if "attachments" in payload or request[FILES]:
            kept_ids = {str(a.get("id")) for a in payload.get("attachments") or []}
            kept = [a for a in message["attachments"] if a["id"] in kept_ids]
            message["attachments"] = kept + self._attachments(request, payload)
        message["edited_timestamp"] = iso_now()
        if not (
            message["content"]
            or message["embeds"]
            or message["attachments"]
            or message["components"]
        ):
            raise ApiError(400, 50006, "Cannot send an empty message")

    # ----- identity ------------------------------------------------------------------
    async def get_me(self, request: web.Request) -> web.StreamResponse:
        """GET /users/@me."""
        return json_response(200, {**self.s.bot_user.to_json(), "verified": True, "flags": 0})

    async def get_user(self, request: web.Request) -> web.StreamResponse:
        """GET /users/{id}."""
        user = self.s.users.get(int(request.match_info["user_id"]))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return json_response(200, user.to_json())

    async def get_application(self, request: web.Request) -> web.StreamResponse:
        """GET /oauth2/applications/@me."""
        s = self.s
        owner = s.add_user("app-owner") if not hasattr(self, "_owner") else self._owner
        self._owner = owner
        return json_response(
            200,
            {
                "id": str(s.application_id),
                "name": s.bot_user.username,
                "icon": None,
                "description": "",
                "rpc_origins": [],
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": owner.to_json(),
                "summary": "",
                "verify_key": "0" * 64,
                "team": None,
                "flags": 0,
                "bot": s.bot_user.to_json(),
                "approximate_guild_count": len(s.bot_guilds),
            },
        )

    async def get_gateway(self, request: web.Request) -> web.StreamResponse:
        """GET /gateway."""
        return json_response(200, {"url": self.s.gateway_url.rstrip("/")})

    async def get_gateway_bot(self, request: web.Request) -> web.StreamResponse:
        """GET /gateway/bot (asked by auto-sharded clients)."""
        return json_response(
            200,
            {
                "url": self.s.gateway_url.rstrip("/"),
                "shards": self.s.gateway.recommended_shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 1000,
                    "reset_after": 0,
                    "max_concurrency": self.s.gateway.max_concurrency,
                },
            },
        )

    # ----- commands ------------------------------------------------------------------
    def _sync(self, guild_id: int | None, payload: list[dict[str, Any]]) -> list[dict[str, Any]]:
        s = self.s
        old = s.global_commands if guild_id is None else s.guild_commands.get(guild_id, [])
        old_ids = {(c["name"], c.get("type", 1)): c["id"] for c in old}
        names = [(c["name"], c.get("type", 1)) for c in payload]
        if len(set(names)) != len(names):
            raise invalid_form_body(
                {
                    "_errors": [
                        {
                            "code": "APPLICATION_COMMANDS_DUPLICATE_NAME",
                            "message": "Application command names must be unique",
                        }
                    ]
                }
            )
        result = []
        for command in payload:
            key = (command["name"], command.get("type", 1))
            stored = {
                "type": 1,
                "description": "",
                "options": [],
                "default_member_permissions": None,
                "dm_permission": True,
                "nsfw": False,
                **command,
                "id": old_ids.get(key) or str(s.snowflakes.next()),
                "application_id": str(s.application_id),
                "version": str(s.snowflakes.next()),
            }
            if stored["default_member_permissions"] is not None:
                # discord.py sends an int; Discord stores and returns a string.
                stored["default_member_permissions"] = str(stored["default_member_permissions"])
            if guild_id is not None:
                stored["guild_id"] = str(guild_id)
            result.append(stored)
        if guild_id is None:
            s.global_commands = result
        else:
            s.guild_commands[guild_id] = result
        s.sync_log.append((guild_id, result))
        return result

    def _check_app(self, request: web.Request) -> None:
        if request.match_info["app_id"] != str(self.s.application_id):
            raise ApiError(404, 10002, "Unknown Application")

    async def put_global_commands(self, request: web.Request) -> web.StreamResponse:
        """PUT /applications/{app}/commands (global bulk overwrite)."""
        self._check_app(request)
        return json_response(200, self._sync(None, request[PAYLOAD] or []))

    async def get_global_commands(self, request: web.Request) -> web.StreamResponse:
        """GET /applications/{app}/commands."""
        self._check_app(request)
        return json_response(200, self.s.global_commands)

    async def put_guild_commands(self, request: web.Request) -> web.StreamResponse:
        """PUT /applications/{app}/guilds/{guild}/commands (guild bulk overwrite)."""
        self._check_app(request)
        gid = self._guild_id(request)
        return json_response(200, self._sync(gid, request[PAYLOAD] or []))

    async def get_guild_commands(self, request: web.Request) -> web.StreamResponse:
        """GET /applications/{app}/guilds/{guild}/commands."""
        self._check_app(request)
        gid = self._guild_id(request)
        return json_response(200, self.s.guild_commands.get(gid, []))

    # ----- channels and messages -----------------------------------------------------
    async def get_channel(self, request: web.Request) -> web.StreamResponse:
        """GET /channels/{id}."""
        channel = self._channel(request)
        if channel.type != DM:
            self.s.require(channel, Perm.VIEW_CHANNEL)
        return json_response(200, channel.to_json())

    async def post_message(self, request: web.Request) -> web.StreamResponse:
        """POST /channels/{id}/messages (JSON or multipart with payload_json and files)."""
        channel = self._channel(request)
        payload = request[PAYLOAD]
        if channel.type == DM:
            assert channel.recipient is not None
            if not channel.recipient.dms_open:
                raise ApiError(403, 50007, "Cannot send messages to this user")
        elif channel.type == FORUM:
            raise ApiError(400, 50008, "Cannot send messages in a non-text channel")
        else:
            needed = Perm.SEND_MESSAGES_IN_THREADS if channel.is_thread else Perm.SEND_MESSAGES
            if request[FILES]:
                needed |= Perm.ATTACH_FILES
            self.s.require(channel, needed)
            if channel.archived:
                raise ApiError(400, 50083, "Thread is archived")
        # Discord's enforce_nonce: a repeat of a recent nonce by the same author returns the
        # message already made instead of a second one (the window is minutes; here, unbounded).
        nonce = payload.get("nonce") if payload.get("enforce_nonce") else None
        key = (channel.id, str(nonce)) if nonce is not None else None
        if key is not None and key in self.s.nonce_messages:
            existing = self.s.messages.get(self.s.nonce_messages[key])
            if existing is not None:
                return json_response(200, existing)
        message = await self._create_in(channel, payload, request)
        if key is not None:
            self.s.nonce_messages[key] = int(message["id"])
        return json_response(200, message)

    async def get_messages(self, request: web.Request) -> web.StreamResponse:
        """GET /channels/{id}/messages with before/after/around/limit, newest first."""
        channel = self._channel(request)
        if channel.type != DM:
            self.s.require(channel, Perm.VIEW_CHANNEL | Perm.READ_MESSAGE_HISTORY)
        query = request.query
        try:
            limit = int(query.get("limit", "50"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            raise invalid_form_body(
                {
                    "limit": {
                        "_errors": [
                            {
                                "code": "NUMBER_TYPE_MAX",
                                "message": "int value should be between 1 and 100.",
                            }
                        ]
                    }
                }
            )
        ids = sorted(i for i in self.s.channel_messages.get(channel.id, []) if i in self.s.messages)
        if "before" in query:
            before = int(query["before"])
            chosen = [i for i in ids if i < before][-limit:]
        elif "after" in query:
            after = int(query["after"])
            chosen = [i for i in ids if i > after][:limit]
        elif "around" in query:
            around = int(query["around"])
            older = [i for i in ids if i < around][-(limit // 2) :] if limit > 1 else []
            newer = [i for i in ids if i >= around][: limit - len(older)]
            chosen = older + newer
        else:
            chosen = ids[-limit:]
        return json_response(200, [self.s.messages[i] for i in reversed(chosen)])

    async def get_message(self, request: web.Request) -> web.StreamResponse:
        """GET /channels/{id}/messages/{mid}."""
        channel = self._channel(request)
        self.s.require(channel, Perm.VIEW_CHANNEL | Perm.READ_MESSAGE_HISTORY)
        return json_response(200, self._message(channel, request.match_info["message_id"]))

    async def patch_message(self, request: web.Request) -> web.StreamResponse:
        """PATCH /channels/{id}/messages/{mid}: only the bot's own messages."""
        channel = self._channel(request)
        message = self._message(channel, request.match_info["message_id"])
        if message["author"]["id"] != str(self.s.bot_user.id):
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._edit(message, request[PAYLOAD], request)
        await self.s.gateway.dispatch("MESSAGE_UPDATE", message)
        return json_response(200, message)

    async def delete_message(self, request: web.Request) -> web.StreamResponse:
        """DELETE /channels/{id}/messages/{mid}: others' messages need MANAGE_MESSAGES."""
        channel = self._channel(request)
        message = self._message(channel, request.match_info["message_id"])
        if message["author"]["id"] != str(self.s.bot_user.id):
            self.s.require(channel, Perm.MANAGE_MESSAGES)
        await self._delete(channel, message)
        return web.Response(status=204)

    async def _delete(self, channel: Channel, message: dict[str, Any]) -> None:
        self.s.messages.pop(int(message["id"]), None)
        data = {"id": message["id"], "channel_id": str(channel.id)}
        if channel.guild_id is not None:
            data["guild_id"] = str(channel.guild_id)
        await self.s.gateway.dispatch("MESSAGE_DELETE", data)

    async def typing(self, request: web.Request) -> web.StreamResponse:
        """POST /channels/{id}/typing."""
        self._channel(request)
        return web.Response(status=204)

    # ----- threads and forums --------------------------------------------------------
    def _new_thread(
        self,
        parent: Channel,
        name: str,
        *,
        thread_id: int | None = None,
        tags: list[int] | None = None,
    ) -> Channel:
        if not name or len(name) > 100:
            raise invalid_form_body(
                {
                    "name": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_BAD_LENGTH",
                                "message": "Must be between 1 and 100 in length.",
                            }
                        ]
                    }
                }
            )
        thread = Channel(
            thread_id or self.s.snowflakes.next(),
            PUBLIC_THREAD,
            name,
            guild_id=parent.guild_id,
            parent_id=parent.id,
            owner_id=self.s.bot_user.id,
            applied_tags=tags or [],
        )
        return thread

    def _check_tags(self, forum: Channel, raw_tags: list[Any]) -> list[int]:
        known = {t.id for t in forum.available_tags}
        tags = []
        for index, raw in enumerate(raw_tags):
            tag = int(raw)
            if tag not in known:
                raise invalid_form_body(
                    {
                        "applied_tags": {
                            str(index): {
                                "_errors": [
                                    {
                                        "code": "INVALID_TAG",
                                        "message": f"Tag {tag} is not available in this channel.",
                                    }
                                ]
                            }
                        }
                    }
                )
            tags.append(tag)
        if len(tags) > 5:
            raise invalid_form_body(
                {
                    "applied_tags": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_MAX_LENGTH",
                                "message": "Must be 5 or fewer in length.",
                            }
                        ]
                    }
                }
            )
        if not tags and forum.flags & FLAG_REQUIRE_TAG:
            raise ApiError(400, 40067, "A tag is required to create a forum post in this channel")
        return tags

    async def _open_thread(self, thread: Channel) -> None:
        self.s.channels[thread.id] = thread
        self.s.channel_messages[thread.id] = []
        if thread.guild_id is not None:
            self.s.guilds[thread.guild_id].channel_ids.append(thread.id)
        await self.s.gateway.dispatch("THREAD_CREATE", {**thread.to_json(), "newly_created": True})

    async def post_thread(self, request: web.Request) -> web.StreamResponse:
        """POST /channels/{id}/threads: a forum post (thread + first message) or a bare thread."""
        parent = self._channel(request)
        payload = request[PAYLOAD]
        if parent.type == FORUM:
            self.s.require(parent, Perm.SEND_MESSAGES)
            tags = self._check_tags(parent, payload.get("applied_tags") or [])
            first = payload.get("message") or {}
            validate_message(first, file_count=len(request[FILES]))
            thread = self._new_thread(parent, payload.get("name") or "", tags=tags)
            await self._open_thread(thread)
            message = await self._create_in(thread, first, request, extra={"id": str(thread.id)})
            return json_response(201, {**thread.to_json(), "message": message})
        if parent.type not in (0, 5):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        self.s.require(parent, Perm.CREATE_PUBLIC_THREADS)
        thread = self._new_thread(parent, payload.get("name") or "")
        await self._open_thread(thread)
        return json_response(201, thread.to_json())

    async def thread_from_message(self, request: web.Request) -> web.StreamResponse:
        """POST /channels/{id}/messages/{mid}/threads: the thread id equals the message id."""
        parent = self._channel(request)
        message = self._message(parent, request.match_info["message_id"])
        self.s.require(parent, Perm.CREATE_PUBLIC_THREADS)
        if int(message["id"]) in self.s.channels:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        thread = self._new_thread(
            parent, request[PAYLOAD].get("name") or "", thread_id=int(message["id"])
        )
        await self._open_thread(thread)
        message["thread"] = thread.to_json()
        return json_response(201, thread.to_json())

    async def active_threads(self, request: web.Request) -> web.StreamResponse:
        """GET /guilds/{id}/threads/active."""
        gid = self._guild_id(request)
        threads = [
            self.s.channels[c].to_json()
            for c in self.s.guilds[gid].channel_ids
            if c in self.s.channels
            and self.s.channels[c].is_thread
            and not self.s.channels[c].archived
        ]
        return json_response(200, {"threads": threads, "members": []})

    async def archived_public_threads(self, request: web.Request) -> web.StreamResponse:
        """GET /channels/{id}/threads/archived/public: newest first, `limit` of them."""
        channel = self._channel(request)
        self.s.require(channel, Perm.READ_MESSAGE_HISTORY)
        limit = max(1, min(100, int(request.query.get("limit", "50"))))
        archived = sorted(
            (
                c
                for c in self.s.channels.values()
                if c.is_thread and c.archived and c.parent_id == channel.id
            ),
            key=lambda c: c.id,
            reverse=True,
        )
        threads = [c.to_json() for c in archived[:limit]]
        return json_response(
            200, {"threads": threads, "members": [], "has_more": len(archived) > limit}
        )

    # ----- guilds --------------------------------------------------------------------
    async def get_guild(self, request: web.Request) -> web.StreamResponse:
        """GET /guilds/{id}."""
        return json_response(200, self.s.guild_json(self._guild_id(request)))

    async def get_guild_channels(self, request: web.Request) -> web.StreamResponse:
        """GET /guilds/{id}/channels (not threads)."""
        gid = self._guild_id(request)
        channels = [
            self.s.channels[c] for c in self.s.guilds[gid].channel_ids if c in self.s.channels
        ]
        return json_response(200, [c.to_json() for c in channels if not c.is_thread])

    async def get_roles(self, request: web.Request) -> web.StreamResponse:
        """GET /guilds/{id}/roles."""
        gid = self._guild_id(request)
        return json_response(200, [r.to_json() for r in self.s.guilds[gid].roles.values()])

    async def get_members(self, request: web.Request) -> web.StreamResponse:
        """GET /guilds/{id}/members?limit&after."""
        gid = self._guild_id(request)
        limit = int(request.query.get("limit", "1"))
        after = int(request.query.get("after", "0"))
        members = sorted(self.s.guilds[gid].members.values(), key=lambda m: m.user.id)
        chosen = [m.to_json() for m in members if m.user.id > after][:limit]
        return json_response(200, chosen)

    async def get_member(self, request: web.Request) -> web.StreamResponse:
        """GET /guilds/{id}/members/{user}."""
        gid = self._guild_id(request)
        raw = request.match_info["user_id"]
        member = self.s.guilds[gid].members.get(int(raw)) if raw.isdigit() else None
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return json_response(200, member.to_json())

    # ----- DMs -----------------------------------------------------------------------
    async def open_dm(self, request: web.Request) -> web.StreamResponse:
        """POST /users/@me/channels {recipient_id}."""
        raw = str(request[PAYLOAD].get("recipient_id", ""))
        user = self.s.users.get(int(raw)) if raw.isdigit() else None
        if user is None:
            raise invalid_form_body(
                {
                    "recipient_id": {
                        "_errors": [
                            {
                                "code": "NUMBER_TYPE_COERCE",
                                "message": f'Value "{raw}" is not snowflake.',
                            }
                        ]
                    }
                }
            )
        for channel in self.s.channels.values():
            if channel.type == DM and channel.recipient is user:
                return json_response(200, channel.to_json())
        channel = Channel(self.s.snowflakes.next(), DM, "", recipient=user)
        self.s.channels[channel.id] = channel
        self.s.channel_messages[channel.id] = []
        return json_response(200, channel.to_json())

    # ----- webhooks ------------------------------------------------------------------
    async def create_webhook(self, request: web.Request) -> web.StreamResponse:
        """POST /channels/{id}/webhooks."""
        channel = self._channel(request)
        self.s.require(channel, Perm.MANAGE_WEBHOOKS)
        name = request[PAYLOAD].get("name") or ""
        if not name or len(name) > 80:
            raise invalid_form_body(
                {
                    "name": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_BAD_LENGTH",
                                "message": "Must be between 1 and 80 in length.",
                            }
                        ]
                    }
                }
            )
        wid = self.s.snowflakes.next()
        webhook = {
            "id": str(wid),
            "type": 1,
            "guild_id": str(channel.guild_id),
            "channel_id": str(channel.id),
            "name": name,
            "avatar": None,
            "token": f"whtoken{wid}",
            "application_id": str(self.s.application_id),
            "user": self.s.bot_user.to_json(),
        }
        self.s.webhooks[wid] = webhook
        return json_response(200, webhook)

    async def list_webhooks(self, request: web.Request) -> web.StreamResponse:
        """GET /channels/{id}/webhooks."""
        channel = self._channel(request)
        self.s.require(channel, Perm.MANAGE_WEBHOOKS)
        hooks = [w for w in self.s.webhooks.values() if w["channel_id"] == str(channel.id)]
        return json_response(200, hooks)

    def _interaction_for(self, request: web.Request) -> InteractionHandle | None:
        if request.match_info["webhook_id"] != str(self.s.application_id):
            return None
        token = request.match_info["token"]
        return next((h for h in self.s.interactions.values() if h.token == token), None)

    def _webhook_for(self, request: web.Request) -> dict[str, Any]:
        raw = request.match_info["webhook_id"]
        webhook = self.s.webhooks.get(int(raw)) if raw.isdigit() else None
        if webhook is None or webhook["token"] != request.match_info["token"]:
            raise ApiError(404, 10015, "Unknown Webhook")
        return webhook

    async def execute_webhook(self, request: web.Request) -> web.StreamResponse:
        """POST /webhooks/{id}/{token}: a channel webhook, or an interaction followup."""
        handle = self._interaction_for(request)
        if handle is not None:
            return await self._followup(handle, request)
        webhook = self._webhook_for(request)
        payload = request[PAYLOAD]
        channel = self.s.channels.get(int(webhook["channel_id"]))
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        author = {
            "id": webhook["id"],
            "username": payload.get("username") or webhook["name"],
            "avatar": None,
            "discriminator": "0000",
            "bot": True,
        }
        extra = {"webhook_id": webhook["id"]}
        thread_id = request.query.get("thread_id")
        if channel.type == FORUM:
            if thread_id:
                target = self.s.channels.get(int(thread_id))
                if target is None or target.parent_id != channel.id:
                    raise ApiError(404, 10003, "Unknown Channel")
                message = await self._create_in(
                    target, payload, request, author=author, extra=extra
                )
            else:
                name = payload.get("thread_name")
                if not name:
                    raise ApiError(
                        400,
                        220001,
                        "Webhooks posted to forum channels must have a thread_name or thread_id",
                    )
                tags = self._check_tags(channel, payload.get("applied_tags") or [])
                validate_message(payload, file_count=len(request[FILES]))
                thread = self._new_thread(channel, name, tags=tags)
                await self._open_thread(thread)
                message = await self._create_in(
                    thread, payload, request, author=author, extra={**extra, "id": str(thread.id)}
                )
        else:
            target = channel
            if thread_id:
                found = self.s.channels.get(int(thread_id))
                if found is None or found.parent_id != channel.id:
                    raise ApiError(404, 10003, "Unknown Channel")
                target = found
            message = await self._create_in(target, payload, request, author=author, extra=extra)
        if request.query.get("wait") in ("true", "True", "1"):
            return json_response(200, message)
        return web.Response(status=204)

    # ----- interactions --------------------------------------------------------------
    async def interaction_callback(self, request: web.Request) -> web.StreamResponse:
        """POST /interactions/{id}/{token}/callback, with the 3-second deadline and 40060."""
        s = self.s
        raw = request.match_info["interaction_id"]
        handle = s.interactions.get(int(raw)) if raw.isdigit() else None
        if handle is None or handle.token != request.match_info["token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        try:
            return await self._callback(handle, request)
        except ApiError as error:
            handle.rejected.append(error)
            raise

    async def _callback(
        self, handle: InteractionHandle, request: web.Request
    ) -> web.StreamResponse:
        s = self.s
        if handle.acknowledged:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if asyncio.get_running_loop().time() - handle.sent_at > s.interaction_deadline:
            raise ApiError(404, 10062, "Unknown interaction")
        body = request[PAYLOAD]
        cb_type = body.get("type")
        data = body.get("data") or {}
        channel = s.channels.get(handle.channel_id)
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        allowed = {
            AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
            MESSAGE_COMPONENT: {
                CHANNEL_MESSAGE,
                DEFERRED_CHANNEL_MESSAGE,
                DEFERRED_UPDATE_MESSAGE,
                UPDATE_MESSAGE,
                MODAL,
            },
        }.get(handle.type, {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL})
        if handle.type == 5:
            allowed = {
                CHANNEL_MESSAGE,
                DEFERRED_CHANNEL_MESSAGE,
                DEFERRED_UPDATE_MESSAGE,
                UPDATE_MESSAGE,
            }
        if cb_type not in allowed:
            raise ApiError(400, 40043, f"Interaction callback type {cb_type} is not allowed here")
        message: dict[str, Any] | None = None
        flags = int(data.get("flags") or 0)
        ephemeral = bool(flags & MSG_EPHEMERAL)
        interaction_meta = {
            "interaction_metadata": {
                "id": str(handle.id),
                "type": handle.type,
                "user": handle.payload["member"]["user"],
                "authorizing_integration_owners": {},
            },
            "application_id": str(s.application_id),
            "webhook_id": str(s.application_id),
            "type": 20 if handle.type == 2 else 0,
        }
        if cb_type == CHANNEL_MESSAGE:
            validate_message(data, file_count=len(request[FILES]))
            message = await self._create_in(
                channel, data, request, extra=interaction_meta, dispatch=not ephemeral
            )
            if ephemeral:
                self._make_ephemeral(channel, message)
            handle.original_message_id = int(message["id"])
        elif cb_type == DEFERRED_CHANNEL_MESSAGE:
            placeholder = {"content": "", "flags": flags | MSG_LOADING}
            message = s.make_message(
                channel, s.bot_user.to_json(), placeholder, extra=interaction_meta
            )
            if ephemeral:
                s.ephemeral_messages[int(message["id"])] = message
            else:
                await s.store_message(channel, message)
            handle.original_message_id = int(message["id"])
            handle.original_loading = True
        elif cb_type in (UPDATE_MESSAGE, DEFERRED_UPDATE_MESSAGE):
            target = handle.payload.get("message")
            if target is None:
                raise ApiError(400, 40043, "This interaction has no message to update")
            handle.original_message_id = int(target["id"])
            if cb_type == UPDATE_MESSAGE:
                stored = s.messages.get(int(target["id"])) or s.ephemeral_messages.get(
                    int(target["id"])
                )
                if stored is None:
                    raise ApiError(404, 10008, "Unknown Message")
                self._edit(stored, data, request)
                message = stored
                if int(stored["id"]) in s.messages:
                    await s.gateway.dispatch("MESSAGE_UPDATE", stored)
        elif cb_type == AUTOCOMPLETE_RESULT:
            choices = data.get("choices") or []
            if len(choices) > 25:
                raise invalid_form_body(
                    {
                        "data": {
                            "choices": {
                                "_errors": [
                                    {
                                        "code": "BASE_TYPE_MAX_LENGTH",
                                        "message": "Must be 25 or fewer in length.",
                                    }
                                ]
                            }
                        }
                    }
                )
        elif cb_type == MODAL:
            validate_modal(data)
        handle.acknowledged = True
        handle.responses.append(
            InteractionResponse("callback", data, type=cb_type, message=message)
        )
        s.recorder.notify()
        if request.query.get("with_response") not in ("1", "true", "True"):
            return web.Response(status=204)
        interaction_info: dict[str, Any] = {
            "id": str(handle.id),
            "type": handle.type,
            "response_message_loading": cb_type == DEFERRED_CHANNEL_MESSAGE,
            "response_message_ephemeral": ephemeral,
        }
        if handle.original_message_id is not None:
            interaction_info["response_message_id"] = str(handle.original_message_id)
        resource: dict[str, Any] = {"type": cb_type}
        if message is not None and cb_type in (CHANNEL_MESSAGE, UPDATE_MESSAGE):
            resource["message"] = message
        return json_response(200, {"interaction": interaction_info, "resource": resource})

    def _make_ephemeral(self, channel: Channel, message: dict[str, Any]) -> None:
        """Ephemeral messages are seen only by the invoker: not in history, not in next_message."""
        mid = int(message["id"])
        self.s.messages.pop(mid, None)
        self.s.channel_messages[channel.id].remove(mid)
        self.s.message_log.remove(message)
        self.s.ephemeral_messages[mid] = message

    def _lookup(self, handle: InteractionHandle, raw: str) -> dict[str, Any]:
        if raw == "@original":
            mid = handle.original_message_id
        else:
            mid = int(raw) if raw.isdigit() else None
            if mid not in handle.followup_ids:
                mid = None
        message = (
            None if mid is None else self.s.messages.get(mid) or self.s.ephemeral_messages.get(mid)
        )
        if message is None:
            raise ApiError(404, 10008, "Unknown Message")
        return message

    async def _followup(
        self, handle: InteractionHandle, request: web.Request
    ) -> web.StreamResponse:
        s = self.s
        if not handle.acknowledged:
            raise ApiError(404, 10015, "Unknown Webhook")
        payload = request[PAYLOAD]
        channel = s.channels.get(handle.channel_id)
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        if handle.original_loading and handle.original_message_id is not None:
            # Discord turns the first followup after a deferred reply into that reply.
            message = self._lookup(handle, "@original")
            self._edit(message, {**payload, "flags": int(message["flags"]) & ~MSG_LOADING}, request)
            handle.original_loading = False
            if int(message["id"]) in s.messages:
                await s.gateway.dispatch("MESSAGE_UPDATE", message)
        else:
            ephemeral = bool(int(payload.get("flags") or 0) & MSG_EPHEMERAL)
            message = await self._create_in(
                channel,
                payload,
                request,
                extra={
                    "webhook_id": str(s.application_id),
                    "application_id": str(s.application_id),
                },
                dispatch=not ephemeral,
            )
            if ephemeral:
                self._make_ephemeral(channel, message)
        handle.followup_ids.append(int(message["id"]))
        handle.responses.append(InteractionResponse("followup", payload, message=message))
        s.recorder.notify()
        return json_response(200, message)

    async def webhook_get(self, request: web.Request) -> web.StreamResponse:
        """GET /webhooks/{app}/{token}/messages/{@original|id}."""
        handle = self._interaction_for(request)
        if handle is None:
            webhook = self._webhook_for(request)
            message = self._webhook_message(webhook, request.match_info["message_id"])
            return json_response(200, message)
        return json_response(200, self._lookup(handle, request.match_info["message_id"]))

    def _webhook_message(self, webhook: dict[str, Any], raw: str) -> dict[str, Any]:
        message = self.s.messages.get(int(raw)) if raw.isdigit() else None
        if message is None or message.get("webhook_id") != webhook["id"]:
            raise ApiError(404, 10008, "Unknown Message")
        return message

    async def webhook_edit(self, request: web.Request) -> web.StreamResponse:
        """PATCH /webhooks/{app}/{token}/messages/{@original|id}."""
        handle = self._interaction_for(request)
        raw = request.match_info["message_id"]
        if handle is None:
            message = self._webhook_message(self._webhook_for(request), raw)
            self._edit(message, request[PAYLOAD], request)
            await self.s.gateway.dispatch("MESSAGE_UPDATE", message)
            return json_response(200, message)
        if not handle.acknowledged:
            raise ApiError(404, 10015, "Unknown Webhook")
        message = self._lookup(handle, raw)
        payload = dict(request[PAYLOAD])
        if raw == "@original" and handle.original_loading:
            payload["flags"] = int(message["flags"]) & ~MSG_LOADING
            handle.original_loading = False
        self._edit(message, payload, request)
        if int(message["id"]) in self.s.messages:
            await self.s.gateway.dispatch("MESSAGE_UPDATE", message)
        kind = "edit_original" if raw == "@original" else "edit_followup"
        handle.responses.append(InteractionResponse(kind, request[PAYLOAD], message=message))
        self.s.recorder.notify()
        return json_response(200, message)

    async def webhook_delete(self, request: web.Request) -> web.StreamResponse:
        """DELETE /webhooks/{app}/{token}/messages/{@original|id}."""
        handle = self._interaction_for(request)
        raw = request.match_info["message_id"]
        if handle is None:
            message = self._webhook_message(self._webhook_for(request), raw)
        else:
            message = self._lookup(handle, raw)
        channel = self.s.channels[int(message["channel_id"])]
        self.s.ephemeral_messages.pop(int(message["id"]), None)
        await self._delete(channel, message)
        if handle is not None:
            kind = "delete_original" if raw == "@original" else "delete_followup"
            handle.responses.append(InteractionResponse(kind, {}, message=message))
            self.s.recorder.notify()
        return web.Response(status=204)
