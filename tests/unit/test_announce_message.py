"""Message builder settings: checked input, lenient storage, and how they shape a rendered plan."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.announce.message import (
    DEFAULT_COLOR,
    MessageSettings,
    parse_colour,
    parse_description_length,
)
from bot.announce.render import (
    AnnouncementArticle,
    Format,
    MessagePlan,
    SubscriptionView,
    plan_violations,
    render_plan,
)
from bot.errors import InvalidInput

BODY = " ".join(
    [
        "Tenants on the Riverside estate have won a full repair programme.",
        "The council conceded on Tuesday night.",
        "Organisers said the victory showed what collective action can do.",
    ]
    + ["word"] * 600
)
ARTICLE = AnnouncementArticle(
    id=7,
    title="Riverside tenants win repairs",
    url="https://weekly.example.org/riverside/",
    author="Jane Doe",
    published=datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
    categories=("Housing", "Trade unions"),
    excerpt="Tenants on the Riverside estate have won a full repair programme. The council "
    "conceded on Tuesday night. Organisers said the victory showed what collective action can do.",
    text=BODY,
    image_url="https://weekly.example.org/riverside.jpg",
    site_name="The Weekly",
    feed_title="The Weekly: news",
    feed_url="https://weekly.example.org/feed/",
)


def plan_with(fmt: Format = "embed", **changes: object) -> MessagePlan:
    """The plan of ARTICLE with these message settings; it must respect Discord's limits."""
    settings = MessageSettings().with_changes(changes)
    plan = render_plan(ARTICLE, SubscriptionView(id=1, format=fmt, message=settings), outbox_id=3)
    assert plan_violations(plan) == []
    return plan


def test_default_settings_render_exactly_as_no_settings() -> None:
    bare = render_plan(ARTICLE, SubscriptionView(id=1), outbox_id=3)
    plan = plan_with()
    assert plan == bare
    assert MessageSettings().to_json() == "{}"
    assert MessageSettings.from_json("") == MessageSettings.from_json("{}") == MessageSettings()


def test_every_embed_setting_shapes_the_embed() -> None:
    plan = plan_with(
        color="#00ff00",
        show_author=False,
        image="thumbnail",
        footer="{feed} · {published:date}",
        timestamp=False,
        fields=["reading_time", "author"],
        content="New from {feed}: {summary:60}",
    )
    [embed] = plan.embeds
    assert embed.color == 0x00FF00
    assert embed.author_name == ""
    assert (embed.image_url, embed.thumbnail_url) == (None, ARTICLE.image_url)
    assert embed.footer_text == "The Weekly: news · 1 March 2025"
    assert embed.timestamp is None
    assert [(f.name, f.value) for f in embed.fields] == [
        ("Reading time", "3 min read"),
        ("Author", "Jane Doe"),
    ]
    assert plan.content.startswith("New from The Weekly: news: Tenants")


def test_no_image_and_no_fields() -> None:
    plan = plan_with(image="none", fields=[])
    [embed] = plan.embeds
    assert embed.image_url is None and embed.thumbnail_url is None and embed.fields == ()


def test_description_by_characters_or_whole_sentences() -> None:
    plan = plan_with(description_unit="sentences", description_length=2)
    assert plan.embeds[0].description == (
        "Tenants on the Riverside estate have won a full repair programme. "
        "The council conceded on Tuesday night."
    )
    plan = plan_with(description_length=70)
    assert plan.embeds[0].description == (
        "Tenants on the Riverside estate have won a full repair programme."
    )


def test_a_role_mention_comes_before_the_content_template() -> None:
    settings = MessageSettings().with_changes({"content": "Read this: {title}"})
    view = SubscriptionView(id=1, mention_role_id=9, message=settings)
    plan = render_plan(ARTICLE, view, outbox_id=3)
    assert plan.content == "<@&9>\nRead this: Riverside tenants win repairs"
    assert plan.allowed_role_ids == (9,)


def test_content_template_cannot_ping() -> None:
    plan = plan_with(content="@everyone <@&1> {title}")
    assert "@everyone" not in plan.content
    assert "<@&1>" not in plan.content


