"""The records storage verbs take and return: plain frozen dataclasses, imported from
`bot.storage` (with the shared models in `bot.models`); nothing here knows SQL or display."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.models import Feed, NewSubscription, Subscription


@dataclass(frozen=True)
class NewArticle:
    """An article to archive, as a feed item or an import describes it."""

    canonical_url: str
    url: str
    title: str = ""
    author: str = ""
    published: datetime | None = None
    categories: tuple[str, ...] = ()
    excerpt: str = ""
    image_url: str = ""
    site_name: str = ""
    feed_content_html: str = ""
    description: str = ""
    text: str = ""
    text_status: str = "pending"


@dataclass(frozen=True)
class NewEntry:
    """One item of a feed: its key, the article it shows and its date."""

    entry_key: str
    article_id: int
    published: datetime | None


@dataclass(frozen=True, slots=True)
class NotModifiedCheck:
    """A successful check that changed nothing but validators and schedule (a 304, or a 200
    whose body matched); many are recorded in one transaction (`record_not_modified`)."""

    feed_id: int
    etag: str | None
    last_modified: str | None
    checked_at: datetime
    next_check_at: datetime


@dataclass(frozen=True)
class OutboxRow:
    """One delivery to create; `payload` may be filled in after the row has its id."""

    subscription_id: int
    article_id: int
    channel_id: int
    state: str  # 'pending' or 'skipped'
    reason: str = ""
    payload: str = ""


@dataclass(frozen=True)
class FeedItemRef:
    """An item a feed currently or recently showed, with the archived article behind it."""

    article_id: int
    entry_key: str
    title: str
    url: str
    published: datetime | None
    first_seen: datetime


@dataclass(frozen=True)
class PendingArticle:
    """An archived article whose full text is still to be fetched or extracted."""

    id: int
    url: str
    canonical_url: str
    title: str
    excerpt: str
    feed_content_html: str
    attempts: int = 0
    """Earlier tries that failed for a passing reason."""
    fetch_page: bool = True
    """False past its poll's page budget: the feed's own text is kept, no page fetched."""


@dataclass(frozen=True)
class Delivery:
    """One open outbox row with what the sender needs besides the stored plan."""

    id: int
    subscription_id: int
    article_id: int
    guild_id: int
    channel_id: int
    format: str
    state: str
    payload: str
    attempts: int
    not_before: datetime
    claimed_at: datetime | None
    categories: tuple[str, ...]
    fallback_tag_id: int | None


@dataclass(frozen=True)
class OutboxRecord:
    """One outbox row as `/feeds why` and tests see it."""

    id: int
    subscription_id: int
    article_id: int
    channel_id: int
    state: str
    reason: str
    attempts: int
    message_id: int | None
    thread_id: int | None
    sent_at: datetime | None


@dataclass(frozen=True)
class SeedRow:
    """One row a new subscription's backlog seeding creates: pending, or skipped with a reason."""

    article_id: int
    state: str
    reason: str = ""


@dataclass(frozen=True)
class ChannelWebhook:
    """The webhook Paperboy created in a channel."""

    channel_id: int
    webhook_id: int
    token: str


@dataclass(frozen=True)
class ArchivedArticle:
    """An archived article with what an announcement preview needs."""

    id: int
    canonical_url: str
    url: str
    title: str
    author: str
    published: datetime | None
    categories: tuple[str, ...]
    excerpt: str
    description: str
    text: str
    image_url: str
    site_name: str
    first_seen: datetime


@dataclass(frozen=True)
class Sighting:
    """One feed, subscribed to in the guild, that showed an article."""

    feed_id: int
    feed_title: str
    feed_url: str
    first_seen: datetime


@dataclass(frozen=True)
class DeliveryRecord:
    """One outbox row of an article for one of the guild's subscriptions."""

    subscription_id: int
    channel_id: int
    state: str
    reason: str
    attempts: int
    sent_at: datetime | None
    message_id: int | None
    created_at: datetime
    pinged_role_ids: tuple[int, ...] = ()
    """The roles its stored message plan lets Discord ping (what its mention rules chose)."""


@dataclass(frozen=True)
class ImportedSubscription:
    """One subscription an import creates, with the feed it needs."""

    feed_url: str
    feed_title: str
    interval_seconds: int | None
    subscription: NewSubscription
    paused: bool = False
    mention_rules: tuple[tuple[int, str], ...] = ()
    """(role id, filter text) rules to create with the subscription."""


@dataclass(frozen=True)
class Alert:
    """One member's keyword alert in one guild."""

    id: int
    user_id: int
    guild_id: int
    term: str
    created_at: datetime


@dataclass(frozen=True)
class AlertMemberState:
    """Whether a member's alerts are switched off, why, and whether they were told yet."""

    user_id: int
    disabled: bool
    reason: str
    note_pending: bool


@dataclass(frozen=True)
class AlertArticle:
    """The fields of an archived article that alerts match on and show."""

    id: int
    title: str
    url: str
    author: str
    published: datetime | None
    categories: tuple[str, ...]
    standfirst: str
    excerpt: str


@dataclass(frozen=True)
class ArticleRef:
    """The fields of an archived article needed to show it in a list."""

    id: int
    title: str
    url: str
    published: datetime | None


