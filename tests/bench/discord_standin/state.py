"""Plain-data model of the Discord world the stand-in serves: guilds, channels, roles, members."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000

# Channel types (Discord API "channel object").
TEXT = 0
DM = 1
CATEGORY = 4
NEWS = 5
NEWS_THREAD = 10
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
FORUM = 15
THREAD_TYPES = frozenset({NEWS_THREAD, PUBLIC_THREAD, PRIVATE_THREAD})

# Channel flags.
FLAG_PINNED = 1 << 1
FLAG_REQUIRE_TAG = 1 << 4

# Message flags.
MSG_EPHEMERAL = 1 << 6
MSG_LOADING = 1 << 7


class Perm:
    """Permission bits the stand-in checks (values from Discord's permissions table)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    MANAGE_ROLES = 1 << 28
    MANAGE_WEBHOOKS = 1 << 29
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    SEND_MESSAGES_IN_THREADS = 1 << 38
    ALL = (1 << 51) - 1

    # What a fresh @everyone role gets in a new guild, close enough for tests.
    EVERYONE_DEFAULT = (
        VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | ADD_REACTIONS
        | USE_APPLICATION_COMMANDS
        | CREATE_PUBLIC_THREADS
        | SEND_MESSAGES_IN_THREADS
        | USE_EXTERNAL_EMOJIS
    )


class SnowflakeFactory:
    """Makes increasing Discord snowflakes whose timestamp part is the wall clock."""

    def __init__(self) -> None:
        self._counter = itertools.count()
        self._lock = threading.Lock()
        self._last = 0

    def next(self) -> int:
        """Return a new snowflake, strictly greater than every earlier one."""
        with self._lock:
            now_ms = int(datetime.now(UTC).timestamp() * 1000) - DISCORD_EPOCH_MS
            candidate = (now_ms << 22) | (next(self._counter) & 0xFFF)
            self._last = max(candidate, self._last + 1)
            return self._last

    def next_on_shard(self, shard_id: int, shard_count: int) -> int:
        """A new snowflake that Discord's `(id >> 22) % shard_count` puts on `shard_id`."""
        with self._lock:
            now_ms = int(datetime.now(UTC).timestamp() * 1000) - DISCORD_EPOCH_MS
            moment = max(now_ms, self._last >> 22)
            moment += (shard_id - moment) % shard_count
            candidate = (moment << 22) | (next(self._counter) & 0xFFF)
            if candidate <= self._last:  # that millisecond is used up: the shard's next one
                candidate = ((moment + shard_count) << 22) | (next(self._counter) & 0xFFF)
            self._last = candidate
            return candidate


def iso_now() -> str:
    """Current UTC time as Discord formats timestamps."""
    return datetime.now(UTC).isoformat()


@dataclass
class User:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None
    dms_open: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }


@dataclass
class Role:
    id: int
    name: str
    permissions: int = 0
    position: int = 0
    managed: bool = False
    tags: dict[str, str] | None = None
    """Discord's role tags: {"bot_id": ...} for a bot's role, {"integration_id": ...} for an
    integration's (both are managed: nobody can give or take them by hand)."""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "hoist": False,
            "managed": self.managed,
            "mentionable": False,
            "flags": 0,
        }
        if self.tags is not None:
            data["tags"] = dict(self.tags)
        return data


@dataclass
class Member:
    user: User
    role_ids: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)

    def to_json(self) -> dict[str, Any]:
        return {
            "user": self.user.to_json(),
            "roles": [str(r) for r in self.role_ids],
            "nick": self.nick,
            "joined_at": self.joined_at,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
        }


@dataclass
class Overwrite:
    """A channel permission overwrite: type 0 = role, 1 = member."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type,
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


@dataclass
class ForumTag:
    id: int
    name: str
    moderated: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "moderated": self.moderated,
            "emoji_id": None,
            "emoji_name": None,
        }


@dataclass
class Channel:
    id: int
    type: int
    name: str
    guild_id: int | None = None
    parent_id: int | None = None
    position: int = 0
    topic: str | None = None
    overwrites: list[Overwrite] = field(default_factory=list)
    flags: int = 0
    available_tags: list[ForumTag] = field(default_factory=list)
    applied_tags: list[int] = field(default_factory=list)
    owner_id: int | None = None
    archived: bool = False
    recipient: User | None = None
    last_message_id: int | None = None
    message_count: int = 0

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "name": self.name,
            "flags": self.flags,
            "last_message_id": str(self.last_message_id) if self.last_message_id else None,
        }
        if self.type == DM:
            assert self.recipient is not None
            return {
                "id": str(self.id),
                "type": DM,
                "recipients": [self.recipient.to_json()],
                "last_message_id": data["last_message_id"],
            }
        data["guild_id"] = str(self.guild_id)
        data["parent_id"] = str(self.parent_id) if self.parent_id else None
        if self.is_thread:
            data.update(
                owner_id=str(self.owner_id) if self.owner_id else None,
                message_count=self.message_count,
                member_count=1,
                rate_limit_per_user=0,
                applied_tags=[str(t) for t in self.applied_tags],
                thread_metadata={
                    "archived": self.archived,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": iso_now(),
                    "locked": False,
                },
            )
            return data
        data.update(
            position=self.position,
            permission_overwrites=[o.to_json() for o in self.overwrites],
            topic=self.topic,
            nsfw=False,
            rate_limit_per_user=0,
        )
        if self.type == FORUM:
            data.update(
                available_tags=[t.to_json() for t in self.available_tags],
                default_reaction_emoji=None,
                default_thread_rate_limit_per_user=0,
                default_sort_order=None,
                default_forum_layout=0,
            )
        return data


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]


def base_permissions(guild: Guild, member: Member) -> int:
    """Guild-wide permissions of a member (Discord's documented algorithm, before overwrites)."""
    if member.user.id == guild.owner_id:
        return Perm.ALL
    perms = guild.everyone.permissions
    for role_id in member.role_ids:
        role = guild.roles.get(role_id)
        if role is not None:
            perms |= role.permissions
    if perms & Perm.ADMINISTRATOR:
        return Perm.ALL
    return perms


def channel_permissions(guild: Guild, member: Member, channel: Channel) -> int:
    """Permissions of a member in a channel: base permissions with the overwrites applied."""
    perms = base_permissions(guild, member)
    if perms & Perm.ADMINISTRATOR:
        return Perm.ALL
    overwrites = {o.id: o for o in channel.overwrites}
    everyone = overwrites.get(guild.id)
    if everyone is not None:
        perms = (perms & ~everyone.deny) | everyone.allow
    allow = deny = 0
    for role_id in member.role_ids:
        ow = overwrites.get(role_id)
        if ow is not None and ow.type == 0:
            allow |= ow.allow
            deny |= ow.deny
    perms = (perms & ~deny) | allow
    own = overwrites.get(member.user.id)
    if own is not None and own.type == 1:
        perms = (perms & ~own.deny) | own.allow
    # Without VIEW_CHANNEL a member can do nothing in the channel.
    if not perms & Perm.VIEW_CHANNEL:
        return 0
    return perms
