"""The Discord stand-in: world state, the aiohttp server, and the test-facing API."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import yarl
from aiohttp import web

from .faults import Faults
from .gateway import Gateway
from .interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    InteractionHandle,
    StandInUsageError,
)
from .recorder import Recorder
from .rest import RateLimiter, RestApi
from .state import (
    DM,
    FLAG_REQUIRE_TAG,
    FORUM,
    TEXT,
    Channel,
    ForumTag,
    Guild,
    Member,
    Overwrite,
    Perm,
    Role,
    SnowflakeFactory,
    User,
    base_permissions,
    channel_permissions,
    iso_now,
)
from .validation import ApiError, modal_text_inputs

API_PREFIX = "/api/v10"
_MENTION = re.compile(r"<@!?(\d+)>")


@dataclass(frozen=True)
class StoredAttachment:
    """An uploaded file the stand-in keeps and serves, as Discord's CDN does."""

    id: int
    filename: str
    content_type: str
    data: bytes

    def to_json(self, port: int) -> dict[str, Any]:
        """The attachment object Discord puts in messages and in `resolved.attachments`."""
        url = f"http://127.0.0.1:{port}/attachments/{self.id}/{self.filename}"
        return {
            "id": str(self.id),
            "filename": self.filename,
            "size": len(self.data),
            "url": url,
            "proxy_url": url,
            "content_type": self.content_type or None,
        }


@dataclass(frozen=True)
class Seed:
    """Ids of the default world made by populate_default()."""

    guild_id: int
    general_id: int
    news_id: int
    forum_id: int
    admin_id: int
    member_id: int
    closed_dms_id: int
    admin_role_id: int
    tag_ids: dict[str, int]


