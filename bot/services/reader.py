"""What members read: /summary, /related, /search and /latest, and their autocomplete.

An article is named by a link (any public http(s) page, archived or not), by an autocomplete
choice (`archive:<id>`), or for /related by any free text. Summaries of archived articles are
cached per article and style in the database; summaries of other pages in a small memory cache,
since the archive's cache is keyed by article.
"""

from __future__ import annotations

import functools
import re
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Final

from bot.articles import related as related_engine
from bot.articles.extract import Extracted, extract_in_thread
from bot.articles.llm import LlmBackend
from bot.articles.related import RelatedItem
from bot.articles.summarize import (
    STYLES,
    Kind,
    Style,
    Summary,
    best_summary,
    clean_body,
    reading_minutes,
    summarize,
)
from bot.clock import Clock
from bot.config import LimitsConfig, SummariesConfig
from bot.errors import InvalidInput, NotFound, PaperboyError
from bot.feeds import canonical_url
from bot.fetch import Fetcher
from bot.models import ArchiveScope, GuildScope
from bot.services.quotas import MemberQuotas, Requester
from bot.storage import ArticleRef, SearchHit, Storage
from bot.textutil import clean_text
from bot.workpool import WorkPool

ARCHIVE_PREFIX: Final = "archive:"
SEARCH_PAGE_SIZE: Final = 5
MAX_SEARCH_PAGE: Final = 50
MAX_QUERY_CHARS: Final = 200
DEFAULT_RELATED: Final = 5
MAX_RELATED: Final = 10
DEFAULT_LATEST: Final = 5
MAX_LATEST: Final = 10
MAX_CHOICES: Final = 25
CHOICE_NAME_LIMIT: Final = 100
PAGE_CACHE_SIZE: Final = 128
EXTRACT_TIMEOUT_SECONDS: Final = 10.0
SOURCE_LABELS: Final[dict[str, str]] = {
    "publisher": "From the publisher",
    "extractive": "Automatic summary",
    "llm": "Automatic summary",
}
_ARCHIVE_TOKEN = re.compile(r"archive:(\d{1,18})")
_LINK = re.compile(r"https?://[^\s<>\"'`|]+", re.IGNORECASE)
# Punctuation that ends a sentence around a link rather than belonging to it.
_TRAILING = ".,;:!?)]}>'\"»”’"


@dataclass(frozen=True)
class SummaryAnswer:
    """A summary ready to show: the article it is of, its sentences and where they came from."""

    title: str
    url: str
    sentences: tuple[str, ...]
    kind: Kind
    style: Style
    reading_minutes: int
    article_id: int | None
    cached: bool

    @property
    def source_label(self) -> str:
        """ "From the publisher" for the publisher's standfirst, else "Automatic summary"."""
        return SOURCE_LABELS[self.kind]


@dataclass(frozen=True)
class RelatedAnswer:
    """Related pieces from the archive for one article or text."""

    source_title: str
    items: tuple[RelatedItem, ...]


@dataclass(frozen=True)
class SearchPage:
    """One page of search results; `page` counts from 1."""

    query: str
    page: int
    hits: tuple[SearchHit, ...]
    has_more: bool


@dataclass(frozen=True)
class Choice:
    """An autocomplete choice: a name shown (<= 100 characters) and the value sent back."""

    name: str
    value: str


@dataclass(frozen=True)
class _Target:
    """What an `article` option named: an archived article, a page to fetch, or free text."""

    article_id: int | None = None
    url: str | None = None
    text: str | None = None


def first_link(text: str) -> str | None:
    """The first http(s) link in a message's text, without trailing punctuation, or None."""
    for match in _LINK.finditer(text):
        link = match.group(0).rstrip(_TRAILING)
        # "<https://...>" is Discord's way to suppress an embed; the brackets are not the link.
        if link.lower().startswith(("http://", "https://")) and len(link) > len("https://"):
            return link
    return None


def choice_name(text: str) -> str:
    """Text fit as an autocomplete choice name: one line, 1 to 100 characters."""
    name = clean_text(text, single_line=True) or "Untitled article"
    if len(name) > CHOICE_NAME_LIMIT:
        name = name[: CHOICE_NAME_LIMIT - 1].rstrip() + "…"
    return name


def check_style(style: str) -> Style:
    """The style named, or InvalidInput naming the choices."""
    for known in STYLES:
        if style == known:
            return known
    raise InvalidInput(f"Unknown summary style {style!r}; choose brief or key-points.")


def clamp_count(count: int | None, default: int, most: int) -> int:
    """A result count within 1..most (None means the default)."""
    if count is None:
        return default
    return max(1, min(int(count), most))


