"""Stand-ins for the places people paste: YouTube, Reddit, Mastodon, Bluesky, blogging platforms
and a news site with no feed, served over HTTPS under their real host names.

One aiohttp server on 127.0.0.1 answers for every host in HOSTS (it looks at the Host header),
with a throwaway certificate naming them all. `PlatformSites.resolver()` maps those names to the
server and `PlatformSites.tls()` trusts its certificate: handed to `open_app` (or `make_session`),
they let a test paste https://www.youtube.com/@weeklyworker and reach this stand-in, with the
private-network guard, size caps and redirects working as they do for any site.

The markup follows each platform's URL structure and document shapes (written for these tests):
YouTube's channel page with its canonical and RSS links and its `videos.xml` Atom feeds (by
channel and by UULF/UUSH playlist), Reddit's Atom `.rss`, Mastodon's `@user.rss`, Bluesky's
`/rss`, Substack/Ghost/WordPress/Blogger/Medium feeds, and a Google News sitemap with its pages.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from types import TracebackType
from typing import Literal

from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from tests.bench.news_site_articles import SampleArticle, load_articles

Platform = Literal[
    "youtube", "reddit", "mastodon", "bluesky", "substack", "ghost", "wordpress", "blogger",
    "medium", "news",
]  # fmt: skip
PLATFORMS: tuple[Platform, ...] = (
    "youtube", "reddit", "mastodon", "bluesky", "substack", "ghost", "wordpress", "blogger",
    "medium", "news",
)  # fmt: skip

CHANNEL_ID = "UCw8ZhLPdQ0u7Y-3cNbKx2Vg"
CHANNEL_NAME = "The Weekly Worker"
HANDLE = "weeklyworker"
MASTODON_HOST = "mastodon.social"
BLUESKY_HANDLE = "weeklyworker.bsky.social"
SUBSTACK_HOST = "weeklyworker.substack.com"
GHOST_HOST = "ghost.weeklyworker.org"
WORDPRESS_HOST = "blog.weeklyworker.org"
BLOGGER_HOST = "weeklyworker.blogspot.com"
NEWS_HOST = "news.weeklyworker.org"
HOSTS = (
    "www.youtube.com", "youtube.com", "m.youtube.com", "youtu.be", "www.reddit.com",
    "reddit.com", "old.reddit.com", MASTODON_HOST, "bsky.app", SUBSTACK_HOST, GHOST_HOST,
    WORDPRESS_HOST, BLOGGER_HOST, "medium.com", NEWS_HOST,
)  # fmt: skip
_ATOM = "http://www.w3.org/2005/Atom"


@dataclass
class Post:
    """One post on a platform: a video, a Reddit submission, a toot, a blog article."""

    platform: Platform
    ident: str
    title: str
    text: str
    author: str
    published: datetime
    short: bool = False
    """YouTube only: a Short rather than a video."""

    @property
    def url(self) -> str:
        """Where the post lives on its platform (what an announcement links to)."""
        return _post_url(self)


@dataclass
class RequestSeen:
    """A request the stand-in answered: host, path, query and User-Agent."""

    host: str
    path: str
    query: str
    user_agent: str


@dataclass
class PlatformSites:
    """The stand-in: posts per platform, a log of requests, and switches for Reddit's refusals."""

    articles: Sequence[SampleArticle] = field(default_factory=load_articles)
    requests: list[RequestSeen] = field(default_factory=list)
    reddit_refusal: int | None = None
    """429 or 403: Reddit's answer to every feed request while set."""
    broken_paths: set[str] = field(default_factory=set)
    """Paths that answer 503 (on any host) while listed."""
    certificate_dir: Path | None = None

    def __post_init__(self) -> None:
        self.posts: dict[Platform, list[Post]] = {platform: [] for platform in PLATFORMS}
        samples = sorted(self.articles, key=lambda article: (article.published, article.slug))
        self._samples = samples
        self._published = 0
        self._port = 0
        self._runner: web.AppRunner | None = None
        self._cert: Path | None = None
        for platform in PLATFORMS:
            for _ in range(3):
                self.publish(platform)
        self.publish("youtube", short=True)

    # -- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> PlatformSites:
        folder = self.certificate_dir
        if folder is None:
            raise ValueError("PlatformSites needs certificate_dir (a temporary folder)")
        self._cert, key = self_signed_certificate(folder, HOSTS)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self._cert, key)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=context).start()
        self._port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def resolver(self) -> AbstractResolver:
        """A resolver sending every stand-in host name to this server (others: unknown)."""
        return _HostMap(self._port)

    def tls(self) -> ssl.SSLContext:
        """A client TLS context that trusts this server's certificate (and nothing else)."""
        assert self._cert is not None, "start the stand-in first"
        return ssl.create_default_context(cafile=str(self._cert))

    # -- content --------------------------------------------------------------------------------

    def publish(self, platform: Platform, *, short: bool = False) -> Post:
        """A new post on `platform`, newer than everything there."""
        # The corpus is reused in turn once every sample has been posted somewhere.
        article = self._samples[self._published % len(self._samples)]
        turn = self._published // len(self._samples)
        self._published += 1
        title = article.title if turn == 0 else f"{article.title} (part {turn + 1})"
        existing = self.posts[platform]
        when = article.published
        if existing and when <= existing[0].published:
            when = existing[0].published + timedelta(hours=1)
        ident = _ident(platform, f"{article.slug}-{turn}", 11 if platform == "youtube" else 7)
        post = Post(
            platform,
            ident,
            title,
            article.standfirst or article.paragraphs[0],
            article.author,
            when,
            short=short,
        )
        existing.insert(0, post)
        return post

    def seen(self, host: str, path: str) -> list[RequestSeen]:
        """Requests answered for this host and path."""
        return [r for r in self.requests if r.host == host and r.path == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        host = (request.host or "").split(":")[0].lower()
        self.requests.append(
            RequestSeen(
                host, request.path, request.query_string, request.headers.get("User-Agent", "")
            )
        )
        if request.path in self.broken_paths:
            return web.Response(status=503, text="Service Unavailable")
        answer = self._route(host, request)
        if answer is None:
            return web.Response(status=404, text="Not Found", content_type="text/html")
        return answer

    def _route(self, host: str, request: web.Request) -> web.StreamResponse | None:
        path, query = request.path, request.query
        if host in ("www.youtube.com", "youtube.com", "m.youtube.com"):
            return self._youtube(path, query)
        if host == "youtu.be":
            raise web.HTTPMovedPermanently(f"https://www.youtube.com/watch?v={path.strip('/')}")
        if host in ("www.reddit.com", "reddit.com", "old.reddit.com"):
            return self._reddit(path)
        if host == MASTODON_HOST:
            return self._mastodon(path)
        if host == "bsky.app":
            return self._bluesky(path)
        if host == "medium.com":
            return _xml(medium_feed(self.posts["medium"])) if path == f"/feed/@{HANDLE}" else None
        blogs: dict[str, tuple[Platform, Callable[[list[Post]], str], str]] = {
            SUBSTACK_HOST: ("substack", substack_feed, "/feed"),
            GHOST_HOST: ("ghost", ghost_feed, "/rss/"),
            WORDPRESS_HOST: ("wordpress", wordpress_feed, "/feed/"),
            BLOGGER_HOST: ("blogger", blogger_feed, "/feeds/posts/default"),
        }
        if host in blogs:
            platform, render, feed_path = blogs[host]
            if path == feed_path:
                return _xml(render(self.posts[platform]))
            if path == "/":
                return _html(blog_home(platform, host, feed_path))
            return self._article(platform, path)
        if host == NEWS_HOST:
            return self._news(path)
        return None

    def _youtube(self, path: str, query: object) -> web.StreamResponse | None:
        params: dict[str, str] = dict(query)  # type: ignore[call-overload]
        videos = self.posts["youtube"]
        if path == "/feeds/videos.xml":
            playlist = params.get("playlist_id", "")
            if params.get("channel_id") == CHANNEL_ID:
                return _xml(youtube_feed(videos), "application/atom+xml; charset=UTF-8")
            if playlist == "UULF" + CHANNEL_ID[2:]:
                chosen = [v for v in videos if not v.short]
                return _xml(youtube_feed(chosen, playlist), "application/atom+xml; charset=UTF-8")
            if playlist == "UUSH" + CHANNEL_ID[2:]:
                chosen = [v for v in videos if v.short]
                return _xml(youtube_feed(chosen, playlist), "application/atom+xml; charset=UTF-8")
            return None
        channel_pages = {f"/@{HANDLE}", f"/channel/{CHANNEL_ID}", f"/c/{HANDLE}", f"/user/{HANDLE}"}
        if path.rstrip("/") in channel_pages or path.rsplit("/", 1)[0] in channel_pages:
            return _html(youtube_channel_page())
        if path == "/watch":
            video = next((v for v in videos if v.ident == params.get("v")), None)
            return _html(youtube_watch_page(video)) if video else None
        return None

    def _reddit(self, path: str) -> web.StreamResponse | None:
        if path.endswith(".rss") and self.reddit_refusal == 429:
            return web.Response(
                status=429,
                text="Too Many Requests",
                headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "420"},
            )
        if path.endswith(".rss") and self.reddit_refusal == 403:
            return web.Response(status=403, text="Forbidden")
        if path == f"/r/{HANDLE}/.rss":
            return _xml(reddit_feed(self.posts["reddit"], f"r/{HANDLE}"), "application/atom+xml")
        if path == f"/user/{HANDLE}/.rss":
            return _xml(reddit_feed(self.posts["reddit"], f"u/{HANDLE}"), "application/atom+xml")
        return None

    def _mastodon(self, path: str) -> web.StreamResponse | None:
        if path == f"/@{HANDLE}.rss":
            return _xml(mastodon_feed(self.posts["mastodon"]), "application/rss+xml")
        if path == f"/@{HANDLE}":
            return _html(mastodon_profile())
        return self._article("mastodon", path)

    def _bluesky(self, path: str) -> web.StreamResponse | None:
        if path == f"/profile/{BLUESKY_HANDLE}/rss":
            return _xml(bluesky_feed(self.posts["bluesky"]))
        if path == f"/profile/{BLUESKY_HANDLE}":
            return _html(f"<!doctype html><html><head><title>@{BLUESKY_HANDLE} on Bluesky</title>"
                         f'<link rel="alternate" type="application/rss+xml" '
                         f'href="https://bsky.app/profile/{BLUESKY_HANDLE}/rss"></head>'
                         "<body><div id=root></div></body></html>")  # fmt: skip
        return None

    def _news(self, path: str) -> web.StreamResponse | None:
        posts = self.posts["news"]
        if path == "/robots.txt":
            body = (
                "User-agent: *\nDisallow: /search\n\n"
                f"Sitemap: https://{NEWS_HOST}/sitemap_index.xml\n"
                f"Sitemap: https://{NEWS_HOST}/news-sitemap.xml\n"
            )
            return web.Response(text=body, content_type="text/plain")
        if path == "/news-sitemap.xml":
            return _xml(news_sitemap(posts), "application/xml; charset=UTF-8")
        if path == "/sitemap_index.xml":
            return _xml(sitemap_index(posts), "application/xml; charset=UTF-8")
        if path == "/post-sitemap.xml":
            return _xml(plain_sitemap(posts), "application/xml; charset=UTF-8")
        if path == "/":
            return _html(news_home(posts))
        return self._article("news", path)

    def _article(self, platform: Platform, path: str) -> web.StreamResponse | None:
        for post in self.posts[platform]:
            if _path_of(post.url) == path:
                return _html(article_page(post))
        return None