@dataclass(frozen=True)
class ArticleText:
    """An archived article's title and texts, for summaries and term extraction."""

    id: int
    title: str
    url: str
    description: str
    excerpt: str
    text: str


@dataclass(frozen=True)
class SearchHit:
    """One search result: the article, its title and a body snippet with matches in **bold**."""

    article: ArticleRef
    title_highlighted: str
    snippet: str
    score: float


@dataclass(frozen=True)
class FeedHealth:
    """A feed with its subscriptions' open and failed announcements, for the status page."""

    feed: Feed
    subscriptions: int
    pending: int
    failed: int


@dataclass(frozen=True)
class RecentDelivery:
    """One recently settled announcement."""

    outbox_id: int
    feed_id: int
    channel_id: int
    state: str
    title: str
    when: datetime | None
    reason: str


@dataclass(frozen=True)
class Lease:
    """Who holds the lease `name` (`bot.lease`), and until when."""

    name: str
    holder: str
    expires_at: datetime


@dataclass(frozen=True)
class WebSubSubscription:
    """A feed's WebSub hub and Paperboy's subscription there (`bot.ingest.websub` decides).

    `wanted` is whether any active subscription still follows the feed. `secret` signs pushes
    and is never shown or logged.
    """

    feed_id: int
    hub_url: str
    topic_url: str
    callback_id: str
    secret: str
    state: str  # idle, active or failed
    pending_mode: str | None
    requested_at: datetime | None
    lease_seconds: int | None
    lease_expires_at: datetime | None
    failures: int
    retry_at: datetime | None
    last_error: str | None
    last_push_at: datetime | None
    pushes: int
    wanted: bool

    def __repr__(self) -> str:
        return f"WebSubSubscription(feed_id={self.feed_id}, state={self.state!r}, secret=...)"


@dataclass(frozen=True)
class FeedReader:
    """One active subscription of a feed (paused ones too), with what a poll needs besides it:
    its guild's time zone, whether it has mention rules, and whether it edits or reposts
    articles that change. Read for a poll in one statement (`feed_readers`)."""

    subscription: Subscription
    timezone: str
    has_mention_rules: bool
    tracks_changes: bool


__all__ = [
    "Alert",
    "AlertArticle",
    "AlertMemberState",
    "ArchivedArticle",
    "ArticleRef",
    "ArticleText",
    "ChangedPost",
    "ChannelWebhook",
    "Delivery",
    "DeliveryRecord",
    "DigestCandidate",
    "DigestPage",
    "EditRow",
    "FeedHealth",
    "FeedItemRef",
    "FeedReader",
    "ImportedSubscription",
    "Lease",
    "NewArticle",
    "NewEntry",
    "NotModifiedCheck",
    "OutboxRecord",
    "OutboxRow",
    "PendingArticle",
    "PublishRow",
    "RecentDelivery",
    "Repost",
    "RhythmFacts",
    "SearchHit",
    "SeedRow",
    "Sighting",
    "WebSubSubscription",
]


@dataclass(frozen=True)
class PublishRow:
    """An announcement waiting to be published (crossposted) from an Announcement channel."""

    outbox_id: int
    guild_id: int
    channel_id: int
    message_id: int
    not_before: datetime


@dataclass(frozen=True)
class ChangedPost:
    """An announcement of an article (posted, or waiting) in a subscription that edits or
    reposts it when the article changes."""

    outbox_id: int
    subscription_id: int
    guild_id: int
    channel_id: int
    message_id: int | None
    format: str
    state: str
    on_change: str = "edit"
    """The subscription's choice: 'edit' or 'repost'."""
    version: str = ""
    """'' for the first announcement; a repost's content hash."""


@dataclass(frozen=True)
class Repost:
    """A new announcement of an article's new version, to queue in a subscription's outbox;
    `render(outbox_id)` gives its stored message plan."""

    subscription_id: int
    channel_id: int
    render: Callable[[int], str]


@dataclass(frozen=True)
class EditRow:
    """One open edit: the new plan for a posted message, claimed before Discord is asked."""

    id: int
    outbox_id: int
    guild_id: int
    channel_id: int
    message_id: int
    thread_id: int | None
    format: str
    payload: str
    state: str
    attempts: int
    not_before: datetime


@dataclass(frozen=True)
class RhythmFacts:
    """What `/feeds why` adds about one article in one subscription: publish and edits."""

    outbox_id: int
    publish_state: str | None
    publish_reason: str
    edits_sent: int
    edits_open: int
    last_edit_at: datetime | None
    reposts_sent: int = 0
    reposts_open: int = 0
    last_repost_message_id: int | None = None


@dataclass(frozen=True)
class DigestPage:
    """One message of a digest, sent in order like a post (claimed first, then sent)."""

    id: int
    digest_id: int
    page: int
    subscription_id: int
    guild_id: int
    channel_id: int
    format: str
    payload: str
    state: str
    attempts: int
    not_before: datetime


@dataclass(frozen=True)
class DigestCandidate:
    """An open outbox row of a digest subscription, not yet in any digest."""

    outbox_id: int
    article_id: int
