"""`paperboy doctor`: checks the configuration, the database, the token, the intents, the bot's
permissions in every subscribed channel and thread, and every feed's health; each problem
comes with how to fix it.

Discord is asked over its REST API with a few GETs through a small aiohttp client (no gateway,
no discord.py): the core stays Discord-library-free, the check runs while the bot runs (it never
takes over the bot's session), and `[bot] api_base_url` points it at the test stand-in. The
permission rule itself is `check_channel_fit`, the same one `/feeds add` applies.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import aiohttp

from bot.config import TOKEN_ENV, Config
from bot.errors import ConfigError, InvalidInput
from bot.fetch import kinds
from bot.ingest.websub import check_public_url, push_works
from bot.models import Subscription
from bot.services.admin import PERMISSION_LABELS, ChannelInfo, ChannelKind, check_channel_fit
from bot.storage import Storage, latest_version
from bot.web import hide_queries, parse_listen, public_url

DISCORD_API = "https://discord.com/api/v10"

# Discord's permission bits for the permissions Paperboy uses (discord.com/developers/docs).
ADMINISTRATOR = 1 << 3
VIEW_CHANNEL = 1 << 10
PERMISSION_BITS: dict[str, int] = {
    "view_channel": VIEW_CHANNEL,
    "send_messages": 1 << 11,
    "embed_links": 1 << 14,
    "read_message_history": 1 << 16,
    "manage_webhooks": 1 << 29,
    "create_public_threads": 1 << 35,
    "send_messages_in_threads": 1 << 38,
}
ALL_PERMISSIONS = (1 << 53) - 1

TEXT, NEWS, FORUM = 0, 5, 15
THREADS = (10, 11, 12)

# Privileged gateway intents (application flags); Paperboy needs none of them.
PRIVILEGED_INTENT_FLAGS = {
    "presence": (1 << 12) | (1 << 13),
    "server members": (1 << 14) | (1 << 15),
    "message content": (1 << 18) | (1 << 19),
}

FEED_FIXES: dict[str, str] = {
    kinds.TIMEOUT: "The site is slow or down. Open the feed in a browser; Paperboy keeps "
    "retrying with growing pauses (at most daily).",
    kinds.DNS: "The site's name does not resolve. Check the address for a typo or a "
    "domain that moved, then /feeds edit or re-add the subscription.",
    kinds.TLS: "The site's certificate is invalid or expired. Tell the publisher.",
    kinds.REFUSED: "The server refuses connections. Check that the site is up.",
    kinds.HTTP_4XX: "The feed moved or is gone. Find its new address with "
    "`paperboy feed check https://the-site/` and subscribe to that instead.",
    kinds.HTTP_5XX: "The site has a server error. Paperboy retries; tell the publisher if it "
    "lasts.",
    kinds.RATE_LIMITED: "The site asks for fewer requests. Raise the feed's interval "
    "(/feeds edit interval).",
    kinds.BLOCKED_BY_CHALLENGE: "A bot-protection page blocks Paperboy. Ask the publisher to "
    "allow its User-Agent, or use another feed address.",
    kinds.TOO_LARGE: "The feed is larger than [fetch] max_feed_bytes. Raise that limit or use a "
    "smaller feed.",
    kinds.PRIVATE_ADDRESS: "The feed is on a private network. If that is intended (a self-hosted "
    "site), set [fetch] allow_private_addresses = true.",
    kinds.REDIRECTS: "The feed redirects in a loop or to plain http. Subscribe to the final "
    "https address.",
    kinds.INVALID_URL: "The address is not valid. Re-add the subscription with a correct one.",
    kinds.NETWORK: "The connection broke mid-answer. Paperboy retries; check the site if it lasts.",
    "parse-error": "The document is not a readable feed. Check it with `paperboy feed check URL`.",
    "not-a-feed": "The address serves a page, not a feed. Find the feed with "
    "`paperboy feed check https://the-site/` and subscribe to that.",
}
DEFAULT_FEED_FIX = "Check the feed with `paperboy feed check URL`; Paperboy keeps retrying."


@dataclass(frozen=True)
class Finding:
    """One check's result: what was checked, where, what was found, and how to fix it."""

    check: str
    where: str
    ok: bool
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, Any]:
        """The finding as a JSON object."""
        return asdict(self)


