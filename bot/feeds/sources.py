"""What people paste, turned into the feed to follow: YouTube, Reddit, Mastodon, Bluesky, blogs.

Pure functions only: each reads a URL (or a page's head) and says which kind of source it is and
which feed addresses to try. The network loop that tries them is `bot.ingest.discovery`.

YouTube: a channel's feed is `/feeds/videos.xml?channel_id=UC<id>`. Its uploads also exist as
playlists named by swapping the `UC` prefix: `UU<id>` (all uploads), `UULF<id>` (videos without
Shorts or live streams), `UUSH<id>` (Shorts only) and `UULV<id>` (live streams), each readable as
`/feeds/videos.xml?playlist_id=...`. The convention is YouTube's own, undocumented but stable
and widely used by feed readers (invidious, FreshRSS users, yarr); some channels lack the
filtered playlists, so the channel's whole feed is the fallback, and the answer says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

from bot.feeds.discover import head_tags
from bot.feeds.identity import resolve_http_url

SourceKind = Literal[
    "youtube",
    "reddit",
    "mastodon",
    "bluesky",
    "substack",
    "ghost",
    "wordpress",
    "blogger",
    "medium",
    "sitemap",
    "feed",
]

YOUTUBE_FEED = "https://www.youtube.com/feeds/videos.xml"
YouTubeVariant = Literal["all", "videos", "shorts", "live"]
YOUTUBE_VARIANT_NOTES: dict[YouTubeVariant, str] = {
    "all": "videos and Shorts",
    "videos": "videos without Shorts",
    "shorts": "Shorts only",
    "live": "live streams only",
}
_PLAYLIST_PREFIX: dict[YouTubeVariant, str] = {"videos": "UULF", "shorts": "UUSH", "live": "UULV"}
_YOUTUBE_TABS: dict[str, YouTubeVariant] = {
    "videos": "videos",
    "shorts": "shorts",
    "streams": "live",
}
_YOUTUBE_HOSTS = frozenset({"youtube.com", "www.youtube.com", "m.youtube.com"})
_CHANNEL_ID = re.compile(r"UC[A-Za-z0-9_-]{22}")
_VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")
_PLAYLIST_ID = re.compile(r"[A-Za-z0-9_-]{10,64}")
_YOUTUBE_NAME = re.compile(r"@?[\w.\-%]{1,100}")
MAX_CHANNEL_SCAN_CHARS = 2 * 1024 * 1024
"""How much of a YouTube page is searched for its channel id (the id sits near the top)."""
# Literal-prefixed patterns: each match attempt is bounded, so the scan is linear.
_CHANNEL_ID_IN_PAGE = (
    re.compile(r'itemprop="channelId" content="(UC[A-Za-z0-9_-]{22})"'),
    re.compile(r'"channelId":"(UC[A-Za-z0-9_-]{22})"'),
    re.compile(r'"externalId":"(UC[A-Za-z0-9_-]{22})"'),
)

_REDDIT_HOSTS = frozenset(
    {"reddit.com", "www.reddit.com", "old.reddit.com", "new.reddit.com", "np.reddit.com"}
)
_SUBREDDIT = re.compile(r"[A-Za-z0-9_+]{2,100}")
_REDDIT_USER = re.compile(r"[A-Za-z0-9_-]{3,20}")
_REDDIT_SORTS = frozenset({"new", "hot", "top", "rising"})
_MASTODON_PATH = re.compile(r"/@([A-Za-z0-9_]{1,30})(?:@([A-Za-z0-9.-]{1,253}))?/?")
_BLUESKY_HOSTS = frozenset({"bsky.app", "www.bsky.app"})
_BLUESKY_ACTOR = re.compile(r"(?:did:[a-z]+:[A-Za-z0-9._:%-]{1,200}|[A-Za-z0-9.-]{1,253})")
_MEDIUM_RESERVED = frozenset({"m", "me", "search", "plans", "membership", "about", "creators"})
_MEDIUM_NAME = re.compile(r"@?[A-Za-z0-9_.-]{1,100}")


@dataclass(frozen=True, slots=True)
class Candidate:
    """One feed address to try, and what it holds when it is not the whole source."""

    url: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Source:
    """A recognised source: its kind, how to name it, and where its feed is (or may be)."""

    kind: SourceKind
    noun: str
    """What a moderator would call it: "YouTube channel", "subreddit", "Mastodon profile"."""
    candidates: tuple[Candidate, ...] = ()
    """Feed addresses to try in order; the first that reads as a feed wins."""
    page: str | None = None
    """A page to read first to learn the feed (YouTube handles and videos carry no channel id)."""
    name: str = ""
    """How the source names itself in the address (r/python, @user@host), when it does."""
    youtube_variant: YouTubeVariant = "all"


def describe(source: Source, title: str, note: str = "") -> str:
    """What `/feeds add` shows: "YouTube channel Example (videos without Shorts)"."""
    name = title.strip() or source.name
    text = f"{source.noun} {name}".strip() if name else source.noun
    return f"{text} ({note})" if note else text


# -- recognising an address -----------------------------------------------------------------------


def recognise(url: str, *, youtube_shorts: bool = True) -> Source | None:
    """The kind of source an address belongs to, from the address alone; None for other sites.

    `youtube_shorts=False` follows a YouTube channel's videos without its Shorts.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme not in ("http", "https") or not host:
        return None
    path = parts.path or "/"
    for reader in (_youtube, _reddit, _bluesky, _medium, _hosted_blog, _mastodon):
        found = reader(host, path, parts.query, youtube_shorts)
        if found is not None:
            return found
    return None


