"""Hostile pages cost bounded time: the bot keeps announcing and answering while they are read.

The news-site stand-in serves a 5 MB page that takes extraction tens of seconds (to /summary)
and a home page whose declared feed takes seconds to parse (to /feeds add). Both are read in the
worker pool, which kills each job at its deadline; meanwhile a new article is announced and
/latest is answered within a second.
"""

from __future__ import annotations

import time

from tests.bench.discord_standin import InteractionHandle
from tests.bench.news_site import (
    PATHOLOGICAL_FEED_PATH,
    PATHOLOGICAL_HOME_PATH,
    PATHOLOGICAL_PAGE_PATH,
    MiB,
)
from tests.e2e.conftest import BenchFactory, message_text
from tests.e2e.support import follow_site

DEADLINE_SECONDS = 5.0


def answered(handle: InteractionHandle) -> bool:
    """True once the bot has given its final answer (not just 'thinking')."""
    return handle.original_message_id is not None and not handle.original_loading


async def test_hostile_pages_are_stopped_at_the_deadline_while_the_bot_stays_responsive(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(
        fetch={"max_page_bytes": 6 * MiB},  # let the 5 MB page through to extraction
        workers={"job_timeout_seconds": DEADLINE_SECONDS},
        # The sample articles carry their own (old) dates; announce them whatever their age.
        announcements={"per_channel_interval_seconds": 0.0, "max_age_days": 0.0},
    ) as bench:
        await follow_site(bench.app, bench.seed, bench.site.feed_url)
        bench.app.poller.wake()  # polling goes on in the background from now on
        site, member = bench.site, bench.seed.member_id
        page_served = site.next_request(PATHOLOGICAL_PAGE_PATH)
        home_served = site.next_request(PATHOLOGICAL_HOME_PATH)
        summary = await bench.command(
            "summary", {"article": site.url(PATHOLOGICAL_PAGE_PATH)}, user=member
        )
        feeds_add = await bench.command(
            "feeds add", {"url": site.url(PATHOLOGICAL_HOME_PATH), "channel": bench.seed.news_id}
        )
        await page_served
        await home_served

        # While the hostile pages are being read, members get answers at once ...
        started = time.monotonic()
        latest = await bench.command("latest", {"count": 3}, user=member)
        await latest.reply(5)
        assert time.monotonic() - started < 1.0
        assert not answered(summary)

        # ... and a new article is announced.
        new_item = site.publish_next()
        await bench.discord.wait_until(
            lambda: any(
                new_item.title in message_text(message).replace("\\", "")
                for message in bench.discord.messages_in(bench.seed.news_id)
            ),
            timeout=20,
            what="the new article's announcement",
        )
        assert not answered(summary)  # still being read: announcing did not wait for it

        # The hostile jobs are killed at their deadline and the people who asked are told why.
        summary_text = message_text(await summary.reply(4 * DEADLINE_SECONDS + 10))
        assert (
            f"Reading this page took too long (over {DEADLINE_SECONDS:g} s), "
            "so Paperboy stopped." in summary_text
        )
        add_text = message_text(await feeds_add.reply(4 * DEADLINE_SECONDS + 10))
        assert (
            f"declares the feed {site.url(PATHOLOGICAL_FEED_PATH)}, but: Reading this feed took "
            f"too long (over {DEADLINE_SECONDS:g} s), so Paperboy stopped." in add_text
        ), add_text
        assert not await bench.app.storage.scalar(
            "SELECT count(*) FROM feeds WHERE url = ?", (site.url(PATHOLOGICAL_FEED_PATH),)
        )
        assert bench.app.pool.killed >= 2  # the page and the feed
        exported = bench.app.metrics.render().decode()
        assert f"paperboy_pool_jobs_killed_total {float(bench.app.pool.killed)}" in exported
        assert len(bench.app.pool.pids) <= bench.config.workers.processes

        status = await bench.command("feeds status")
        assert "Event loop blocked over 250 ms since start:" in message_text(await status.reply(5))
