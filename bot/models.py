"""Domain records as they come out of storage. Plain frozen dataclasses, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

Format = Literal["embed", "text", "forum", "webhook"]
FORMATS: tuple[Format, ...] = ("embed", "text", "forum", "webhook")
MODERATOR_PAUSE_REASON = "paused by a moderator"


@dataclass(frozen=True)
class Feed:
    """A feed Paperboy polls, with its health."""

    id: int
    url: str
    title: str
    site_url: str
    icon_url: str
    etag: str | None
    last_modified: str | None
    next_check_at: datetime
    last_checked_at: datetime | None
    last_success_at: datetime | None
    last_error_kind: str | None
    last_error_message: str | None
    consecutive_failures: int
    failing_notified: bool
    created_at: datetime
    subscription_intervals: tuple[int | None, ...] = ()
    """The polling interval each active, unpaused subscription asked for (None: the default);
    the feed is checked at the shortest of them (`schedule.base_interval`)."""

    @property
    def display_name(self) -> str:
        """The title, or the URL when the feed has no title."""
        return self.title or self.url


@dataclass(frozen=True)
class Subscription:
    """A feed announced in one channel of one guild."""

    id: int
    guild_id: int
    channel_id: int
    feed_id: int
    format: Format
    mention_role_id: int | None
    include_filter: str
    exclude_filter: str
    template: str
    auto_thread: bool
    fallback_tag_id: int | None
    paused: bool
    pause_reason: str
    active: bool
    created_by: int | None
    created_at: datetime
    paused_by_moderator: bool = False
    """A moderator's pause skips what is published meanwhile; a pause after Discord refused a
    post keeps it waiting for the resume."""
    interval_seconds: int | None = None
    """How often this server wants the feed checked (None: the configured default)."""
    name: str = ""
    """Tells apart several subscriptions of one feed in one channel ('' for the unnamed one)."""
    message_settings: str = ""
    """The message builder's choices as JSON (`bot.announce.message.MessageSettings`)."""

    @property
    def state(self) -> str:
        """One word for lists: active, paused or inactive."""
        if not self.active:
            return "inactive"
        return "paused" if self.paused else "active"


@dataclass(frozen=True)
class NewSubscription:
    """What a moderator asks for when adding a subscription."""

    guild_id: int
    channel_id: int
    feed_id: int
    format: Format
    mention_role_id: int | None = None
    include_filter: str = ""
    exclude_filter: str = ""
    template: str = ""
    auto_thread: bool = False
    fallback_tag_id: int | None = None
    created_by: int | None = None
    interval_seconds: int | None = None
    name: str = ""
    message_settings: str = ""


@dataclass(frozen=True)
class MentionRule:
    """A role pinged with a subscription's announcements when the article matches `filter`
    (text in the `bot.announce.filters` language; empty: every article)."""

    id: int
    subscription_id: int
    role_id: int
    filter: str
    created_by: int | None
    created_at: datetime


@dataclass(frozen=True)
class GuildSettings:
    """Per-guild settings moderators control."""

    guild_id: int
    log_channel_id: int | None = None
    timezone: str = "UTC"
    moderator_role_id: int | None = None
    active: bool = True


@dataclass(frozen=True)
class AuditEntry:
    """One recorded configuration change."""

    id: int
    guild_id: int
    user_id: int | None
    action: str
    detail: str
    created_at: datetime


@dataclass(frozen=True)
class GuildScope:
    """What members of one server may read of the archive.

    Articles of feeds the server subscribes to (active subscriptions, paused ones included),
    plus every article already announced there, even through a subscription since removed.
    Storage verbs that return articles or titles take a scope and enforce it in SQL.
    """

    guild_id: int


@dataclass(frozen=True)
class WholeArchive:
    """The operator's view: every archived article (command line, indexing, benchmarks)."""


WHOLE_ARCHIVE: Final = WholeArchive()

ArchiveScope = GuildScope | WholeArchive
"""Whose view of the archive a read is made for; members only ever get a `GuildScope`."""


ON_CHANGE_CHOICES: Final = ("ignore", "edit", "repost")
"""What a subscription does when a posted article's title, standfirst or image changes: nothing,
edit the posted message, or post the new version as a new announcement."""
DIGEST_CHOICES: Final = ("daily", "weekly")


@dataclass(frozen=True)
class Rhythm:
    """When and how a subscription's announcements go out (`bot.delivery.rhythm` decides).

    Quiet hours are local times ('HH:MM') in the server's time zone: posts wait from
    `quiet_start` until `quiet_end` and are released in order afterwards. `daily_cap` counts
    posts per local day; what exceeds it waits for the next day. A digest replaces instant
    posts with one scheduled message (`bot.announce.digest`).
    """

    quiet_start: str | None = None
    quiet_end: str | None = None
    daily_cap: int | None = None
    on_change: str = "ignore"
    digest: str | None = None
    """'daily' or 'weekly': new items wait for one scheduled message instead of instant posts."""
    digest_time: str | None = None
    """The digest's local time, 'HH:MM'."""
    digest_day: int | None = None
    """Weekly digests: the day, 0 = Monday."""
    digest_size: int = 10
    """Items listed per digest; more wait for the next one."""

    @property
    def is_default(self) -> bool:
        """Whether nothing is set (every post goes out as soon as it can, changes ignored)."""
        return self == Rhythm()


DEFAULT_RHYTHM: Final = Rhythm()
