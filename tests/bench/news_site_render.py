"""Rendering for the news-site stand-in: WordPress-style feeds, sitemap and HTML pages.

Everything here is a pure function of the site state passed in, so the same state always
renders to the same bytes (and therefore the same ETag).
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from tests.bench.news_site_articles import category_slug

EXCERPT_WORDS = 55  # WordPress's default excerpt length (wp_trim_excerpt)


@dataclass
class SiteItem:
    """One published post on the stand-in site (mutable: tests edit it through the site)."""

    post_id: int
    guid: str
    title: str
    slug: str
    author: str
    published: datetime
    modified: datetime
    topic: str
    categories: tuple[str, ...]
    standfirst: str | None
    image: str | None
    paragraphs: tuple[str, ...]
    captions: tuple[str, ...]

    @property
    def path(self) -> str:
        """The permalink path, /yyyy/mm/slug/."""
        return f"/{self.published:%Y}/{self.published:%m}/{self.slug}/"

    @property
    def caption_style(self) -> str:
        """How captions are shown: 'figcaption' (even ids) or 'paragraph' (odd ids)."""
        return "figcaption" if self.post_id % 2 == 0 else "paragraph"

    @property
    def image_path(self) -> str | None:
        """Path of the lead image under wp-content/uploads, if the post has one."""
        if not self.image:
            return None
        return f"/wp-content/uploads/{self.published:%Y}/{self.published:%m}/{self.image}"


@dataclass(frozen=True)
class SiteInfo:
    """Site-wide settings the renderers need."""

    base_url: str
    name: str = "The Weekly Worker"
    tagline: str = "News and analysis for working people — every Friday"
    language: str = "en-GB"
    hub_url: str | None = None
    """A WebSub hub the feeds advertise (as WordPress's WebSub plugin does), or None."""


def esc(text: str) -> str:
    """Escape text for XML or HTML element content and attributes."""
    return html.escape(text, quote=True)


def cdata(text: str) -> str:
    """Wrap text in CDATA, splitting any ']]>' so hostile text cannot end the section early."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def rfc822(moment: datetime) -> str:
    """The RSS date form WordPress uses: 'Thu, 03 Sep 2026 09:30:00 +0000'."""
    return format_datetime(moment, usegmt=False).replace("-0000", "+0000")


def iso(moment: datetime) -> str:
    """ISO-8601 with an explicit offset, as WordPress writes Atom and JSON dates."""
    return moment.isoformat(timespec="seconds")


def wordpress_excerpt(item: SiteItem) -> str:
    """The feed description: the standfirst, else the first 55 words plus ' [&#8230;]'."""
    if item.standfirst:
        return item.standfirst
    words = " ".join(item.paragraphs).split()
    if len(words) <= EXCERPT_WORDS:
        return " ".join(words)
    return " ".join(words[:EXCERPT_WORDS]) + " [&#8230;]"


def content_html(site: SiteInfo, item: SiteItem) -> str:
    """The post body as WordPress would put it in content:encoded (figure or caption <p>)."""
    parts: list[str] = []
    if item.image_path:
        caption = ""
        if item.captions and item.caption_style == "figcaption":
            caption = f"<figcaption>{esc(item.captions[0])}</figcaption>"
        parts.append(
            f'<figure class="wp-block-image size-large"><img src="{esc(site.base_url)}'
            f'{esc(item.image_path)}" alt="" width="1024" height="683" />{caption}</figure>'
        )
    if item.caption_style == "paragraph" or not item.image_path:
        parts.extend(f"<p>{esc(caption)}</p>" for caption in item.captions)
    parts.extend(f"<p>{esc(paragraph)}</p>" for paragraph in item.paragraphs)
    return "\n".join(parts)


def rss_feed(
    site: SiteInfo,
    items: Sequence[SiteItem],
    *,
    self_path: str = "/feed/",
    title_suffix: str = "",
    image_as_enclosure: bool = False,
) -> str:
    """RSS 2.0 as WordPress writes it (content:encoded, dc:creator, ?p= guids, media:content)."""
    built = max((item.modified for item in items), default=None)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"\n'
        '\txmlns:content="http://purl.org/rss/1.0/modules/content/"\n'
        '\txmlns:wfw="http://wellformedweb.org/CommentAPI/"\n'
        '\txmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '\txmlns:atom="http://www.w3.org/2005/Atom"\n'
        '\txmlns:sy="http://purl.org/rss/1.0/modules/syndication/"\n'
        '\txmlns:slash="http://purl.org/rss/1.0/modules/slash/"\n'
        '\txmlns:media="http://search.yahoo.com/mrss/"\n\t>\n',
        "<channel>",
        f"\t<title>{esc(site.name + title_suffix)}</title>",
        f'\t<atom:link href="{esc(site.base_url + self_path)}" rel="self" '
        'type="application/rss+xml" />',
        *([f'\t<atom:link rel="hub" href="{esc(site.hub_url)}"/>'] if site.hub_url else []),
        f"\t<link>{esc(site.base_url)}/</link>",
        f"\t<description>{esc(site.tagline)}</description>",
    ]
    if built is not None:
        out.append(f"\t<lastBuildDate>{rfc822(built)}</lastBuildDate>")
    out += [
        f"\t<language>{site.language}</language>",
        "\t<sy:updatePeriod>\n\thourly\t</sy:updatePeriod>",
        "\t<sy:updateFrequency>\n\t1\t</sy:updateFrequency>",
        "\t<generator>https://wordpress.org/?v=6.6.2</generator>",
    ]
    for item in items:
        link = site.base_url + item.path
        out += [
            "\t<item>",
            f"\t\t<title>{esc(item.title)}</title>",
            f"\t\t<link>{esc(link)}</link>",
            f"\t\t<comments>{esc(link)}#respond</comments>",
            f"\t\t<dc:creator>{cdata(item.author)}</dc:creator>",
            f"\t\t<pubDate>{rfc822(item.published)}</pubDate>",
        ]
        out += [f"\t\t<category>{cdata(name)}</category>" for name in item.categories]
        out += [
            f'\t\t<guid isPermaLink="false">{esc(item.guid)}</guid>',
            f"\t\t<description>{cdata(wordpress_excerpt(item))}</description>",
            f"\t\t<content:encoded>{cdata(content_html(site, item))}</content:encoded>",
            f"\t\t<wfw:commentRss>{esc(link)}feed/</wfw:commentRss>",
            "\t\t<slash:comments>0</slash:comments>",
        ]
        if item.image_path:
            image_url = esc(site.base_url + item.image_path)
            if image_as_enclosure:
                out.append(f'\t\t<enclosure url="{image_url}" length="1024" type="image/png" />')
            else:
                out.append(f'\t\t<media:content url="{image_url}" medium="image" />')
        out.append("\t</item>")
    out += ["</channel>", "</rss>", ""]
    return "\n".join(out)


def atom_feed(site: SiteInfo, items: Sequence[SiteItem]) -> str:
    """Atom 1.0 in the shape of WordPress's /feed/atom/."""
    updated = max((item.modified for item in items), default=None)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{site.language}">',
        f'\t<title type="text">{esc(site.name)}</title>',
        f'\t<subtitle type="text">{esc(site.tagline)}</subtitle>',
    ]
    if updated is not None:
        out.append(f"\t<updated>{iso(updated)}</updated>")
    out += [
        f'\t<link rel="alternate" type="text/html" href="{esc(site.base_url)}/" />',
        f"\t<id>{esc(site.base_url)}/feed/atom/</id>",
        f'\t<link rel="self" type="application/atom+xml" href="{esc(site.base_url)}/feed/atom/" />',
        *([f'\t<link rel="hub" href="{esc(site.hub_url)}"/>'] if site.hub_url else []),
        '\t<generator uri="https://wordpress.org/" version="6.6.2">WordPress</generator>',
    ]
    for item in items:
        link = site.base_url + item.path
        out += [
            "\t<entry>",
            f"\t\t<author><name>{esc(item.author)}</name></author>",
            f'\t\t<title type="html">{cdata(item.title)}</title>',
            f'\t\t<link rel="alternate" type="text/html" href="{esc(link)}" />',
            f"\t\t<id>{esc(item.guid)}</id>",
            f"\t\t<updated>{iso(item.modified)}</updated>",
            f"\t\t<published>{iso(item.published)}</published>",
        ]
        out += [
            f'\t\t<category scheme="{esc(site.base_url)}" term="{esc(name)}" />'
            for name in item.categories
        ]
        out += [
            f'\t\t<summary type="html">{cdata(wordpress_excerpt(item))}</summary>',
            f'\t\t<content type="html" xml:base="{esc(link)}">'
            f"{cdata(content_html(site, item))}</content>",
            "\t</entry>",
        ]
    out += ["</feed>", ""]
    return "\n".join(out)


