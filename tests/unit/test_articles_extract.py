"""Extraction on hand-written pages with navigation, sidebars, share buttons, captions, metadata."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.articles import extract as extract_module
from bot.articles.extract import extract_article, extract_in_thread, parse_published
from bot.errors import InvalidInput

GOLDEN = Path(__file__).resolve().parent / "golden" / "articles"


def _page(name: str) -> bytes:
    return (GOLDEN / name).read_bytes()


def test_article_page_text_and_metadata() -> None:
    article = extract_article(_page("strike_page.html"), "https://example.org/news/bus-strike")
    assert article.url == "https://example.org/news/bus-strike"
    assert article.title == "Bus drivers win pay deal after three-week strike"
    assert article.author == "Rosa Fielding"
    assert article.published == datetime(2024, 3, 5, 8, 30, tzinfo=UTC)
    assert article.description.startswith("Drivers at the Northgate depot forced the company")
    assert article.site_name == "The Test Weekly"
    assert article.image_url == "https://example.org/images/depot.jpg"
    assert article.text.startswith("Bus drivers at the Northgate depot have won a 9 per cent")
    assert "unpaid split shifts" in article.text
    for junk in (
        "Home",
        "Most read",
        "Share on Facebook",
        "Photo:",
        "Image:",
        "Share this",
        "Subscribe",
        "Copyright",
        "Click here",
        "Rent strike spreads",
        "By Rosa",
    ):
        assert junk not in article.text, junk


def test_page_with_only_meta_description() -> None:
    article = extract_article(_page("minimal_page.html"), "https://example.org/library")
    assert article.description == "Only a meta description here."
    assert article.published is None
    assert article.text.startswith("From next month the central library will open")
    assert "public consultation" in article.text


@pytest.mark.parametrize("page", [b"", b"   ", "<<<>>>", b"\x00\x01\x02binary", "<html></html>"])
def test_hostile_or_empty_pages_give_a_clear_error_not_a_crash(page: str | bytes) -> None:
    try:
        article = extract_article(page, "https://example.org/x")
    except InvalidInput as error:
        assert str(error).endswith(".")
    else:
        # Whatever little text there is comes out clean: no control characters survive.
        assert all(ch >= " " or ch == "\n" for ch in article.text)
        assert article.published is None


def test_published_parsing() -> None:
    assert parse_published("2024-03-05") == datetime(2024, 3, 5, tzinfo=UTC)
    assert parse_published("2024-03-05T10:00:00Z") == datetime(2024, 3, 5, 10, tzinfo=UTC)
    assert parse_published("yesterday") is None
    assert parse_published("") is None


async def test_extract_in_thread_matches_direct_extraction() -> None:
    html = _page("strike_page.html")
    assert await extract_in_thread(html, "https://e.org/a") == extract_article(
        html, "https://e.org/a"
    )


async def test_extract_in_thread_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def stuck(html: str | bytes, url: str, **_: object) -> None:
        release.wait(30)

    monkeypatch.setattr(extract_module, "extract_article", stuck)
    try:
        with pytest.raises(InvalidInput, match="too long"):
            await extract_in_thread(b"<html></html>", "https://e.org/a", timeout=0.2)
    finally:
        release.set()


def _legacy_page(head: str = "") -> bytes:
    paragraph = (
        "Tenants at the caf\u00e9 on Market Street \u201cwon\u201d a rent freeze \u2014 "
        "after a six-week strike, the landlord gave way. "
    )
    return (
        f"<html><head>{head}<title>Rent freeze</title></head><body><article>"
        f"<h1>Rent freeze</h1>{f'<p>{paragraph * 3}</p>' * 4}</article></body></html>"
    ).encode("cp1252")


def test_the_http_charset_decides_a_page_without_meta() -> None:
    # Issue #12: a windows-1252 page without <meta charset> was decoded as UTF-8, garbled.
    article = extract_article(
        _legacy_page(), "https://e.org/a", content_type="text/html; charset=windows-1252"
    )
    assert "caf\u00e9 on Market Street \u201cwon\u201d a rent freeze \u2014 after" in article.text


def test_a_page_declaring_punycode_is_read_as_utf8() -> None:
    # Issue #12: punycode raised UnicodeDecodeError on non-ASCII bytes, so the page was unreadable.
    page = _legacy_page('<meta charset="punycode">').decode("cp1252").encode("utf-8")
    article = extract_article(page, "https://e.org/a")
    assert "caf\u00e9 on Market Street" in article.text


async def test_extract_in_thread_passes_the_content_type() -> None:
    article = await extract_in_thread(
        _legacy_page(), "https://e.org/a", content_type="text/html; charset=windows-1252"
    )
    assert "\u201cwon\u201d" in article.text


_DATED_BODY = "<article><h1>Strike ends</h1>" + (
    "<p>The strike ended today after weeks of talks between the union and the employer.</p>" * 5
)


def _dated_page(head: str, body: str = "") -> str:
    return f"<html><head><title>Strike ends</title>{head}</head><body>{body}{_DATED_BODY}</article></body></html>"  # noqa: E501


def _meta_date(value: str) -> str:
    return f'<meta property="article:published_time" content="{value}">'


MARCH_4 = datetime(2024, 3, 4, tzinfo=UTC)


@pytest.mark.parametrize(
    ("page", "published"),
    [
        # The forms seen in the wild, read by trafilatura's metadata (htmldate).
        (
            _dated_page(_meta_date("2024-03-04T09:30:00+01:00")),
            datetime(2024, 3, 4, 8, 30, tzinfo=UTC),
        ),
        (_dated_page(_meta_date("2024-03-04")), MARCH_4),
        (_dated_page(_meta_date("March 4, 2024")), MARCH_4),
        (_dated_page(_meta_date("4 March 2024")), MARCH_4),
        # RFC 2822 keeps its day; htmldate drops the time of day for this form.
        (_dated_page(_meta_date("Mon, 04 Mar 2024 09:30:00 +0100")), MARCH_4),
        (
            _dated_page(
                '<script type="application/ld+json">{"@context": "https://schema.org", '
                '"@type": "NewsArticle", "datePublished": "2024-03-04T09:30:00Z"}</script>'
            ),
            datetime(2024, 3, 4, 9, 30, tzinfo=UTC),
        ),
        (
            _dated_page("", '<time datetime="2024-03-04T09:30:00Z">4 March</time>'),
            datetime(2024, 3, 4, 9, 30, tzinfo=UTC),
        ),
        (_dated_page(""), None),
    ],
    ids=[
        "iso-zone",
        "iso-date",
        "month-day-year",
        "day-month-year",
        "rfc2822",
        "json-ld",
        "time",
        "none",
    ],
)
def test_page_dates_in_every_form_seen(page: str, published: datetime | None) -> None:
    assert extract_article(page, "https://example.org/news/strike-ends").published == published


def test_page_date_is_read_when_trafilatura_finds_no_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(extract_module, "_trafilatura_text", lambda html, url: ("", {}))
    article = extract_article(_dated_page(_meta_date("March 4, 2024")), "https://example.org/x")
    assert article.published == MARCH_4
