"""Feeds and pages read through the worker pool: same results, and a deadline the poller records."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.articles.extract import extract_article, extract_in_thread
from bot.clock import FakeClock
from bot.config import WorkersConfig
from bot.errors import FeedError
from bot.feeds import parse_feed, parse_feed_off_loop
from bot.fetch import Fetcher, make_session
from bot.ingest.poller import Poller
from bot.storage import Storage
from bot.workpool import JobTimedOut, WorkPool
from tests.bench.news_site import pathological_page
from tests.conftest import make_config
from tests.hardening.support import NOW, SLOW_PATH_HEAD, many_items_feed, web_server

URL = "https://p.example/feed"


@pytest.fixture
async def quick_pool() -> AsyncIterator[WorkPool]:
    """A pool whose deadline is far shorter than a 10,000-item feed or a 5 MB page takes."""
    pool = WorkPool(WorkersConfig(processes=2, job_timeout_seconds=0.5))
    yield pool
    await pool.close()


async def test_a_feed_parsed_in_a_worker_equals_one_parsed_here(quick_pool: WorkPool) -> None:
    body = many_items_feed(50)
    in_worker = await parse_feed_off_loop(body, url=URL, now=NOW, pool=quick_pool)
    assert in_worker == parse_feed(body, url=URL, now=NOW)


async def test_a_feed_past_the_deadline_is_a_too_slow_feed_error(quick_pool: WorkPool) -> None:
    with pytest.raises(FeedError) as caught:
        await parse_feed_off_loop(
            many_items_feed(10_000, head=SLOW_PATH_HEAD), url=URL, now=NOW, pool=quick_pool
        )
    assert caught.value.kind == "too-slow"
    assert str(caught.value) == "Reading this feed took too long (over 0.5 s), so Paperboy stopped."


async def test_the_poller_records_a_feed_stopped_at_the_deadline(
    storage: Storage, tmp_path: Path, quick_pool: WorkPool
) -> None:
    body = many_items_feed(10_000, head=SLOW_PATH_HEAD)

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/rss+xml")

    config = make_config(tmp_path)
    async with web_server({"/feed": serve}) as base, make_session(config.fetch, "t") as session:
        feed = await storage.add_feed(f"{base}/feed", now=NOW)
        poller = Poller(storage, Fetcher(session, config.fetch), config, FakeClock(NOW),
                        rng=random.Random(1), pool=quick_pool)  # fmt: skip
        outcome = await poller.poll_feed(feed.id)
    assert not outcome.ok
    stored = await storage.feed_by_url(f"{base}/feed")
    assert stored is not None and stored.last_error_kind == "too-slow"
    assert quick_pool.killed == 1


async def test_a_page_extracted_in_a_worker_equals_one_extracted_here(
    quick_pool: WorkPool,
) -> None:
    page = b"<html><head><title>T</title></head><body><p>" + b"Words here. " * 40 + b"</p></body>"
    in_worker = await extract_in_thread(page, "https://p.example/a", pool=quick_pool)
    assert in_worker == extract_article(page, "https://p.example/a")


async def test_a_5_mb_page_is_stopped_at_the_deadline(quick_pool: WorkPool) -> None:
    with pytest.raises(JobTimedOut, match=r"over 0\.5 s"):
        await extract_in_thread(pathological_page(), "https://p.example/long", pool=quick_pool)