class _HostMap(AbstractResolver):
    """Resolves the stand-in's host names to 127.0.0.1 and the stand-in's port."""

    def __init__(self, port: int) -> None:
        self._port = port

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host.lower().rstrip(".") not in HOSTS:
            raise OSError(f"{host} is not a stand-in host")
        return [
            ResolveResult(
                hostname=host,
                host="127.0.0.1",
                port=self._port,
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        return None


def self_signed_certificate(folder: Path, names: Sequence[str]) -> tuple[Path, Path]:
    """A throwaway certificate for `names`, made with the openssl command: (cert, key)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the openssl command is needed for the platform stand-ins")
    cert, key = folder / "platforms.pem", folder / "platforms.key"
    if cert.exists() and key.exists():
        return cert, key  # made earlier in this folder (a session-wide folder saves seconds)
    alt_names = ",".join(f"DNS:{name}" for name in names)
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", f"/CN={names[0]}", "-addext", f"subjectAltName={alt_names}",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


# -- rendering ----------------------------------------------------------------------------------


def _ident(platform: str, slug: str, size: int) -> str:
    digest = hashlib.sha256(f"{platform}:{slug}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:size]


def _post_url(post: Post) -> str:
    slug = post.title.lower().replace(" ", "-")[:40].strip("-")
    slug = "".join(ch for ch in slug if ch.isalnum() or ch == "-")
    match post.platform:
        case "youtube":
            kind = "shorts/" if post.short else "watch?v="
            return f"https://www.youtube.com/{kind}{post.ident}"
        case "reddit":
            return f"https://www.reddit.com/r/{HANDLE}/comments/{post.ident.lower()}/{slug}/"
        case "mastodon":
            return f"https://{MASTODON_HOST}/@{HANDLE}/{int(post.ident.encode().hex()[:12], 16)}"
        case "bluesky":
            return f"https://bsky.app/profile/{BLUESKY_HANDLE}/post/{post.ident.lower()}"
        case "substack":
            return f"https://{SUBSTACK_HOST}/p/{slug}"
        case "ghost":
            return f"https://{GHOST_HOST}/{slug}/"
        case "wordpress":
            return f"https://{WORDPRESS_HOST}/{post.published:%Y/%m/%d}/{slug}/"
        case "blogger":
            return f"https://{BLOGGER_HOST}/{post.published:%Y/%m}/{slug}.html"
        case "medium":
            return f"https://medium.com/@{HANDLE}/{slug}-{post.ident.encode().hex()[:12]}"
        case "news":
            return f"https://{NEWS_HOST}/{post.published:%Y/%m/%d}/{slug}"


def _path_of(url: str) -> str:
    rest = url.split("://", 1)[1]
    return "/" + rest.split("/", 1)[1] if "/" in rest else "/"


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _rfc822(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def _xml(body: str, content_type: str = "application/rss+xml; charset=utf-8") -> web.Response:
    return web.Response(body=body.encode(), headers={"Content-Type": content_type})


def _html(body: str) -> web.Response:
    return web.Response(body=body.encode(), headers={"Content-Type": "text/html; charset=utf-8"})


def youtube_channel_page() -> str:
    """A channel page's head as YouTube serves it: canonical channel URL and the RSS link."""
    return f"""<!DOCTYPE html><html lang="en" dir="ltr"><head>
<meta http-equiv="origin-trial" content="Aw">
<script nonce="x">var ytcfg={{"INNERTUBE_CONTEXT_CLIENT_NAME":1}};</script>
<title>{CHANNEL_NAME} - YouTube</title>
<link rel="canonical" href="https://www.youtube.com/channel/{CHANNEL_ID}">
<link rel="alternate" type="application/rss+xml" title="RSS" href="https://www.youtube.com/feeds/videos.xml?channel_id={CHANNEL_ID}">
<meta property="og:title" content="{CHANNEL_NAME}">
<meta property="og:url" content="https://www.youtube.com/channel/{CHANNEL_ID}">
<meta itemprop="identifier" content="{CHANNEL_ID}">
</head><body><div id="content"><meta itemprop="channelId" content="{CHANNEL_ID}"></div>
<script nonce="x">var ytInitialData = {{"metadata":{{"channelMetadataRenderer":{{"title":"{CHANNEL_NAME}","externalId":"{CHANNEL_ID}","vanityChannelUrl":"http://www.youtube.com/@{HANDLE}"}}}}}};</script>
</body></html>"""


def youtube_watch_page(video: Post) -> str:
    """A watch page: its canonical link is the video's; the channel id is in the body only."""
    return f"""<!DOCTYPE html><html lang="en"><head>
<title>{escape(video.title)} - YouTube</title>
<link rel="canonical" href="https://www.youtube.com/watch?v={video.ident}">
<link rel="alternate" media="handheld" href="https://m.youtube.com/watch?v={video.ident}">
<meta property="og:type" content="video.other">
</head><body><div id="watch7-content" itemscope itemtype="http://schema.org/VideoObject">
<link itemprop="url" href="http://www.youtube.com/watch?v={video.ident}">
<meta itemprop="name" content="{escape(video.title)}">
<span itemprop="author" itemscope itemtype="http://schema.org/Person"><link itemprop="url" href="http://www.youtube.com/@{HANDLE}"></span>
<meta itemprop="channelId" content="{CHANNEL_ID}">
<meta itemprop="videoId" content="{video.ident}">
</div><script nonce="y">var ytInitialPlayerResponse = {{"videoDetails":{{"videoId":"{video.ident}","channelId":"{CHANNEL_ID}"}}}};</script>
</body></html>"""  # noqa: E501


def youtube_feed(videos: list[Post], playlist: str | None = None) -> str:
    """A videos.xml Atom feed in YouTube's shape (yt: and media: namespaces)."""
    if playlist is None:
        head = (f"<link rel=\"self\" href=\"http://www.youtube.com/feeds/videos.xml?channel_id={CHANNEL_ID}\"/>"
                f"<id>yt:channel:{CHANNEL_ID[2:]}</id><yt:channelId>{CHANNEL_ID[2:]}</yt:channelId>")  # fmt: skip  # noqa: E501
    else:
        head = (f"<link rel=\"self\" href=\"http://www.youtube.com/feeds/videos.xml?playlist_id={playlist}\"/>"
                f"<id>yt:playlist:{playlist}</id><yt:playlistId>{playlist}</yt:playlistId>"
                f"<yt:channelId>{CHANNEL_ID}</yt:channelId>")  # fmt: skip
    entries = "".join(
        f"""<entry><id>yt:video:{v.ident}</id><yt:videoId>{v.ident}</yt:videoId>
<yt:channelId>{CHANNEL_ID}</yt:channelId><title>{escape(v.title)}</title>
<link rel="alternate" href="{v.url}"/>
<author><name>{CHANNEL_NAME}</name><uri>https://www.youtube.com/channel/{CHANNEL_ID}</uri></author>
<published>{_iso(v.published)}</published><updated>{_iso(v.published)}</updated>
<media:group><media:title>{escape(v.title)}</media:title>
<media:content url="https://www.youtube.com/v/{v.ident}?version=3" type="application/x-shockwave-flash" width="640" height="390"/>
<media:thumbnail url="https://i1.ytimg.com/vi/{v.ident}/hqdefault.jpg" width="480" height="360"/>
<media:description>{escape(v.text)}</media:description>
<media:community><media:starRating count="12" average="5.00" min="1" max="5"/><media:statistics views="345"/></media:community>
</media:group></entry>"""  # noqa: E501
        for v in videos
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns:media="http://search.yahoo.com/mrss/" xmlns="{_ATOM}">
{head}<title>{CHANNEL_NAME}</title>
<link rel="alternate" href="https://www.youtube.com/channel/{CHANNEL_ID}"/>
<author><name>{CHANNEL_NAME}</name><uri>https://www.youtube.com/channel/{CHANNEL_ID}</uri></author>
<published>2019-03-02T10:00:00+00:00</published>{entries}</feed>"""  # noqa: E501


def reddit_feed(posts: list[Post], where: str) -> str:
    """Reddit's `.rss`, which is Atom: entries with HTML content and the poster as author."""
    entries = "".join(
        f"""<entry><author><name>/u/{escape(p.author.replace(" ", "_"))}</name>
<uri>https://www.reddit.com/user/{escape(p.author.replace(" ", "_"))}</uri></author>
<category term="{HANDLE}" label="r/{HANDLE}"/>
<content type="html">{escape(f'<!-- SC_OFF --><div class="md"><p>{escape(p.text)}</p></div><!-- SC_ON --> &#32; submitted by <a href="https://www.reddit.com/user/x"> /u/x </a>')}</content>
<id>t3_{p.ident.lower()}</id><link href="{p.url}"/>
<updated>{_iso(p.published)}</updated><published>{_iso(p.published)}</published>
<title>{escape(p.title)}</title></entry>"""  # noqa: E501
        for p in posts
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?><feed xmlns="{_ATOM}" xmlns:media="http://search.yahoo.com/mrss/">
<category term="{HANDLE}" label="{where}"/><updated>{_iso(posts[0].published)}</updated>
<icon>https://www.redditstatic.com/icon.png/</icon><id>/{where}/.rss</id>
<link rel="self" href="https://www.reddit.com/{where}/.rss" type="application/atom+xml"/>
<link rel="alternate" href="https://www.reddit.com/{where}/" type="text/html"/>
<subtitle>News and discussion from The Weekly Worker</subtitle><title>{where}</title>{entries}</feed>"""  # noqa: E501


def mastodon_profile() -> str:
    """A Mastodon profile page: the RSS link in its head, the app in its body."""
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{CHANNEL_NAME} (@{HANDLE}@{MASTODON_HOST}) - Mastodon</title>
<link href="https://{MASTODON_HOST}/@{HANDLE}.rss" rel="alternate" type="application/rss+xml">
<link href="https://{MASTODON_HOST}/users/{HANDLE}" rel="alternate" type="application/activity+json">
<meta content="profile" property="og:type"></head><body class="app-body"><div id="mastodon"></div></body></html>"""  # noqa: E501


def mastodon_feed(posts: list[Post]) -> str:
    """`@user.rss`: RSS 2.0 whose items have no title, only the toot's HTML."""
    items = "".join(
        f"""<item><guid isPermaLink="true">{p.url}</guid><link>{p.url}</link>
<pubDate>{_rfc822(p.published)}</pubDate>
<description>{escape(f"<p><strong>{escape(p.title)}</strong></p><p>{escape(p.text)}</p>")}</description></item>"""
        for p in posts
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:webfeeds="http://webfeeds.org/rss/1.0" xmlns:media="http://search.yahoo.com/mrss/">
<channel><title>{CHANNEL_NAME}</title><description>Public posts from @{HANDLE}@{MASTODON_HOST}</description>
<link>https://{MASTODON_HOST}/@{HANDLE}</link><image><url>https://{MASTODON_HOST}/avatar.png</url><title>{CHANNEL_NAME}</title><link>https://{MASTODON_HOST}/@{HANDLE}</link></image>
<lastBuildDate>{_rfc822(posts[0].published)}</lastBuildDate><generator>Mastodon v4.3.0</generator>{items}</channel></rss>"""  # noqa: E501


def bluesky_feed(posts: list[Post]) -> str:
    """Bluesky's profile RSS: items with a link, the post's text and a date, no title."""
    items = "".join(
        f"<item><link>{p.url}</link><description>{escape(p.title + ': ' + p.text)}</description>"
        f'<pubDate>{_rfc822(p.published)}</pubDate><guid isPermaLink="false">at://did:plc:weeklyworker/app.bsky.feed.post/{p.ident.lower()}</guid></item>'
        for p in posts
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>
<description>{CHANNEL_NAME} on Bluesky</description><link>https://bsky.app/profile/{BLUESKY_HANDLE}</link>
<title>@{BLUESKY_HANDLE} - {CHANNEL_NAME}</title>{items}</channel></rss>"""


def _rss(title: str, link: str, generator: str, posts: list[Post], extra_ns: str = "") -> str:
    items = "".join(
        f"""<item><title><![CDATA[{p.title}]]></title><description><![CDATA[{p.text}]]></description>
<link>{p.url}</link><guid isPermaLink="false">{p.ident}</guid><dc:creator><![CDATA[{p.author}]]></dc:creator>
<pubDate>{_rfc822(p.published)}</pubDate><content:encoded><![CDATA[<p>{escape(p.text)}</p>]]></content:encoded></item>"""  # noqa: E501
        for p in posts
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?><rss xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:atom="http://www.w3.org/2005/Atom" version="2.0"{extra_ns}>
<channel><title><![CDATA[{title}]]></title><description><![CDATA[News from {CHANNEL_NAME}]]></description>
<link>{link}</link><generator>{generator}</generator><lastBuildDate>{_rfc822(posts[0].published)}</lastBuildDate>{items}</channel></rss>"""  # noqa: E501


def substack_feed(posts: list[Post]) -> str:
    """Substack's `/feed`."""
    return _rss(CHANNEL_NAME, f"https://{SUBSTACK_HOST}", "Substack", posts)


def ghost_feed(posts: list[Post]) -> str:
    """Ghost's `/rss/`."""
    return _rss(CHANNEL_NAME, f"https://{GHOST_HOST}/", "Ghost 5.82", posts,
                ' xmlns:media="http://search.yahoo.com/mrss/"')  # fmt: skip


def wordpress_feed(posts: list[Post]) -> str:
    """WordPress's `/feed/`."""
    return _rss(CHANNEL_NAME, f"https://{WORDPRESS_HOST}", "https://wordpress.org/?v=6.7.1",
                posts, ' xmlns:wfw="http://wellformedweb.org/CommentAPI/"')  # fmt: skip


def medium_feed(posts: list[Post]) -> str:
    """Medium's `/feed/@user`."""
    return _rss(f"Stories by {CHANNEL_NAME} on Medium", f"https://medium.com/@{HANDLE}",
                "Medium", posts, ' xmlns:cc="http://cyber.law.harvard.edu/rss/creativeCommonsRssModule.html"')  # fmt: skip  # noqa: E501


def blogger_feed(posts: list[Post]) -> str:
    """Blogger's `/feeds/posts/default`: Atom with openSearch counts and blogger ids."""
    entries = "".join(
        f"""<entry><id>tag:blogger.com,1999:blog-4242.post-{int(p.ident.encode().hex()[:10], 16)}</id>
<published>{_iso(p.published)}</published><updated>{_iso(p.published)}</updated>
<title type="text">{escape(p.title)}</title><content type="html">{escape(f"<p>{escape(p.text)}</p>")}</content>
<link rel="alternate" type="text/html" href="{p.url}" title="{escape(p.title)}"/>
<author><name>{escape(p.author)}</name></author></entry>"""  # noqa: E501
        for p in posts
    )
    return f"""<?xml version='1.0' encoding='UTF-8'?><feed xmlns='{_ATOM}' xmlns:openSearch='http://a9.com/-/spec/opensearchrss/1.0/' xmlns:blogger='http://schemas.google.com/blogger/2008'>
<id>tag:blogger.com,1999:blog-4242</id><updated>{_iso(posts[0].published)}</updated><title type='text'>{CHANNEL_NAME}</title>
<link rel='alternate' type='text/html' href='https://{BLOGGER_HOST}/'/><generator version='7.00' uri='http://www.blogger.com'>Blogger</generator>
<openSearch:totalResults>{len(posts)}</openSearch:totalResults>{entries}</feed>"""  # noqa: E501


def blog_home(platform: Platform, host: str, feed_path: str) -> str:
    """A blog's home page with its platform's generator tag and its feed link."""
    generator = {"ghost": "Ghost 5.82", "wordpress": "WordPress 6.7.1", "blogger": "blogger",
                 "substack": "Substack"}.get(platform, platform)  # fmt: skip
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{CHANNEL_NAME}</title>
<meta name="generator" content="{generator}">
<link rel="alternate" type="application/rss+xml" title="{CHANNEL_NAME}" href="https://{host}{feed_path}">
</head><body><h1>{CHANNEL_NAME}</h1></body></html>"""


def news_home(posts: list[Post]) -> str:
    """A news site's front page with no feed link at all."""
    links = "".join(f'<li><a href="{p.url}">{escape(p.title)}</a></li>' for p in posts)
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{CHANNEL_NAME} News</title>
<meta name="description" content="Independent news"></head><body><ul>{links}</ul></body></html>"""


def article_page(post: Post) -> str:
    """An article page with the metadata extraction reads: og tags, standfirst, body."""
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{escape(post.title)} | {CHANNEL_NAME}</title>
<meta property="og:title" content="{escape(post.title)}">
<meta property="og:description" content="{escape(post.text)}">
<meta name="description" content="{escape(post.text)}">
<meta property="og:site_name" content="{CHANNEL_NAME}">
<meta name="author" content="{escape(post.author)}">
<meta property="article:published_time" content="{_iso(post.published)}">
<link rel="canonical" href="{post.url}"></head>
<body><article><h1>{escape(post.title)}</h1><p class="standfirst">{escape(post.text)}</p>
<p>{escape(post.text)} {escape(post.title)}.</p></article></body></html>"""


def news_sitemap(posts: list[Post]) -> str:
    """A Google News sitemap: each URL with its publication, date and title."""
    urls = "".join(
        f"""<url><loc>{p.url}</loc><lastmod>{_iso(p.published)}</lastmod><news:news>
<news:publication><news:name>{CHANNEL_NAME}</news:name><news:language>en</news:language></news:publication>
<news:publication_date>{_iso(p.published)}</news:publication_date><news:title>{escape(p.title)}</news:title>
</news:news></url>"""
        for p in posts
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9" xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">{urls}</urlset>"""  # noqa: E501


def plain_sitemap(posts: list[Post]) -> str:
    """A plain sitemap with `<lastmod>` only."""
    urls = "".join(
        f"<url><loc>{p.url}</loc><lastmod>{_iso(p.published)}</lastmod></url>" for p in posts
    )
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>')  # fmt: skip  # noqa: E501


def sitemap_index(posts: list[Post]) -> str:
    """A sitemap index naming the plain sitemap of posts."""
    newest = _iso(posts[0].published)
    return ('<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>https://{NEWS_HOST}/post-sitemap.xml</loc><lastmod>{newest}</lastmod></sitemap>"
            "</sitemapindex>")  # fmt: skip