def youtube_feed(channel_id: str, variant: YouTubeVariant) -> tuple[Candidate, ...]:
    """Feed addresses for a channel's uploads of one kind, the filtered playlist first."""
    whole = Candidate(f"{YOUTUBE_FEED}?channel_id={channel_id}", YOUTUBE_VARIANT_NOTES["all"])
    if variant == "all":
        return (whole,)
    playlist = _PLAYLIST_PREFIX[variant] + channel_id[2:]
    filtered = Candidate(f"{YOUTUBE_FEED}?playlist_id={playlist}", YOUTUBE_VARIANT_NOTES[variant])
    # Not every channel has the filtered playlists; the whole channel is better than nothing.
    return (
        filtered,
        Candidate(whole.url, f"videos and Shorts: YouTube lists no {filtered.note} for it"),
    )


def _youtube(host: str, path: str, query: str, shorts: bool) -> Source | None:
    if host == "youtu.be":
        video = path.strip("/").split("/")[0]
        if _VIDEO_ID.fullmatch(video):
            return _youtube_page(f"https://www.youtube.com/watch?v={video}", "all", shorts)
        return None
    if host not in _YOUTUBE_HOSTS:
        return None
    segments = [segment for segment in path.split("/") if segment]
    params = parse_qs(query)
    if not segments:
        return None
    first = segments[0]
    if first == "feeds":
        return None  # already a feed: read as one
    if first == "watch" and _VIDEO_ID.fullmatch((params.get("v") or [""])[0]):
        return _youtube_page(f"https://www.youtube.com/watch?v={params['v'][0]}", "all", shorts)
    if first in ("shorts", "live") and len(segments) > 1 and _VIDEO_ID.fullmatch(segments[1]):
        return _youtube_page(f"https://www.youtube.com/watch?v={segments[1]}", "all", shorts)
    if first == "playlist":
        playlist = (params.get("list") or [""])[0]
        if _PLAYLIST_ID.fullmatch(playlist):
            return Source(
                "youtube",
                "YouTube playlist",
                (Candidate(f"{YOUTUBE_FEED}?playlist_id={playlist}"),),
                name=playlist,
            )
        return None
    tab = segments[2] if first in ("channel", "c", "user") and len(segments) > 2 else ""
    if first.startswith("@") and len(segments) > 1:
        tab = segments[1]
    variant = _YOUTUBE_TABS.get(tab.lower(), "all")
    if first == "channel" and len(segments) > 1 and _CHANNEL_ID.fullmatch(segments[1]):
        variant = _without_shorts(variant, shorts)
        return Source(
            "youtube",
            "YouTube channel",
            youtube_feed(segments[1], variant),
            youtube_variant=variant,
        )
    if first.startswith("@") and _YOUTUBE_NAME.fullmatch(first):
        return _youtube_page(f"https://www.youtube.com/{quote(first, safe='@%')}", variant, shorts)
    if first in ("c", "user") and len(segments) > 1 and _YOUTUBE_NAME.fullmatch(segments[1]):
        page = f"https://www.youtube.com/{first}/{quote(segments[1], safe='%')}"
        return _youtube_page(page, variant, shorts)
    return None


