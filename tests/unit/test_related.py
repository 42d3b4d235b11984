"""Related articles, search and the summary cache on a small hand-written archive (real SQLite)."""

# ruff: noqa: E501  (sample prose is kept one sentence or one article per line)

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench._common import insert_article
from bot.articles.related import (
    index_article,
    recency_factor,
    related_to_article,
    related_to_text,
    related_to_url,
)
from bot.errors import InvalidInput, NotFound
from bot.models import WHOLE_ARCHIVE
from bot.storage import Storage, fts_query

# Three topics, three articles each, written for this test.
ARCHIVE = {
    "housing": [
        (
            "Rents soar as council housing list grows",
            "Tenants in the borough face record rents. The council housing waiting list has doubled, "
            "and landlords are raising rents again. Tenants unions demand rent controls and new "
            "council homes.",
        ),
        (
            "Tenants union wins rent freeze",
            "After months of campaigning the tenants union won a rent freeze on the estate. Landlords "
            "had planned a rent rise. Tenants say council housing must be built.",
        ),
        (
            "Eviction notices rise for private renters",
            "Private tenants are receiving more eviction notices as landlords sell up. Housing "
            "campaigners call for an end to no-fault evictions and for rent controls.",
        ),
    ],
    "strikes": [
        (
            "Bus drivers strike over pay",
            "Bus drivers walked out over pay after the company offered a below-inflation rise. The "
            "union said the strike would continue until the pay offer improved. Picket lines formed.",
        ),
        (
            "Nurses ballot for strike action",
            "Nurses are voting in a strike ballot over pay and staffing. The union says wages have "
            "fallen behind inflation and that the strike ballot shows anger on the wards.",
        ),
        (
            "Rail workers announce new strike dates",
            "Rail workers in the union announced strike dates after pay talks collapsed. Picket "
            "lines will be at every major station, and the union says the strike has wide support.",
        ),
    ],
    "climate": [
        (
            "Floods hit coastal towns again",
            "Coastal towns were flooded for the third time this winter. Scientists link the floods "
            "to climate change and rising sea levels, and residents want flood defences.",
        ),
        (
            "Climate protesters block oil terminal",
            "Climate activists blocked an oil terminal to protest new drilling licences. They say "
            "fossil fuel expansion is incompatible with climate targets and carbon emissions cuts.",
        ),
        (
            "Heatwave records broken across Europe",
            "Temperature records were broken across Europe in a heatwave scientists say climate "
            "change made far more likely. Carbon emissions keep rising, they warned.",
        ),
    ],
}


@pytest.fixture
async def archive(database_target: str):  # type: ignore[no-untyped-def]
    storage = await Storage.open(database_target)
    topics: dict[int, str] = {}
    for topic, articles in ARCHIVE.items():
        for number, (title, text) in enumerate(articles):
            article_id = await insert_article(
                storage,
                f"https://example.org/{topic}/{number}",
                title,
                text,
                published_iso=f"2024-0{number + 1}-01T12:00:00+00:00",
            )
            assert await index_article(storage, article_id) > 0
            topics[article_id] = topic
    yield storage, topics
    await storage.close()


async def test_same_topic_ranks_first_for_every_article(archive) -> None:  # type: ignore[no-untyped-def]
    storage, topics = archive
    for article_id, topic in topics.items():
        items = await related_to_article(storage, WHOLE_ARCHIVE, article_id, limit=2)
        assert [topics[item.id] for item in items] == [topic, topic], (article_id, items)
        assert article_id not in [item.id for item in items]
        assert items[0].score >= items[1].score > 0
        assert items[0].shared_terms
        assert items[0].url.startswith(f"https://example.org/{topic}/")
        assert items[0].published is not None and items[0].published.tzinfo is not None


async def test_free_text_finds_the_topic(archive) -> None:  # type: ignore[no-untyped-def]
    storage, topics = archive
    items = await related_to_text(
        storage, WHOLE_ARCHIVE, "", "landlords keep putting up the rent", limit=3
    )
    assert {topics[item.id] for item in items} == {"housing"}
    assert "rent" in items[0].shared_terms or "rents" in items[0].shared_terms


async def test_free_text_with_no_words_is_a_clear_error(archive) -> None:  # type: ignore[no-untyped-def]
    storage, _ = archive
    with pytest.raises(InvalidInput):
        await related_to_text(storage, WHOLE_ARCHIVE, "", "!!! ??? 123")
    assert await related_to_text(storage, WHOLE_ARCHIVE, "", "zzyzx quixotic") == []


async def test_url_of_archived_article_uses_the_archive(archive) -> None:  # type: ignore[no-untyped-def]
    storage, topics = archive

    async def must_not_fetch(url: str) -> tuple[str, str]:
        raise AssertionError("archived URL was fetched")

    items = await related_to_url(
        storage, WHOLE_ARCHIVE, "https://example.org/climate/0", must_not_fetch, limit=2
    )
    assert {topics[item.id] for item in items} == {"climate"}


