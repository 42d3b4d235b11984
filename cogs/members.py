"""Member commands: /summary, /related, /search, /latest, /alerts, the **Summarize article**
message menu, and the persistent Summary / Related buttons under announcements.

Thin: each command reads its options, calls `ReaderService` or `AlertService`, and renders the
answer. Errors are `PaperboyError`s that the tree's one error boundary answers privately; the
buttons are not commands, so they answer their own errors the same way (`_answer_errors`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.announce import limits
from bot.announce.limits import hostile_to_markdown, safe_url, truncate
from bot.app import App
from bot.articles.related import RelatedItem
from bot.errors import InvalidInput, NotFound
from bot.models import GuildScope
from bot.services.alerts import AlertList
from bot.services.quotas import Requester
from bot.services.reader import (
    DEFAULT_LATEST,
    DEFAULT_RELATED,
    MAX_LATEST,
    MAX_RELATED,
    MAX_SEARCH_PAGE,
    RelatedAnswer,
    SearchPage,
    SummaryAnswer,
    first_link,
)
from bot.storage import ArticleRef
from cogs._tree import answer_failure

if TYPE_CHECKING:
    from cogs.client import PaperboyBot

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
EMBED_COLOR = 0xB3202A
STYLE_CHOICES = [
    app_commands.Choice(name="brief", value="brief"),
    app_commands.Choice(name="key-points", value="key-points"),
]


# -- rendering (pure: answers in, embeds out) -----------------------------------------------------


def _link(title: str, url: str) -> str:
    """A markdown link whose text and target cannot break out of the link syntax."""
    text = hostile_to_markdown(title or url, single_line=True) or "Untitled article"
    target = safe_url(url)
    if target is None:
        return text
    return f"[{text}]({target.replace('(', '%28').replace(')', '%29')})"


def _date(moment: datetime | None) -> str:
    return f"{moment:%-d %b %Y}" if moment is not None else "undated"


def summary_embed(answer: SummaryAnswer) -> discord.Embed:
    """The /summary answer: linked title, the summary, the source and reading time."""
    if answer.style == "key-points":
        body = "\n".join(f"• {hostile_to_markdown(s, single_line=True)}" for s in answer.sentences)
    else:
        body = " ".join(hostile_to_markdown(s, single_line=True) for s in answer.sentences)
    embed = discord.Embed(
        title=truncate(
            limits.hostile_to_plain(answer.title) or "Untitled article", limits.EMBED_TITLE_LIMIT
        ),
        url=safe_url(answer.url),
        description=truncate(body, limits.EMBED_DESCRIPTION_LIMIT),
        color=EMBED_COLOR,
    )
    minutes = answer.reading_minutes
    embed.set_footer(text=f"{answer.source_label} · {minutes} min read")
    return embed


def related_embed(answer: RelatedAnswer) -> discord.Embed:
    """The /related answer: linked titles, dates and the terms each shares with the source."""
    title = truncate(f"Related to {limits.hostile_to_plain(answer.source_title)}", 256)
    embed = discord.Embed(title=title, color=EMBED_COLOR)
    lines = [_related_line(number, item) for number, item in enumerate(answer.items, 1)]
    embed.description = truncate("\n".join(lines), limits.EMBED_DESCRIPTION_LIMIT)
    return embed


def _related_line(number: int, item: RelatedItem) -> str:
    shared = ", ".join(hostile_to_markdown(term, single_line=True) for term in item.shared_terms)
    line = f"{number}. {_link(item.title, item.url)} · {_date(item.published)}"
    return f"{line}\n   shares: {shared}" if shared else line


def _escaped_keeping_edges(part: str) -> str:
    # Cleaning trims a part's edges, which would glue words to the bold ones beside them.
    core = hostile_to_markdown(part, single_line=True)
    lead = " " if part[:1].isspace() else ""
    trail = " " if part[-1:].isspace() and core else ""
    return f"{lead}{core}{trail}"


def _snippet(text: str) -> str:
    # Keep the search engine's **bold** marks, escape everything between them.
    parts = text.split("**")
    escaped = [_escaped_keeping_edges(part) for part in parts]
    if len(parts) % 2 == 0:  # an odd number of marks: drop the unmatched last one
        escaped[-2:] = [escaped[-2] + escaped[-1]]
    return "**".join(escaped)


def search_embed(page: SearchPage) -> discord.Embed:
    """One page of /search results with highlighted snippets."""
    title = truncate(f"Search: {limits.hostile_to_plain(page.query)}", 256)
    embed = discord.Embed(title=title, color=EMBED_COLOR)
    blocks = []
    for hit in page.hits:
        head = f"{_link(hit.article.title, hit.article.url)} · {_date(hit.article.published)}"
        blocks.append(f"{head}\n{truncate(_snippet(hit.snippet), 600)}")
    embed.description = truncate("\n\n".join(blocks), limits.EMBED_DESCRIPTION_LIMIT)
    more = f" · more with page:{page.page + 1}" if page.has_more else ""
    embed.set_footer(text=f"Page {page.page}{more}")
    return embed


def latest_embed(refs: Sequence[ArticleRef]) -> discord.Embed:
    """The /latest answer: newest archived articles, linked, with dates."""
    lines = [f"{_date(ref.published)} · {_link(ref.title, ref.url)}" for ref in refs]
    return discord.Embed(
        title="Latest articles",
        description=truncate("\n".join(lines), limits.EMBED_DESCRIPTION_LIMIT),
        color=EMBED_COLOR,
    )


def alerts_text(listed: AlertList) -> str:
    """The /alerts list answer."""
    if not listed.alerts:
        return "You have no keyword alerts in this server. Add one with /alerts add."
    lines = [f"Your keyword alerts here ({len(listed.alerts)}):"]
    lines += [f"• {hostile_to_markdown(alert.term, single_line=True)}" for alert in listed.alerts]
    if listed.disabled:
        lines.append(
            "They are switched off because Discord would not deliver a direct message to you; "
            "allow direct messages, then use /alerts add to switch them on again."
        )
    return "\n".join(lines)


# -- shared plumbing ----------------------------------------------------------------------------


def app_of(interaction: discord.Interaction[Any]) -> App:
    """The core behind the bot that received the interaction."""
    return cast("PaperboyBot", interaction.client).app


def scope_of(interaction: discord.Interaction[Any]) -> GuildScope:
    """The archive the member may read here: their server's. Outside a server (a button in a
    direct message, a forged interaction) there is none, answered as a missing article."""
    if interaction.guild_id is None:
        raise NotFound("That article is no longer in the archive.")
    return GuildScope(interaction.guild_id)


async def send_answer(
    interaction: discord.Interaction[Any],
    *,
    content: str | None = None,
    embed: discord.Embed | None = None,
    private: bool = True,
) -> None:
    """Answer by response, or by followup once deferred; never pings anyone."""
    kwargs: dict[str, Any] = {"allowed_mentions": NO_MENTIONS, "ephemeral": private}
    if content is not None:
        kwargs["content"] = content
    if embed is not None:
        kwargs["embed"] = embed
    if interaction.response.is_done():
        await interaction.followup.send(**kwargs)
    else:
        await interaction.response.send_message(**kwargs)


async def deliver_alert_note(interaction: discord.Interaction[Any]) -> None:
    """If the member's alerts were switched off since they last heard, tell them once, privately."""
    note = await app_of(interaction).alerts.take_note(interaction.user.id)
    if note is not None:
        await interaction.followup.send(note, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def _answer_errors(
    interaction: discord.Interaction[Any], work: Callable[[], Awaitable[None]]
) -> None:
    """The buttons' error boundary, the same answers as the command tree's."""
    try:
        await work()
    except discord.HTTPException:
        log.warning("Could not answer button interaction %s", interaction.id, exc_info=True)
    except Exception as error:
        await answer_failure(interaction, error, where="An announcement button")


def requester(interaction: discord.Interaction[Any]) -> Requester:
    """The member asking, whose quotas a page fetch counts against."""
    return Requester(interaction.guild_id or 0, interaction.user.id)


async def answer_summary(
    interaction: discord.Interaction[Any],
    article: str,
    style: str,
    *,
    private: bool,
    article_id: int | None = None,
) -> None:
    """Answer at once from the cache, else defer and summarise."""
    reader = app_of(interaction).reader
    scope = scope_of(interaction)
    if article_id is not None:
        cached = await reader.cached_summary(scope, f"archive:{article_id}", style)
    else:
        cached = await reader.cached_summary(scope, article, style)
    if cached is None:
        if article_id is None:  # refuse before a public "thinking..." makes the refusal public
            await reader.admit(scope, article, style, requester(interaction))
        await interaction.response.defer(ephemeral=private, thinking=True)
        if article_id is not None:
            cached = await reader.summary_of_archived(
                scope, article_id, style, who=requester(interaction)
            )
        else:
            cached = await reader.summary(scope, article, style, who=requester(interaction))
    await send_answer(interaction, embed=summary_embed(cached), private=private)
    await deliver_alert_note(interaction)


async def answer_related(
    interaction: discord.Interaction[Any],
    article: str,
    count: int,
    *,
    article_id: int | None = None,
) -> None:
    """Defer (finding related pieces may fetch a page), then list them privately."""
    scope = scope_of(interaction)
    await interaction.response.defer(ephemeral=True, thinking=True)
    reader = app_of(interaction).reader
    if article_id is not None:
        answer = await reader.related_to_archived(scope, article_id, count)
    else:
        answer = await reader.related(scope, article, count, who=requester(interaction))
    if not answer.items:
        await send_answer(interaction, content="Nothing in the archive is related to that yet.")
    else:
        await send_answer(interaction, embed=related_embed(answer))
    await deliver_alert_note(interaction)


# -- the persistent announcement buttons --------------------------------------------------------


class SummaryButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"pb:summary:(?P<article_id>[0-9]{1,19})(?::pb-o[0-9]{1,19})?",
):
    """The Summary button of an announcement (custom id `pb:summary:<article id>`, then the
    delivery marker `:pb-o<outbox id>` on posts that carry one)."""

    def __init__(self, article_id: int) -> None:
        super().__init__(discord.ui.Button(label="Summary", custom_id=f"pb:summary:{article_id}"))
        self.article_id = article_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> SummaryButton:
        """Rebuild the button from its custom id (after a restart, too)."""
        return cls(int(match["article_id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Summarise the announced article for the clicking member only."""
        await _answer_errors(
            interaction,
            lambda: answer_summary(
                interaction, "", "brief", private=True, article_id=self.article_id
            ),
        )


class RelatedButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"pb:related:(?P<article_id>[0-9]{1,19})(?::pb-o[0-9]{1,19})?",
):
    """The Related button of an announcement (custom id `pb:related:<article id>`, then the
    delivery marker on posts that carry one)."""

    def __init__(self, article_id: int) -> None:
        super().__init__(discord.ui.Button(label="Related", custom_id=f"pb:related:{article_id}"))
        self.article_id = article_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> RelatedButton:
        """Rebuild the button from its custom id (after a restart, too)."""
        return cls(int(match["article_id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """List related pieces for the clicking member only."""
        await _answer_errors(
            interaction,
            lambda: answer_related(interaction, "", DEFAULT_RELATED, article_id=self.article_id),
        )


# -- the cog ------------------------------------------------------------------------------------


class Members(commands.Cog):
    """Commands every member can use."""

    alerts = app_commands.Group(
        name="alerts",
        description="Get a direct message when a new article matches a keyword.",
        guild_only=True,
    )

    def __init__(self, bot: PaperboyBot) -> None:
        self.bot = bot
        self.summarize_menu = app_commands.ContextMenu(
            name="Summarize article", callback=self.summarize_message
        )
        self.summarize_menu.guild_only = True

    async def cog_load(self) -> None:
        """Register the message menu and the announcement buttons (they outlive restarts)."""
        self.bot.tree.add_command(self.summarize_menu)
        self.bot.add_dynamic_items(SummaryButton, RelatedButton)

    async def cog_unload(self) -> None:
        """Take the menu and buttons away again."""
        self.bot.tree.remove_command(self.summarize_menu.name, type=self.summarize_menu.type)
        self.bot.remove_dynamic_items(SummaryButton, RelatedButton)

    # -- autocomplete -----------------------------------------------------------------------

    async def article_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """Recent titles of this server's archive containing what was typed."""
        if interaction.guild_id is None:
            return []
        choices = await self.bot.app.reader.article_choices(
            GuildScope(interaction.guild_id), current
        )
        return [app_commands.Choice(name=c.name, value=c.value) for c in choices]

    async def feed_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """This server's subscribed feeds whose name contains what was typed."""
        if interaction.guild_id is None:
            return []
        choices = await self.bot.app.reader.feed_choices(GuildScope(interaction.guild_id), current)
        return [app_commands.Choice(name=c.name, value=c.value) for c in choices]

    async def alert_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """The member's own alerts containing what was typed."""
        if interaction.guild_id is None:
            return []
        terms = await self.bot.app.alerts.choices(
            interaction.user.id, interaction.guild_id, current
        )
        return [app_commands.Choice(name=truncate(t, 100), value=t[:100]) for t in terms]

    # -- commands ---------------------------------------------------------------------------

    @app_commands.command(name="summary")
    @app_commands.guild_only()
    @app_commands.describe(
        article="A link to any article, or pick a recent one from the list",
        style="brief (a few sentences) or key-points (3 to 5 points)",
        private="Show the summary only to you (default: show it in the channel)",
    )
    @app_commands.choices(style=STYLE_CHOICES)
    async def summary(
        self,
        interaction: discord.Interaction[Any],
        article: app_commands.Range[str, 1, 2000],
        style: str = "brief",
        private: bool = False,
    ) -> None:
        """Summarise an article: the publisher's standfirst, or its opening sentences."""
        await answer_summary(interaction, article, style, private=private)

    @summary.autocomplete("article")
    async def _summary_article(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await self.article_autocomplete(interaction, current)

    async def summarize_message(
        self, interaction: discord.Interaction[Any], message: discord.Message
    ) -> None:
        """Summarise the first link in a message, for you only."""
        link = first_link(message.content or "")
        if link is None:
            for embed in message.embeds:
                if embed.url:
                    link = embed.url
                    break
        if link is None:
            raise InvalidInput("That message has no link to an article to summarise.")
        await answer_summary(interaction, link, "brief", private=True)

    @app_commands.command(name="related")
    @app_commands.guild_only()
    @app_commands.describe(
        article="A link, a recent article from the list, or a few words about the topic",
        count=f"How many pieces to show (1 to {MAX_RELATED}, default {DEFAULT_RELATED})",
    )
    async def related(
        self,
        interaction: discord.Interaction[Any],
        article: app_commands.Range[str, 1, 2000],
        count: app_commands.Range[int, 1, MAX_RELATED] = DEFAULT_RELATED,
    ) -> None:
        """Find related pieces in the archive."""
        await answer_related(interaction, article, count)

    @related.autocomplete("article")
    async def _related_article(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await self.article_autocomplete(interaction, current)

    @app_commands.command(name="search")
    @app_commands.guild_only()
    @app_commands.describe(
        query="Words to look for in titles and articles",
        page="Which page of results (default 1)",
    )
    async def search(
        self,
        interaction: discord.Interaction[Any],
        query: app_commands.Range[str, 1, 200],
        page: app_commands.Range[int, 1, MAX_SEARCH_PAGE] = 1,
    ) -> None:
        """Search the archive; results show the matching words in bold."""
        found = await self.bot.app.reader.search(scope_of(interaction), query, page)
        if not found.hits:
            where = "on that page" if page > 1 else "in the archive"
            text = f"No articles {where} match {limits.hostile_to_markdown(query[:100])}."
            await send_answer(interaction, content=text)
        else:
            await send_answer(interaction, embed=search_embed(found))
        await deliver_alert_note(interaction)

    @app_commands.command(name="latest")
    @app_commands.guild_only()
    @app_commands.describe(
        feed="Only this feed (pick from this server's feeds)",
        count=f"How many articles (1 to {MAX_LATEST}, default {DEFAULT_LATEST})",
    )
    async def latest(
        self,
        interaction: discord.Interaction[Any],
        feed: str | None = None,
        count: app_commands.Range[int, 1, MAX_LATEST] = DEFAULT_LATEST,
    ) -> None:
        """The newest articles from this server's feeds."""
        refs = await self.bot.app.reader.latest(scope_of(interaction), feed, count)
        if not refs:
            await send_answer(interaction, content="No articles have arrived from that feed yet.")
        else:
            await send_answer(interaction, embed=latest_embed(refs))
        await deliver_alert_note(interaction)

    @latest.autocomplete("feed")
    async def _latest_feed(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await self.feed_autocomplete(interaction, current)

    @alerts.command(name="add")
    @app_commands.describe(keyword="A word or phrase (author:Name and category:Name work too)")
    async def alerts_add(
        self, interaction: discord.Interaction[Any], keyword: app_commands.Range[str, 1, 200]
    ) -> None:
        """Get a direct message when a new article matches this keyword."""
        assert interaction.guild_id is not None  # guild_only
        service = self.bot.app.alerts
        await service.take_note(interaction.user.id)  # adding switches alerts on: no stale note
        added = await service.add(interaction.user.id, interaction.guild_id, keyword)
        term = hostile_to_markdown(added.alert.term, single_line=True)
        text = (
            f"Alert added for {term} ({added.count} of {service.max_alerts}). "
            "Paperboy will send you a direct message when a new article matches."
        )
        if added.re_enabled:
            text += " Your alerts are switched on again."
        await send_answer(interaction, content=text)

    @alerts.command(name="remove")
    @app_commands.describe(keyword="The alert to remove")
    async def alerts_remove(
        self, interaction: discord.Interaction[Any], keyword: app_commands.Range[str, 1, 200]
    ) -> None:
        """Stop an alert."""
        assert interaction.guild_id is not None  # guild_only
        removed = await self.bot.app.alerts.remove(
            interaction.user.id, interaction.guild_id, keyword
        )
        term = hostile_to_markdown(removed.term, single_line=True)
        await send_answer(interaction, content=f"Alert for {term} removed.")
        await deliver_alert_note(interaction)

    @alerts_remove.autocomplete("keyword")
    async def _alerts_remove_keyword(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await self.alert_autocomplete(interaction, current)

    @alerts.command(name="list")
    async def alerts_list(self, interaction: discord.Interaction[Any]) -> None:
        """Show your keyword alerts in this server."""
        assert interaction.guild_id is not None  # guild_only
        service = self.bot.app.alerts
        listed = await service.list_alerts(interaction.user.id, interaction.guild_id)
        await service.take_note(interaction.user.id)  # the list says it already
        await send_answer(interaction, content=alerts_text(listed))


async def setup(bot: PaperboyBot) -> None:
    """Load the member commands."""
    await bot.add_cog(Members(bot))
