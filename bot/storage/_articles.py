"""The archive: articles (every feed's items, one row per canonical URL), their texts and the
summary cache, and the reads members' commands and previews make of them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from bot.clock import from_iso, to_iso
from bot.models import ArchiveScope
from bot.storage._base import Database, chunks
from bot.storage._connection import Connection, Row, json_values
from bot.storage._scope import visible_condition, visible_ids
from bot.storage.records import (
    AlertArticle,
    ArchivedArticle,
    ArticleRef,
    ArticleText,
    NewArticle,
    PendingArticle,
    Sighting,
)

TEXT_STATUSES = ("pending", "done", "failed", "skipped")


_INSERT_ARTICLE = (
    "INSERT INTO articles (canonical_url, url, title, author, published_at, categories, "
    "excerpt, description, image_url, site_name, text, text_status, feed_content_html, "
    "first_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (canonical_url) DO NOTHING"
)


def _article_row(article: NewArticle, now: datetime) -> tuple[object, ...]:
    if article.text_status not in TEXT_STATUSES:
        raise ValueError(f"unknown text status {article.text_status!r}")
    return (
        article.canonical_url,
        article.url,
        article.title,
        article.author,
        to_iso(article.published) if article.published else None,
        json.dumps(list(article.categories), ensure_ascii=False),
        article.excerpt,
        article.description,
        article.image_url,
        article.site_name,
        article.text,
        article.text_status,
        article.feed_content_html,
        to_iso(now),
    )


async def _article_ids(conn: Connection, urls: Sequence[str]) -> dict[str, int]:
    async with conn.execute(
        "SELECT canonical_url, id FROM articles "  # noqa: S608 - a constant subquery
        f"WHERE canonical_url IN ({json_values(conn.dialect)})",
        (json.dumps(list(urls)),),
    ) as cursor:
        return {str(row[0]): int(row[1]) for row in await cursor.fetchall()}


async def _archive_articles(
    conn: Connection, articles: Sequence[NewArticle], now: datetime
) -> list[tuple[int, bool]]:
    """Each article's id, and whether this call created it: rows are keyed by canonical URL, and
    an existing one is left as it is.

    Three statements whatever the number of articles (a seed or an import writes hundreds):
    look the URLs up, insert the missing ones in input order (so ids grow in that order), look
    the new ones up. The same result as archiving them one by one: a URL repeated in the batch
    is created by its first occurrence only. Must run inside a write transaction.
    """
    rows = [_article_row(article, now) for article in articles]  # validates before any write
    if not articles:
        return []
    if len(articles) == 1:
        # A changed feed's usual single new item: one statement when it is new.
        async with conn.execute(f"{_INSERT_ARTICLE} RETURNING id", rows[0]) as cursor:
            inserted = await cursor.fetchone()
        if inserted is not None:
            return [(int(inserted[0]), True)]
        url = articles[0].canonical_url
        return [((await _article_ids(conn, [url]))[url], False)]  # the conflicting row exists
    urls = [article.canonical_url for article in articles]
    existing = await _article_ids(conn, list(dict.fromkeys(urls)))
    missing: dict[str, tuple[object, ...]] = {}
    for url, row in zip(urls, rows, strict=True):
        if url not in existing and url not in missing:
            missing[url] = row
    created: dict[str, int] = {}
    if missing:
        await conn.executemany(_INSERT_ARTICLE, list(missing.values()))
        created = await _article_ids(conn, list(missing))
    result: list[tuple[int, bool]] = []
    for url in urls:
        if url in created:
            result.append((created.pop(url), True))
            existing[url] = result[-1][0]
        else:
            result.append((existing[url], False))
    return result


def _when(value: str | None) -> datetime | None:
    return from_iso(value) if value else None


def _article(row: Row) -> ArchivedArticle:
    return ArchivedArticle(
        id=int(row["id"]),
        canonical_url=row["canonical_url"],
        url=row["url"],
        title=row["title"],
        author=row["author"],
        published=_when(row["published_at"]),
        categories=_categories(row["categories"]),
        excerpt=row["excerpt"],
        description=row["description"],
        text=row["text"],
        image_url=row["image_url"],
        site_name=row["site_name"],
        first_seen=from_iso(row["first_seen_at"]),
    )


def _categories(raw: str) -> tuple[str, ...]:
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return ()
    return tuple(str(item) for item in value) if isinstance(value, list) else ()


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_NEWEST = "coalesce(a.published_at, a.first_seen_at) DESC, a.id DESC"


def _ref(row: Row) -> ArticleRef:
    return ArticleRef(
        id=int(row["id"]),
        title=str(row["title"]),
        url=str(row["url"]),
        published=_when(row["published_at"]),
    )


class ArticleStore(Database):
    """Verbs of the articles table: archive, fetch text, look up, list, summaries."""

    # -- archiving and article text -------------------------------------------------------------

    async def add_articles(
        self, articles: Sequence[NewArticle], *, now: datetime
    ) -> list[tuple[int, bool]]:
        """Archive articles outside any poll; (id, created here) for each, in order."""
        async with self.transaction() as conn:
            return await _archive_articles(conn, articles, now)

    async def is_archived(self, canonical_url: str) -> bool:
        """Whether an article with this canonical URL is in the archive."""
        found = await self.scalar(
            "SELECT 1 FROM articles WHERE canonical_url = ? LIMIT 1", (canonical_url,)
        )
        return found is not None

    async def articles_pending_text(
        self, limit: int = 20, *, now: datetime | None = None
    ) -> list[PendingArticle]:
        """Articles whose full text is still to be archived, oldest first.

        With `now`, articles postponed after a passing failure wait until their retry time.
        """
        rows = await self.fetch_all(
            "SELECT id, url, canonical_url, title, excerpt, feed_content_html, text_attempts, "
            "fetch_page FROM articles WHERE text_status = 'pending' "
            "AND (CAST(? AS TEXT) IS NULL OR text_retry_at IS NULL OR text_retry_at <= ?) "
            "ORDER BY id LIMIT ?",
            (to_iso(now) if now else None, to_iso(now) if now else None, limit),
        )
        return [
            PendingArticle(
                id=int(row["id"]),
                url=row["url"],
                canonical_url=row["canonical_url"],
                title=row["title"],
                excerpt=row["excerpt"],
                feed_content_html=row["feed_content_html"],
                attempts=int(row["text_attempts"]),
                fetch_page=bool(row["fetch_page"]),
            )
            for row in rows
        ]

    async def postpone_article_text(
        self, article_id: int, *, retry_at: datetime, interim_text: str
    ) -> None:
        """Keep an article pending after a passing failure; search uses `interim_text` meanwhile."""
        await self.execute(
            "UPDATE articles SET text_attempts = text_attempts + 1, text_retry_at = ?, "
            "text = CASE WHEN text = '' THEN ? ELSE text END "
            "WHERE id = ? AND text_status = 'pending'",
            (to_iso(retry_at), interim_text, article_id),
        )

    async def save_article_text(
        self,
        article_id: int,
        *,
        status: str,
        text: str,
        title: str = "",
        description: str = "",
        author: str = "",
        site_name: str = "",
        image_url: str = "",
        published: datetime | None = None,
    ) -> None:
        """Store an article's full text and status; page metadata only fills fields still empty.

        The feed's copy of the content is dropped: the text now stands in for it, and cached
        summaries of the old text go in the same transaction so none outlives its source.
        """
        if status not in TEXT_STATUSES or status == "pending":
            raise ValueError(f"archived text status must be done, failed or skipped: {status!r}")
        async with self.transaction() as conn:
            await conn.execute(
                "UPDATE articles SET text = ?, text_status = ?, feed_content_html = '', "
                # A sitemap's pages arrive untitled until read: the page's title fills the gap.
                "title = CASE WHEN title = '' THEN ? ELSE title END, "
                "description = CASE WHEN description = '' THEN ? ELSE description END, "
                "author = CASE WHEN author = '' THEN ? ELSE author END, "
                "site_name = CASE WHEN site_name = '' THEN ? ELSE site_name END, "
                "image_url = CASE WHEN image_url = '' THEN ? ELSE image_url END, "
                "published_at = coalesce(published_at, ?) WHERE id = ?",
                (
                    text,
                    status,
                    title,
                    description,
                    author,
                    site_name,
                    image_url,
                    to_iso(published) if published else None,
                    article_id,
                ),
            )
            await conn.execute("DELETE FROM summary_cache WHERE article_id = ?", (article_id,))

    # -- lookups for previews and /feeds why ----------------------------------------------------

    async def archived_article(
        self, scope: ArchiveScope, *, article_id: int | None = None, url: str | None = None
    ) -> ArchivedArticle | None:
        """An archived article in `scope` by id, or by canonical URL (else the URL as linked)."""
        visible, params = visible_condition(scope, "a.id", self.dialect)
        if article_id is not None:
            row = await self.fetch_one(
                f"SELECT a.* FROM articles a WHERE a.id = ? AND {visible}",  # noqa: S608
                (article_id, *params),
            )
        else:
            row = await self.fetch_one(
                "SELECT a.* FROM articles a WHERE (a.canonical_url = ? OR a.url = ?) "  # noqa: S608
                f"AND {visible} ORDER BY a.canonical_url = ? DESC LIMIT 1",
                (url, url, *params, url),
            )
        return None if row is None else _article(row)

    async def archived_articles(
        self, scope: ArchiveScope, article_ids: Sequence[int]
    ) -> dict[int, ArchivedArticle]:
        """Those of the archived articles with these ids that are in `scope`, by id."""
        if not article_ids:
            return {}
        visible, params = visible_condition(scope, "a.id", self.dialect)
        # One JSON parameter for any number of ids (no statement per size of the list).
        each_id = json_values(self.dialect, "bigint")
        rows = await self.fetch_all(
            f"SELECT a.* FROM articles a WHERE a.id IN ({each_id}) "  # noqa: S608
            f"AND {visible}",
            (json.dumps([int(i) for i in article_ids]), *params),
        )
        return {int(row["id"]): _article(row) for row in rows}

    async def article_sightings(self, article_id: int, guild_id: int) -> list[Sighting]:
        """Feeds of this guild's subscriptions that showed the article, earliest first."""
        rows = await self.fetch_all(
            "SELECT DISTINCT f.id, f.title, f.url, e.first_seen_at FROM feed_entries e "
            "JOIN feeds f ON f.id = e.feed_id "
            "WHERE e.article_id = ? AND f.id IN "
            "(SELECT feed_id FROM subscriptions WHERE guild_id = ?) ORDER BY e.first_seen_at",
            (article_id, guild_id),
        )
        return [
            Sighting(int(r["id"]), r["title"], r["url"], from_iso(r["first_seen_at"])) for r in rows
        ]

    # -- reads for /summary, /related and lists -------------------------------------------------

    async def article_text(self, scope: ArchiveScope, article_id: int) -> ArticleText | None:
        """An archived article's title and texts, or None (also when it is outside `scope`)."""
        visible, params = visible_condition(scope, "a.id", self.dialect)
        row = await self.fetch_one(
            "SELECT a.id, a.title, a.url, a.description, a.excerpt, a.text FROM articles a "  # noqa: S608
            f"WHERE a.id = ? AND {visible}",
            (article_id, *params),
        )
        if row is None:
            return None
        return ArticleText(
            id=int(row["id"]),
            title=row["title"],
            url=row["url"],
            description=row["description"],
            excerpt=row["excerpt"],
            text=row["text"],
        )

    async def article_id_for_url(self, scope: ArchiveScope, url: str) -> int | None:
        """The id of the article in `scope` at this (canonical or original) URL, or None."""
        visible, params = visible_condition(scope, "a.id", self.dialect)
        value = await self.scalar(
            "SELECT id FROM (SELECT a.id FROM articles a WHERE a.canonical_url = ? "  # noqa: S608
            "UNION ALL SELECT a.id FROM articles a WHERE a.url = ?) AS a "
            f"WHERE {visible} LIMIT 1",
            (url, url, *params),
        )
        return None if value is None else int(value)

    async def article_refs(self, scope: ArchiveScope, ids: Sequence[int]) -> dict[int, ArticleRef]:
        """Title, URL and date of each archived article among `ids` that is in `scope`."""
        found: dict[int, ArticleRef] = {}
        visible, params = visible_condition(scope, "a.id", self.dialect)
        for chunk in chunks(list(ids)):
            marks = ",".join("?" * len(chunk))
            rows = await self.fetch_all(
                "SELECT a.id, a.title, a.url, a.published_at FROM articles a "  # noqa: S608
                f"WHERE a.id IN ({marks}) AND {visible}",
                [*chunk, *params],
            )
            for row in rows:
                found[int(row["id"])] = _ref(row)
        return found

    # -- the summary cache ----------------------------------------------------------------------

    async def get_cached_summary(
        self, article_id: int, style: str
    ) -> tuple[str, tuple[str, ...]] | None:
        """(kind, sentences) of a summary made earlier, or None."""
        row = await self.fetch_one(
            "SELECT kind, sentences FROM summary_cache WHERE article_id = ? AND style = ?",
            (article_id, style),
        )
        if row is None:
            return None
        return str(row["kind"]), tuple(json.loads(row["sentences"]))

    async def put_cached_summary(
        self, article_id: int, style: str, kind: str, sentences: Sequence[str], now: datetime
    ) -> None:
        """Remember a summary for an article and style, replacing any earlier one."""
        await self.execute(
            "INSERT INTO summary_cache (article_id, style, kind, sentences, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (article_id, style) DO UPDATE SET "
            "kind = excluded.kind, sentences = excluded.sentences, "
            "created_at = excluded.created_at",
            (article_id, style, kind, json.dumps(list(sentences)), to_iso(now)),
        )

    # -- lists for alerts, /latest and autocomplete ---------------------------------------------

    async def alert_articles(self, scope: ArchiveScope, ids: Sequence[int]) -> list[AlertArticle]:
        """The archived articles among `ids` in `scope`, in id order, with what alerts look at."""
        found: list[AlertArticle] = []
        wanted = sorted(set(ids))
        visible, params = visible_condition(scope, "a.id", self.dialect)
        for chunk in chunks(wanted):
            marks = ",".join("?" * len(chunk))
            rows = await self.fetch_all(
                "SELECT a.id, a.title, a.url, a.author, a.published_at, a.categories, "  # noqa: S608
                f"a.description, a.excerpt FROM articles a WHERE a.id IN ({marks}) AND {visible} "
                "ORDER BY a.id",
                [*chunk, *params],
            )
            found.extend(
                AlertArticle(
                    id=int(row["id"]),
                    title=str(row["title"]),
                    url=str(row["url"]),
                    author=str(row["author"]),
                    published=_when(row["published_at"]),
                    categories=_categories(row["categories"]),
                    standfirst=str(row["description"]),
                    excerpt=str(row["excerpt"]),
                )
                for row in rows
            )
        return found

    async def latest_articles(
        self, scope: ArchiveScope, limit: int, *, feed_id: int | None = None
    ) -> list[ArticleRef]:
        """The newest articles in `scope` (only those of one of its feeds, if given)."""
        if limit < 1:
            return []
        ids, params = visible_ids(scope, feed_id=feed_id)
        rows = await self.fetch_all(
            "SELECT a.id, a.title, a.url, a.published_at FROM articles a "  # noqa: S608
            f"WHERE a.id IN ({ids}) ORDER BY {_NEWEST} LIMIT ?",
            [*params, limit],
        )
        return [_ref(row) for row in rows]

    async def articles_titled_like(
        self, scope: ArchiveScope, text: str, limit: int
    ) -> list[ArticleRef]:
        """Newest articles in `scope` whose title contains `text` (any case), for autocomplete."""
        ids, params = visible_ids(scope)
        like = "LIKE" if self.dialect == "sqlite" else "ILIKE"  # SQLite's LIKE ignores case
        rows = await self.fetch_all(
            "SELECT a.id, a.title, a.url, a.published_at FROM articles a "  # noqa: S608
            f"WHERE a.id IN ({ids}) AND a.title {like} ? ESCAPE '\\' AND a.title != '' "
            f"ORDER BY {_NEWEST} LIMIT ?",
            (*params, _like_pattern(text), limit),
        )
        return [_ref(row) for row in rows]

    async def article_id_for_title(self, scope: ArchiveScope, title: str) -> int | None:
        """The newest article in `scope` with exactly this title (any case), or None."""
        ids, params = visible_ids(scope)
        value = await self.scalar(
            "SELECT a.id FROM articles a WHERE lower(a.title) = lower(?) "  # noqa: S608
            f"AND a.id IN ({ids}) ORDER BY {_NEWEST} LIMIT 1",
            (title, *params),
        )
        return None if value is None else int(value)
