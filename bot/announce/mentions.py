"""Mention rules decided without Discord: which roles one announcement pings, and why.

A subscription's default role (`mention_role_id`) is pinged with every announcement; each mention
rule pings its role only when the article matches the rule's filter. The roles chosen here are
the only ones the message's `allowed_mentions` lets Discord ping (never @everyone, never users).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.announce.filters import Filter, FilterableArticle, Verdict, evaluator

MAX_RULES_PER_SUBSCRIPTION = 10


@dataclass(frozen=True)
class MentionRuleView:
    """One rule as rendering uses it: the role and its parsed filter (empty: always)."""

    role_id: int
    filter: Filter = field(default_factory=Filter)


@dataclass(frozen=True)
class RuleOutcome:
    """One rule's result on one article, for /feeds why and test output."""

    role_id: int
    verdict: Verdict
    always: bool = False
    """The subscription's default role, pinged with every announcement."""

    def describe(self) -> str:
        """How the outcome reads: <@&1> pinged (title:"x" found in the title)."""
        role = f"<@&{self.role_id}>"
        if self.always:
            return f"{role} pinged (the subscription's role for every announcement)"
        if not self.verdict.terms:
            return f"{role} pinged (its rule has no filter)"
        if self.verdict.ok:
            return f"{role} pinged ({self.verdict.why()})"
        return f"{role} not pinged ({self.verdict.why()})"


def rule_outcomes(
    article: FilterableArticle,
    default_role_id: int | None,
    rules: tuple[MentionRuleView, ...],
) -> list[RuleOutcome]:
    """Every rule's outcome, the default role first. Pure."""
    outcomes = []
    if default_role_id is not None:
        outcomes.append(RuleOutcome(default_role_id, Verdict(True), always=True))
    check = evaluator(article)
    outcomes.extend(RuleOutcome(rule.role_id, check(rule.filter)) for rule in rules)
    return outcomes


def pinged_roles(
    article: FilterableArticle,
    default_role_id: int | None,
    rules: tuple[MentionRuleView, ...],
) -> tuple[int, ...]:
    """The roles to ping for this article, each once, in rule order. Pure."""
    roles: list[int] = []
    for outcome in rule_outcomes(article, default_role_id, rules):
        if outcome.verdict.ok and outcome.role_id not in roles:
            roles.append(outcome.role_id)
    return tuple(roles)