async def test_unknown_url_is_fetched_and_read(archive) -> None:  # type: ignore[no-untyped-def]
    storage, topics = archive
    fetched = []

    async def load(url: str) -> tuple[str, str]:
        fetched.append(url)
        return (
            "Teachers strike",
            "Teachers in the union will strike over pay, picket lines planned.",
        )

    items = await related_to_url(
        storage, WHOLE_ARCHIVE, "https://elsewhere.example/t", load, limit=2
    )
    assert fetched == ["https://elsewhere.example/t"]
    assert {topics[item.id] for item in items} == {"strikes"}


async def test_near_duplicates_are_dropped(archive) -> None:  # type: ignore[no-untyped-def]
    storage, topics = archive
    title, text = ARCHIVE["strikes"][0]
    copy_id = await insert_article(storage, "https://mirror.example/bus", title, text)
    await index_article(storage, copy_id)
    source = next(i for i, t in topics.items() if t == "strikes")
    items = await related_to_article(storage, WHOLE_ARCHIVE, source, limit=5)
    assert copy_id not in [item.id for item in items]


async def test_reindexing_keeps_document_counts_right(archive) -> None:  # type: ignore[no-untyped-def]
    storage, topics = archive
    before = await storage.indexed_article_count()
    frequencies = await storage.document_frequencies(["strike"])
    await index_article(storage, next(iter(topics)))
    assert await storage.indexed_article_count() == before == len(topics)
    assert await storage.document_frequencies(["strike"]) == frequencies


async def test_index_unknown_article_is_not_found(archive) -> None:  # type: ignore[no-untyped-def]
    storage, _ = archive
    with pytest.raises(NotFound):
        await index_article(storage, 10_000)


async def test_unindexed_article_is_indexed_on_demand(archive) -> None:  # type: ignore[no-untyped-def]
    storage, topics = archive
    new_id = await insert_article(
        storage,
        "https://example.org/new",
        "Council rents rise",
        "Council tenants face higher rents as the housing list grows.",
    )
    items = await related_to_article(storage, WHOLE_ARCHIVE, new_id, limit=2)
    assert {topics[item.id] for item in items} == {"housing"}
    assert new_id in await storage.article_terms([new_id])


def test_recency_prior_is_small_and_decays() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    fresh = recency_factor(now, now)
    old = recency_factor(datetime(2015, 1, 1, tzinfo=UTC), now)
    assert 1.0 < old < fresh <= 1.05
    assert recency_factor(None, now) == 1.0


async def test_search_finds_title_matches_first(archive) -> None:  # type: ignore[no-untyped-def]
    storage, _ = archive
    hits = await storage.search_articles(WHOLE_ARCHIVE, "strike", limit=5)
    assert hits
    assert "strike" in hits[0].article.title.lower()
    assert "**" in hits[0].title_highlighted or "**" in hits[0].snippet
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


async def test_search_falls_back_to_any_word(archive) -> None:  # type: ignore[no-untyped-def]
    storage, _ = archive
    hits = await storage.search_articles(WHOLE_ARCHIVE, "heatwave unicornfield")
    assert [hit.article.title for hit in hits] == ["Heatwave records broken across Europe"]


async def test_search_pages(archive) -> None:  # type: ignore[no-untyped-def]
    storage, _ = archive
    first = await storage.search_articles(WHOLE_ARCHIVE, "union", limit=2)
    second = await storage.search_articles(WHOLE_ARCHIVE, "union", limit=2, offset=2)
    assert len(first) == 2 and second
    assert not {h.article.id for h in first} & {h.article.id for h in second}


HOSTILE = [
    '"unbalanced',
    "NEAR(",
    "AND OR NOT",
    "*",
    "-",
    ":",
    "title:strike",
    '""',
    "(((",
    "strike*",
    "^rent",
    "'; DROP TABLE articles; --",
    "NOT strike",
    "\x00",
    "   ",
]


@pytest.mark.parametrize("query", HOSTILE)
async def test_search_is_safe_for_hostile_queries(archive, query: str) -> None:  # type: ignore[no-untyped-def]
    storage, _ = archive
    hits = await storage.search_articles(WHOLE_ARCHIVE, query)
    assert isinstance(hits, list)
    assert await storage.scalar("SELECT count(*) FROM articles") == 9


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=60))
def test_fts_query_always_quotes_every_token(text: str) -> None:
    expression = fts_query(text)
    if expression:
        for part in expression.split(" AND "):
            assert part.startswith('"') and part.endswith('"') and '"' not in part[1:-1]


async def test_summary_cache_round_trip(archive) -> None:  # type: ignore[no-untyped-def]
    storage, topics = archive
    article_id = next(iter(topics))
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert await storage.get_cached_summary(article_id, "brief") is None
    await storage.put_cached_summary(article_id, "brief", "extractive", ["One.", "Two."], now)
    await storage.put_cached_summary(article_id, "brief", "llm", ["Better."], now)
    assert await storage.get_cached_summary(article_id, "brief") == ("llm", ("Better.",))
    assert await storage.get_cached_summary(article_id, "key-points") is None
    await storage.save_article_text(article_id, status="done", text="New text.")  # drops them
    assert await storage.get_cached_summary(article_id, "brief") is None
