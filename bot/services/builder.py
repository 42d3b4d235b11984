"""The message builder's service: a private draft of one subscription's message settings.

Discord-free. The cog opens a `Draft` for a subscription (its stored settings and the feed's
newest item), hands each choice a moderator makes to `MessageBuilder.apply` (which checks it and
returns a new draft, or raises a `PaperboyError` and leaves the draft as it was), renders
`draft.plan()` after every change, and calls `save` once the moderator is happy. The preview is
`render_plan` itself with the draft's settings, so what the moderator sees is what is posted
(only the buttons' delivery marker differs, and members never see that).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from bot.announce.message import (
    FIELD_TITLES,
    MessageSettings,
    colour_text,
    parse_description_length,
)
from bot.announce.plan import subscription_view
from bot.announce.render import AnnouncementArticle, MessagePlan, render_plan
from bot.errors import InvalidInput
from bot.models import Feed, MentionRule, Subscription
from bot.services.admin import PREVIEW_OUTBOX_ID, FeedAdmin, shown, subscription_label

IMAGE_LABELS: Final = {"large": "Large image", "thumbnail": "Thumbnail", "none": "No image"}


@dataclass(frozen=True)
class Draft:
    """One moderator's unsaved message settings for one subscription, with the item shown."""

    guild_id: int
    subscription: Subscription
    feed: Feed
    article: AnnouncementArticle
    timezone: str
    settings: MessageSettings
    saved: MessageSettings
    mention_rules: tuple[MentionRule, ...] = ()
    """The subscription's mention rules: the preview pings (on paper) whom the post would."""

    @property
    def changed(self) -> bool:
        """Whether the draft differs from what is stored."""
        return self.settings != self.saved

    @property
    def label(self) -> str:
        """The subscription as lists name it."""
        return subscription_label(self.subscription, self.feed)

    def plan(self) -> MessagePlan:
        """The feed's newest item exactly as this subscription would post it with the draft."""
        view = replace(
            subscription_view(
                self.subscription, timezone=self.timezone, mention_rules=self.mention_rules
            ),
            message=self.settings,
        )
        return render_plan(self.article, view, outbox_id=PREVIEW_OUTBOX_ID)


def describe(settings: MessageSettings) -> str:
    """The draft's choices in one short line per group, for the builder's header."""
    shown_fields = ", ".join(FIELD_TITLES[f] for f in settings.fields) or "none"
    unit = settings.description_unit
    lines = [
        f"Colour {colour_text(settings.color)} · {IMAGE_LABELS[settings.image]} · "
        f"author line {'on' if settings.show_author else 'off'} · "
        f"timestamp {'on' if settings.timestamp else 'off'}",
        f"Fields: {shown_fields} · description: {settings.description_length} {unit}",
        f"Footer: {shown(settings.footer, 80) if settings.footer else 'the site name'}",
        f"Content above: {shown(settings.content, 80) if settings.content else 'none'}",
    ]
    if settings.webhook_name or settings.webhook_avatar_url:
        name = shown(settings.webhook_name, 40) if settings.webhook_name else "the feed's name"
        avatar = "custom avatar" if settings.webhook_avatar_url else "the feed's icon"
        lines.append(f"Webhook: {name}, {avatar}")
    return "\n".join(lines)


class MessageBuilder:
    """Opens, changes and saves message builder drafts through `FeedAdmin`."""

    def __init__(self, admin: FeedAdmin) -> None:
        self.admin = admin

    async def open(self, guild_id: int, subscription_id: int) -> Draft:
        """A draft of the subscription's stored settings over the feed's newest item."""
        subscription, feed = await self.admin.subscription_and_feed(guild_id, subscription_id)
        article = await self.admin.newest_article(guild_id, feed)
        timezone = (await self.admin.settings(guild_id)).timezone
        stored = MessageSettings.from_json(subscription.message_settings)
        rules = tuple(await self.admin.storage.mention_rules(subscription.id))
        return Draft(guild_id, subscription, feed, article, timezone, stored, stored, rules)

    @staticmethod
    def apply(draft: Draft, changes: Mapping[str, Any]) -> Draft:
        """The draft with `changes` (setting name -> value as chosen or typed); InvalidInput
        names what is wrong and the draft stays as it was."""
        changes = dict(changes)
        if "description" in changes:
            unit, number = parse_description_length(str(changes.pop("description")))
            changes["description_unit"] = unit
            changes["description_length"] = number
        settings = draft.settings.with_changes(changes)
        return replace(draft, settings=settings)

    @staticmethod
    def reset(draft: Draft) -> Draft:
        """The draft with every setting back to the default announcement."""
        return replace(draft, settings=MessageSettings())

    async def save(self, draft: Draft, user_id: int) -> Draft:
        """Store the draft's settings; the next announcement uses them."""
        if not draft.changed:
            raise InvalidInput("Nothing changed since the builder opened; nothing was saved.")
        summary = await self.admin.save_message_settings(
            draft.guild_id, user_id, draft.subscription.id, draft.settings
        )
        return replace(draft, subscription=summary.subscription, saved=draft.settings)


__all__ = ["Draft", "MessageBuilder", "describe"]
