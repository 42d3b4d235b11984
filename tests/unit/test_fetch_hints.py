"""Retry-After and Cache-Control parsing: pure functions of header text and `now`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.fetch.hints import MAX_HINT_SECONDS, parse_max_age, parse_retry_after, server_hint

NOW = datetime(2025, 3, 14, 12, 0, 0, tzinfo=UTC)


def test_retry_after_in_seconds() -> None:
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after("  0 ", NOW) == 0.0


def test_retry_after_http_date_is_relative_to_now() -> None:
    assert parse_retry_after("Fri, 14 Mar 2025 12:05:00 GMT", NOW) == 300.0


def test_retry_after_date_in_the_past_means_now() -> None:
    assert parse_retry_after("Fri, 14 Mar 2025 11:00:00 GMT", NOW) == 0.0


def test_retry_after_is_capped_at_seven_days() -> None:
    assert parse_retry_after("999999999999", NOW) == MAX_HINT_SECONDS
    assert parse_retry_after("Sat, 01 Jan 2050 00:00:00 GMT", NOW) == MAX_HINT_SECONDS


@pytest.mark.parametrize("junk", [None, "", "soon", "-5", "1.5", "Fri, 99 Foo 2025", "9" * 200])
def test_retry_after_junk_is_ignored(junk: str | None) -> None:
    assert parse_retry_after(junk, NOW) is None


def test_retry_after_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_retry_after("5", datetime(2025, 1, 1))  # noqa: DTZ001 - the naive value is the point


def test_max_age_is_read_from_a_directive_list() -> None:
    assert parse_max_age("public, max-age=600, must-revalidate") == 600.0
    assert parse_max_age('MAX-AGE="60"') == 60.0


def test_max_age_subtracts_the_age_header() -> None:
    assert parse_max_age("max-age=600", "100") == 500.0
    assert parse_max_age("max-age=600", "9000") == 0.0


def test_max_age_is_capped_and_absent_is_none() -> None:
    assert parse_max_age("max-age=99999999") == MAX_HINT_SECONDS
    assert parse_max_age("no-store") is None
    assert parse_max_age("s-maxage=60") is None
    assert parse_max_age(None) is None


def test_server_hint_prefers_retry_after() -> None:
    headers = {"retry-after": "30", "cache-control": "max-age=600"}
    assert server_hint(headers, NOW) == 30.0
    assert server_hint({"cache-control": "max-age=600"}, NOW) == 600.0
    assert server_hint({}, NOW) is None


@given(st.text(max_size=80))
def test_any_header_text_gives_none_or_a_bounded_wait(text: str) -> None:
    for hint in (parse_retry_after(text, NOW), parse_max_age(text, text)):
        assert hint is None or 0.0 <= hint <= MAX_HINT_SECONDS
