"""ReaderService against a real archive (SQLite) built from the news-site samples, and the
news-site stand-in serving the pages that are not archived."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bot.articles.llm import LlmBackend
from bot.articles.sentences import split_sentences
from bot.clock import FakeClock
from bot.config import Config
from bot.errors import FetchError, InvalidInput, NotFound
from bot.fetch import Fetcher, make_session
from bot.models import WHOLE_ARCHIVE, GuildScope, NewSubscription
from bot.services.reader import (
    CHOICE_NAME_LIMIT,
    ReaderService,
    choice_name,
    first_link,
)
from bot.storage import NewArticle, Storage
from tests.bench.llm_standin import LlmStandIn
from tests.bench.news_site import NewsSite
from tests.bench.news_site_render import SiteItem
from tests.builders import READER_NOW as NOW
from tests.builders import build_archive
from tests.conftest import make_config

GUILD = 1001
OTHER_GUILD = 2002
SCOPE = GuildScope(GUILD)
# Not archived, so /summary must fetch it: it opens with photo captions and has no standfirst.
UNARCHIVED_SLUG = "eastbrook-gp-surgery-closure"


@dataclass
class Bench:
    storage: Storage
    site: NewsSite
    reader: ReaderService
    feed_id: int
    ids: dict[str, int]  # slug -> article id
    items: dict[str, SiteItem]
    http: aiohttp.ClientSession
    config: Config


@pytest.fixture
async def bench(tmp_path: Path) -> AsyncIterator[Bench]:
    config = make_config(tmp_path)
    storage = await Storage.open(tmp_path / "reader.db")
    http = make_session(config.fetch, "Paperboy-test")
    try:
        async with NewsSite(initially_published=30) as site:
            feed_id, ids = await build_archive(storage, site, skip=(UNARCHIVED_SLUG,))
            await storage.add_subscription(NewSubscription(GUILD, 5001, feed_id, "embed"), now=NOW)
            reader = ReaderService(
                storage, Fetcher(http, config.fetch), FakeClock(NOW), config.summaries
            )
            items = {item.slug: item for item in site.items}
            yield Bench(storage, site, reader, feed_id, ids, items, http, config)
    finally:
        await http.close()
        await storage.close()


def topic_of(bench: Bench, url: str) -> str:
    return next(i.topic for i in bench.items.values() if bench.site.article_url(i) == url)


def with_standfirst(bench: Bench) -> SiteItem:
    return next(i for s, i in bench.items.items() if i.standfirst and s in bench.ids)


def without_standfirst(bench: Bench) -> SiteItem:
    return next(i for s, i in bench.items.items() if not i.standfirst and s in bench.ids)


# -- /summary -----------------------------------------------------------------------------------


async def test_summary_of_archived_article_uses_the_publishers_standfirst(bench: Bench) -> None:
    item = with_standfirst(bench)
    url = bench.site.article_url(item)
    answer = await bench.reader.summary(SCOPE, url, "brief")
    assert answer.kind == "publisher"
    assert answer.source_label == "From the publisher"
    assert " ".join(answer.sentences) == item.standfirst
    assert answer.title == item.title
    assert answer.article_id == bench.ids[item.slug]
    assert answer.reading_minutes >= 1
    assert not answer.cached


async def test_summary_without_standfirst_is_whole_opening_sentences(bench: Bench) -> None:
    item = without_standfirst(bench)
    answer = await bench.reader.summary(SCOPE, f"archive:{bench.ids[item.slug]}", "brief")
    assert answer.kind == "extractive"
    assert answer.source_label == "Automatic summary"
    opening = split_sentences("\n\n".join(item.paragraphs))
    assert list(answer.sentences) == opening[: len(answer.sentences)]
    assert all(sentence.rstrip()[-1] in '.!?”’"' for sentence in answer.sentences)


async def test_summary_is_cached_per_article_and_style(bench: Bench) -> None:
    item = with_standfirst(bench)
    token = f"archive:{bench.ids[item.slug]}"
    assert await bench.reader.cached_summary(SCOPE, token, "brief") is None
    first = await bench.reader.summary(SCOPE, token, "brief")
    again = await bench.reader.cached_summary(SCOPE, token, "brief")
    assert again is not None and again.cached
    assert again.sentences == first.sentences
    assert again.reading_minutes == first.reading_minutes
    # Another style is its own entry: key points are chosen from the body, not the standfirst.
    assert await bench.reader.cached_summary(SCOPE, token, "key-points") is None
    points = await bench.reader.summary(SCOPE, token, "key-points")
    assert points.kind == "extractive" and 3 <= len(points.sentences) <= 5
    stored = await bench.storage.get_cached_summary(bench.ids[item.slug], "key-points")
    assert stored == ("extractive", points.sentences)


async def test_summary_of_a_page_not_in_the_archive_skips_photo_captions(bench: Bench) -> None:
    item = bench.items[UNARCHIVED_SLUG]
    assert item.captions, "the sample chosen must open with photo captions"
    url = bench.site.article_url(item)
    answer = await bench.reader.summary(SCOPE, url, "brief")
    assert answer.article_id is None
    assert answer.title == item.title
    shown = " ".join(answer.sentences)
    assert "Photo" not in shown
    for caption in item.captions:
        assert caption.removeprefix("Photo:").strip()[:30] not in shown
    assert answer.sentences[0] == split_sentences(item.paragraphs[0])[0]
    # The second ask is answered from memory, without fetching the page again.
    fetched = len(bench.site.requests_to(item.path))
    cached = await bench.reader.cached_summary(SCOPE, url, "brief")
    assert cached is not None and cached.cached and cached.sentences == answer.sentences
    assert len(bench.site.requests_to(item.path)) == fetched


async def test_summary_refuses_text_that_names_no_article(bench: Bench) -> None:
    with pytest.raises(InvalidInput, match="link"):
        await bench.reader.summary(SCOPE, "what happened with the rent strike?")
    with pytest.raises(InvalidInput):
        await bench.reader.summary(SCOPE, "   ")
    with pytest.raises(InvalidInput, match="style"):
        await bench.reader.summary(SCOPE, f"archive:{next(iter(bench.ids.values()))}", "haiku")
    with pytest.raises(NotFound):
        await bench.reader.summary(SCOPE, "archive:999999")


async def test_summary_of_a_missing_page_is_a_readable_fetch_error(bench: Bench) -> None:
    with pytest.raises(FetchError) as caught:
        await bench.reader.summary(SCOPE, bench.site.url("/2026/01/no-such-article/"))
    assert "404" in str(caught.value)


async def test_summary_by_exact_title(bench: Bench) -> None:
    item = with_standfirst(bench)
    answer = await bench.reader.summary(SCOPE, item.title.upper())
    assert answer.article_id == bench.ids[item.slug]


# -- LLM backend with fallback ------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "expected_kind"), [("ok", "llm"), ("error", "extractive")])
async def test_llm_backend_is_used_with_fallback(
    bench: Bench, tmp_path: Path, mode: str, expected_kind: str
) -> None:
    async with LlmStandIn(mode, answer="A tidy summary.") as server:
        config = make_config(
            tmp_path, summaries={"backend": "openai", "openai_base_url": server.base_url}
        )
        llm = LlmBackend.open(config.summaries, "Paperboy-test")
        assert llm is not None
        try:
            reader = ReaderService(
                bench.storage,
                Fetcher(bench.http, config.fetch),
                FakeClock(NOW),
                config.summaries,
                llm,
            )
            item = without_standfirst(bench)
            answer = await reader.summary(SCOPE, f"archive:{bench.ids[item.slug]}", "brief")
            assert answer.kind == expected_kind
            assert answer.source_label == "Automatic summary"
            if expected_kind == "llm":
                assert answer.sentences == ("A tidy summary.",)
            # The publisher's own standfirst is never replaced by a machine summary.
            kept = await reader.summary(SCOPE, f"archive:{bench.ids[with_standfirst(bench).slug]}")
            assert kept.kind == "publisher"
            assert len(server.requests) == 1
        finally:
            await llm.close()


# -- /related -----------------------------------------------------------------------------------


async def test_related_puts_the_same_topic_first_and_never_the_article_itself(
    bench: Bench,
) -> None:
    for slug, item in list(bench.items.items())[:6]:
        if slug not in bench.ids:
            continue
        answer = await bench.reader.related(SCOPE, bench.site.article_url(item), 3)
        assert answer.source_title == item.title
        assert answer.items, f"nothing related to {slug}"
        assert bench.ids[slug] not in {found.id for found in answer.items}
        topics = [topic_of(bench, found.url) for found in answer.items]
        assert topics[0] == item.topic, f"{slug}: {topics}"
        assert all(found.shared_terms for found in answer.items)


async def test_related_to_free_text_and_counts(bench: Bench) -> None:
    answer = await bench.reader.related(SCOPE, "tenants rent strike landlord repairs", 10)
    assert 1 <= len(answer.items) <= 10
    assert topic_of(bench, answer.items[0].url) == "housing"
    assert len((await bench.reader.related(SCOPE, "tenants rent strike", 99)).items) <= 10
    assert len((await bench.reader.related(SCOPE, "tenants rent strike", 0)).items) == 1
    with pytest.raises(InvalidInput):
        await bench.reader.related(SCOPE, "!!! ???")


async def test_related_to_a_page_not_in_the_archive(bench: Bench) -> None:
    item = bench.items[UNARCHIVED_SLUG]
    answer = await bench.reader.related(SCOPE, bench.site.article_url(item))
    assert answer.items and topic_of(bench, answer.items[0].url) == "health"


async def test_related_buttons_by_id(bench: Bench) -> None:
    item = with_standfirst(bench)
    answer = await bench.reader.related_to_archived(SCOPE, bench.ids[item.slug])
    assert len(answer.items) == 5
    with pytest.raises(NotFound):
        await bench.reader.related_to_archived(SCOPE, 999999)


# -- /search ------------------------------------------------------------------------------------


HOSTILE_QUERIES = (
    '"unbalanced',
    "NEAR(",
    "rent NEAR( strike",
    "title:rent",
    "rent*",
    "-rent",
    "AND OR NOT",
    'a"b"c\'d',
    "^rent",
    "rent\x00strike",
    "\u202erent",
    "rent)) OR ((",
    "NEAR(rent strike, 2)",
)


async def test_search_answers_any_text(bench: Bench) -> None:
    for query in HOSTILE_QUERIES:
        page = await bench.reader.search(SCOPE, query)
        assert page.page == 1 and len(page.hits) <= 5, query
    # The operator is read as a plain word, so the search still finds articles.
    near = await bench.reader.search(SCOPE, "NEAR(rent strike")
    assert near.hits and all("**" in hit.snippet for hit in near.hits)


async def test_search_finds_highlights_and_pages(bench: Bench) -> None:
    first = await bench.reader.search(SCOPE, "workers")
    assert len(first.hits) == 5 and first.has_more
    assert all("**" in hit.snippet or "**" in hit.title_highlighted for hit in first.hits)
    second = await bench.reader.search(SCOPE, "workers", 2)
    assert second.page == 2
    assert not {h.article.id for h in first.hits} & {h.article.id for h in second.hits}
    quoted = await bench.reader.search(SCOPE, '"rent strike')
    assert quoted.hits and "Riverside" in quoted.hits[0].article.title


async def test_search_empty_results_and_empty_query(bench: Bench) -> None:
    none = await bench.reader.search(SCOPE, "xylophonist")
    assert none.hits == () and not none.has_more
    with pytest.raises(InvalidInput, match="word"):
        await bench.reader.search(SCOPE, "  ?!  ")


# -- /latest ------------------------------------------------------------------------------------


async def test_latest_lists_this_guilds_feeds_newest_first(bench: Bench) -> None:
    latest = await bench.reader.latest(SCOPE, count=4)
    assert len(latest) == 4
    dates = [ref.published for ref in latest]
    assert all(d is not None for d in dates)
    assert dates == sorted(dates, reverse=True)  # type: ignore[type-var]
    newest = max((i for s, i in bench.items.items() if s in bench.ids), key=lambda i: i.published)
    assert latest[0].title == newest.title
    assert await bench.reader.latest(SCOPE, feed=str(bench.feed_id), count=2) == latest[:2]
    assert len(await bench.reader.latest(SCOPE, count=50)) == 10


async def test_latest_refuses_other_feeds_and_feedless_guilds(bench: Bench) -> None:
    with pytest.raises(NotFound, match="does not follow that feed"):
        await bench.reader.latest(SCOPE, feed="424242")
    with pytest.raises(NotFound, match="does not follow that feed"):
        await bench.reader.latest(SCOPE, feed="not a number")
    with pytest.raises(NotFound, match="any feeds"):
        await bench.reader.latest(GuildScope(OTHER_GUILD))


# -- autocomplete -------------------------------------------------------------------------------


async def test_article_choices_are_recent_titles_within_discord_limits(bench: Bench) -> None:
    everything = await bench.reader.article_choices(SCOPE, "")
    assert len(everything) == 25
    assert all(1 <= len(c.name) <= 100 and len(c.value) <= 100 for c in everything)
    narrowed = await bench.reader.article_choices(SCOPE, "RENT")
    assert narrowed and all("rent" in c.name.lower() for c in narrowed)
    chosen = await bench.reader.summary(SCOPE, narrowed[0].value)
    assert chosen.title == narrowed[0].name
    assert await bench.reader.article_choices(SCOPE, "100%_\\") == []
    link = bench.site.article_url(with_standfirst(bench))
    assert (await bench.reader.article_choices(SCOPE, link))[0].value == link


async def test_feed_choices_only_offer_this_guilds_feeds(bench: Bench) -> None:
    choices = await bench.reader.feed_choices(SCOPE, "weekly")
    assert [c.value for c in choices] == [str(bench.feed_id)]
    assert await bench.reader.feed_choices(SCOPE, "nothing like it") == []
    assert await bench.reader.feed_choices(GuildScope(OTHER_GUILD), "") == []


# -- helpers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "link"),
    [
        ("read this: https://example.org/a/b?c=1.", "https://example.org/a/b?c=1"),
        ("<https://example.org/x>", "https://example.org/x"),
        ("(see https://example.org/y)", "https://example.org/y"),
        ("ftp://example.org/z and http://example.org/w!", "http://example.org/w"),
        ("no link here", None),
        ("https://", None),
    ],
)
def test_first_link(text: str, link: str | None) -> None:
    assert first_link(text) == link


def test_choice_names_fit_discord() -> None:
    long = choice_name("word " * 60)
    assert len(long) == CHOICE_NAME_LIMIT and long.endswith("…")
    assert choice_name("\u202e\n  ") == "Untitled article"
    assert re.fullmatch(r"[^\n]+", choice_name("two\nlines"))


LIBRARY_TEXT = "The council voted on Tuesday. Evening hours return in May. Staff welcomed it."


async def test_feed_excerpt_serves_as_standfirst_when_the_page_was_never_read(
    bench: Bench,
) -> None:
    # Archived from the feed's full content: no page description, the feed excerpt only.
    [(article_id, _), _] = await bench.storage.add_articles(
        [
            NewArticle(
                canonical_url="https://example.org/story",
                url="https://example.org/story",
                title="Library hours restored",
                excerpt="Campaigners have won back evening opening at three branch libraries.",
                text=LIBRARY_TEXT,
                text_status="done",
            ),
            NewArticle(
                canonical_url="https://example.org/cut",
                url="https://example.org/cut",
                title="Cut excerpt",
                excerpt="The council voted on Tuesday. Evening hours return [&#8230;]",
                text=LIBRARY_TEXT,
                text_status="done",
            ),
        ],
        now=NOW,
    )
    # Archived outside any feed, so only the operator's whole-archive view reads them.
    answer = await bench.reader.summary(WHOLE_ARCHIVE, f"archive:{article_id}")
    assert answer.kind == "publisher"
    assert answer.sentences == (
        "Campaigners have won back evening opening at three branch libraries.",
    )
    cut = await bench.reader.summary(WHOLE_ARCHIVE, "https://example.org/cut")
    assert cut.kind == "extractive"
    assert cut.sentences[0] == "The council voted on Tuesday."