class ReaderService:
    """Summaries, related pieces, search and latest articles for members; Discord-free."""

    def __init__(
        self,
        storage: Storage,
        fetcher: Fetcher,
        clock: Clock,
        summaries: SummariesConfig,
        llm: LlmBackend | None = None,
        *,
        extract_timeout: float = EXTRACT_TIMEOUT_SECONDS,
        quotas: MemberQuotas | None = None,
        pool: WorkPool | None = None,
    ) -> None:
        self.storage = storage
        self.pool = pool  # pages are read and summarised there; None: in threads / inline
        self.fetcher = fetcher
        self.clock = clock
        self.summaries = summaries
        self.llm = llm  # the optional LLM backend, with its own session (never members' URLs)
        self.extract_timeout = extract_timeout
        # Only fetches are limited: answers from the archive or a cache cost no quota.
        self.quotas = quotas if quotas is not None else MemberQuotas(LimitsConfig())
        self._page_cache: OrderedDict[tuple[str, str], SummaryAnswer] = OrderedDict()

    # -- naming an article ----------------------------------------------------------------------

    async def _target(self, scope: ArchiveScope, raw: str, *, allow_text: bool) -> _Target:
        text = clean_text(raw, single_line=True)
        if not text:
            raise InvalidInput("Name an article: paste its link or pick one from the list.")
        token = _ARCHIVE_TOKEN.fullmatch(text)
        if token:
            return _Target(article_id=int(token.group(1)))
        link = first_link(text)
        if link is not None and (link == text or link == text.strip("<>")):
            article_id = await self.storage.article_id_for_url(scope, canonical_url(link))
            if article_id is None:
                article_id = await self.storage.article_id_for_url(scope, link)
            return _Target(article_id=article_id, url=link)
        article_id = await self.storage.article_id_for_title(scope, text)
        if article_id is not None:
            return _Target(article_id=article_id)
        if allow_text:
            return _Target(text=text[: MAX_QUERY_CHARS * 10])
        raise InvalidInput(
            "That is not a link to an article. Paste a link starting with https:// "
            "or pick an article from the list."
        )

    async def _load_page(self, url: str, who: Requester | None) -> Extracted:
        now = self.clock.now()
        with self.quotas.fetching(url, who, now):
            result = await self.fetcher.fetch(
                url, kind="page", now=now, slot_wait=self.quotas.limits.member_slot_wait_seconds
            )
        if not result.body:
            raise InvalidInput("That page is empty, so there is nothing to read.")
        return await extract_in_thread(
            result.body,
            result.url,
            timeout=self.extract_timeout,
            content_type=result.headers.get("content-type"),
            pool=self.pool,
            priority="member",
        )

    # -- /summary -------------------------------------------------------------------------------

    async def cached_summary(
        self, scope: ArchiveScope, article: str, style: str = "brief"
    ) -> SummaryAnswer | None:
        """The summary if it is already known (answer at once), else None (defer, then summary)."""
        chosen = check_style(style)
        target = await self._target(scope, article, allow_text=False)
        if target.article_id is not None:
            return await self._from_cache(scope, target.article_id, chosen)
        if target.url is not None:
            return self._page_cache_get(target.url, chosen)
        return None

    async def admit(self, scope: ArchiveScope, article: str, style: str, who: Requester) -> None:
        """Raise TryLater now if summarising `article` needs a page fetch `who` may not have.

        For a command to call before it defers; `summary` checks and charges again.
        """
        chosen = check_style(style)
        target = await self._target(scope, article, allow_text=False)
        if target.article_id is not None or target.url is None:
            return  # archived: answered from the archive (or its excerpt), never refused
        if self._page_cache_get(target.url, chosen) is None:
            self.quotas.check(target.url, who, self.clock.now())

    async def summary(
        self,
        scope: ArchiveScope,
        article: str,
        style: str = "brief",
        *,
        who: Requester | None = None,
    ) -> SummaryAnswer:
        """Summarise an archived article in `scope` or any public page; cached per style.

        An archived article outside `scope` is read as the public page its link names (an
        `archive:` id or title outside it is not found), so no server reads another's archive.
        A page fetch counts against `who`'s quotas (TryLater when they are used up).
        """
        chosen = check_style(style)
        target = await self._target(scope, article, allow_text=False)
        if target.article_id is not None:
            return await self._archived_summary(
                scope, target.article_id, chosen, fallback_url=target.url, who=who
            )
        assert target.url is not None
        return await self._page_summary(target.url, chosen, who)

    async def summary_of_archived(
        self,
        scope: ArchiveScope,
        article_id: int,
        style: str = "brief",
        *,
        who: Requester | None = None,
    ) -> SummaryAnswer:
        """Summarise an archived article in `scope` by id (announcement buttons)."""
        return await self._archived_summary(
            scope, article_id, check_style(style), fallback_url=None, who=who
        )

    async def _from_cache(
        self, scope: ArchiveScope, article_id: int, style: Style
    ) -> SummaryAnswer | None:
        stored = await self.storage.article_text(scope, article_id)
        if stored is None:
            return None
        cached = await self.storage.get_cached_summary(article_id, style)
        if cached is None:
            return None
        kind, sentences = cached
        if kind not in SOURCE_LABELS or not sentences:
            return None
        return SummaryAnswer(
            title=stored.title or stored.url,
            url=stored.url,
            sentences=sentences,
            kind=kind,  # type: ignore[arg-type]  # checked against SOURCE_LABELS just above
            style=style,
            reading_minutes=reading_minutes(clean_body(stored.text or stored.excerpt)),
            article_id=article_id,
            cached=True,
        )

    async def _archived_summary(
        self,
        scope: ArchiveScope,
        article_id: int,
        style: Style,
        *,
        fallback_url: str | None,
        who: Requester | None,
    ) -> SummaryAnswer:
        cached = await self._from_cache(scope, article_id, style)
        if cached is not None:
            return cached
        stored = await self.storage.article_text(scope, article_id)
        if stored is None:
            if fallback_url is not None:
                return await self._page_summary(fallback_url, style, who)
            raise NotFound("That article is no longer in the archive.")
        # The feed's excerpt is the standfirst when the page's own description was never read
        # (text taken from the feed's content); `summarize` refuses excerpts that merely copy
        # the body's opening or are WordPress's automatic 55-word cut.
        title, text = stored.title, stored.text
        standfirst = stored.description or stored.excerpt
        complete = bool(text.strip())
        if not complete:
            # Not archived in full yet: read the page now, and fall back to the feed's excerpt
            # (also when the member's fetch quota is used up).
            try:
                page = await self._load_page(stored.url, who)
                text, standfirst = page.text, standfirst or page.description
                title = title or page.title
            except PaperboyError:
                text = stored.excerpt
        made = await self._summarize(title, text, standfirst, style)
        if complete:
            await self.storage.put_cached_summary(
                article_id, style, made.kind, made.sentences, self.clock.now()
            )
        return SummaryAnswer(
            title=title or stored.url,
            url=stored.url,
            sentences=made.sentences,
            kind=made.kind,
            style=style,
            reading_minutes=made.reading_minutes,
            article_id=article_id,
            cached=False,
        )

    async def _page_summary(self, url: str, style: Style, who: Requester | None) -> SummaryAnswer:
        cached = self._page_cache_get(url, style)
        if cached is not None:
            return cached
        page = await self._load_page(url, who)
        made = await self._summarize(page.title, page.text, page.description, style)
        answer = SummaryAnswer(
            title=page.title or page.url,
            url=page.url,
            sentences=made.sentences,
            kind=made.kind,
            style=style,
            reading_minutes=made.reading_minutes,
            article_id=None,
            cached=False,
        )
        self._page_cache[(canonical_url(url), style)] = answer
        while len(self._page_cache) > PAGE_CACHE_SIZE:
            self._page_cache.popitem(last=False)
        return answer

    def _page_cache_get(self, url: str, style: Style) -> SummaryAnswer | None:
        key = (canonical_url(url), style)  # one entry per page however its link is spelled
        found = self._page_cache.get(key)
        if found is None:
            return None
        self._page_cache.move_to_end(key)
        return replace(found, cached=True)

    async def _summarize(self, title: str, text: str, standfirst: str, style: Style) -> Summary:
        offline = None
        if self.pool is not None:
            job = functools.partial(summarize, title, text, standfirst=standfirst, style=style)
            offline = await self.pool.run(job, priority="member", what="this article")
        # The LLM is only ever optional and falls back to the offline summary on any failure.
        return await best_summary(
            title, text, standfirst=standfirst, style=style, model=self.llm, offline=offline
        )

    # -- /related -------------------------------------------------------------------------------

    async def related(
        self,
        scope: ArchiveScope,
        article: str,
        count: int | None = None,
        *,
        who: Requester | None = None,
    ) -> RelatedAnswer:
        """Related pieces in `scope` for an archived article, any page, or free text.

        A page fetch counts against `who`'s quotas (TryLater when they are used up).
        """
        limit = clamp_count(count, DEFAULT_RELATED, MAX_RELATED)
        target = await self._target(scope, article, allow_text=True)
        now = self.clock.now()
        if target.article_id is not None:
            return await self.related_to_archived(scope, target.article_id, limit)
        if target.url is not None:
            page = await self._load_page(target.url, who)
            items = await related_engine.related_to_text(
                self.storage,
                scope,
                page.title,
                page.text or page.description,
                limit=limit,
                now=now,
            )
            return RelatedAnswer(page.title or page.url, tuple(items))
        assert target.text is not None
        items = await related_engine.related_to_text(
            self.storage, scope, "", target.text, limit=limit, now=now
        )
        return RelatedAnswer(f"“{target.text[:80]}”", tuple(items))

    async def related_to_archived(
        self, scope: ArchiveScope, article_id: int, count: int | None = None
    ) -> RelatedAnswer:
        """Related pieces in `scope` for an archived article in it, by id (buttons)."""
        limit = clamp_count(count, DEFAULT_RELATED, MAX_RELATED)
        refs = await self.storage.article_refs(scope, [article_id])
        if article_id not in refs:
            raise NotFound("That article is no longer in the archive.")
        items = await related_engine.related_to_article(
            self.storage, scope, article_id, limit=limit, now=self.clock.now()
        )
        return RelatedAnswer(refs[article_id].title or refs[article_id].url, tuple(items))

    # -- /search and /latest --------------------------------------------------------------------

    async def search(self, scope: ArchiveScope, query: str, page: int | None = None) -> SearchPage:
        """One page of full-text results in `scope`; any text is safe, operators are words."""
        # Cut before cleaning too: CLI queries have no length limit of their own.
        text = clean_text(query[: MAX_QUERY_CHARS * 4], single_line=True)[:MAX_QUERY_CHARS]
        if not re.search(r"\w", text):
            raise InvalidInput("Type a word or two to search for.")
        number = clamp_count(page, 1, MAX_SEARCH_PAGE)
        offset = (number - 1) * SEARCH_PAGE_SIZE
        hits = await self.storage.search_articles(
            scope, text, limit=SEARCH_PAGE_SIZE + 1, offset=offset
        )
        return SearchPage(
            text, number, tuple(hits[:SEARCH_PAGE_SIZE]), len(hits) > SEARCH_PAGE_SIZE
        )

    async def latest(
        self, scope: GuildScope, feed: str | None = None, count: int | None = None
    ) -> list[ArticleRef]:
        """The newest articles in this server's scope, or of one of its feeds."""
        limit = clamp_count(count, DEFAULT_LATEST, MAX_LATEST)
        feed_ids = await self._guild_feed_ids(scope)
        if feed is not None and feed.strip():
            wanted = feed.strip()
            if not wanted.isdigit() or int(wanted) not in feed_ids:
                raise NotFound("This server does not follow that feed; pick one from the list.")
            return await self.storage.latest_articles(scope, limit, feed_id=int(wanted))
        refs = await self.storage.latest_articles(scope, limit)
        if not refs and not feed_ids:
            raise NotFound("This server does not follow any feeds yet, so there is nothing new.")
        return refs

    async def _guild_feed_ids(self, scope: GuildScope) -> set[int]:
        subscriptions = await self.storage.guild_subscriptions(scope.guild_id)
        return {s.feed_id for s in subscriptions if s.active}

    # -- autocomplete ---------------------------------------------------------------------------

    async def article_choices(self, scope: ArchiveScope, current: str) -> list[Choice]:
        """Recent titles in `scope` containing what was typed; a typed link is offered as-is."""
        typed = clean_text(current, single_line=True)
        choices: list[Choice] = []
        link = first_link(typed)
        if link is not None and len(link) <= CHOICE_NAME_LIMIT:
            choices.append(Choice(choice_name(link), link))
        search_for = "" if link is not None else typed[:CHOICE_NAME_LIMIT]
        for ref in await self.storage.articles_titled_like(scope, search_for, MAX_CHOICES):
            if len(choices) >= MAX_CHOICES:
                break
            choices.append(Choice(choice_name(ref.title), f"{ARCHIVE_PREFIX}{ref.id}"))
        return choices

    async def feed_choices(self, scope: GuildScope, current: str) -> list[Choice]:
        """This server's subscribed feeds whose name contains what was typed."""
        typed = clean_text(current, single_line=True).casefold()
        feed_ids = await self._guild_feed_ids(scope)
        choices: list[Choice] = []
        for feed_id in sorted(feed_ids):
            feed = await self.storage.feed(feed_id)
            if feed is None or typed not in feed.display_name.casefold():
                continue
            choices.append(Choice(choice_name(feed.display_name), str(feed.id)))
            if len(choices) >= MAX_CHOICES:
                break
        return choices