def channel_permissions(
    guild: Mapping[str, Any], member: Mapping[str, Any], channel: Mapping[str, Any], user_id: int
) -> int:
    """A member's permissions in a channel from Discord's REST objects (Discord's documented
    algorithm: @everyone and role permissions, then @everyone, role and member overwrites)."""
    if str(guild.get("owner_id")) == str(user_id):
        return ALL_PERMISSIONS
    roles = {str(role["id"]): int(role.get("permissions", 0)) for role in guild.get("roles", [])}
    guild_id = str(guild["id"])
    member_roles = [str(role_id) for role_id in member.get("roles", [])]
    perms = roles.get(guild_id, 0)
    for role_id in member_roles:
        perms |= roles.get(role_id, 0)
    if perms & ADMINISTRATOR:
        return ALL_PERMISSIONS
    overwrites = {str(o["id"]): o for o in channel.get("permission_overwrites", [])}

    def bits(overwrite: Mapping[str, Any], key: str) -> int:
        return int(overwrite.get(key, 0))

    everyone = overwrites.get(guild_id)
    if everyone is not None:
        perms = (perms & ~bits(everyone, "deny")) | bits(everyone, "allow")
    allow = deny = 0
    for role_id in member_roles:
        overwrite = overwrites.get(role_id)
        if overwrite is not None and int(overwrite.get("type", 0)) == 0:
            allow |= bits(overwrite, "allow")
            deny |= bits(overwrite, "deny")
    perms = (perms & ~deny) | allow
    own = overwrites.get(str(user_id))
    if own is not None and int(own.get("type", 1)) == 1:
        perms = (perms & ~bits(own, "deny")) | bits(own, "allow")
    return perms if perms & VIEW_CHANNEL else 0


def granted_names(permissions: int) -> frozenset[str]:
    """The names (as `check_channel_fit` spells them) of the permissions set in `permissions`."""
    return frozenset(name for name, bit in PERMISSION_BITS.items() if permissions & bit)


def channel_kind(channel_type: int) -> ChannelKind:
    """The kind `check_channel_fit` expects, from Discord's channel type number."""
    if channel_type in THREADS:
        return "thread"
    kinds_by_type: dict[int, ChannelKind] = {TEXT: "text", NEWS: "news", FORUM: "forum"}
    return kinds_by_type.get(channel_type, "other")


