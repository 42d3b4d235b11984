"""`/feeds export` and `/feeds import`: a guild's configuration as JSON, and OPML feed lists.

Import validates the whole file before changing anything, then writes it in one transaction.
Channels and roles are matched by id, else by name, so an export from one server imports into
another with the same channel names. Importing the same file twice adds nothing the second time.
OPML is parsed with `xml.etree` after refusing any DTD: an OPML file never needs one, and a DTD
is how entity-expansion attacks arrive.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET  # DTDs are refused before parsing, see _read_opml
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bot.announce.filters import display_text, keyword_list_as_filter
from bot.announce.mentions import MAX_RULES_PER_SUBSCRIPTION
from bot.announce.message import MessageSettings
from bot.announce.template import validate_timezone
from bot.clock import Clock, to_iso
from bot.config import Config
from bot.errors import InvalidInput, PaperboyError
from bot.models import GuildSettings, NewSubscription
from bot.services.admin import (
    ChannelInfo,
    FeedAdmin,
    check_channel_fit,
    shown,
    validate_feed_url,
    validate_filter,
    validate_format,
    validate_interval,
    validate_subscription_name,
    validate_template_text,
)
from bot.storage import ImportedSubscription, Storage, SubscriptionLimitReached

EXPORT_FORMAT = "paperboy-export"
EXPORT_VERSION = 2
"""Version 2 (#16): filters in the boolean language, and mention rules."""
KEYWORD_LIST_VERSION = 1
"""Exports before #16 hold filters as comma-separated keyword lists; they are converted."""
MAX_IMPORT_BYTES = 1024 * 1024
MAX_PROBLEMS_SHOWN = 10


@dataclass(frozen=True)
class GuildDirectory:
    """The guild's channels (with the bot's permissions) and roles, from the Discord layer."""

    channels: Mapping[int, ChannelInfo]
    roles: Mapping[int, str]
    managed_roles: frozenset[int] = frozenset()
    """Roles a bot or integration manages: Discord decides who has them, so never moderators."""

    def channel(self, ref: Any) -> ChannelInfo | None:
        """A channel by {"id", "name"}: the id if it is in this guild, else a unique name."""
        if not isinstance(ref, dict):
            return None
        channel_id = ref.get("id")
        found = self.channels.get(channel_id) if isinstance(channel_id, int) else None
        if found is not None:
            return found
        named = [c for c in self.channels.values() if c.name == ref.get("name")]
        return named[0] if len(named) == 1 else None

    def role(self, ref: Any) -> int | None:
        """A role id by {"id", "name"}: the id if it is in this guild, else a unique name."""
        if not isinstance(ref, dict):
            return None
        role_id = ref.get("id")
        if isinstance(role_id, int) and role_id in self.roles:
            return role_id
        named = [rid for rid, name in self.roles.items() if name == ref.get("name")]
        return named[0] if len(named) == 1 else None


@dataclass
class ImportReport:
    """What an import added and skipped, in words."""

    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    settings_changed: bool = False
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Entry:
    feed_url: str
    feed_title: str
    channel: ChannelInfo
    format: str
    mention_role_id: int | None
    include: str
    exclude: str
    template: str
    auto_thread: bool
    paused: bool
    interval_seconds: int | None
    name: str = ""
    message: MessageSettings = field(default_factory=MessageSettings)
    mention_rules: tuple[tuple[int, str], ...] = ()


def _ref(object_id: int | None, names: Mapping[int, str]) -> dict[str, Any] | None:
    if object_id is None:
        return None
    return {"id": object_id, "name": names.get(object_id, "")}


def _mention_rules(raw: Any, directory: GuildDirectory) -> tuple[tuple[int, str], ...]:
    """An entry's mention rules as (role id, filter text), every one checked."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(rule, dict) for rule in raw):
        raise InvalidInput("mention_rules must be a list of objects with a role and a filter.")
    if len(raw) > MAX_RULES_PER_SUBSCRIPTION:
        raise InvalidInput(
            f"it has {len(raw)} mention rules; the most allowed is {MAX_RULES_PER_SUBSCRIPTION}."
        )
    rules: dict[int, str] = {}
    for number, rule in enumerate(raw, start=1):
        role = directory.role(rule.get("role"))
        if role is None:
            raise InvalidInput(f"the role of mention rule {number} does not exist in this server.")
        written = rule.get("filter") or ""
        if not isinstance(written, str):
            raise InvalidInput(f"the filter of mention rule {number} must be text.")
        rules[role] = validate_filter(written, f"mention rule {number}'s") if written else ""
    return tuple(rules.items())


class Portability:
    """Export and import of a guild's subscriptions and settings."""

    def __init__(self, storage: Storage, config: Config, clock: Clock, admin: FeedAdmin) -> None:
        self.storage = storage
        self.config = config
        self.clock = clock
        self.admin = admin

    async def export(self, guild_id: int, directory: GuildDirectory) -> bytes:
        """This guild's subscriptions and settings as UTF-8 JSON."""
        names = {cid: c.name for cid, c in directory.channels.items()}
        settings = await self.storage.guild_settings(guild_id)
        subscriptions = []
        for item in await self.admin.subscriptions(guild_id):
            sub, feed = item.subscription, item.feed
            subscriptions.append(
                {
                    "feed_url": feed.url,
                    "feed_title": feed.title,
                    "interval_seconds": sub.interval_seconds,
                    "channel": _ref(sub.channel_id, names),
                    "format": sub.format,
                    "mention_role": _ref(sub.mention_role_id, directory.roles),
                    "include": display_text(sub.include_filter),
                    "exclude": display_text(sub.exclude_filter),
                    "mention_rules": [
                        {"role": _ref(rule.role_id, directory.roles), "filter": rule.filter}
                        for rule in item.mention_rules
                    ],
                    "template": sub.template,
                    "auto_thread": sub.auto_thread,
                    "paused": sub.paused,
                    "name": sub.name,
                    "message": MessageSettings.from_json(sub.message_settings).as_dict(),
                }
            )
        document = {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "exported_at": to_iso(self.clock.now()),
            "settings": {
                "timezone": settings.timezone,
                "log_channel": _ref(settings.log_channel_id, names),
                "moderator_role": _ref(settings.moderator_role_id, directory.roles),
            },
            "subscriptions": subscriptions,
        }
        return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")

    async def import_file(
        self,
        guild_id: int,
        user_id: int,
        data: bytes,
        directory: GuildDirectory,
        *,
        default_channel: ChannelInfo | None = None,
        may_change_moderator_role: bool = True,
    ) -> ImportReport:
        """Validate the whole file, then add what is new in one transaction; never half-done.

        Without `may_change_moderator_role` (Manage Server), the file's moderator role is
        ignored: a moderator-role holder must not hand moderation to others."""
        if len(data) > MAX_IMPORT_BYTES:
            raise InvalidInput(
                f"The file is {len(data):,} bytes; "
                f"the most accepted is {MAX_IMPORT_BYTES:,} (1 MiB)."
            )
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput(
                "The file is not UTF-8 text; export it again as JSON or OPML."
            ) from None
        stripped = text.lstrip()
        report = ImportReport()
        settings: GuildSettings | None = None
        keyword_lists = False
        if stripped.startswith("{"):
            raw_entries, settings, version = self._read_json(stripped, directory, guild_id, report)
            keyword_lists = version == KEYWORD_LIST_VERSION
        elif stripped.startswith("<"):
            raw_entries = _read_opml(stripped)
        else:
            raise InvalidInput("The file is neither Paperboy's JSON export nor an OPML feed list.")
        entries, problems = self._validate(
            raw_entries, directory, default_channel, keyword_lists=keyword_lists
        )
        if problems:
            listed = "\n".join(f"- {p}" for p in problems[:MAX_PROBLEMS_SHOWN])
            more = len(problems) - MAX_PROBLEMS_SHOWN
            tail = f"\n…and {more} more." if more > 0 else ""
            raise InvalidInput(f"Nothing was imported; the file has problems:\n{listed}{tail}")
        to_add = await self._plan(guild_id, entries, report)
        limit = self.config.moderation.max_subscriptions_per_guild
        have = await self.storage.count_guild_subscriptions(guild_id)
        if have + len(to_add) > limit:
            raise InvalidInput(
                f"Nothing was imported: it would give this server {have + len(to_add)} "
                f"subscriptions, and the most allowed is {limit}."
            )
        items = [
            ImportedSubscription(
                feed_url=e.feed_url,
                feed_title=e.feed_title,
                interval_seconds=e.interval_seconds,
                paused=e.paused,
                subscription=NewSubscription(
                    guild_id=guild_id,
                    channel_id=e.channel.id,
                    feed_id=0,
                    format=validate_format(e.format),
                    mention_role_id=e.mention_role_id,
                    include_filter=e.include,
                    exclude_filter=e.exclude,
                    template=e.template,
                    auto_thread=e.auto_thread,
                    created_by=user_id,
                    name=e.name,
                    message_settings="" if e.message == MessageSettings() else e.message.to_json(),
                ),
                mention_rules=e.mention_rules,
            )
            for e in to_add
        ]
        current = await self.storage.guild_settings(guild_id)
        if (
            settings is not None
            and not may_change_moderator_role
            and settings.moderator_role_id != current.moderator_role_id
        ):
            settings = replace(settings, moderator_role_id=current.moderator_role_id)
            report.notes.append(
                "The moderator role was left as it is: only members with Manage Server "
                "can change it."
            )
        if settings is not None and settings == current:
            settings = None
        now = self.clock.now()
        try:
            ids = await self.storage.apply_import(guild_id, items, settings, now=now, limit=limit)
        except SubscriptionLimitReached:  # others were added since the count above
            raise InvalidInput(
                f"Nothing was imported: it would give this server more than {limit} "
                "subscriptions, the most allowed."
            ) from None
        for entry, new_id in zip(to_add, ids, strict=True):
            if new_id:
                feed = await self.storage.feed_by_url(entry.feed_url)
                if feed is not None:
                    await self.admin.check_within(feed.id, entry.interval_seconds)
            label = (
                f"{shown(entry.feed_title or entry.feed_url)} → #{shown(entry.channel.name, 100)}"
            )
            if new_id:
                report.added.append(f"{label} (subscription {new_id})")
            else:
                report.skipped.append(f"{label}: already subscribed")
        report.settings_changed = settings is not None
        if report.added or report.settings_changed:
            await self.admin.record(
                guild_id,
                user_id,
                "feeds.import",
                f"added {len(report.added)} subscriptions, skipped {len(report.skipped)}"
                + ("; settings replaced" if report.settings_changed else ""),
            )
            self.admin.wake()
        return report

    def _read_json(
        self, text: str, directory: GuildDirectory, guild_id: int, report: ImportReport
    ) -> tuple[list[dict[str, Any]], GuildSettings | None, int]:
        try:
            document = json.loads(text)
        except ValueError as error:
            raise InvalidInput(f"The file is not valid JSON ({error}).") from None
        if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
            raise InvalidInput("The JSON file is not a Paperboy export (/feeds export makes one).")
        version = document.get("version")
        if version not in (KEYWORD_LIST_VERSION, EXPORT_VERSION) or isinstance(version, bool):
            raise InvalidInput(
                f"The export has version {shown(str(version), 20)}; "
                f"this Paperboy reads versions {KEYWORD_LIST_VERSION} to {EXPORT_VERSION}."
            )
        subscriptions = document.get("subscriptions")
        if not isinstance(subscriptions, list) or not all(
            isinstance(s, dict) for s in subscriptions
        ):
            raise InvalidInput("The export's subscriptions must be a list of objects.")
        settings = None
        raw = document.get("settings")
        if isinstance(raw, dict):
            timezone = raw.get("timezone", "UTC")
            if not isinstance(timezone, str):
                raise InvalidInput("The export's time zone must be text such as Europe/London.")
            validate_timezone(timezone)
            log_channel = directory.channel(raw.get("log_channel"))
            if raw.get("log_channel") and log_channel is None:
                report.notes.append("The log channel does not exist here; it was left unset.")
            role = directory.role(raw.get("moderator_role"))
            if raw.get("moderator_role") and role is None:
                report.notes.append("The moderator role does not exist here; it was left unset.")
            if role is not None and role in directory.managed_roles:
                role = None
                report.notes.append(
                    "The moderator role is managed by a bot or an integration here; "
                    "it was left unset."
                )
            settings = GuildSettings(
                guild_id=guild_id,
                log_channel_id=log_channel.id if log_channel else None,
                timezone=timezone,
                moderator_role_id=role,
            )
        return subscriptions, settings, int(version)

    def _validate(
        self,
        raw_entries: list[dict[str, Any]],
        directory: GuildDirectory,
        default_channel: ChannelInfo | None,
        *,
        keyword_lists: bool = False,
    ) -> tuple[list[_Entry], list[str]]:
        limit = self.config.moderation.max_subscriptions_per_guild
        if len(raw_entries) > limit:
            return [], [f"It lists {len(raw_entries)} subscriptions; the most allowed is {limit}."]
        entries: list[_Entry] = []
        problems: list[str] = []
        allow_private = self.config.fetch.allow_private_addresses
        for number, raw in enumerate(raw_entries, start=1):
            try:
                entries.append(
                    self._entry(
                        raw, directory, default_channel, allow_private, keyword_lists=keyword_lists
                    )
                )
            except PaperboyError as error:
                problems.append(f"Entry {number}: {error}")
        return entries, problems

    def _entry(
        self,
        raw: dict[str, Any],
        directory: GuildDirectory,
        default_channel: ChannelInfo | None,
        allow_private: bool,
        *,
        keyword_lists: bool = False,
    ) -> _Entry:
        def text(name: str, default: str = "") -> str:
            value = raw.get(name, default)
            if value is None:
                return default
            if not isinstance(value, str):
                raise InvalidInput(f"{name} must be text.")
            return value

        url = validate_feed_url(text("feed_url"), allow_private=allow_private)
        if "channel" in raw:
            channel = directory.channel(raw["channel"])
            if channel is None:
                ref = raw["channel"] if isinstance(raw["channel"], dict) else {}
                raise InvalidInput(
                    f"the channel #{shown(str(ref.get('name', '?')), 100)} does not exist in "
                    "this server (channels are matched by id, then by name)."
                )
        elif default_channel is not None:
            channel = default_channel
        else:
            raise InvalidInput(
                "no channel is given; choose one with the channel option of /feeds import."
            )
        default_format = "forum" if channel.kind == "forum" else "embed"
        format_name = validate_format(text("format", default_format) or default_format)
        auto_thread = raw.get("auto_thread", False)
        paused = raw.get("paused", False)
        if not isinstance(auto_thread, bool) or not isinstance(paused, bool):
            raise InvalidInput("auto_thread and paused must be true or false.")
        check_channel_fit(format_name, channel, auto_thread=auto_thread)
        interval = raw.get("interval_seconds")
        if interval is not None:
            if isinstance(interval, bool) or not isinstance(interval, int):
                raise InvalidInput("interval_seconds must be a whole number.")
            interval = validate_interval(interval, self.config)
        mention = None
        if raw.get("mention_role"):
            mention = directory.role(raw["mention_role"])
            if mention is None:
                raise InvalidInput("the role to mention does not exist in this server.")
        template = text("template")
        sub_name = text("name")
        message = raw.get("message") or {}
        if not isinstance(message, dict):
            raise InvalidInput("message must be an object of message builder settings.")
        try:
            settings = MessageSettings().with_changes(message)
        except InvalidInput as error:
            raise InvalidInput(f"the message settings are not valid: {error}") from None

        def filter_text(name: str) -> str:
            written = text(name)
            if keyword_lists and written.strip():
                # The same meaning in today's language, so nothing changes what it announces.
                try:
                    written = keyword_list_as_filter(written)
                except InvalidInput as error:
                    raise InvalidInput(f"The {name} filter is not valid: {error}") from None
            return validate_filter(written, name)

        return _Entry(
            feed_url=url,
            feed_title=text("feed_title")[:300],
            channel=channel,
            format=format_name,
            mention_role_id=mention,
            include=filter_text("include"),
            exclude=filter_text("exclude"),
            template=validate_template_text(template) if template.strip() else "",
            auto_thread=auto_thread,
            paused=paused,
            interval_seconds=interval,
            name=validate_subscription_name(sub_name) if sub_name.strip() else "",
            message=settings,
            mention_rules=_mention_rules(raw.get("mention_rules"), directory),
        )

    async def _plan(
        self, guild_id: int, entries: list[_Entry], report: ImportReport
    ) -> list[_Entry]:
        """Drop entries already subscribed or repeated in the file (reported as skipped)."""
        existing: set[tuple[str, int, str]] = set()
        for item in await self.admin.subscriptions(guild_id):
            sub = item.subscription
            existing.add((item.feed.url, sub.channel_id, sub.name.casefold()))
        to_add: list[_Entry] = []
        for entry in entries:
            key = (entry.feed_url, entry.channel.id, entry.name.casefold())
            label = (
                f"{shown(entry.feed_title or entry.feed_url)} → #{shown(entry.channel.name, 100)}"
            )
            if key in existing:
                report.skipped.append(f"{label}: already subscribed")
                continue
            existing.add(key)
            to_add.append(entry)
        return to_add


def _read_opml(text: str) -> list[dict[str, Any]]:
    """Feed entries of an OPML document: every outline with an xmlUrl, in document order."""
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise InvalidInput("The OPML file declares a DTD or entities, which Paperboy refuses.")
    try:
        root = ET.fromstring(text)  # noqa: S314 - no DTD can reach the parser (checked above)
    except ET.ParseError as error:
        raise InvalidInput(f"The OPML file is not well-formed XML ({error}).") from None
    if root.tag.lower() != "opml":
        raise InvalidInput("The XML file is not OPML (its root element is not <opml>).")
    entries = []
    for outline in root.iter("outline"):
        attributes = {key.lower(): value for key, value in outline.attrib.items()}
        url = attributes.get("xmlurl")
        if url:
            title = attributes.get("title") or attributes.get("text") or ""
            entries.append({"feed_url": url.strip(), "feed_title": title})
    if not entries:
        raise InvalidInput("The OPML file lists no feeds (no outline has an xmlUrl).")
    return entries
