"""Mention rules: a role is pinged only when the article matches its rule, and the plan allows
exactly the pinged roles (never @everyone, @here or users), whatever the feed's text says."""

from __future__ import annotations

import re
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.announce.filters import Filter, parse_filter
from bot.announce.mentions import MentionRuleView, pinged_roles, rule_outcomes
from bot.announce.render import AnnouncementArticle, SubscriptionView, render_plan

STRIKE = AnnouncementArticle(
    id=1,
    title="Rent strike spreads",
    url="https://paper.example/rent-strike",
    categories=("Housing",),
    excerpt="Tenants stop paying @everyone <@&999> <@42>",
)
SPORT = replace(STRIKE, id=2, title="Cup final tonight", categories=("Sport",), excerpt="")
RULES = (
    MentionRuleView(101, parse_filter('title:"rent strike" OR category:housing')),
    MentionRuleView(102, parse_filter("category:sport")),
    MentionRuleView(103),  # no filter: every article
)
EMBED = SubscriptionView(id=1, format="embed", mention_rules=RULES)


def test_each_role_is_pinged_only_for_matching_articles() -> None:
    assert pinged_roles(STRIKE, None, RULES) == (101, 103)
    assert pinged_roles(SPORT, None, RULES) == (102, 103)
    # The subscription's own role comes first and is never pinged twice.
    assert pinged_roles(SPORT, 103, RULES) == (103, 102)


def test_plans_allow_exactly_the_pinged_roles() -> None:
    for fmt in ("embed", "text", "forum", "webhook"):
        view = replace(EMBED, format=fmt)
        plan = render_plan(STRIKE, view, outbox_id=7)
        assert plan.allowed_role_ids == (101, 103)
        assert plan.content.startswith("<@&101> <@&103>")
        # The feed's own would-be pings stay inert.
        assert "<@&999>" not in plan.content and "@everyone" not in plan.content
    nobody = render_plan(SPORT, replace(EMBED, mention_rules=RULES[:1]), outbox_id=8)
    assert nobody.allowed_role_ids == () and "<@&" not in nobody.content


def test_outcomes_explain_each_rule() -> None:
    described = [o.describe() for o in rule_outcomes(SPORT, 55, RULES)]
    assert described == [
        "<@&55> pinged (the subscription's role for every announcement)",
        '<@&101> not pinged (title:"rent strike" not found; category:housing not found)',
        "<@&102> pinged (category:sport found in a category)",
        "<@&103> pinged (its rule has no filter)",
    ]


_PING = re.compile(r"<@[!&]?\d+>|@everyone|@here")
WORDS = st.sampled_from(["rent", "strike", "sport", "@everyone", "<@&7>", "<@12>", "@here"])


@settings(max_examples=100, deadline=None)
@given(
    st.lists(WORDS, max_size=6).map(" ".join),
    st.lists(WORDS, max_size=3).map(tuple),
    st.lists(st.tuples(st.integers(1, 10**18), st.sampled_from(["", "rent", "NOT sport"]))),
    st.sampled_from(["embed", "text", "forum", "webhook"]),
)
def test_no_other_ping_ever_gets_through(
    title: str, categories: tuple[str, ...], rules: list[tuple[int, str]], fmt: str
) -> None:
    article = replace(STRIKE, title=title, categories=categories)
    views = tuple(
        MentionRuleView(role, parse_filter(text) if text else Filter()) for role, text in rules
    )
    plan = render_plan(
        article, SubscriptionView(id=1, format=fmt, mention_rules=views), outbox_id=3
    )  # type: ignore[arg-type]
    expected = pinged_roles(article, None, views)
    assert plan.allowed_role_ids == expected
    own = " ".join(f"<@&{role}>" for role in expected)
    rest = plan.content.removeprefix(own)
    assert not _PING.search(rest), rest
    for embed in plan.embeds:
        assert not _PING.search(embed.title + embed.description + embed.footer_text)