def json_feed(site: SiteInfo, items: Sequence[SiteItem]) -> str:
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1)."""
    entries = []
    for item in items:
        entry: dict[str, object] = {
            "id": item.guid,
            "url": site.base_url + item.path,
            "title": item.title,
            "content_html": content_html(site, item),
            "summary": wordpress_excerpt(item).replace(" [&#8230;]", " […]"),
            "date_published": iso(item.published),
            "date_modified": iso(item.modified),
            "authors": [{"name": item.author}],
            "tags": list(item.categories),
        }
        if item.image_path:
            entry["image"] = site.base_url + item.image_path
        entries.append(entry)
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": site.name,
        "home_page_url": site.base_url + "/",
        "feed_url": site.base_url + "/feed/json",
        "description": site.tagline,
        "language": site.language,
        "items": entries,
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


def sitemap(site: SiteInfo, items: Sequence[SiteItem]) -> str:
    """A sitemaps.org urlset listing every published post."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
    ]
    for item in items:
        out.append(
            f"\t<url><loc>{esc(site.base_url + item.path)}</loc>"
            f"<lastmod>{iso(item.modified)}</lastmod></url>"
        )
    out += ["</urlset>", ""]
    return "\n".join(out)


def _page(site: SiteInfo, title: str, head_extra: str, main: str, sidebar: str) -> str:
    """The theme around every HTML page: header, menu, sidebar and footer."""
    menu = "".join(
        f'<li class="menu-item"><a href="{esc(site.base_url)}/category/{slug}/">{label}</a></li>'
        for slug, label in (
            ("housing", "Housing"),
            ("trade-unions", "Unions"),
            ("climate", "Climate"),
            ("health", "Health"),
            ("transport", "Transport"),
            ("international", "International"),
        )
    )
    return f"""<!DOCTYPE html>
<html lang="{site.language}">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
{head_extra}
<link rel="stylesheet" href="{esc(site.base_url)}/wp-content/themes/weekly/style.css">
</head>
<body class="wp-theme-weekly">
<div class="cookie-banner">We use cookies to see which articles are read.
<button>Accept all</button> <button>Manage preferences</button></div>
<header class="site-header">
<p class="site-title"><a href="{esc(site.base_url)}/" rel="home">{esc(site.name)}</a></p>
<p class="site-description">{esc(site.tagline)}</p>
<nav class="main-navigation" aria-label="Main menu"><ul class="menu">{menu}
<li class="menu-item"><a href="{esc(site.base_url)}/subscribe/">Subscribe</a></li>
<li class="menu-item"><a href="{esc(site.base_url)}/donate/">Donate</a></li></ul></nav>
</header>
<div id="content" class="site-content">
<main id="main" class="site-main">
{main}
</main>
<aside id="secondary" class="widget-area">
{sidebar}
<section class="widget widget_newsletter"><h2 class="widget-title">Subscribe to our newsletter</h2>
<p>Get the week’s best stories in your inbox every Friday morning.</p>
<form><input type="email" placeholder="Your email address"><button>Sign up</button></form>
</section>
</aside>
</div>
<footer class="site-footer">
<p>© 2026 {esc(site.name)} Publishing Co-operative Ltd. All rights reserved.</p>
<p><a href="{esc(site.base_url)}/privacy/">Privacy policy</a> ·
<a href="{esc(site.base_url)}/contact/">Contact us</a> ·
<a href="{esc(site.base_url)}/feed/">RSS</a></p>
</footer>
</body>
</html>
"""


