"""Message plans: golden files per format and hostile case, and properties over any article.

Golden files live in tests/unit/golden/announce/. After an intended change, regenerate them with
``PAPERBOY_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_announce_render.py`` and review the
diff. All sample texts here are written for these tests.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.announce.limits import ELLIPSIS, ZWSP, graphemes
from bot.announce.render import (
    AnnouncementArticle,
    MessagePlan,
    SubscriptionView,
    is_genuine_standfirst,
    marker_of_custom_id,
    plan_violations,
    render_plan,
    summary_text,
    webhook_username,
)
from bot.announce.tags import ForumTag
from bot.errors import InvalidInput

GOLDEN = Path(__file__).resolve().parent / "golden" / "announce"
UPDATE = os.environ.get("PAPERBOY_UPDATE_GOLDEN") == "1"
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"

BODY = (
    "Tenants on the Riverside estate have won a full repair programme after a six-week rent "
    "strike. The council conceded on Tuesday night. Organisers said the victory showed what "
    "collective action can do. Damp and mould had been reported for three winters running, "
    "and residents said letters to the housing office went unanswered. A meeting on Saturday "
    "will decide how to monitor the works."
)
ARTICLE = AnnouncementArticle(
    id=123,
    title="Riverside tenants win repairs after rent strike",
    url="https://weekly.example.org/2025/03/riverside-rent-strike/",
    author="Jane Doe",
    published=datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
    categories=("Housing", "Trade unions"),
    standfirst="Six weeks of withheld rent forced the council to fix damp homes.",
    excerpt="Tenants on the Riverside estate have won a full repair programme after a six-week "
    "rent strike. The council conceded on Tuesday night.",
    text=BODY,
    image_url="https://weekly.example.org/wp-content/uploads/riverside.jpg",
    site_name="The Weekly",
    site_icon_url="https://weekly.example.org/icon-512.png",
    feed_title="The Weekly: news",
    feed_icon_url="https://weekly.example.org/feed-icon.png",
)
EMBED = SubscriptionView(id=1, format="embed", mention_role_id=555)
TEXT = SubscriptionView(id=2, format="text")
FORUM_TAGS = (ForumTag(11, "Housing"), ForumTag(12, "Trade Unions"), ForumTag(13, "General"))
FORUM = SubscriptionView(
    id=3, format="forum", forum_tags=FORUM_TAGS, forum_requires_tag=True, fallback_tag_id=13
)
WEBHOOK = SubscriptionView(id=4, format="webhook")

AUTO_TRIM = " ".join(BODY.split()[:55]) + " [&hellip;]"
YOAST = " The post Riverside tenants win appeared first on The Weekly."
HOSTILE = replace(
    ARTICLE,
    title="@everyone **URGENT** <@&1> [click](https://evil.example) \u202eevil\u202c ||x|| @here",
    author="<@123456789012345678> # boss",
    categories=("@here", "||spoiler||", "_under_"),
    standfirst="> quoted\n# heading\n- list <#42> `code` ~~strike~~",
    feed_title="@everyone",
    site_name="<@&2>",
)
HUGE = replace(
    ARTICLE,
    title=("Solidarity " * 1000)[:10_000],
    standfirst="",
    excerpt=("word " * 20_000)[:100_000],
    text=("Longsentencewithoutanybreaks" * 4000)[:100_000],
    categories=tuple(f"Topic number {i}" for i in range(300)),
    author="A" * 5000,
    site_name="S" * 5000,
)
# A ZWJ family emoji straddles both the 100-character thread-name cut and the 256 title cut.
EMOJI_AT_CUT = replace(ARTICLE, title="a" * 97 + FAMILY + "b" * 151 + FAMILY + "c" * 50)
NON_HTTP = replace(
    ARTICLE,
    url="javascript:alert(document.cookie)",
    image_url="data:image/png;base64,AAAA",
    site_icon_url="ftp://weekly.example.org/icon.png",
    feed_icon_url="file:///etc/passwd",
)

CASES: dict[str, tuple[AnnouncementArticle, SubscriptionView]] = {
    "embed_standfirst": (ARTICLE, EMBED),
    "embed_auto_trimmed_standfirst": (
        replace(ARTICLE, standfirst=AUTO_TRIM, excerpt=AUTO_TRIM + YOAST),
        EMBED,
    ),
    "embed_body_only": (replace(ARTICLE, standfirst="", excerpt=""), EMBED),
    "embed_auto_thread": (ARTICLE, replace(EMBED, auto_thread=True, mention_role_id=None)),
    "text_default": (ARTICLE, TEXT),
    "text_custom_template": (
        ARTICLE,
        replace(
            TEXT,
            mention_role_id=777,
            template="New from {feed}: **{title}** by {author} ({published})\n{summary}\n"
            "Topics: {categories}\n<{url}> {{not a placeholder}}",
            timezone="Europe/London",
            date_format="%A %e %B, %I:%M %p",
        ),
    ),
    "text_without_standfirst": (
        replace(ARTICLE, standfirst=""),
        replace(TEXT, template="{summary}"),
    ),
    "forum_matching_tags": (ARTICLE, FORUM),
    "forum_fallback_tag": (replace(ARTICLE, categories=("Sport",)), FORUM),
    "webhook": (ARTICLE, WEBHOOK),
    "webhook_forbidden_name": (
        replace(ARTICLE, feed_title="Discord Digest by Clyde", site_name="x"),
        WEBHOOK,
    ),
    "hostile_embed": (HOSTILE, EMBED),
    "hostile_text": (
        HOSTILE,
        replace(TEXT, template="{title} {author} {categories} {feed} {summary} @everyone <{url}"),
    ),
    "hostile_forum": (HOSTILE, FORUM),
    "hostile_webhook": (HOSTILE, WEBHOOK),
    "huge_embed": (HUGE, EMBED),
    "huge_text": (HUGE, replace(TEXT, template="{title}\n{summary}\n" * 40)),
    "huge_forum": (HUGE, FORUM),
    "emoji_at_cut_embed": (EMOJI_AT_CUT, replace(EMBED, auto_thread=True)),
    "emoji_at_cut_forum": (EMOJI_AT_CUT, FORUM),
    "non_http_links_embed": (NON_HTTP, EMBED),
    "non_http_links_text": (NON_HTTP, replace(TEXT, template="{title} {url}")),
}


def golden_text(plan: MessagePlan) -> str:
    # ASCII escapes keep zero-width spaces and bidi characters visible in review.
    return (
        json.dumps(json.loads(plan.to_json()), indent=2, sort_keys=True, ensure_ascii=True) + "\n"
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_plan_matches_golden_file(name: str) -> None:
    article, subscription = CASES[name]
    plan = render_plan(article, subscription, outbox_id=9001)
    assert plan_violations(plan) == []
    assert MessagePlan.from_json(plan.to_json()) == plan
    # to_json walks the plan itself rather than through dataclasses.asdict: the same text.
    assert plan.to_json() == json.dumps(asdict(plan), ensure_ascii=False, sort_keys=True)
    path = GOLDEN / f"{name}.json"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(golden_text(plan), encoding="utf-8")
    assert path.exists(), f"{path} is missing; run with PAPERBOY_UPDATE_GOLDEN=1 and review it"
    assert golden_text(plan) == path.read_text(encoding="utf-8")


def test_every_announcement_carries_summary_related_and_read_buttons() -> None:
    plan = render_plan(ARTICLE, EMBED, outbox_id=1)
    assert [(b.label, b.custom_id, b.url) for b in plan.buttons] == [
        ("Summary", "pb:summary:123:pb-o1", None),
        ("Related", "pb:related:123:pb-o1", None),
        ("Read", None, ARTICLE.url),
    ]
    assert plan.marker == "pb-o1"


def test_the_delivery_marker_is_only_in_button_custom_ids() -> None:
    for subscription in (EMBED, TEXT):
        plan = render_plan(ARTICLE, subscription, outbox_id=77)
        assert plan.marker == "pb-o77"
        shown = plan.content + "".join(
            e.title + e.description + e.footer_text + e.author_name for e in plan.embeds
        )
        assert "pb-o" not in shown
        assert [marker_of_custom_id(b.custom_id or "") for b in plan.buttons][:2] == ["pb-o77"] * 2


def test_marker_of_custom_id_reads_only_paperboy_markers() -> None:
    assert marker_of_custom_id("pb:summary:5:pb-o12") == "pb-o12"
    assert marker_of_custom_id("pb:summary:5") == ""
    assert marker_of_custom_id("other:summary:5:pb-o12") == ""
    assert marker_of_custom_id("pb:summary:5:pb-o12x") == ""


def test_a_preview_carries_no_delivery_marker() -> None:
    text = render_plan(ARTICLE, TEXT, outbox_id=0)
    embed = render_plan(ARTICLE, EMBED, outbox_id=0)
    assert text.marker == "" and embed.marker == ""
    assert all(":pb-o" not in (b.custom_id or "") for b in (*text.buttons, *embed.buttons))


def test_hostile_title_pings_nobody() -> None:
    plan = render_plan(HOSTILE, EMBED, outbox_id=1)
    assert plan.allowed_role_ids == (555,)
    assert plan.content == "<@&555>"
    assert plan.embeds[0].title.startswith(f"@{ZWSP}everyone \\*\\*URGENT\\*\\* <{ZWSP}@&1>")
    assert "\u202e" not in plan.embeds[0].title


def test_huge_inputs_are_cut_at_word_boundaries() -> None:
    plan = render_plan(HUGE, EMBED, outbox_id=1)
    embed = plan.embeds[0]
    assert embed.title.endswith("Solidarity" + ELLIPSIS)
    assert len(embed.description) <= 300
    assert embed.description.endswith("word" + ELLIPSIS)
    topics = embed.fields[0].value
    assert topics.startswith("Topic number 0, Topic number 1,")
    assert topics.endswith(" more") and len(topics) <= 1024


def test_emoji_at_the_cut_is_kept_whole_or_dropped() -> None:
    plan = render_plan(EMOJI_AT_CUT, FORUM, outbox_id=1)
    assert plan.thread_name == "a" * 97 + ELLIPSIS
    assert plan.embeds[0].title == "a" * 97 + FAMILY + "b" * 151 + ELLIPSIS


def test_non_http_links_are_dropped_everywhere() -> None:
    plan = render_plan(NON_HTTP, EMBED, outbox_id=1)
    embed = plan.embeds[0]
    assert (embed.url, embed.image_url, embed.footer_icon_url) == (None, None, None)
    assert [b.label for b in plan.buttons] == ["Summary", "Related"]


@pytest.mark.parametrize(
    ("standfirst", "genuine"),
    [
        ("Six weeks of withheld rent forced the council to fix damp homes.", True),
        ("", False),
        ("   ", False),
        (AUTO_TRIM, False),
        (" ".join(BODY.split()[:55]) + " [...]", False),
        (" ".join(BODY.split()[:55]) + " [\u2026]", False),
        (" ".join(BODY.split()[:55]) + "&hellip;", False),
        ("Tenants on the Riverside estate have won a full repair programme", False),
        ("Tenants on the Riverside estate have won a full repair programme...", False),
        ("Tenants  on the\nRiverside estate", False),
        (YOAST.strip(), False),
        # Fewer than five words is too short to be a standfirst (the one rule of textpolicy).
        ("Damp homes fixed." + YOAST, False),
        ("Six weeks of withheld rent forced repairs." + YOAST, True),
    ],
)
def test_genuine_standfirst_detection(standfirst: str, genuine: bool) -> None:
    assert is_genuine_standfirst(standfirst, BODY) is genuine


def test_summary_drops_the_sentence_an_automatic_trim_cut_off() -> None:
    article = replace(ARTICLE, standfirst=AUTO_TRIM, excerpt=AUTO_TRIM + YOAST)
    summary = summary_text(article)
    assert summary.endswith("three winters running, and residents said letters to the") is False
    assert summary.endswith("collective action can do.")
    assert "appeared first" not in summary


def test_summary_of_one_long_sentence_is_cut_at_a_word() -> None:
    article = replace(ARTICLE, standfirst="", excerpt="word " * 200)
    assert summary_text(article) == ("word " * 60).strip()[:298].rsplit(" ", 1)[0] + ELLIPSIS


@pytest.mark.parametrize(
    ("feed", "site", "expected"),
    [
        ("The Weekly", "", "The Weekly"),
        ("Discord News", "", "News"),
        ("CLYDE", "The Weekly", "The Weekly"),
        ("disclydecord", "", "Paperboy"),
        ("everyone", "", "Paperboy"),
        ("", "", "Paperboy"),
        ("W" * 200, "", "W" * 79 + ELLIPSIS),
    ],
)
def test_webhook_username_follows_discord_rules(feed: str, site: str, expected: str) -> None:
    assert webhook_username(feed, site) == expected


def test_a_stored_template_that_no_longer_validates_falls_back_to_the_default() -> None:
    plan = render_plan(ARTICLE, replace(TEXT, template="{titel}"), outbox_id=5)
    assert plan.content.startswith(f"**{ARTICLE.title}**\n{ARTICLE.url}")


def test_unknown_format_is_refused_with_a_clear_message() -> None:
    bad = replace(TEXT, format="carrier-pigeon")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="Unknown announcement format 'carrier-pigeon'"):
        render_plan(ARTICLE, bad, outbox_id=1)


def test_damaged_stored_plan_is_reported() -> None:
    with pytest.raises(InvalidInput, match="stored message plan is damaged"):
        MessagePlan.from_json('{"content": "x"}')


def test_naive_published_dates_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(ARTICLE, published=datetime(2025, 1, 1))  # noqa: DTZ001 - the point of the test


# --- properties -------------------------------------------------------------------------------

HOSTILE_BITS = [
    "@everyone", "@here", "<@1>", "<@&1>", "<#1>", "<@!1>", "</x:1>", "**", "__", "~~", "||",
    "`", "```", "> ", "# ", "-# ", "- ", "1. ", "[a](https://x.example)", "\\", "<", "@", "&",
    "\u202e", "\u2066", "\u200b", "\x00", "\ud800", FAMILY, "\U0001f1eb\U0001f1f7", "e\u0301",
    "\u0600 ", " \u0301", "[…]", "[...]", "&hellip;", "\n", "\r\n", " ", "Dr. ", "Mr. Jones. ",
    "discord", "clyde", "{title}", "{", "}", "%",
]  # fmt: skip
hostile_text = st.lists(
    st.one_of(st.sampled_from(HOSTILE_BITS), st.text(max_size=20)), max_size=40
).map("".join)
# Half the time a piece is repeated into thousands of characters, so every limit gets reached.
long_text = st.one_of(
    hostile_text,
    st.builds(lambda s, n: (s * n)[:120_000], hostile_text.filter(bool), st.integers(50, 5000)),
)
urls = st.one_of(
    st.none(),
    st.sampled_from(
        ["https://example.org/a", "javascript:alert(1)", "http://x.example/<@&1>", "ftp://a/b"]
    ),
    st.text(max_size=30),
)
articles = st.builds(
    AnnouncementArticle,
    id=st.integers(1, 10**18),
    title=long_text,
    url=st.one_of(urls.map(lambda u: u or ""), st.text(max_size=10)),
    author=long_text,
    published=st.one_of(
        st.none(),
        st.datetimes(
            min_value=datetime(1971, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
            max_value=datetime(2100, 1, 1),  # noqa: DTZ001
            timezones=st.just(UTC),
        ),
    ),
    categories=st.lists(long_text, max_size=30).map(tuple),
    standfirst=long_text,
    excerpt=long_text,
    text=long_text,
    image_url=urls,
    site_name=long_text,
    site_icon_url=urls,
    feed_title=long_text,
    feed_icon_url=urls,
)
TEMPLATES = [
    "**{title}**\n{url}",
    "{summary}",
    "{title}{author}{summary}{categories}{feed}{published}{url}" * 20,
    "<{title}@here {{x}} @everyone",
    "x" * 1500,
    "{bogus}",
]
subscriptions = st.builds(
    SubscriptionView,
    id=st.integers(1, 1000),
    format=st.sampled_from(["embed", "text", "forum", "webhook"]),
    mention_role_id=st.one_of(st.none(), st.integers(1, 2**63 - 1)),
    template=st.sampled_from(TEMPLATES),
    auto_thread=st.booleans(),
    timezone=st.sampled_from(["UTC", "Europe/London", "Pacific/Chatham", "Not/AZone"]),
    date_format=st.sampled_from(["%d %B %Y %H:%M", "%A %e %b %I:%M %p %Z", "%Q"]),
    forum_tags=st.lists(
        st.builds(ForumTag, id=st.integers(1, 50), name=long_text, moderated=st.booleans()),
        max_size=20,
    ).map(tuple),
    forum_requires_tag=st.booleans(),
    fallback_tag_id=st.one_of(st.none(), st.integers(1, 50)),
)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


_PING = re.compile(r"@(everyone|here)|<[@#/]", re.IGNORECASE)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(articles, subscriptions, st.integers(1, 10**12))
def test_every_plan_is_within_limits_and_pings_only_the_role(
    article: AnnouncementArticle, subscription: SubscriptionView, outbox_id: int
) -> None:
    plan = render_plan(article, subscription, outbox_id=outbox_id)
    assert plan_violations(plan) == []
    role = subscription.mention_role_id
    assert plan.allowed_role_ids == ((role,) if role is not None else ())
    own_mention = f"<@&{role}>" if role is not None else None
    for text in _strings(json.loads(plan.to_json())):
        if own_mention and text.startswith(own_mention):
            text = text[len(own_mention) :]
        assert not _PING.search(text), text
        text.encode("utf-8")  # storable and sendable
    for text in [plan.thread_name or "", plan.username or "", plan.content]:
        assert all(len(cluster) > 0 for cluster in graphemes(text))
    assert MessagePlan.from_json(plan.to_json()) == plan
    assert len(plan.applied_tag_ids) <= 5
