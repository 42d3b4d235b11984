"""Template validation and safe substitution; the date format subset and time zones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.announce.template import (
    DEFAULT_DATE_FORMAT,
    DEFAULT_TEMPLATE,
    PUBLISHED_FORMATS,
    Placeholder,
    format_date,
    parse_template,
    published_text,
    render_template,
    validate_date_format,
    validate_template,
    validate_timezone,
)
from bot.errors import InvalidInput

VALUES = {
    "title": "Rent strike",
    "url": "https://example.org/rent",
    "author": "Jane Doe",
    "summary": "Tenants won.",
    "categories": "Housing",
    "feed": "Weekly",
    "published": "01 March 2025 09:30",
}


def test_default_template_renders_title_and_url() -> None:
    validate_template(DEFAULT_TEMPLATE)
    assert render_template(DEFAULT_TEMPLATE, VALUES) == "**Rent strike**\nhttps://example.org/rent"


def test_every_placeholder_is_substituted_and_braces_can_be_escaped() -> None:
    template = "{title}|{url}|{author}|{summary}|{categories}|{feed}|{published}|{{literal}}"
    validate_template(template)
    assert render_template(template, VALUES) == (
        "Rent strike|https://example.org/rent|Jane Doe|Tenants won.|Housing|Weekly|"
        "01 March 2025 09:30|{literal}"
    )


def test_placeholders_ignore_case_and_padding() -> None:
    assert render_template("{ Title }", VALUES) == "Rent strike"


def test_unknown_placeholder_is_named_with_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_template("New: {titel}")
    assert str(caught.value).startswith(
        "Unknown placeholder {titel} in the template; you can use {title}, {url}"
    )


@pytest.mark.parametrize(
    "attack", ["{title.__class__}", "{title[0]}", "{0}", "{}", "{title!r}", "{title:>99999}"]
)
def test_format_string_attacks_are_unknown_placeholders(attack: str) -> None:
    with pytest.raises(InvalidInput, match="Unknown placeholder"):
        validate_template(attack)


def test_substitution_never_evaluates_values_as_templates() -> None:
    values = {**VALUES, "title": "{url} {title.__class__}"}
    assert render_template("{title}", values) == "{url} {title.__class__}"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("Hello {title", "never closed"),
        ("Hello } there", "no matching"),
        ("{title}}", "no matching"),
        ("   ", "empty"),
        ("x" * 1501, "1501 characters long; the most allowed is 1500"),
    ],
)
def test_bad_templates_get_specific_messages(template: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        validate_template(template)


def test_template_of_exactly_the_limit_is_accepted() -> None:
    validate_template("{title}" + "x" * 1493)


MOMENT = datetime(2025, 7, 4, 16, 5, 9, tzinfo=UTC)


def test_date_uses_the_guild_time_zone_and_english_names() -> None:
    assert format_date(MOMENT, "Europe/London", "%d %B %Y %H:%M") == "04 July 2025 17:05"
    new_york = format_date(MOMENT, "America/New_York", "%a %e %b %I:%M %p %Z")
    assert new_york == "Fri 4 Jul 12:05 PM EDT"
    assert format_date(MOMENT, "UTC", "%Y-%m-%d %S %j %y %%") == "2025-07-04 09 185 25 %"


@pytest.mark.parametrize("fmt", ["%Q", "%d %", "%c", ""])
def test_unsupported_date_directives_are_refused(fmt: str) -> None:
    with pytest.raises(InvalidInput):
        validate_date_format(fmt)


def test_date_format_error_names_the_directive() -> None:
    with pytest.raises(InvalidInput, match="uses %Q, which is not supported"):
        validate_date_format("%d %Q")


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "", "America", "x" * 300])
def test_unknown_time_zones_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput, match="not a known time zone"):
        validate_timezone(name)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_date(datetime(2025, 1, 1), "UTC", "%Y")  # noqa: DTZ001 - the point of the test


def test_options_are_parsed_into_placeholders() -> None:
    parts = parse_template("A {summary:200} {Published : relative} {content:50}{{x}}")
    assert parts == (
        "A ",
        Placeholder("summary", "200"),
        " ",
        Placeholder("published", "relative"),
        " ",
        Placeholder("content", "50"),
        "{x}",
    )
    assert parts[1].length == 200  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{summary:abc}", r"\{summary:abc\} in the template needs a number of characters"),
        ("{summary:5}", r"asks for 5 characters; use a number from 10 to 4000"),
        ("{content:99999}", r"asks for 99999 characters"),
        ("{published:%Y-%m}", r"\{published:%Y-%m\} in the template is not a date format"),
        ("{title:200}", r"only \{summary:N\}, \{content:N\} and \{published:FORMAT\} take"),
        ("{nope:1}", r"Unknown placeholder \{nope:1\}"),
    ],
)
def test_bad_options_are_refused_with_a_sentence_naming_them(template: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        validate_template(template)


def test_the_field_name_appears_in_the_message() -> None:
    with pytest.raises(InvalidInput, match=r"Unknown placeholder \{x\} in the footer"):
        validate_template("{x}", what="the footer")
    with pytest.raises(InvalidInput, match=r"^The footer is 30 characters long; the most allowed"):
        validate_template("y" * 30, what="the footer", max_chars=20)


def test_long_templates_parse_in_one_scan() -> None:
    # An unclosed brace is reported from one scan, whatever follows it, and a long template of
    # many placeholders parses to exactly its parts.
    for size in (1_000, 100_000):
        with pytest.raises(InvalidInput, match="at character 1 that is never closed"):
            parse_template("{" + "a" * size + "{")
    big = "{title}x" * 50_000
    assert len(parse_template(big)) == 100_000


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("", "04 July 2025 17:05"),
        ("date", "4 July 2025"),
        ("time", "17:05"),
        ("datetime", "4 July 2025 17:05"),
        ("iso", "2025-07-04T16:05:09+00:00"),
        ("relative", f"<t:{int(MOMENT.timestamp())}:R>"),
        ("local", f"<t:{int(MOMENT.timestamp())}:f>"),
        ("local-date", f"<t:{int(MOMENT.timestamp())}:D>"),
    ],
)
def test_every_published_format(option: str, expected: str) -> None:
    assert option == "" or option in PUBLISHED_FORMATS
    assert published_text(MOMENT, option, "Europe/London", DEFAULT_DATE_FORMAT) == expected