def _most_read(site: SiteInfo, items: Sequence[SiteItem], exclude: int | None) -> str:
    """The sidebar 'Most read' widget: up to five other posts."""
    links = "".join(
        f'<li><a href="{esc(site.base_url + item.path)}">{esc(item.title)}</a></li>'
        for item in [i for i in items if i.post_id != exclude][:5]
    )
    return (
        '<section class="widget widget_most_read"><h2 class="widget-title">Most read</h2>'
        f"<ol>{links}</ol></section>"
    )


def home_page(site: SiteInfo, items: Sequence[SiteItem], *, feed_links: bool) -> str:
    """The front page listing recent posts, with or without the feed autodiscovery links."""
    head = ""
    if feed_links:
        head = (
            f'<link rel="alternate" type="application/rss+xml" title="{esc(site.name)} &raquo; '
            f'Feed" href="{esc(site.base_url)}/feed/" />\n'
            f'<link rel="alternate" type="application/atom+xml" title="{esc(site.name)} '
            f'&raquo; Atom Feed" href="{esc(site.base_url)}/feed/atom/" />'
        )
    head += f'\n<meta name="description" content="{esc(site.tagline)}">'
    cards = "\n".join(
        f'<article class="post-card"><h2 class="entry-title"><a href="'
        f'{esc(site.base_url + item.path)}">{esc(item.title)}</a></h2>'
        f'<p class="byline">By {esc(item.author)} · <time datetime="{iso(item.published)}">'
        f"{item.published:%d %B %Y}</time></p>"
        f"<p>{esc(wordpress_excerpt(item).replace(' [&#8230;]', ' …'))}</p></article>"
        for item in items
    )
    return _page(site, site.name, head, cards, _most_read(site, items, None))


