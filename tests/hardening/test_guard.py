"""The private-network guard, through the Fetcher, the archiver and announcements.

Every spelling and route from the ingestion issue: loopback, RFC 1918, link-local (cloud metadata
169.254.169.254), CGNAT, fc00::/7, fec0::/10, multicast, unspecified, IPv4-mapped IPv6 and the
legacy IPv4 forms; redirects to them and names that resolve to them; and the links and images of
feed items.
"""

from __future__ import annotations

import random
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiohttp import web

from bot.clock import FakeClock
from bot.config import FetchConfig
from bot.errors import FetchError
from bot.feeds import parse_feed
from bot.fetch import (
    Fetcher,
    FetchKind,
    make_session,
    non_public_reason,
    parse_ip_host,
)
from bot.fetch.http import redirect_target
from bot.ingest.archiver import Archiver
from bot.ingest.poller import Poller
from bot.storage import Storage
from tests.conftest import make_config
from tests.hardening.support import (
    LOOPBACK_SPELLINGS,
    METADATA,
    NOW,
    OTHER_PRIVATE_HOSTS,
    FixedResolver,
    RecordingFetcher,
    announcement_of,
    recording_server,
    render_everywhere,
    web_server,
)

GUARDED = FetchConfig(total_timeout_seconds=5.0, connect_timeout_seconds=2.0)
LOCAL = FetchConfig(allow_private_addresses=True, total_timeout_seconds=5.0)

PRIVATE_ADDRESSES = [
    "127.0.0.1", "10.1.2.3", "172.31.255.255", "192.168.0.10", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.251", "::1", "fc00::1", "fe80::1", "::ffff:10.0.0.1", "ff02::1",
    "fec0::1",
]  # fmt: skip


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
@pytest.mark.parametrize("kind", ["feed", "page"])
async def test_no_spelling_of_loopback_is_fetched(host: str, kind: FetchKind) -> None:
    async with recording_server() as (port, hits), make_session(GUARDED, "t") as session:
        with pytest.raises(FetchError) as caught:
            await Fetcher(session, GUARDED).fetch(f"http://{host}:{port}/x", kind=kind, now=NOW)
    assert caught.value.kind in ("private-address", "invalid-url")
    assert str(caught.value).endswith(".")
    assert hits == []


@pytest.mark.parametrize("host", OTHER_PRIVATE_HOSTS)
async def test_every_private_range_is_refused_before_any_connection(host: str) -> None:
    async with make_session(GUARDED, "t") as session:
        with pytest.raises(FetchError) as caught:
            await Fetcher(session, GUARDED).fetch(f"http://{host}/latest/", kind="feed", now=NOW)
    assert caught.value.kind == "private-address"
    assert "private network" in str(caught.value)


@pytest.mark.parametrize("address", PRIVATE_ADDRESSES)
async def test_a_public_looking_name_that_resolves_privately_is_refused(address: str) -> None:
    resolver = FixedResolver(address)
    async with make_session(GUARDED, "t", resolver=resolver) as session:
        with pytest.raises(FetchError) as caught:
            await Fetcher(session, GUARDED).fetch(
                "http://news.paper.example/feed/", kind="feed", now=NOW
            )
    assert caught.value.kind == "private-address"
    assert resolver.lookups == ["news.paper.example"]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS + OTHER_PRIVATE_HOSTS)
def test_a_redirect_to_any_private_spelling_is_refused(host: str) -> None:
    with pytest.raises(FetchError) as caught:
        redirect_target("http://news.paper.example/feed/", f"http://{host}/x", allow_private=False)
    assert caught.value.kind in ("private-address", "invalid-url")