class DiscordStandIn:
    """A local Discord (REST + gateway) for the real discord.py client; use `async with`."""

    def __init__(
        self,
        *,
        token: str = "standin-token",
        bot_name: str = "Paperboy",
        interaction_deadline: float = 3.0,
        heartbeat_interval_ms: int = 41_250,
    ) -> None:
        self.token = token
        self.snowflakes = SnowflakeFactory()
        self.application_id = self.snowflakes.next()
        self.bot_user = User(self.application_id, bot_name, bot=True)
        self.interaction_deadline = interaction_deadline
        self.users: dict[int, User] = {self.bot_user.id: self.bot_user}
        self.guilds: dict[int, Guild] = {}
        self.bot_guilds: set[int] = set()
        self.channels: dict[int, Channel] = {}
        self.deleted_channels: set[int] = set()
        self.messages: dict[int, dict[str, Any]] = {}
        self.ephemeral_messages: dict[int, dict[str, Any]] = {}
        self.channel_messages: dict[int, list[int]] = {}
        self.message_log: list[dict[str, Any]] = []
        self.nonce_messages: dict[tuple[int, str], int] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.sync_log: list[tuple[int | None, list[dict[str, Any]]]] = []
        self.webhooks: dict[int, dict[str, Any]] = {}
        # Edits applied to each message (PATCH by channel or by webhook), to prove exactly once.
        self.edit_counts: dict[int, int] = {}
        # Publishes (crossposts) per Announcement channel: when each was made, by
        # `crosspost_clock` (seconds; tests with a fake clock pass theirs), for the hourly limit.
        self.crossposts: dict[int, list[float]] = {}
        self.crosspost_clock: Callable[[], float] = time.monotonic
        # Uploaded files by attachment id: served at /attachments/{id}/{filename} like the CDN.
        self.attachments: dict[int, StoredAttachment] = {}
        self.attachment_downloads: list[int] = []  # ids, in the order they were fetched
        self.interactions: dict[int, InteractionHandle] = {}
        self.recorder = Recorder()
        self.faults = Faults()
        self.rate_limits = RateLimiter()
        self.gateway = Gateway(self, heartbeat_interval_ms=heartbeat_interval_ms)
        self._cursors: dict[tuple[int, int | None], int] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ----- lifecycle -----------------------------------------------------------------
    async def __aenter__(self) -> DiscordStandIn:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        RestApi(self).register(app, API_PREFIX)
        app.router.add_get("/", self.gateway.handle)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/attachments/{attachment_id}/{filename}", self._serve_attachment)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.gateway.release_connections()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def api_base_url(self) -> str:
        """Value for discord.http.Route.BASE (and `[bot] api_base_url`)."""
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    def api_base_url_via(self, name: str) -> str:
        """The REST base URL for one client among several: its requests are recorded with
        `via=name`, so a test can tell which process made them."""
        return f"http://127.0.0.1:{self.port}/via/{name}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        """Value for DiscordWebSocket.DEFAULT_GATEWAY (and `[bot] gateway_url`)."""
        return f"ws://127.0.0.1:{self.port}/"

    @contextmanager
    def patch_discord(self) -> Iterator[None]:
        """Point discord.py (REST, webhooks and gateway) at this stand-in; restore on exit."""
        from discord.gateway import DiscordWebSocket
        from discord.http import Route

        old_base, old_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
        Route.BASE = self.api_base_url
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield
        finally:
            Route.BASE = old_base
            DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    # ----- building the world --------------------------------------------------------
    def add_user(self, username: str, *, dms_open: bool = True, bot: bool = False) -> User:
        """Create a Discord user."""
        user = User(self.snowflakes.next(), username, bot=bot, dms_open=dms_open)
        self.users[user.id] = user
        return user

    def add_guild(
        self,
        name: str = "Test Guild",
        *,
        owner: User | None = None,
        bot_permissions: int = Perm.EVERYONE_DEFAULT | Perm.MANAGE_WEBHOOKS | Perm.MANAGE_THREADS,
        bot_member: bool = True,
        shard: tuple[int, int] | None = None,
    ) -> Guild:
        """Create a guild with an @everyone role and (by default) the bot in it; `shard`
        (shard_id, shard_count) picks an id Discord would deal to that shard."""
        owner = owner or self.add_user(f"{name} owner")
        snowflakes = self.snowflakes
        guild_id = snowflakes.next() if shard is None else snowflakes.next_on_shard(*shard)
        guild = Guild(guild_id, name, owner.id)
        guild.roles[guild.id] = Role(guild.id, "@everyone", Perm.EVERYONE_DEFAULT)
        guild.members[owner.id] = Member(owner)
        self.guilds[guild.id] = guild
        if bot_member:
            bot_role = self.add_role(
                guild.id,
                self.bot_user.username,
                bot_permissions,
                managed=True,
                tags={"bot_id": str(self.bot_user.id)},
            )
            guild.members[self.bot_user.id] = Member(self.bot_user, [bot_role.id])
            self.bot_guilds.add(guild.id)
        return guild

    def add_role(
        self,
        guild_id: int,
        name: str,
        permissions: int = 0,
        *,
        managed: bool = False,
        tags: dict[str, str] | None = None,
    ) -> Role:
        """Create a role in a guild; `managed` (with `tags` such as {"integration_id": "1"})
        for a role a bot or integration owns."""
        guild = self.guilds[guild_id]
        role = Role(
            self.snowflakes.next(),
            name,
            permissions,
            position=len(guild.roles),
            managed=managed,
            tags=tags,
        )
        guild.roles[role.id] = role
        return role

    def add_member(
        self,
        guild_id: int,
        username: str,
        *,
        roles: Iterable[int] = (),
        dms_open: bool = True,
    ) -> Member:
        """Create a user and make them a member of the guild with these roles."""
        member = Member(self.add_user(username, dms_open=dms_open), list(roles))
        self.guilds[guild_id].members[member.user.id] = member
        return member

    def add_channel(
        self,
        guild_id: int,
        name: str,
        *,
        type: int = TEXT,
        overwrites: Iterable[Overwrite] = (),
        tags: Iterable[str] = (),
        require_tag: bool = False,
        topic: str | None = None,
    ) -> Channel:
        """Create a text/news/forum channel (tags and require_tag only matter for forums)."""
        guild = self.guilds[guild_id]
        channel = Channel(
            self.snowflakes.next(),
            type,
            name,
            guild_id=guild_id,
            position=len(guild.channel_ids),
            topic=topic,
            overwrites=list(overwrites),
            available_tags=[ForumTag(self.snowflakes.next(), t) for t in tags],
            flags=FLAG_REQUIRE_TAG if require_tag else 0,
        )
        self.channels[channel.id] = channel
        guild.channel_ids.append(channel.id)
        self.channel_messages[channel.id] = []
        return channel

    def populate_default(
        self, name: str = "Paperboy Test Guild", *, shard: tuple[int, int] | None = None
    ) -> Seed:
        """A guild with #general, #news, a forum with tags (REQUIRE_TAG), an admin and a member.

        Call it again with another `name` for a second server with the same shape (and its own
        members), to test what one server can see of another's; `shard` (shard_id, shard_count)
        puts the server on that shard.
        """
        guild = self.add_guild(name, shard=shard)
        admin_role = self.add_role(guild.id, "Moderators", Perm.MANAGE_GUILD)
        general = self.add_channel(guild.id, "general")
        news = self.add_channel(guild.id, "news", type=5)
        forum = self.add_channel(
            guild.id, "articles", type=FORUM, tags=("News", "Opinion"), require_tag=True
        )
        admin = self.add_member(guild.id, "moderator", roles=[admin_role.id])
        member = self.add_member(guild.id, "reader")
        closed = self.add_member(guild.id, "private-person", dms_open=False)
        return Seed(
            guild_id=guild.id,
            general_id=general.id,
            news_id=news.id,
            forum_id=forum.id,
            admin_id=admin.user.id,
            member_id=member.user.id,
            closed_dms_id=closed.user.id,
            admin_role_id=admin_role.id,
            tag_ids={t.name: t.id for t in forum.available_tags},
        )

    # ----- payloads ------------------------------------------------------------------
    def bot_guild_ids(self) -> list[int]:
        """Guilds the bot is a member of, in creation order."""
        return [g for g in self.guilds if g in self.bot_guilds]

    def guild_members_json(self, guild_id: int) -> list[dict[str, Any]]:
        """Member objects of a guild."""
        return [m.to_json() for m in self.guilds[guild_id].members.values()]

    def guild_json(self, guild_id: int) -> dict[str, Any]:
        """A REST guild object."""
        guild = self.guilds[guild_id]
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "owner_id": str(guild.owner_id),
            "roles": [r.to_json() for r in guild.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "system_channel_id": None,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "approximate_member_count": len(guild.members),
        }

    def guild_create_payload(self, guild_id: int) -> dict[str, Any]:
        """The GUILD_CREATE event for a guild: channels, threads, roles, members."""
        guild = self.guilds[guild_id]
        channels = [self.channels[c] for c in guild.channel_ids if c in self.channels]
        return {
            **self.guild_json(guild_id),
            "unavailable": False,
            "large": False,
            "member_count": len(guild.members),
            "joined_at": iso_now(),
            "channels": [c.to_json() for c in channels if not c.is_thread],
            "threads": [c.to_json() for c in channels if c.is_thread and not c.archived],
            "members": self.guild_members_json(guild_id),
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def member_permissions(self, guild_id: int, user_id: int, channel_id: int | None) -> int:
        """Computed permissions of a member, in a channel if given (threads use their parent)."""
        guild = self.guilds[guild_id]
        member = guild.members[user_id]
        if channel_id is None:
            return base_permissions(guild, member)
        channel = self.channels[channel_id]
        if channel.is_thread and channel.parent_id is not None:
            channel = self.channels[channel.parent_id]
        return channel_permissions(guild, member, channel)

    def make_message(
        self,
        channel: Channel,
        author: dict[str, Any],
        payload: dict[str, Any],
        *,
        attachments: list[dict[str, Any]] | None = None,
        member: Member | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A Discord message object from a create payload."""
        content = payload.get("content") or ""
        mentioned = [
            self.users[int(uid)].to_json()
            for uid in dict.fromkeys(_MENTION.findall(content))
            if int(uid) in self.users
        ]
        message: dict[str, Any] = {
            "id": str(self.snowflakes.next()),
            "channel_id": str(channel.id),
            "author": author,
            "content": content,
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": bool(payload.get("tts")),
            "mention_everyone": False,
            "mentions": mentioned,
            "mention_roles": [],
            "attachments": attachments or [],
            "embeds": payload.get("embeds") or [],
            "components": payload.get("components") or [],
            "pinned": False,
            "type": 0,
            "flags": int(payload.get("flags") or 0),
        }
        if channel.guild_id is not None:
            message["guild_id"] = str(channel.guild_id)
            if member is not None:
                member_json = member.to_json()
                del member_json["user"]
                message["member"] = member_json
        reference = payload.get("message_reference")
        if reference:
            message["type"] = 19
            message["message_reference"] = reference
        if extra:
            message.update(extra)
        return message

    async def store_message(
        self, channel: Channel, message: dict[str, Any], *, dispatch: bool = True
    ) -> dict[str, Any]:
        """Store a message in its channel, log it, and dispatch MESSAGE_CREATE."""
        mid = int(message["id"])
        self.messages[mid] = message
        self.channel_messages.setdefault(channel.id, []).append(mid)
        self.message_log.append(message)
        channel.last_message_id = mid
        channel.message_count += 1
        if dispatch:
            await self.gateway.dispatch("MESSAGE_CREATE", message)
        self.recorder.notify()
        return message

    # ----- recorder API --------------------------------------------------------------
    def channel_of(self, message: dict[str, Any]) -> Channel | None:
        """The channel a message is in."""
        return self.channels.get(int(message["channel_id"]))

    def _in_channel(self, message: dict[str, Any], channel_id: int) -> bool:
        channel = self.channel_of(message)
        if channel is None:
            return int(message["channel_id"]) == channel_id
        return channel.id == channel_id or channel.parent_id == channel_id

    def messages_in(self, channel_id: int, *, include_threads: bool = True) -> list[dict[str, Any]]:
        """Messages currently in a channel (oldest first), with its threads' messages if asked."""
        return [
            m
            for m in self.message_log
            if int(m["id"]) in self.messages
            and (
                self._in_channel(m, channel_id)
                if include_threads
                else int(m["channel_id"]) == channel_id
            )
        ]

    def direct_messages_to(self, user_id: int) -> list[dict[str, Any]]:
        """Direct messages the bot sent to a user (oldest first)."""
        found = []
        for message in self.message_log:
            channel = self.channels.get(int(message["channel_id"]))
            recipient = channel.recipient if channel is not None and channel.type == DM else None
            if recipient is not None and recipient.id == user_id:
                found.append(message)
        return found

    async def next_message(
        self, channel_id: int, timeout: float = 5.0, *, author_id: int | None = None
    ) -> dict[str, Any]:
        """The next message (not yet returned by this call) posted in a channel or its threads."""
        key = (channel_id, author_id)

        def check() -> dict[str, Any] | None:
            start = self._cursors.get(key, 0)
            for index in range(start, len(self.message_log)):
                message = self.message_log[index]
                if not self._in_channel(message, channel_id):
                    continue
                if author_id is not None and int(message["author"]["id"]) != author_id:
                    continue
                self._cursors[key] = index + 1
                return message
            return None

        return await self.recorder.wait_for(check, timeout, f"a message in channel {channel_id}")

    async def wait_until(self, check: Any, timeout: float = 5.0, what: str = "a condition") -> Any:
        """Wait until check() is truthy (re-checked on every change the stand-in sees)."""
        return await self.recorder.wait_for(check, timeout, what)

    def synced_commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        """Commands the bot synced globally (guild_id None) or to a guild."""
        if guild_id is None:
            return list(self.global_commands)
        return list(self.guild_commands.get(guild_id, []))

    def store_attachment(
        self, filename: str, data: bytes, content_type: str = ""
    ) -> StoredAttachment:
        """Keep an uploaded file (from the bot's multipart requests, or `upload`)."""
        stored = StoredAttachment(self.snowflakes.next(), filename, content_type, bytes(data))
        self.attachments[stored.id] = stored
        return stored

    def upload(
        self, filename: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> dict[str, Any]:
        """A file a user attaches in the Discord client, to pass as an ATTACHMENT option."""
        return self.store_attachment(filename, data, content_type).to_json(self.port)

    def attachment_bytes(self, attachment: dict[str, Any] | int) -> bytes:
        """The bytes of an attachment (its JSON from a message, or its id)."""
        aid = int(attachment["id"]) if isinstance(attachment, dict) else int(attachment)
        return self.attachments[aid].data

    async def _serve_attachment(self, request: web.Request) -> web.StreamResponse:
        raw = request.match_info["attachment_id"]
        stored = self.attachments.get(int(raw)) if raw.isdigit() else None
        if stored is None or stored.filename != request.match_info["filename"]:
            return web.Response(status=404, text="404: Not Found")
        self.attachment_downloads.append(stored.id)
        self.recorder.notify()
        return web.Response(
            body=stored.data, content_type=stored.content_type or "application/octet-stream"
        )

    def assert_no_unknown_routes(self) -> None:
        """Fail if the bot hit any route the stand-in does not know."""
        if self.recorder.unknown_routes:
            hits = ", ".join(f"{r.method} {r.path}" for r in self.recorder.unknown_routes)
            raise AssertionError(f"bot hit unknown Discord routes: {hits}")

    # ----- gateway-side world changes ------------------------------------------------
    async def post_user_message(
        self, channel_id: int, user_id: int, content: str, **fields: Any
    ) -> dict[str, Any]:
        """A member posts a message (dispatches MESSAGE_CREATE to the bot)."""
        channel = self.channels[channel_id]
        guild = self.guilds.get(channel.guild_id or 0)
        member = guild.members.get(user_id) if guild else None
        message = self.make_message(
            channel, self.users[user_id].to_json(), {"content": content, **fields}, member=member
        )
        return await self.store_message(channel, message)

    async def delete_channel(self, channel_id: int) -> None:
        """Delete a channel: CHANNEL_DELETE (THREAD_DELETE for threads) now, 404 afterwards."""
        channel = self.channels.pop(channel_id)
        self.deleted_channels.add(channel_id)
        if channel.guild_id is not None:
            guild = self.guilds[channel.guild_id]
            if channel_id in guild.channel_ids:
                guild.channel_ids.remove(channel_id)
        if channel.is_thread:
            data = {
                "id": str(channel.id),
                "guild_id": str(channel.guild_id),
                "parent_id": str(channel.parent_id),
                "type": channel.type,
            }
            await self.gateway.dispatch("THREAD_DELETE", data)
        else:
            await self.gateway.dispatch("CHANNEL_DELETE", channel.to_json())

    async def remove_bot_from_guild(self, guild_id: int) -> None:
        """Kick the bot: GUILD_DELETE now, and its REST calls there fail afterwards."""
        self.bot_guilds.discard(guild_id)
        self.guilds[guild_id].members.pop(self.bot_user.id, None)
        await self.gateway.dispatch("GUILD_DELETE", {"id": str(guild_id)})

    async def add_bot_to_guild(self, guild_id: int) -> None:
        """The bot joins an existing guild: GUILD_CREATE (on_guild_join in discord.py)."""
        guild = self.guilds[guild_id]
        if self.bot_user.id not in guild.members:
            role = self.add_role(
                guild_id,
                self.bot_user.username,
                Perm.EVERYONE_DEFAULT,
                managed=True,
                tags={"bot_id": str(self.bot_user.id)},
            )
            guild.members[self.bot_user.id] = Member(self.bot_user, [role.id])
        self.bot_guilds.add(guild_id)
        payload = self.guild_create_payload(guild_id)
        # A join carries no `unavailable` (that marks an outage ending); discord.py dispatches
        # on_guild_join only then, and on_guild_available otherwise.
        del payload["unavailable"]
        await self.gateway.dispatch("GUILD_CREATE", payload)

    @asynccontextmanager
    async def gateway_outage(self) -> Any:
        """Drop the gateway and hold reconnects inside the block; the client RESUMEs after."""
        self.gateway.hold_connections()
        try:
            await self.gateway.drop()
            await self.wait_until(lambda: not self.gateway.connected, what="the drop")
            yield
        finally:
            self.gateway.release_connections()

    # ----- users acting: interactions ------------------------------------------------
    def _member(self, guild_id: int, user_id: int) -> Member:
        guild = self.guilds.get(guild_id)
        if guild is None or user_id not in guild.members:
            raise StandInUsageError(f"user {user_id} is not a member of guild {guild_id}")
        return guild.members[user_id]

    def _visible_command(
        self, guild_id: int, user_id: int, name: str, command_type: int
    ) -> dict[str, Any]:
        candidates = self.guild_commands.get(guild_id, []) + self.global_commands
        command = next(
            (c for c in candidates if c["name"] == name and c.get("type", 1) == command_type),
            None,
        )
        if command is None:
            raise StandInUsageError(
                f"command {name!r} (type {command_type}) was never synced; a member cannot see it"
            )
        required = command.get("default_member_permissions")
        if required is not None:
            needed = int(required)
            perms = self.member_permissions(guild_id, user_id, None)
            admin = bool(perms & Perm.ADMINISTRATOR)
            if not admin and (needed == 0 or perms & needed != needed):
                raise StandInUsageError(
                    f"command {name!r} is hidden from user {user_id}: "
                    f"default_member_permissions={needed} and the user has {perms}"
                )
        return command

    def _default_channel(self, guild_id: int) -> int:
        for cid in self.guilds[guild_id].channel_ids:
            if self.channels[cid].type == TEXT:
                return cid
        raise StandInUsageError(f"guild {guild_id} has no text channel")

    def _build_options(
        self,
        specs: list[dict[str, Any]],
        values: dict[str, Any],
        resolved: dict[str, dict[str, Any]],
        guild_id: int,
        *,
        focused: str | None,
    ) -> list[dict[str, Any]]:
        by_name = {s["name"]: s for s in specs}
        for name in values:
            if name not in by_name:
                raise StandInUsageError(f"unknown option {name!r}; the command has {list(by_name)}")
        if focused is None:
            missing = [s["name"] for s in specs if s.get("required") and s["name"] not in values]
            if missing:
                raise StandInUsageError(f"required options missing: {missing}")
        options = []
        for name, value in values.items():
            spec = by_name[name]
            kind = spec["type"]
            option: dict[str, Any] = {"name": name, "type": kind, "value": value}
            if name == focused:
                option["focused"] = True
                option["value"] = str(value)
            elif spec.get("choices") and value not in [c["value"] for c in spec["choices"]]:
                raise StandInUsageError(f"{value!r} is not one of the choices of {name!r}")
            elif kind == 3 and not isinstance(value, str):
                # Discord's client sends what the member typed or picked: always a string.
                raise StandInUsageError(f"option {name!r} is a string, not {value!r}")
            elif kind in (6, 7, 8, 9):
                option["value"] = str(value)
                self._resolve(kind, int(value), resolved, guild_id)
            elif kind == 11:
                stored = self._attachment_option(name, value)
                option["value"] = str(stored.id)
                resolved.setdefault("attachments", {})[str(stored.id)] = stored.to_json(self.port)
            options.append(option)
        return options

    def _attachment_option(self, name: str, value: Any) -> StoredAttachment:
        """An ATTACHMENT option's value: an attachment's JSON (from `upload` or a message) or id."""
        raw = value.get("id") if isinstance(value, dict) else value
        stored = self.attachments.get(int(raw)) if str(raw).isdigit() else None
        if stored is None:
            raise StandInUsageError(
                f"option {name!r} takes a file: pass standin.upload(...) or a message attachment"
            )
        return stored

    def _resolve(
        self, kind: int, target: int, resolved: dict[str, dict[str, Any]], guild_id: int
    ) -> None:
        guild = self.guilds[guild_id]
        if kind == 7 or (kind == 9 and target in self.channels):
            channel = self.channels.get(target)
            if channel is None:
                raise StandInUsageError(f"no channel {target}")
            data = channel.to_json()
            data["permissions"] = str(self.member_permissions(guild_id, self.bot_user.id, target))
            resolved.setdefault("channels", {})[str(target)] = data
        elif kind == 8 or (kind == 9 and target in guild.roles):
            resolved.setdefault("roles", {})[str(target)] = guild.roles[target].to_json()
        else:
            user = self.users[target]
            resolved.setdefault("users", {})[str(target)] = user.to_json()
            if target in guild.members:
                member = guild.members[target].to_json()
                del member["user"]
                member["permissions"] = str(self.member_permissions(guild_id, target, None))
                resolved.setdefault("members", {})[str(target)] = member

    def _command_data(
        self,
        guild_id: int,
        user_id: int,
        command: str,
        options: dict[str, Any] | None,
        focused: str | None,
        *,
        forged: bool = False,
    ) -> dict[str, Any]:
        parts = command.split()
        # A forged call skips the client-side visibility check: the bot must refuse by itself.
        seen_as = self.guilds[guild_id].owner_id if forged else user_id
        cmd = self._visible_command(guild_id, seen_as, parts[0], 1)
        resolved: dict[str, dict[str, Any]] = {}
        specs = cmd.get("options") or []
        wrapped: list[dict[str, Any]] = []
        outer = wrapped
        for sub in parts[1:]:
            spec = next((s for s in specs if s["name"] == sub and s["type"] in (1, 2)), None)
            if spec is None:
                raise StandInUsageError(f"/{command}: {sub!r} is not a subcommand")
            node: dict[str, Any] = {"name": sub, "type": spec["type"], "options": []}
            outer.append(node)
            outer = node["options"]
            specs = spec.get("options") or []
        if any(s["type"] in (1, 2) for s in specs):
            raise StandInUsageError(f"/{command} needs a subcommand")
        outer.extend(self._build_options(specs, options or {}, resolved, guild_id, focused=focused))
        data: dict[str, Any] = {
            "id": cmd["id"],
            "name": cmd["name"],
            "type": 1,
            "options": wrapped,
            "guild_id": str(guild_id),
        }
        if resolved:
            data["resolved"] = resolved
        return data

    async def _send_interaction(
        self,
        kind: int,
        guild_id: int,
        user_id: int,
        channel_id: int,
        data: dict[str, Any],
        message: dict[str, Any] | None = None,
    ) -> InteractionHandle:
        member = self._member(guild_id, user_id)
        if channel_id not in self.channels:
            raise StandInUsageError(f"no channel {channel_id}")
        member_json = member.to_json()
        member_json["permissions"] = str(self.member_permissions(guild_id, user_id, channel_id))
        interaction_id = self.snowflakes.next()
        token = secrets.token_urlsafe(24)
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "guild_id": str(guild_id),
            "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
            "channel_id": str(channel_id),
            "channel": self.channels[channel_id].to_json(),
            "member": member_json,
            "token": token,
            "version": 1,
            "app_permissions": str(
                self.member_permissions(guild_id, self.bot_user.id, channel_id)
                if self.bot_user.id in self.guilds[guild_id].members
                else 0
            ),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if message is not None:
            payload["message"] = message
        handle = InteractionHandle(
            standin=self,
            id=interaction_id,
            token=token,
            type=kind,
            payload=payload,
            channel_id=channel_id,
            sent_at=asyncio.get_running_loop().time(),
        )
        self.interactions[interaction_id] = handle
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        return handle

    async def invoke(
        self,
        guild_id: int,
        user_id: int,
        command: str,
        options: dict[str, Any] | None = None,
        *,
        channel_id: int | None = None,
        forged: bool = False,
    ) -> InteractionHandle:
        """A member runs a slash command, e.g. invoke(g, u, "feeds add", {"url": ...}).

        `forged=True` sends it even if Discord would hide the command from this member (a stale
        client or a hand-made request): the interaction still carries their real permissions.
        """
        data = self._command_data(guild_id, user_id, command, options, focused=None, forged=forged)
        channel = channel_id or self._default_channel(guild_id)
        return await self._send_interaction(APPLICATION_COMMAND, guild_id, user_id, channel, data)

    async def autocomplete(
        self,
        guild_id: int,
        user_id: int,
        command: str,
        options: dict[str, Any],
        focused: str,
        *,
        channel_id: int | None = None,
        timeout: float = 5.0,
    ) -> list[dict[str, Any]]:
        """A member types in an autocompleted option; returns the choices the bot offered."""
        if focused not in options:
            raise StandInUsageError(f"focused option {focused!r} must be in options")
        data = self._command_data(guild_id, user_id, command, options, focused=focused)
        channel = channel_id or self._default_channel(guild_id)
        handle = await self._send_interaction(AUTOCOMPLETE, guild_id, user_id, channel, data)
        return await handle.autocomplete_choices(timeout)

    async def invoke_message_command(
        self, guild_id: int, user_id: int, name: str, target_message_id: int
    ) -> InteractionHandle:
        """A member uses a message context-menu command on a message."""
        cmd = self._visible_command(guild_id, user_id, name, 3)
        target = self.messages.get(target_message_id)
        if target is None:
            raise StandInUsageError(f"no message {target_message_id}")
        data = {
            "id": cmd["id"],
            "name": name,
            "type": 3,
            "target_id": str(target_message_id),
            "resolved": {"messages": {str(target_message_id): target}},
            "guild_id": str(guild_id),
        }
        channel_id = int(target["channel_id"])
        return await self._send_interaction(
            APPLICATION_COMMAND, guild_id, user_id, channel_id, data
        )

    def _find_component(
        self, components: list[dict[str, Any]], custom_id: str
    ) -> dict[str, Any] | None:
        for component in components:
            if component.get("custom_id") == custom_id:
                return component
            found = self._find_component(component.get("components") or [], custom_id)
            if found is not None:
                return found
        return None

    async def click(
        self, user_id: int, message_id: int, custom_id: str, *, values: list[str] | None = None
    ) -> InteractionHandle:
        """A member clicks a button, or picks `values` in a select menu, on a message.

        Like Discord's client, a select must be given values among its options and within its
        min/max, a button none; anything else is a StandInUsageError."""
        message = self.messages.get(message_id) or self.ephemeral_messages.get(message_id)
        if message is None:
            raise StandInUsageError(f"no message {message_id}")
        component = self._find_component(message.get("components") or [], custom_id)
        if component is None:
            raise StandInUsageError(f"message {message_id} has no component {custom_id!r}")
        if component.get("disabled"):
            raise StandInUsageError(f"component {custom_id!r} is disabled")
        channel = self.channels[int(message["channel_id"])]
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component["type"]}
        if component["type"] == 2:
            if values is not None:
                raise StandInUsageError(f"{custom_id!r} is a button; buttons take no values")
            if component.get("style") == 5:
                raise StandInUsageError(f"{custom_id!r} is a link button; it sends no interaction")
        else:
            if values is None:
                raise StandInUsageError(f"{custom_id!r} is a select menu; pick values")
            low, high = int(component.get("min_values", 1)), int(component.get("max_values", 1))
            if not low <= len(values) <= high:
                raise StandInUsageError(
                    f"{custom_id!r} takes {low} to {high} values, not {len(values)}"
                )
            known = [o.get("value") for o in component.get("options") or []]
            if component["type"] == 3 and any(v not in known for v in values):
                raise StandInUsageError(f"{values!r} are not all options of {custom_id!r}: {known}")
            data["values"] = values
        guild_id = channel.guild_id
        assert guild_id is not None
        return await self._send_interaction(
            MESSAGE_COMPONENT, guild_id, user_id, channel.id, data, message=message
        )

    async def submit_modal(
        self, after: InteractionHandle, user_id: int, values: dict[str, str]
    ) -> InteractionHandle:
        """A member fills in and submits the modal the bot opened in answer to `after`.

        `values` maps text inputs' custom ids to what the member typed; an input left out keeps
        its pre-filled value, as in Discord's client. The client enforces required inputs and
        lengths, so breaking them is a StandInUsageError. A modal opened from a message's
        component carries that message, so the bot may update it (callback type 7)."""
        callback = await after.callback()
        if callback.type != 9:
            raise StandInUsageError("the bot did not answer with a modal")
        modal = callback.data
        inputs = modal_text_inputs(modal)
        unknown = set(values) - {str(i.get("custom_id")) for i in inputs}
        if unknown:
            raise StandInUsageError(f"the modal has no inputs {sorted(unknown)}")
        rows = []
        for text_input in inputs:
            custom_id = str(text_input["custom_id"])
            value = values.get(custom_id, text_input.get("value") or "")
            low = int(text_input.get("min_length", 0))
            high = int(text_input.get("max_length", 4000))
            if text_input.get("required", True) and not value:
                raise StandInUsageError(f"{custom_id!r} is required")
            if value and not low <= len(value) <= high:
                raise StandInUsageError(f"{custom_id!r} takes {low} to {high} characters")
            rows.append(
                {"type": 1, "components": [{"type": 4, "custom_id": custom_id, "value": value}]}
            )
        data = {"custom_id": modal["custom_id"], "components": rows}
        guild_id = int(after.payload["guild_id"])
        opened_on = after.payload.get("message")
        message = None
        if opened_on is not None:  # Discord sends the message as it is now
            mid = int(opened_on["id"])
            message = self.messages.get(mid) or self.ephemeral_messages.get(mid) or opened_on
        return await self._send_interaction(
            MODAL_SUBMIT, guild_id, user_id, after.channel_id, data, message=message
        )

    # ----- bot perspective helpers used by REST --------------------------------------
    def bot_permissions_in(self, channel: Channel) -> int:
        """The bot's permissions in a guild channel (0 if the bot is not in the guild)."""
        if channel.type == DM or channel.guild_id is None:
            return Perm.ALL
        guild = self.guilds.get(channel.guild_id)
        if guild is None or self.bot_user.id not in guild.members:
            return 0
        return self.member_permissions(channel.guild_id, self.bot_user.id, channel.id)

    def require(self, channel: Channel, needed: int) -> None:
        """Raise 403 like Discord when the bot lacks permissions in a channel."""
        perms = self.bot_permissions_in(channel)
        if not perms & Perm.VIEW_CHANNEL:
            raise ApiError(403, 50001, "Missing Access")
        if perms & needed != needed:
            raise ApiError(403, 50013, "Missing Permissions")