def _without_shorts(variant: YouTubeVariant, shorts: bool) -> YouTubeVariant:
    return "videos" if variant == "all" and not shorts else variant


def _youtube_page(page: str, variant: YouTubeVariant, shorts: bool) -> Source:
    return Source(
        "youtube", "YouTube channel", page=page, youtube_variant=_without_shorts(variant, shorts)
    )


def youtube_channel_id(page: bytes | str) -> str | None:
    """The channel id a YouTube channel or video page names: its canonical link, its RSS link,
    or its `channelId` metadata; None when the page names none.

    Reads at most MAX_CHANNEL_SCAN_CHARS with literal-prefixed patterns: linear in the input.
    """
    if isinstance(page, bytes):
        page = page[:MAX_CHANNEL_SCAN_CHARS].decode("utf-8", "replace")
    text = page[:MAX_CHANNEL_SCAN_CHARS]
    for name, attributes in head_tags(text):
        if name != "link":
            continue
        rels = attributes.get("rel", "").lower().split()
        href = attributes.get("href", "")
        if "canonical" in rels or "alternate" in rels:
            found = _channel_id_in_url(href)
            if found:
                return found
    for pattern in _CHANNEL_ID_IN_PAGE:
        match = pattern.search(text)
        if match:
            return match.group(1)
    return None


def _channel_id_in_url(href: str) -> str | None:
    parts = urlsplit(href)
    if (parts.hostname or "").lower() not in _YOUTUBE_HOSTS:
        return None
    segments = [segment for segment in parts.path.split("/") if segment]
    if len(segments) >= 2 and segments[0] == "channel" and _CHANNEL_ID.fullmatch(segments[1]):
        return segments[1]
    channel = (parse_qs(parts.query).get("channel_id") or [""])[0]
    return channel if _CHANNEL_ID.fullmatch(channel) else None


def _reddit(host: str, path: str, _query: str, _shorts: bool) -> Source | None:
    if host not in _REDDIT_HOSTS:
        return None
    segments = [segment for segment in path.split("/") if segment]
    if len(segments) < 2:
        return None
    first, name = segments[0].lower(), segments[1].removesuffix(".rss")  # /r/x.rss is a feed too
    if first == "r" and _SUBREDDIT.fullmatch(name):
        sort = segments[2].lower() if len(segments) > 2 else ""
        tail = f"{sort}/" if sort in _REDDIT_SORTS else ""
        feed = f"https://www.reddit.com/r/{name}/{tail}.rss"
        return Source("reddit", "subreddit", (Candidate(feed),), name=f"r/{name}")
    if first in ("u", "user") and _REDDIT_USER.fullmatch(name):
        feed = f"https://www.reddit.com/user/{name}/.rss"
        return Source("reddit", "Reddit user", (Candidate(feed),), name=f"u/{name}")
    return None


def _bluesky(host: str, path: str, _query: str, _shorts: bool) -> Source | None:
    if host not in _BLUESKY_HOSTS:
        return None
    segments = [segment for segment in path.split("/") if segment]
    if len(segments) < 2 or segments[0] != "profile" or not _BLUESKY_ACTOR.fullmatch(segments[1]):
        return None
    if len(segments) > 2 and segments[2] == "rss":
        return None  # already the feed
    actor = segments[1]
    feed = f"https://bsky.app/profile/{actor}/rss"
    return Source("bluesky", "Bluesky profile", (Candidate(feed),), name=f"@{actor}")


def _medium(host: str, path: str, _query: str, _shorts: bool) -> Source | None:
    if host.endswith(".medium.com") and host != "www.medium.com":
        if path.startswith("/feed"):
            return None
        return Source("medium", "Medium blog", (Candidate(f"https://{host}/feed"),))
    if host not in ("medium.com", "www.medium.com"):
        return None
    segments = [segment for segment in path.split("/") if segment]
    if not segments or segments[0] == "feed" or segments[0] in _MEDIUM_RESERVED:
        return None
    first = segments[0]
    if first == "tag" and len(segments) > 1 and _MEDIUM_NAME.fullmatch(segments[1]):
        feed = f"https://medium.com/feed/tag/{segments[1]}"
        return Source("medium", "Medium tag", (Candidate(feed),), name=segments[1])
    if not _MEDIUM_NAME.fullmatch(first):
        return None
    noun = "Medium author" if first.startswith("@") else "Medium publication"
    return Source("medium", noun, (Candidate(f"https://medium.com/feed/{first}"),), name=first)