@pytest.mark.parametrize("target", [METADATA, "http://2130706433/", "http://[::ffff:10.0.0.1]/"])
async def test_a_real_redirect_to_a_private_address_is_not_followed(target: str) -> None:
    # The site is reached by name through a permissive connector, so only the Fetcher's own
    # per-hop check stands between the redirect and the private address.
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(target)

    async with web_server({"/feed/": redirect}) as base:
        port = urlsplit(base).port
        async with make_session(LOCAL, "t", resolver=FixedResolver("127.0.0.1")) as session:
            with pytest.raises(FetchError) as caught:
                await Fetcher(session, GUARDED).fetch(
                    f"http://news.paper.example:{port}/feed/", kind="feed", now=NOW
                )
    assert caught.value.kind == "private-address"


def hostile_feed(base: str) -> bytes:
    """A feed whose items point at cloud metadata and the intranet, in link and image."""
    items = [
        (METADATA, "http://169.254.169.254/latest/meta-data/iam/info.png"),
        ("http://10.0.0.8/admin/", "http://[::ffff:192.168.1.1]/cam.jpg"),
        ("http://2130706433/secret", "http://0x7f.1/logo.png"),
    ]
    parts = [
        "<?xml version='1.0'?><rss version='2.0' xmlns:media='http://search.yahoo.com/mrss/'>",
        f"<channel><title>Hostile</title><link>{base}/</link>",
    ]
    for number, (link, image) in enumerate(items, 1):
        parts.append(
            f"<item><title>Trap {number}</title><link>{link}</link><guid>trap-{number}</guid>"
            f"<pubDate>Sat, 14 Mar 2026 11:0{number}:00 GMT</pubDate>"
            f"<description>A short excerpt.</description>"
            f"<media:content url='{image}' medium='image'/></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


async def test_the_archiver_never_fetches_item_links_into_private_networks(
    storage: Storage, tmp_path: Path
) -> None:
    config = make_config(tmp_path)
    clock = FakeClock(NOW)
    served: list[bytes] = []

    async def feed(request: web.Request) -> web.Response:
        return web.Response(body=served[0], content_type="application/rss+xml")

    async with web_server({"/feed/": feed}) as base:
        served.append(hostile_feed(base))
        # The feed itself is on loopback (a test stand-in); the archiver runs guarded, as in
        # production, with a resolver that would hand every name to the loopback server.
        async with make_session(config.fetch, "t") as local_session:
            poller = Poller(storage, Fetcher(local_session, config.fetch), config, clock,
                            rng=random.Random(3))  # fmt: skip
            added = await storage.add_feed(f"{base}/feed/", now=NOW)
            outcome = await poller.poll_feed(added.id)
        assert outcome.ok and len(outcome.new_articles) == 3
        async with (
            recording_server() as (_port, hits),
            make_session(GUARDED, "t", resolver=FixedResolver("127.0.0.1")) as guarded_session,
        ):
            fetcher = RecordingFetcher(guarded_session, GUARDED)
            archiver = Archiver(storage, fetcher, config, clock)
            report = await archiver.archive_pending()
    assert sorted(report.failed) == sorted(outcome.new_articles)
    assert {kind for _, kind in fetcher.outcomes} == {"private-address"}
    assert hits == []
    statuses = await storage.fetch_all("SELECT text_status, text FROM articles")
    assert all(row["text_status"] == "failed" for row in statuses)
    assert not any("instance-id" in row["text"] for row in statuses)


def private_host(url: str | None) -> bool:
    if not url:
        return False
    host = urlsplit(url).hostname or ""
    address = parse_ip_host(host)
    return host.endswith("localhost") or (
        address is not None and non_public_reason(address) is not None
    )


def test_announcements_never_embed_private_network_images() -> None:
    parsed = parse_feed(hostile_feed("https://news.paper.example"),
                        url="https://news.paper.example/feed/", now=NOW)  # fmt: skip
    assert len(parsed.items) == 3
    offending = []
    for item in parsed.items:
        for plan in render_everywhere(announcement_of(item, parsed)):
            for embed in plan.embeds:
                for url in (embed.image_url, embed.thumbnail_url, embed.footer_icon_url):
                    if private_host(url):
                        offending.append(url)
            if private_host(plan.avatar_url):
                offending.append(plan.avatar_url)
    assert offending == []
