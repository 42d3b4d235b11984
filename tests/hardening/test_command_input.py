"""Hostile slash-command input on the end-to-end bench: the longest strings Discord allows,
control and bidi characters, markdown and mention injection, SQL and FTS5 metacharacters, ids
from another guild and concurrent duplicate adds. Every answer is a specific sentence or a correct
result, never an apology for a bug (which would mean a traceback), never another guild's data."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.models import NewSubscription
from tests.e2e.conftest import Bench, message_text
from tests.hardening.discord_output import message_bodies, output_problems

HOSTILE = [
    "x" * 200,
    "rent " * 40,
    "\x00\x01\x07\x1b[31mred\x7f\u0085",
    "\u202egnirts desrever\u202c \u2066isolated\u2069",
    "@everyone @here <@&1> <@1> <#1> </feeds add:1>",
    "**bold** __under__ ~~strike~~ ||spoiler|| `code` > quote # heading [link](https://evil.example)",
    "'; DROP TABLE articles; --",
    '" OR 1=1 --',
    'housing" OR "1"="1',
    "NEAR(rent strike, 2) AND NOT title:* OR ^start {col1 col2}: x*",
    "rent*",
    '"unbalanced',
    "(((((",
    "%_\\",
    "👩‍👩‍👧‍👦" * 20,
    "e\u0301" * 90,
]
APOLOGY = "went wrong on our side"


async def reply_of(
    bench: Bench, command: str, options: dict[str, object], user: int
) -> dict[str, Any]:
    handle = await bench.command(command, options, user=user)
    return await handle.reply(15)


async def answer_of(bench: Bench, command: str, options: dict[str, object], user: int) -> str:
    return message_text(await reply_of(bench, command, options, user))


async def archive_some_articles(bench: Bench) -> None:
    """Give search and related something to match, so FTS5 really parses the queries."""
    feed = await bench.app.storage.add_feed(bench.site.feed_url, now=bench.app.clock.now())
    assert (await bench.app.poller.poll_feed(feed.id)).ok
    await bench.app.archiver.archive_pending()
    assert await bench.app.storage.scalar("SELECT count(*) FROM articles") >= 10


def assert_no_bug(text: str, what: str) -> None:
    assert APOLOGY not in text, f"{what}: an unexpected failure reached the user: {text}"
    assert "Traceback" not in text and "sqlite3" not in text.lower(), what


async def test_free_text_commands_answer_hostile_input_with_a_sentence_or_results(
    bench: Bench,
) -> None:
    await archive_some_articles(bench)
    tables = await bench.app.storage.scalar("SELECT count(*) FROM sqlite_master")
    member = bench.seed.member_id
    for text in [*HOSTILE, "rent", "housing OR union"]:
        for command, options in (
            ("search", {"query": text[:200]}),
            ("summary", {"article": text}),
            ("related", {"article": text}),
            ("alerts add", {"keyword": text[:200]}),
        ):
            reply = await reply_of(bench, command, options, member)
            answer = message_text(reply)
            assert answer.strip(), f"{command} {text!r}: no answer"
            assert_no_bug(answer, f"{command} {text!r}")
            assert reply.get("flags", 0) & 64, f"{command} {text!r}: answered in public"
    assert output_problems(bench.discord.recorder.requests) == []
    # No injected statement dropped or added anything.
    assert await bench.app.storage.scalar("SELECT count(*) FROM sqlite_master") == tables
    assert await bench.app.storage.scalar("SELECT count(*) FROM articles") >= 10


async def test_filter_commands_answer_hostile_filters_with_a_sentence(bench: Bench) -> None:
    feed = await bench.app.storage.add_feed(bench.site.feed_url, now=bench.app.clock.now())
    assert (await bench.app.poller.poll_feed(feed.id)).ok
    subscription = await bench.app.storage.add_subscription(
        NewSubscription(bench.seed.guild_id, bench.seed.general_id, feed.id, "embed"),
        now=bench.app.clock.now(),
    )
    assert subscription is not None
    role = bench.discord.add_role(bench.seed.guild_id, "Readers")
    deep = "(" * 50 + "a" + ")" * 50
    for text in [*HOSTILE, deep, "/(a+)+$/", "NOT " * 300 + "x", "title:/[/"]:
        for command, options in (
            ("feeds test-filter", {"subscription": str(subscription.id), "filter": text}),
            ("feeds mention add", {"subscription": str(subscription.id), "role": role.id,
                                   "filter": text}),
        ):  # fmt: skip
            reply = await reply_of(bench, command, options, bench.seed.admin_id)
            answer = message_text(reply)
            assert answer.strip(), f"{command} {text!r}: no answer"
            assert_no_bug(answer, f"{command} {text!r}")
            assert reply.get("flags", 0) & 64, f"{command} {text!r}: answered in public"
    # No role may be pinged by any reply: the rules' own role is only named.
    assert output_problems(bench.discord.recorder.requests) == []


async def test_search_echoes_a_query_without_live_markdown(bench: Bench) -> None:
    query = "**bold** [click here](https://evil.example) ~~gone~~"
    answer = await answer_of(bench, "search", {"query": query}, bench.seed.member_id)
    assert "match" in answer
    assert "**bold**" not in answer and "[click here](" not in answer


async def test_the_longest_allowed_strings_for_feeds_add(bench: Bench) -> None:
    long_url = bench.site.feed_url + "?" + "a" * (2048 - len(bench.site.feed_url) - 1)
    cases = [
        {"url": long_url},
        {"url": "https://" + "a" * 2040},
        {"url": bench.site.feed_url, "include": ("word, " * 200)[:1000]},
        {"url": bench.site.feed_url, "exclude": '"; DROP TABLE feeds; --, ' * 30},
        {"url": bench.site.feed_url, "template": ("{title} @everyone <@&1> " * 70)[:1500]},
        {"url": "javascript:alert(1)"},
        {"url": "file:///etc/passwd"},
        {"url": "http://169.254.169.254/latest/meta-data/"},
        {"url": "\u202ehttps://evil.example/"},
    ]
    for options in cases:
        options = {**options, "channel": bench.seed.general_id}
        answer = await answer_of(bench, "feeds add", options, bench.seed.admin_id)
        assert_no_bug(answer, str(options)[:120])
        assert answer.strip()
    for body in message_bodies(bench.discord.recorder.requests):
        content = body.get("content") or ""
        assert "@everyone" not in content.replace("@\u200beveryone", "")
    assert output_problems(bench.discord.recorder.requests) == []


async def test_ids_from_another_guild_are_not_found_and_left_untouched(bench: Bench) -> None:
    other_guild = bench.discord.add_guild("Another server")
    feed = await bench.app.storage.add_feed(bench.site.feed_url, now=bench.app.clock.now())
    foreign = await bench.app.storage.add_subscription(
        NewSubscription(
            guild_id=other_guild.id, channel_id=424242, feed_id=feed.id, format="embed"
        ),
        now=bench.app.clock.now(),
    )
    assert foreign is not None
    for command, extra in (
        ("feeds remove", {}),
        ("feeds pause", {}),
        ("feeds resume", {}),
        ("feeds preview", {}),
        ("feeds test-filter", {"filter": "rent"}),
        ("feeds mention list", {}),
        ("feeds mention add", {"role": bench.seed.admin_role_id}),
    ):
        options = {"subscription": str(foreign.id), **extra}
        answer = await answer_of(bench, command, options, bench.seed.admin_id)
        assert_no_bug(answer, command)
        assert str(other_guild.id) not in answer and "424242" not in answer
        assert bench.site.feed_url not in answer, f"{command} leaked the other guild's feed"
    after = await bench.app.storage.subscription(foreign.id)
    assert after is not None and after.active and not after.paused
    assert await bench.app.storage.mention_rules(foreign.id) == []
    assert output_problems(bench.discord.recorder.requests) == []


async def test_concurrent_duplicate_adds_make_one_subscription(bench: Bench) -> None:
    options = {"url": bench.site.feed_url, "channel": bench.seed.news_id}
    handles = await asyncio.gather(
        *(bench.command("feeds add", options, user=bench.seed.admin_id) for _ in range(4))
    )
    answers = [message_text(await handle.reply(20)) for handle in handles]
    for answer in answers:
        assert_no_bug(answer, "concurrent add")
    assert sum(answer.startswith("Added") for answer in answers) == 1, answers
    subscriptions = await bench.app.storage.guild_subscriptions(bench.seed.guild_id)
    assert len([s for s in subscriptions if s.channel_id == bench.seed.news_id]) == 1
    assert output_problems(bench.discord.recorder.requests) == []