def category_page(site: SiteInfo, name: str, items: Sequence[SiteItem]) -> str:
    """A category archive page."""
    cards = "\n".join(
        f'<article class="post-card"><h2><a href="{esc(site.base_url + item.path)}">'
        f"{esc(item.title)}</a></h2></article>"
        for item in items
    )
    head = (
        f'<link rel="alternate" type="application/rss+xml" title="{esc(site.name)} &raquo; '
        f'{esc(name)} Category Feed" href="{esc(site.base_url)}/category/'
        f'{category_slug(name)}/feed/" />'
    )
    main = f'<h1 class="page-title">Category: {esc(name)}</h1>\n{cards}'
    return _page(site, f"{name} – {site.name}", head, main, _most_read(site, items, None))


def article_page(site: SiteInfo, item: SiteItem, others: Sequence[SiteItem]) -> str:
    """A post's page with the clutter real news sites put around the body."""
    link = site.base_url + item.path
    description = item.standfirst or wordpress_excerpt(item).replace(" [&#8230;]", "…")
    image_url = site.base_url + item.image_path if item.image_path else None
    ld: dict[str, object] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": item.title,
        "datePublished": iso(item.published),
        "dateModified": iso(item.modified),
        "author": [{"@type": "Person", "name": item.author}],
        "description": description,
        "mainEntityOfPage": link,
        "publisher": {"@type": "Organization", "name": site.name},
    }
    if image_url:
        ld["image"] = [image_url]
    ld_json = json.dumps(ld, ensure_ascii=False).replace("</", "<\\/")
    head = [
        f'<meta name="description" content="{esc(description)}">',
        f'<link rel="canonical" href="{esc(link)}">',
        '<meta property="og:type" content="article">',
        f'<meta property="og:title" content="{esc(item.title)}">',
        f'<meta property="og:description" content="{esc(description)}">',
        f'<meta property="og:url" content="{esc(link)}">',
        f'<meta property="og:site_name" content="{esc(site.name)}">',
        f'<meta property="article:published_time" content="{iso(item.published)}">',
        f'<meta property="article:modified_time" content="{iso(item.modified)}">',
        f'<meta property="article:author" content="{esc(item.author)}">',
        f'<link rel="alternate" type="application/rss+xml" title="{esc(site.name)} &raquo; '
        f'Feed" href="{esc(site.base_url)}/feed/" />',
        f'<script type="application/ld+json">{ld_json}</script>',
    ]
    if image_url:
        head.insert(6, f'<meta property="og:image" content="{esc(image_url)}">')

    body: list[str] = []
    if image_url:
        caption = ""
        if item.captions and item.caption_style == "figcaption":
            caption = f"<figcaption>{esc(item.captions[0])}</figcaption>"
        body.append(
            f'<figure class="wp-block-image"><img src="{esc(image_url)}" alt="">{caption}</figure>'
        )
    if item.caption_style == "paragraph" or not image_url:
        body.extend(f"<p>{esc(caption)}</p>" for caption in item.captions)
    for number, paragraph in enumerate(item.paragraphs, start=1):
        body.append(f"<p>{esc(paragraph)}</p>")
        if number == 3 and len(item.paragraphs) > 4:
            body.append(
                '<div class="inline-newsletter"><strong>Subscribe to our newsletter</strong> '
                'and never miss a story. <a href="/subscribe/">Sign up free</a></div>'
            )
    related = [other for other in others if other.topic == item.topic][:3]
    related_html = "".join(
        f'<li><a href="{esc(site.base_url + other.path)}">{esc(other.title)}</a></li>'
        for other in related
    )
    categories = ", ".join(
        f'<a href="{esc(site.base_url)}/category/{category_slug(name)}/" rel="category tag">'
        f"{esc(name)}</a>"
        for name in item.categories
    )
    standfirst = f'<p class="standfirst">{esc(item.standfirst)}</p>' if item.standfirst else ""
    main = f"""<article id="post-{item.post_id}" class="post-{item.post_id} post type-post">
<header class="entry-header">
<span class="cat-links">{categories}</span>
<h1 class="entry-title">{esc(item.title)}</h1>
{standfirst}
<p class="byline">By <a class="author" href="{esc(site.base_url)}/author/">{esc(item.author)}</a>
· <time class="entry-date published" datetime="{iso(item.published)}">
{item.published:%d %B %Y}</time></p>
<div class="share-buttons"><a class="share-facebook" href="#">Share on Facebook</a>
<a class="share-twitter" href="#">Tweet</a> <a class="share-email" href="#">Email</a></div>
</header>
<div class="entry-content">
{chr(10).join(body)}
</div>
<footer class="entry-footer">
<div class="share-buttons"><a href="#">Share on Facebook</a> <a href="#">Tweet</a></div>
<section class="related-posts"><h2>Related articles</h2><ul>{related_html}</ul></section>
<div class="comments-teaser"><a href="{esc(link)}#comments">3 comments</a> — join the
discussion. Comments are moderated and may take a while to appear.</div>
</footer>
</article>"""
    return _page(
        site,
        f"{item.title} – {site.name}",
        "\n".join(head),
        main,
        _most_read(site, others, item.post_id),
    )