def test_webhook_name_and_avatar() -> None:
    plan = plan_with(
        "webhook", webhook_name="Riverside Desk", webhook_avatar_url="https://x.example/a.png"
    )
    assert (plan.username, plan.avatar_url) == (
        "Riverside Desk",
        "https://x.example/a.png",
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [("#B3202A", 0xB3202A), ("b3202a", 0xB3202A), ("0x00FF00", 0x00FF00), ("#abc", 0xAABBCC),
     ("Blue", 0x3498DB)],
)  # fmt: skip
def test_colours_as_people_write_them(text: str, value: int) -> None:
    assert parse_colour(text) == value


@pytest.mark.parametrize("text", ["purple-ish", "#12345", "#GGGGGG", "", "x" * 500])
def test_a_colour_that_is_not_a_colour_is_named(text: str) -> None:
    with pytest.raises(InvalidInput, match="is not a colour; write it as #RRGGBB"):
        parse_colour(text)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"footer": "{nope}"}, r"Unknown placeholder \{nope\} in the footer"),
        ({"content": "x" * 1001}, "content above the embed is 1001 characters long"),
        ({"description_length": 20}, "A description of 20 characters is not possible"),
        ({"image": "huge"}, "'huge' is not a image"),
        ({"webhook_name": "Discord news"}, "Discord refuses webhook names containing 'discord'"),
        ({"webhook_avatar_url": "http://127.0.0.1/a.png"}, "not an image address"),
        ({"fields": ["weather"]}, "'weather' is not a field"),
        ({"colour": "red"}, "'colour' is not a message setting"),
    ],
)
def test_bad_settings_are_refused_with_a_sentence(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        MessageSettings().with_changes(changes)


def test_stored_settings_round_trip_and_damage_falls_back_per_setting() -> None:
    settings = MessageSettings().with_changes(
        {"color": "blue", "fields": ["author", "categories"], "footer": "{feed}"}
    )
    assert settings.fields == ("categories", "author")  # one order
    assert MessageSettings.from_json(settings.to_json()) == settings
    damaged = '{"color": "not a colour", "footer": "{feed}", "nonsense": 1}'
    assert MessageSettings.from_json(damaged) == replace(MessageSettings(), footer="{feed}")
    assert MessageSettings.from_json("[1, 2") == MessageSettings()
    assert MessageSettings().color == DEFAULT_COLOR


def test_changing_the_unit_resets_an_impossible_length() -> None:
    sentences = MessageSettings().with_changes({"description_unit": "sentences"})
    assert (sentences.description_unit, sentences.description_length) == ("sentences", 2)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("300", ("characters", 300)), ("2 sentences", ("sentences", 2)),
     ("120 chars", ("characters", 120))],
)  # fmt: skip
def test_description_length_as_typed(text: str, parsed: tuple[str, int]) -> None:
    assert parse_description_length(text) == parsed


@pytest.mark.parametrize("text", ["lots", "3 paragraphs", "-1", "1 2 3"])
def test_bad_description_length(text: str) -> None:
    with pytest.raises(InvalidInput, match="is not a description length"):
        parse_description_length(text)


def test_new_placeholders_in_a_text_template() -> None:
    view = SubscriptionView(
        id=1,
        format="text",
        template="{title} | {feed_url} | {image} | {reading_time} | {content:80} | "
        "{published:relative} | {published:iso}",
    )
    plan = render_plan(ARTICLE, view, outbox_id=3)
    assert ARTICLE.published is not None
    stamp = int(ARTICLE.published.timestamp())
    assert plan.content == (
        "Riverside tenants win repairs | https://weekly.example.org/feed/ | "
        "https://weekly.example.org/riverside.jpg | 3 min read | "
        "Tenants on the Riverside estate have won a full repair programme. | "
        f"<t:{stamp}:R> | 2025-03-01T09:30:00+00:00"
    )


def test_a_sentence_length_reads_back_as_stored() -> None:
    # Stored keys come back sorted: the length (1) before its unit (sentences).
    settings = MessageSettings().with_changes(
        {"description_unit": "sentences", "description_length": 1}
    )
    assert MessageSettings.from_json(settings.to_json()) == settings
    damaged = '{"description_length": 1, "description_unit": "sentences", "image": "huge"}'
    assert MessageSettings.from_json(damaged) == settings