def _hosted_blog(host: str, path: str, _query: str, _shorts: bool) -> Source | None:
    """Blogs on a platform's own domain, whose feed address is the platform's convention."""
    root = f"https://{host}"
    if host.endswith(".substack.com") and not path.startswith("/feed"):
        return Source("substack", "Substack newsletter", (Candidate(f"{root}/feed"),))
    if ".blogspot." in host and not path.startswith("/feeds/"):
        return Source("blogger", "Blogger blog", (Candidate(f"{root}/feeds/posts/default"),))
    if host.endswith(".ghost.io") and not path.startswith("/rss"):
        return Source("ghost", "Ghost blog", (Candidate(f"{root}/rss/"),))
    if host.endswith(".wordpress.com") and not path.startswith("/feed"):
        return Source("wordpress", "WordPress blog", (Candidate(f"{root}/feed/"),))
    return None


def _mastodon(host: str, path: str, _query: str, _shorts: bool) -> Source | None:
    """`https://host/@user`: Mastodon (and compatible servers) publish `/@user.rss`."""
    match = _MASTODON_PATH.fullmatch(path)
    if match is None:
        return None
    user, home = match.group(1), (match.group(2) or host).lower()
    # A remote account shown on another server: its RSS lives on its own server.
    feed = f"https://{home}/@{user}.rss"
    return Source("mastodon", "Mastodon profile", (Candidate(feed),), name=f"@{user}@{home}")


# -- recognising a page ---------------------------------------------------------------------------

_GENERATORS: tuple[tuple[str, SourceKind, str, str], ...] = (
    ("wordpress", "wordpress", "WordPress site", "/feed/"),
    ("ghost", "ghost", "Ghost site", "/rss/"),
    ("blogger", "blogger", "Blogger blog", "/feeds/posts/default"),
    ("substack", "substack", "Substack newsletter", "/feed"),
    ("medium", "medium", "Medium publication", "/feed"),
)


def platform_of_page(page: bytes | str, page_url: str) -> Source | None:
    """The blogging platform a page says it runs on (`<meta name="generator">`), with that
    platform's feed address; None when the page names none we know. One linear head scan."""
    if isinstance(page, bytes):
        page = page[: 4 * 64 * 1024].decode("utf-8", "replace")
    for name, attributes in head_tags(page):
        if name != "meta" or attributes.get("name", "").lower() != "generator":
            continue
        generator = attributes.get("content", "").lower()
        for marker, kind, noun, feed_path in _GENERATORS:
            if generator.startswith(marker):
                feed = resolve_http_url(feed_path, page_url)
                return Source(kind, noun, (Candidate(feed),) if feed else ())
    return None


# -- sites without a feed ------------------------------------------------------------------------

SITEMAP_PATHS = ("/news-sitemap.xml", "/sitemap_news.xml", "/sitemap.xml")
"""Where sites usually put their sitemaps, news sitemaps first (they carry titles and dates)."""
MAX_ROBOTS_SITEMAPS = 4
_ROBOTS_SITEMAP = re.compile(r"[ \t]*sitemap[ \t]*:[ \t]*(\S+)", re.IGNORECASE)


def sitemap_candidates(robots_txt: str, site_url: str) -> list[str]:
    """Sitemap addresses to try for a site: its robots.txt `Sitemap:` lines (news ones first,
    at most MAX_ROBOTS_SITEMAPS), then the usual paths. Linear in the robots.txt size."""
    declared: list[str] = []
    for line in robots_txt.splitlines():
        match = _ROBOTS_SITEMAP.match(line)
        if match is None:
            continue
        url = resolve_http_url(match.group(1), site_url)
        if url and url not in declared:
            declared.append(url)
        if len(declared) >= MAX_ROBOTS_SITEMAPS:
            break
    # News sitemaps first (stable: page order otherwise); the path decides, not the host name.
    declared.sort(key=lambda url: "news" not in urlsplit(url).path.lower())
    parts = urlsplit(site_url)
    usual = [urlunsplit((parts.scheme, parts.netloc, path, "", "")) for path in SITEMAP_PATHS]
    return _unique(declared + usual)


def robots_url(site_url: str) -> str:
    """The site's robots.txt address."""
    parts = urlsplit(site_url)
    return urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))


def _unique(urls: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for url in urls:
        if url not in seen:
            seen.append(url)
    return seen
