"""The demo page's HTML: Discord-like rendering of the stand-in's state, with hostile text inert.

Feed text reaches the page (titles, descriptions, authors, tags, links), so every string must be
escaped and only http(s) links and images may survive. These tests feed the renderer messages
the way the stand-in stores them, with hostile values in every field the page shows.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from demo.view import DemoState, markdown, render_embed, render_message, render_view, safe_url
from tests.bench.discord_standin import DiscordStandIn
from tests.bench.discord_standin.state import FORUM

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&"


class _Elements(HTMLParser):
    """Every start tag with its attributes, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def no_live_markup(page: str) -> None:
    """No script element, event handler attribute or non-http link made it into the page."""
    parser = _Elements()
    parser.feed(page)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag not in ("script", "iframe", "object", "embed"), tag
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name, value)
            if name in ("href", "src"):
                assert (value or "").startswith(("https://", "http://", "#c")), (tag, value)
        if tag == "img":
            assert dict(attrs).get("alt") == ""


def test_markdown_renders_what_paperboy_uses_and_escapes_the_rest() -> None:
    assert markdown("**Bold** and \\*not bold\\*") == "<strong>Bold</strong> and *not bold*"
    assert markdown("[Title <b>](https://example.org/a?x=1&y=2)") == (
        '<a href="https://example.org/a?x=1&amp;y=2" target="_blank" '
        'rel="noopener noreferrer">Title &lt;b&gt;</a>'
    )
    assert markdown("`code <i>`") == "<code>code &lt;i&gt;</code>"
    assert markdown("<t:0:f>") == '<span class="stamp">01 Jan 1970 00:00 UTC</span>'
    assert markdown("[click](javascript:alert(1))") == "[click](javascript:alert(1))"
    no_live_markup(markdown(HOSTILE))


def test_only_plain_http_urls_are_kept() -> None:
    assert safe_url("https://example.org/x") == "https://example.org/x"
    for bad in ["javascript:alert(1)", "data:text/html,x", "/relative", 'https://a"b', None, 3]:
        assert safe_url(bad) is None


def test_an_embed_shows_every_part_with_its_colour_and_hostile_text_inert() -> None:
    embed: dict[str, Any] = {
        "title": HOSTILE,
        "url": "javascript:alert(3)",
        "description": HOSTILE,
        "color": 0xB3202A,
        "author": {"name": HOSTILE, "url": "https://example.org/author"},
        "fields": [{"name": "Topics", "value": HOSTILE}],
        "image": {"url": "javascript:alert(4)"},
        "footer": {
            "text": "The Weekly Worker · Politics",
            "icon_url": 'https://x.org/i.png" onload="',
        },
    }
    html = render_embed(embed)
    no_live_markup(html)
    assert "border-left-color:#b3202a" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<a href="https://example.org/author"' in html
    assert "<img" not in html  # neither the javascript: image nor the broken icon URL
    assert "The Weekly Worker · Politics" in html


async def test_a_message_shows_author_buttons_and_names_instead_of_mentions() -> None:
    async with DiscordStandIn() as standin:
        seed = standin.populate_default()
        message = {
            "id": str(standin.snowflakes.next()),
            "author": {"username": "Paperboy", "bot": True},
            "content": f"Added → <#{seed.news_id}> for <@{seed.member_id}> " + HOSTILE,
            "embeds": [],
            "components": [
                {
                    "type": 1,
                    "components": [
                        {"type": 2, "style": 2, "label": "Summary", "custom_id": "s"},
                        {"type": 2, "style": 5, "label": "Read", "url": "javascript:alert(5)"},
                        {"type": 2, "style": 5, "label": "Open", "url": "https://example.org/"},
                    ],
                }
            ],
            "flags": 0,
        }
        html = render_message(message, standin, only_visible_to="reader")
    no_live_markup(html)
    assert "Added → #news for @reader" in html
    assert '<span class="badge">APP</span>' in html
    assert '<button class="button style-2" type="button">Summary</button>' in html
    assert '<button class="button style-5" type="button">Read</button>' in html  # link dropped
    assert 'href="https://example.org/"' in html
    assert "Only reader can see this" in html


async def test_the_view_lists_channels_and_shows_forum_posts_with_their_tags() -> None:
    async with DiscordStandIn() as standin:
        seed = standin.populate_default()
        forum = standin.channels[seed.forum_id]
        assert forum.type == FORUM
        forum.name = HOSTILE
        await standin.post_user_message(seed.news_id, seed.member_id, HOSTILE)
        state = DemoState(seed.guild_id, seed.news_id, status=HOSTILE)
        page = render_view(state, standin)
    no_live_markup(page)
    assert f'data-default="{seed.news_id}"' in page
    assert page.count('class="channel-link"') == 3  # general, news, the forum
    assert 'data-channel-name="&lt;script&gt;' in page
    assert "No posts yet." in page
    assert HOSTILE not in page
    # The forum's name (link, pane attribute, header), the message and the status, all escaped.
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 5
