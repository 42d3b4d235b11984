"""The DOCTYPE guard: entity bombs are refused before any parser expands them."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime

import pytest
from feedparser.sanitizer import replace_doctype

from bot.errors import FeedError
from bot.feeds import parse_feed
from bot.feeds.entities import check_entities, declaration_region, prolog_of

NOW = datetime(2026, 1, 1, tzinfo=UTC)
URL = "https://bomb.example/feed"


def big_entity_feed(value_chars: int = 40_000, references: int = 2_000) -> str:
    value = "A" * value_chars
    return (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE rss [\n<!ENTITY big "{value}">\n]>\n'
        '<rss version="2.0"><channel>'
        f"<title>{'&big;' * references}</title>"
        "<item><title>x</title><link>https://bomb.example/x</link></item>"
        "</channel></rss>"
    )


def billion_laughs() -> str:
    lines = ['<!ENTITY lol0 "lol">']
    lines += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE rss [\n' + "\n".join(lines) + "\n]>\n"
        '<rss version="2.0"><channel><title>&lol9;</title>'
        "<item><title>&lol9;</title></item></channel></rss>"
    )


def test_large_entity_referenced_many_times_is_refused() -> None:
    with pytest.raises(FeedError) as caught:
        parse_feed(big_entity_feed().encode(), url=URL, now=NOW)
    assert caught.value.kind == "parse-error"
    assert str(caught.value).startswith("The feed declares entities that would expand to")
    assert str(caught.value).endswith("refused.")


def test_billion_laughs_is_refused() -> None:
    with pytest.raises(FeedError) as caught:
        parse_feed(billion_laughs().encode(), url=URL, now=NOW)
    assert caught.value.kind == "parse-error"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_bomb_in_another_encoding_is_still_refused(encoding: str) -> None:
    document = big_entity_feed().replace('<?xml version="1.0"?>', "")
    with pytest.raises(FeedError):
        parse_feed(
            document.encode(encoding),
            url=URL,
            now=NOW,
            headers={"Content-Type": f"application/xml; charset={encoding}"},
        )


def test_many_small_references_to_a_medium_entity_are_refused() -> None:
    # Each entity is small, but the body references it so often the expansion is huge.
    document = big_entity_feed(value_chars=1_000, references=5_000)
    with pytest.raises(FeedError):
        parse_feed(document.encode(), url=URL, now=NOW)


def test_too_many_declarations_are_refused() -> None:
    declarations = "".join(f'<!ENTITY e{i} "x">' for i in range(500))
    document = f'<!DOCTYPE rss [{declarations}]><rss version="2.0"><channel/></rss>'
    with pytest.raises(FeedError, match="too many"):
        parse_feed(document.encode(), url=URL, now=NOW)


def test_self_referencing_entity_is_refused() -> None:
    document = '<!DOCTYPE rss [<!ENTITY a "x&b;"><!ENTITY b "y&a;">]><rss version="2.0"/>'
    with pytest.raises(FeedError, match="loop"):
        check_entities(document)


def test_declaration_hidden_after_junk_in_the_prolog_is_still_seen() -> None:
    document = "junk text " + big_entity_feed()
    with pytest.raises(FeedError):
        check_entities(document)


def test_small_harmless_entities_still_parse() -> None:
    document = (
        '<?xml version="1.0"?>\n'
        '<!DOCTYPE rss [\n<!ENTITY org "Tenants Union">\n<!ENTITY copy "&#169;">\n]>\n'
        '<rss version="2.0"><channel><title>&org; news &copy;</title>'
        "<item><title>About &org;</title><link>https://ok.example/1</link></item>"
        "</channel></rss>"
    )
    feed = parse_feed(document.encode(), url=URL, now=NOW)
    assert feed.title == "Tenants Union news ©"
    assert feed.items[0].title == "About Tenants Union"


def test_entity_text_in_the_body_is_not_a_declaration() -> None:
    # An article about XML may quote a bomb in its content; only the prolog declares entities.
    quoted = "&lt;!ENTITY lol9 &quot;" + "&amp;lol8;" * 500 + "&quot;&gt;"
    document = (
        '<rss version="2.0"><channel><title>XML security</title><item><title>Bombs</title>'
        f"<link>https://ok.example/b</link><description>{quoted}</description></item>"
        "</channel></rss>"
    )
    assert parse_feed(document.encode(), url=URL, now=NOW).items[0].title == "Bombs"


def test_prolog_includes_the_whole_doctype_and_stops_at_the_root() -> None:
    document = '<?xml version="1.0"?><!-- <a> --><!DOCTYPE x [<!ENTITY e "<b>">]><rss><e/></rss>'
    assert prolog_of(document) == document[: document.index("<rss>")]


def test_documents_without_a_doctype_pass() -> None:
    check_entities('<?xml version="1.0"?><rss version="2.0"><channel/></rss>')


JUNK_BEFORE_DOCTYPE = ["<:x/>", "<-", "<.x>", "<\u00e9t\u00e9/>", "<#>", "<=", "<$a>"]


def junk_then_bomb(junk: str) -> str:
    # 19 KB: one 1,000-character entity referenced 6,000 times (6 million characters expanded).
    return (
        f'<?xml version="1.0"?>\n{junk}\n<!DOCTYPE rss [\n<!ENTITY a "{"A" * 1000}">\n]>\n'
        '<rss version="2.0"><channel><title>T</title>'
        f"<item><title>{'&a;' * 6000}</title></item></channel></rss>"
    )


@pytest.mark.parametrize("junk", JUNK_BEFORE_DOCTYPE)
def test_junk_before_the_doctype_hides_no_declaration(junk: str) -> None:
    # feedparser reads declarations up to the first '<' and ASCII letter, digit or underscore;
    # a guard stopping at `<:x/>` let its loose parser expand them (reported in issue #12).
    tracemalloc.start()
    try:
        with pytest.raises(FeedError, match="1,000,000 characters"):
            parse_feed(junk_then_bomb(junk).encode(), url=URL, now=NOW)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20


@pytest.mark.parametrize("junk", ["", *JUNK_BEFORE_DOCTYPE, "<a>", "<_x>", "<!-- <a> -->"])
def test_the_guard_reads_every_declaration_feedparser_keeps(junk: str) -> None:
    document = junk_then_bomb(junk)
    _, _, kept = replace_doctype(document.encode())
    region = declaration_region(document)
    for name in kept:
        assert f"<!ENTITY {name} " in region
