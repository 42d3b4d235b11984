"""Message plans: what one announcement looks like, decided without Discord.

`render_plan(article, subscription, outbox_id=…)` returns a `MessagePlan`, a frozen description of a
message (content, embeds, buttons, thread name, forum tags, webhook identity) that respects every
Discord limit and only ever allows the roles its mention rules chose to be pinged. The Discord
layer turns it into `discord.Embed`/`discord.ui.View` objects verbatim; empty strings mean
"leave unset". The plan is stored in the outbox as JSON (`to_json`/`from_json`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import datetime
from typing import Final, Literal, get_args

from bot.announce import limits
from bot.announce.filters import Filter
from bot.announce.limits import (
    ELLIPSIS,
    hostile_to_markdown,
    hostile_to_plain,
    neutralise_mentions,
    safe_image_url,
    safe_url,
    truncate,
)
from bot.announce.mentions import MentionRuleView, pinged_roles
from bot.announce.message import DEFAULT_COLOR, FIELD_TITLES, MessageSettings
from bot.announce.tags import ForumTag, choose_tags
from bot.announce.template import (
    DEFAULT_DATE_FORMAT,
    DEFAULT_TEMPLATE,
    Part,
    Placeholder,
    published_text,
    render_parts,
    validate_template,
)
from bot.articles.sentences import split_sentences
from bot.articles.textpolicy import is_genuine_standfirst, opening_sentences, without_yoast
from bot.clock import to_iso
from bot.errors import InvalidInput

Format = Literal["embed", "text", "forum", "webhook"]
FORMATS: Final = get_args(Format)
SUMMARY_CHARS: Final = 300
CONTENT_CHARS: Final = 1000
"""What `{content}` without `:N` shows at most."""
WORDS_PER_MINUTE: Final = 200
UNTITLED: Final = "Untitled article"
FALLBACK_USERNAME: Final = "Paperboy"
# Discord refuses webhook names containing these (docs: "Webhook names cannot contain 'clyde'",
# and names may not contain 'discord'); "everyone" and "here" are refused as whole names.
_FORBIDDEN_NAME_PARTS = re.compile(r"discord|clyde", re.IGNORECASE)
_FORBIDDEN_NAMES: Final = frozenset({"everyone", "here"})


@dataclass(frozen=True)
class AnnouncementArticle:
    """Everything an announcement may show about one article; texts are raw from the feed."""

    id: int
    title: str
    url: str
    author: str = ""
    published: datetime | None = None
    categories: tuple[str, ...] = ()
    standfirst: str = ""  # the publisher's description, may be ''
    excerpt: str = ""  # the feed's summary text
    text: str = ""  # the full text, may be ''
    image_url: str | None = None
    site_name: str = ""
    site_icon_url: str | None = None
    feed_title: str = ""
    feed_icon_url: str | None = None
    feed_url: str = ""

    def __post_init__(self) -> None:
        if self.published is not None and self.published.tzinfo is None:
            raise ValueError("AnnouncementArticle.published must be timezone-aware")


@dataclass(frozen=True)
class SubscriptionView:
    """The parts of a subscription that shape its announcements."""

    id: int
    format: Format = "embed"
    mention_role_id: int | None = None
    template: str = DEFAULT_TEMPLATE
    include: Filter = field(default_factory=Filter)
    exclude: Filter = field(default_factory=Filter)
    mention_rules: tuple[MentionRuleView, ...] = ()
    auto_thread: bool = False
    timezone: str = "UTC"
    date_format: str = DEFAULT_DATE_FORMAT
    forum_tags: tuple[ForumTag, ...] = ()
    forum_requires_tag: bool = False
    fallback_tag_id: int | None = None
    can_apply_moderated_tags: bool = False
    message: MessageSettings = field(default_factory=MessageSettings)
    name: str = ""


@dataclass(frozen=True)
class EmbedField:
    """One embed field."""

    name: str
    value: str
    inline: bool = False


@dataclass(frozen=True)
class EmbedPlan:
    """One embed; empty strings and None mean the part is left out."""

    title: str
    url: str | None
    description: str
    author_name: str = ""
    author_url: str | None = None
    author_icon_url: str | None = None
    image_url: str | None = None
    thumbnail_url: str | None = None
    footer_text: str = ""
    footer_icon_url: str | None = None
    timestamp: str | None = None  # UTC ISO-8601
    color: int = DEFAULT_COLOR
    fields: tuple[EmbedField, ...] = ()

    def total_length(self) -> int:
        """Characters Discord counts towards the 6,000 per-message embed limit."""
        return (
            len(self.title)
            + len(self.description)
            + len(self.author_name)
            + len(self.footer_text)
            + sum(len(f.name) + len(f.value) for f in self.fields)
        )


@dataclass(frozen=True)
class ButtonPlan:
    """A persistent button (custom_id) or a link button (url)."""

    label: str
    custom_id: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class MessagePlan:
    """A rendered announcement, ready for the Discord layer and storable as JSON."""

    content: str
    embeds: tuple[EmbedPlan, ...]
    allowed_role_ids: tuple[int, ...]
    thread_name: str | None
    applied_tag_ids: tuple[int, ...]
    username: str | None
    avatar_url: str | None
    buttons: tuple[ButtonPlan, ...]
    marker: str

    def to_json(self) -> str:
        """Serialise for the outbox table."""
        return json.dumps(_plain(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> MessagePlan:
        """Read back a plan written by `to_json`; InvalidInput if the payload is damaged."""
        try:
            raw = json.loads(text)
            embeds = tuple(
                EmbedPlan(**{**e, "fields": tuple(EmbedField(**f) for f in e["fields"])})
                for e in raw.pop("embeds")
            )
            buttons = tuple(ButtonPlan(**b) for b in raw.pop("buttons"))
            return cls(
                embeds=embeds,
                buttons=buttons,
                allowed_role_ids=tuple(int(r) for r in raw.pop("allowed_role_ids")),
                applied_tag_ids=tuple(int(t) for t in raw.pop("applied_tag_ids")),
                **raw,
            )
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise InvalidInput(f"The stored message plan is damaged ({error}).") from None


def _plain(value: object) -> object:
    """A plan as JSON-ready dicts and lists: what `dataclasses.asdict` gives for it, without
    deep-copying every string and number on the way (which was half of rendering's cost)."""
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    names = _FIELD_NAMES.get(type(value))
    if names is None:
        return value
    return {name: _plain(getattr(value, name)) for name in names}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {
    kind: tuple(item.name for item in dataclass_fields(kind))
    for kind in (MessagePlan, EmbedPlan, EmbedField, ButtonPlan)
}


def delivery_marker(outbox_id: int) -> str:
    """The tag that lets the sender recognise its own post after a crash; a preview (no outbox
    row, id 0) carries none. Members never read it: it travels only in the custom ids of the
    announcement's buttons (`marked_custom_id`), never in content, footers or titles."""
    return f"pb-o{outbox_id}" if outbox_id > 0 else ""


def marked_custom_id(custom_id: str, marker: str) -> str:
    """A button's custom id carrying the delivery marker as its last `:` part."""
    return f"{custom_id}:{marker}" if marker else custom_id


def marker_of_custom_id(custom_id: str) -> str:
    """The delivery marker a Paperboy button's custom id carries, or ''."""
    if not custom_id.startswith("pb:"):
        return ""
    last = custom_id.rsplit(":", 1)[-1]
    return last if last.startswith("pb-o") and last[4:].isdigit() else ""


def _blurb(source: str, limit: int) -> str:
    """Whole opening sentences up to `limit` characters, or a word-boundary cut with an ellipsis."""
    opening = opening_sentences(without_yoast(source), limit)
    if opening.fits:
        return opening.text
    cut = truncate(opening.text, limit)
    return cut if cut.endswith(ELLIPSIS) or not opening.trimmed else cut + ELLIPSIS


def summary_text(article: AnnouncementArticle, limit: int = SUMMARY_CHARS) -> str:
    """Plain-text blurb: the genuine standfirst, else the opening sentences of excerpt or text."""
    if is_genuine_standfirst(article.standfirst, article.text):
        return _blurb(article.standfirst, limit)
    for source in (article.excerpt, article.text, article.standfirst):
        blurb = _blurb(source, limit)
        if blurb:
            return blurb
    return ""


def webhook_username(feed_title: str, site_name: str = "") -> str:
    """A webhook display name Discord accepts: 1-80 characters, no 'discord'/'clyde'."""
    for candidate in (feed_title, site_name):
        name = " ".join(_FORBIDDEN_NAME_PARTS.sub("", hostile_to_plain(candidate)).split())
        name = truncate(name, limits.WEBHOOK_USERNAME_LIMIT)
        # Removing one forbidden word can join letters into another ("disclydecord").
        if name and not _FORBIDDEN_NAME_PARTS.search(name) and name.lower() not in _FORBIDDEN_NAMES:
            return name
    return FALLBACK_USERNAME


def _plain_title(article: AnnouncementArticle) -> str:
    return truncate(hostile_to_plain(article.title), limits.THREAD_NAME_LIMIT) or UNTITLED


def _published_text(
    article: AnnouncementArticle, subscription: SubscriptionView, option: str = ""
) -> str:
    if article.published is None:
        return ""
    try:
        return published_text(
            article.published, option, subscription.timezone, subscription.date_format
        )
    except InvalidInput:
        # A setting stored before validation existed must not stop announcements.
        return published_text(article.published, option, "UTC", DEFAULT_DATE_FORMAT)


def reading_time_text(article: AnnouncementArticle) -> str:
    """'4 min read' from the article's full text (or its excerpt); '' when there is none."""
    words = len((article.text or article.excerpt).split())
    if not words:
        return ""
    return f"{max(1, round(words / WORDS_PER_MINUTE))} min read"


def cut_text(source: str, limit: int) -> str:
    """Whole opening sentences under `limit` characters, else a cut at a word with an ellipsis."""
    return _blurb(source, limit)


def placeholder_value(
    article: AnnouncementArticle,
    subscription: SubscriptionView,
    placeholder: Placeholder,
    *,
    plain: bool = False,
) -> str:
    """The safe text for one placeholder: markdown-escaped for content and descriptions, plain
    for footers (which Discord shows without markdown). Mentions are neutralised either way."""

    def clean(text: str, limit: int, *, single_line: bool = True) -> str:
        made_safe = (
            hostile_to_plain(text) if plain else hostile_to_markdown(text, single_line=single_line)
        )
        return truncate(made_safe, limit)

    length = placeholder.length
    match placeholder.name:
        case "title":
            return clean(article.title, 256) or UNTITLED
        case "url":
            return safe_url(article.url) or ""
        case "author":
            return clean(article.author, 100)
        case "summary":
            limit = length or SUMMARY_CHARS
            return clean(summary_text(article, limit), 2 * limit, single_line=False)
        case "content":
            limit = length or CONTENT_CHARS
            source = article.text or article.excerpt or article.standfirst
            return clean(cut_text(source, limit), 2 * limit, single_line=False)
        case "image":
            return safe_image_url(article.image_url) or ""
        case "categories":
            return _categories_text(article.categories, 200)
        case "feed":
            return clean(article.feed_title, 100)
        case "feed_url":
            return safe_url(article.feed_url) or ""
        case "published":
            return _published_text(article, subscription, placeholder.option)
        case "reading_time":
            return reading_time_text(article)
    return ""


def _rendered(
    parts: tuple[Part, ...],
    article: AnnouncementArticle,
    subscription: SubscriptionView,
    *,
    plain: bool = False,
) -> str:
    body = render_parts(parts, lambda p: placeholder_value(article, subscription, p, plain=plain))
    # Neutralise again after substitution: a template's own text, or a value ending next to it,
    # could otherwise spell a mention such as "<" + "@&1>".
    return neutralise_mentions(body).strip()


def _categories_text(categories: tuple[str, ...], limit: int) -> str:
    """Whole category names joined by commas, then "and N more" if they do not all fit."""
    names = [hostile_to_markdown(c, single_line=True) for c in categories]
    names = [n for n in dict.fromkeys(names) if n]
    if len(", ".join(names)) <= limit:
        return ", ".join(names)
    room = limit - len(f" and {len(names)} more")
    shown: list[str] = []
    for name in names:
        if len(", ".join([*shown, name])) > room:
            break
        shown.append(name)
    if not shown:
        return truncate(names[0], limit)
    return f"{', '.join(shown)} and {len(names) - len(shown)} more"


def _description(article: AnnouncementArticle, settings: MessageSettings) -> str:
    if settings.description_unit == "sentences":
        source = summary_text(article, limits.EMBED_DESCRIPTION_LIMIT)
        text = " ".join(split_sentences(source)[: settings.description_length])
    else:
        text = summary_text(article, settings.description_length)
    return truncate(hostile_to_markdown(text), limits.EMBED_DESCRIPTION_LIMIT)


def _fields(article: AnnouncementArticle, settings: MessageSettings) -> tuple[EmbedField, ...]:
    values = {
        "categories": lambda: _categories_text(article.categories, limits.EMBED_FIELD_VALUE_LIMIT),
        "reading_time": lambda: reading_time_text(article),
        "author": lambda: truncate(
            hostile_to_markdown(article.author, single_line=True), limits.EMBED_FIELD_VALUE_LIMIT
        ),
    }
    shown = ((FIELD_TITLES[name], values[name]()) for name in settings.fields)
    return tuple(EmbedField(title, value, False) for title, value in shown if value)


def _footer(
    article: AnnouncementArticle, subscription: SubscriptionView, settings: MessageSettings
) -> str:
    if settings.footer:
        try:
            parts = validate_template(settings.footer, what="the footer")
            return truncate(
                _rendered(parts, article, subscription, plain=True), limits.EMBED_FOOTER_LIMIT
            )
        except InvalidInput:
            pass  # a stored footer that no longer validates: the default one
    site = hostile_to_plain(article.site_name) or hostile_to_plain(article.feed_title)
    return truncate(site, 200)


def build_embed(
    article: AnnouncementArticle, subscription: SubscriptionView | None = None
) -> EmbedPlan:
    """The embed shared by the embed, forum and webhook formats, shaped by the subscription's
    message settings (the defaults give the announcement Paperboy always posted)."""
    subscription = subscription or SubscriptionView(id=0)
    settings = subscription.message
    title = truncate(hostile_to_markdown(article.title, single_line=True), limits.EMBED_TITLE_LIMIT)
    image = safe_image_url(article.image_url)
    return EmbedPlan(
        title=title or UNTITLED,
        url=safe_url(article.url),
        description=_description(article, settings),
        author_name=truncate(hostile_to_plain(article.author), limits.EMBED_AUTHOR_LIMIT)
        if settings.show_author
        else "",
        image_url=image if settings.image == "large" else None,
        thumbnail_url=image if settings.image == "thumbnail" else None,
        footer_text=_footer(article, subscription, settings),
        footer_icon_url=safe_image_url(article.site_icon_url)
        or safe_image_url(article.feed_icon_url),
        timestamp=to_iso(article.published) if article.published and settings.timestamp else None,
        color=settings.color,
        fields=_fields(article, settings),
    )


def _text_content(article: AnnouncementArticle, subscription: SubscriptionView, room: int) -> str:
    try:
        parts = validate_template(subscription.template)
    except InvalidInput:
        parts = validate_template(DEFAULT_TEMPLATE)  # a stored template that no longer validates
    body = _rendered(parts, article, subscription)
    title = placeholder_value(article, subscription, Placeholder("title"))
    return truncate(body, room) or truncate(title, room)


def _content_above_embed(
    article: AnnouncementArticle, subscription: SubscriptionView, room: int
) -> str:
    template = subscription.message.content
    if not template:
        return ""
    try:
        parts = validate_template(template, what="the content above the embed")
    except InvalidInput:
        return ""  # a stored template that no longer validates shows nothing
    return truncate(_rendered(parts, article, subscription), room)


def _buttons(article: AnnouncementArticle, marker: str) -> tuple[ButtonPlan, ...]:
    buttons = [
        ButtonPlan("Summary", custom_id=marked_custom_id(f"pb:summary:{article.id}", marker)),
        ButtonPlan("Related", custom_id=marked_custom_id(f"pb:related:{article.id}", marker)),
    ]
    link = safe_url(article.url, limit=limits.BUTTON_URL_LIMIT)
    if link:
        buttons.append(ButtonPlan("Read", url=link))
    return tuple(buttons)


def render_plan(
    article: AnnouncementArticle, subscription: SubscriptionView, *, outbox_id: int
) -> MessagePlan:
    """Render one article for one subscription; the result always respects Discord's limits."""
    if subscription.format not in FORMATS:
        raise InvalidInput(
            f"Unknown announcement format {subscription.format!r}; use {', '.join(FORMATS)}."
        )
    marker = delivery_marker(outbox_id)
    roles = pinged_roles(article, subscription.mention_role_id, subscription.mention_rules)
    mention = " ".join(f"<@&{role}>" for role in roles)
    thread_name = _plain_title(article) if subscription.auto_thread else None
    username = avatar_url = None
    tags: tuple[int, ...] = ()
    embeds: tuple[EmbedPlan, ...] = ()

    if subscription.format == "text":
        prefix = f"{mention}\n" if mention else ""
        room = limits.CONTENT_LIMIT - len(prefix)
        content = prefix + _text_content(article, subscription, room)
    else:
        room = limits.CONTENT_LIMIT - len(mention) - 1
        above = _content_above_embed(article, subscription, room)
        content = "\n".join(part for part in (mention, above) if part)
        embeds = (build_embed(article, subscription),)
        if subscription.format == "forum":
            thread_name = _plain_title(article)
            tags = choose_tags(
                article.categories,
                subscription.forum_tags,
                requires_tag=subscription.forum_requires_tag,
                fallback_tag_id=subscription.fallback_tag_id,
                can_apply_moderated=subscription.can_apply_moderated_tags,
            )
        elif subscription.format == "webhook":
            settings = subscription.message
            username = settings.webhook_name or webhook_username(
                article.feed_title, article.site_name
            )
            avatar_url = (
                safe_image_url(settings.webhook_avatar_url or None)
                or safe_image_url(article.feed_icon_url)
                or safe_image_url(article.site_icon_url)
            )
    return MessagePlan(
        content=content,
        embeds=embeds,
        allowed_role_ids=roles,
        thread_name=thread_name,
        applied_tag_ids=tags,
        username=username,
        avatar_url=avatar_url,
        buttons=_buttons(article, marker),
        marker=marker,
    )


def plan_violations(plan: MessagePlan) -> list[str]:
    """Every way the plan breaks a Discord limit; empty when it is sendable (tests, asserts)."""
    problems: list[str] = []

    def check(what: str, text: str | None, limit: int) -> None:
        if text is not None and len(text) > limit:
            problems.append(f"{what} is {len(text)} characters, limit {limit}")

    check("content", plan.content, limits.CONTENT_LIMIT)
    if len(plan.embeds) > limits.MAX_EMBEDS:
        problems.append(f"{len(plan.embeds)} embeds, limit {limits.MAX_EMBEDS}")
    for index, embed in enumerate(plan.embeds):
        check(f"embed {index} title", embed.title, limits.EMBED_TITLE_LIMIT)
        check(f"embed {index} description", embed.description, limits.EMBED_DESCRIPTION_LIMIT)
        check(f"embed {index} author", embed.author_name, limits.EMBED_AUTHOR_LIMIT)
        check(f"embed {index} footer", embed.footer_text, limits.EMBED_FOOTER_LIMIT)
        for url_name in ("url", "author_url", "author_icon_url", "image_url", "thumbnail_url",
                         "footer_icon_url"):  # fmt: skip
            value = getattr(embed, url_name)
            if value is not None and safe_url(value) != value:
                problems.append(f"embed {index} {url_name} is not a safe http(s) URL")
        if len(embed.fields) > limits.EMBED_MAX_FIELDS:
            problems.append(f"embed {index} has {len(embed.fields)} fields")
        for f in embed.fields:
            check(f"embed {index} field name", f.name, limits.EMBED_FIELD_NAME_LIMIT)
            check(f"embed {index} field value", f.value, limits.EMBED_FIELD_VALUE_LIMIT)
    total = sum(embed.total_length() for embed in plan.embeds)
    if total > limits.EMBEDS_TOTAL_LIMIT:
        problems.append(f"embeds total {total} characters, limit {limits.EMBEDS_TOTAL_LIMIT}")
    if not plan.content and not plan.embeds:
        problems.append("the message has neither content nor embeds")
    check("thread name", plan.thread_name, limits.THREAD_NAME_LIMIT)
    if plan.thread_name is not None and not plan.thread_name.strip():
        problems.append("thread name is empty")
    if len(plan.applied_tag_ids) > limits.MAX_APPLIED_TAGS:
        problems.append(f"{len(plan.applied_tag_ids)} tags, limit {limits.MAX_APPLIED_TAGS}")
    if plan.username is not None:
        check("username", plan.username, limits.WEBHOOK_USERNAME_LIMIT)
        if not plan.username or _FORBIDDEN_NAME_PARTS.search(plan.username):
            problems.append("webhook username is empty or contains a forbidden word")
    if len(plan.buttons) > limits.MAX_BUTTONS_PER_ROW:
        problems.append(f"{len(plan.buttons)} buttons in one row")
    for button in plan.buttons:
        check("button label", button.label, limits.BUTTON_LABEL_LIMIT)
        check("button custom id", button.custom_id, limits.CUSTOM_ID_LIMIT)
        if (button.custom_id is None) == (button.url is None):
            problems.append(f"button {button.label!r} needs exactly one of custom_id and url")
        if button.url is not None and safe_url(button.url, limit=limits.BUTTON_URL_LIMIT) is None:
            problems.append(f"button {button.label!r} has an unsafe URL")
    return problems