class DiscordRest:
    """A few authenticated GETs against Discord's REST API (or the stand-in)."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self._session = session
        self._base = (base_url or DISCORD_API).rstrip("/")
        self._headers = {"Authorization": f"Bot {token}"}

    async def get(self, path: str) -> tuple[int, Any]:
        """(status, parsed JSON or None) for GET base+path."""
        async with self._session.get(self._base + path, headers=self._headers) as response:
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = None
            return response.status, body


class Doctor:
    """Runs every check and collects findings; never raises for what it finds."""

    def __init__(
        self,
        config: Config,
        storage: Storage | None,
        session: aiohttp.ClientSession,
        *,
        environ: Mapping[str, str] = os.environ,
        now: datetime,
    ) -> None:
        self.config = config
        self.storage = storage
        self.session = session
        self.environ = environ
        self.now = now
        self.findings: list[Finding] = []

    def add(self, check: str, where: str, ok: bool, detail: str, fix: str = "") -> None:
        """Record one finding."""
        self.findings.append(Finding(check, where, ok, detail, fix))

    async def run(self) -> list[Finding]:
        """Every check, in order; Discord checks stop early when the token is refused."""
        self.check_config()
        await self.check_database()
        token = self.environ.get(TOKEN_ENV, "").strip()
        if not token:
            self.add(
                "token",
                TOKEN_ENV,
                False,
                f"{TOKEN_ENV} is not set",
                "Developer Portal > your application > Bot > Reset Token; put the token in "
                f"{TOKEN_ENV} in the bot's environment (never in config.toml).",
            )
        else:
            rest = DiscordRest(self.session, self.config.bot.api_base_url, token)
            try:
                await self.check_discord(rest)
            except aiohttp.ClientError as error:
                self.add(
                    "discord",
                    self.config.bot.api_base_url or DISCORD_API,
                    False,
                    f"Discord could not be reached ({type(error).__name__}: {error})",
                    "Check the machine's network and DNS; `[bot] api_base_url` should be empty "
                    "outside tests.",
                )
        await self.check_feeds()
        await self.check_websub()
        return self.findings

    def check_config(self) -> None:
        """The file was read and validated (or the defaults apply); the endpoint is safe."""
        where = self.config.source
        try:
            listen = parse_listen(self.config.http)
        except ConfigError as error:
            self.add("config", where, False, str(error), "Change [http] listen (see README).")
            return
        try:
            check_public_url(self.config.websub.public_url, listening=listen is not None)
        except ConfigError as error:
            self.add("config", where, False, str(error), "Change [websub] (see README, WebSub).")
            return
        endpoint = f"operator endpoint on {listen[0]}:{listen[1]}" if listen else "endpoint off"
        push = "; WebSub push on" if self.config.websub.public_url.strip() else ""
        self.add("config", where, True, f"valid; {endpoint}{push}")

    async def check_database(self) -> None:
        """The database opened, is migrated and takes writes."""
        where = self.config.database.where()
        if self.storage is None:
            missing = not self.config.database.url and not await asyncio.to_thread(
                os.path.exists, where
            )
            self.add(
                "database",
                where,
                False,
                "does not exist yet" if missing else "could not be opened",
                "`paperboy db migrate` (or the first `paperboy run`) creates it; check "
                "[database] path if it should exist."
                if missing
                else "Check [database] url, that the server runs and this user may connect."
                if self.config.database.url
                else "Check [database] path, the file's owner and mode, and that its directory "
                "exists and is writable.",
            )
            return
        problem = await self.storage.write_problem()
        version = await self.storage.schema_version()
        if problem:
            self.add(
                "database",
                where,
                False,
                problem,
                "Check the file's owner and mode, free disk space, and that no other process "
                "holds a long write lock.",
            )
        else:
            self.add("database", where, True, f"writable, schema {version} of {latest_version()}")

    async def check_discord(self, rest: DiscordRest) -> None:
        """The token, the intents, and the bot's permissions in every subscribed channel."""
        status, me = await rest.get("/users/@me")
        if status == 401:
            self.add(
                "token",
                TOKEN_ENV,
                False,
                "Discord rejected the token",
                "Developer Portal > Bot > Reset Token, then update DISCORD_TOKEN.",
            )
            return
        if status != 200 or not isinstance(me, dict):
            self.add("token", TOKEN_ENV, False, f"GET /users/@me answered {status}", "Try again.")
            return
        bot_id = int(me["id"])
        self.add("token", TOKEN_ENV, True, f"valid, bot user {me.get('username', '?')} ({bot_id})")
        status, application = await rest.get("/oauth2/applications/@me")
        if status == 200 and isinstance(application, dict):
            flags = int(application.get("flags") or 0)
            enabled = [name for name, bits in PRIVILEGED_INTENT_FLAGS.items() if flags & bits]
            detail = "Paperboy needs only the Guilds intent, which is not privileged"
            if enabled:
                detail += f"; enabled but unused: {', '.join(enabled)} (may be turned off)"
            self.add("intents", "Developer Portal > Bot", True, detail)
        else:
            self.add("intents", "Developer Portal", False, f"GET application answered {status}")
        await self.check_channels(rest, bot_id)

    async def check_channels(self, rest: DiscordRest, bot_id: int) -> None:
        """Every active subscription's channel: reachable, and the bot may post there."""
        if self.storage is None:
            return
        guilds: dict[int, tuple[dict[str, Any], dict[str, Any]] | None] = {}
        channels: dict[int, tuple[int, Any]] = {}
        for subscription in await self.storage.active_subscriptions():
            where = f"channel {subscription.channel_id} (guild {subscription.guild_id})"
            if subscription.guild_id not in guilds:
                guilds[subscription.guild_id] = await self._guild(
                    rest, subscription.guild_id, bot_id
                )
            guild = guilds[subscription.guild_id]
            if guild is None:
                self.add(
                    "permissions",
                    f"guild {subscription.guild_id}",
                    False,
                    "the bot is not in this server (or cannot see it)",
                    "Invite Paperboy again with the URL it logs at start, or remove the "
                    "server's subscriptions.",
                )
                continue
            if subscription.channel_id not in channels:
                channels[subscription.channel_id] = await rest.get(
                    f"/channels/{subscription.channel_id}"
                )
            status, channel = channels[subscription.channel_id]
            if status != 200 or not isinstance(channel, dict):
                self.add(
                    "permissions",
                    where,
                    False,
                    "the channel is deleted or hidden from the bot"
                    if status == 404
                    else f"the bot cannot open the channel (HTTP {status})",
                    "Give Paperboy's role View Channel there, or /feeds remove the subscription.",
                )
                continue
            await self._check_fit(rest, subscription, guild, channel, bot_id)

    async def _guild(
        self, rest: DiscordRest, guild_id: int, bot_id: int
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        status, guild = await rest.get(f"/guilds/{guild_id}")
        if status != 200 or not isinstance(guild, dict):
            return None
        status, member = await rest.get(f"/guilds/{guild_id}/members/{bot_id}")
        if status != 200 or not isinstance(member, dict):
            return None
        return guild, member

    async def _check_fit(
        self,
        rest: DiscordRest,
        subscription: Subscription,
        guild_and_member: tuple[dict[str, Any], dict[str, Any]],
        channel: dict[str, Any],
        bot_id: int,
    ) -> None:
        guild, member = guild_and_member
        name = str(channel.get("name") or subscription.channel_id)
        kind = channel_kind(int(channel.get("type", -1)))
        where = f"#{name} ({subscription.channel_id})"
        # A thread's permissions are its parent channel's.
        source = channel
        if kind == "thread" and channel.get("parent_id"):
            status, parent = await rest.get(f"/channels/{channel['parent_id']}")
            if status == 200 and isinstance(parent, dict):
                source = parent
        granted = granted_names(channel_permissions(guild, member, source, bot_id))
        info = ChannelInfo(subscription.channel_id, name, kind, granted)
        try:
            check_channel_fit(subscription.format, info, auto_thread=subscription.auto_thread)
        except InvalidInput as error:
            missing = [PERMISSION_LABELS[n] for n in PERMISSION_LABELS if n not in granted]
            self.add(
                "permissions",
                where,
                False,
                str(error).split(" Give ")[0],
                f"Server Settings > Channels > #{name} > Permissions > Paperboy's role: allow "
                f"{', '.join(missing) or 'the permissions named'}; then /feeds resume.",
            )
            return
        self.add(
            "permissions",
            where,
            True,
            f"can post {subscription.format} announcements of feed {subscription.feed_id}",
        )

    async def check_feeds(self) -> None:
        """Every feed: failing ones are problems, with a fix chosen by their error class."""
        if self.storage is None:
            return
        for item in await self.storage.feed_health():
            feed = item.feed
            where = f"feed {feed.id} {public_url(feed.url)}"
            if feed.consecutive_failures == 0:
                self.add("feed", where, True, f"{item.subscriptions} subscription(s), polling fine")
                continue
            kind = feed.last_error_kind or "unknown"
            detail = f"failing {feed.consecutive_failures}× in a row ({kind})"
            if feed.last_error_message:
                detail += f": {hide_queries(feed.last_error_message)}"
            self.add("feed", where, False, detail, FEED_FIXES.get(kind, DEFAULT_FEED_FIX))

    async def check_websub(self) -> None:
        """With push on: how many feeds push works for; a problem when every hub failed, which
        points at the public address (hubs cannot reach the callback)."""
        public = self.config.websub.public_url.strip()
        if self.storage is None or not public:
            return
        subs = [sub for sub in await self.storage.websub_subscriptions() if sub.wanted]
        working = sum(push_works(sub, self.now) for sub in subs)
        failed = [sub for sub in subs if sub.state == "failed"]
        detail = f"{working} of {len(subs)} followed feed(s) with a hub push; {len(failed)} failed"
        if failed:
            detail += f" (last: {hide_queries(failed[-1].last_error or 'unknown')})"
        all_failed = bool(failed) and working == 0
        fix = (
            f"Check that {public}/websub/ reaches [http] listen through the reverse proxy "
            "(a GET there should answer 404 from Paperboy); failing hubs are retried by "
            "themselves, and those feeds are polled at their normal interval meanwhile."
        )
        self.add("websub", public_url(public), not all_failed, detail, fix if all_failed else "")
