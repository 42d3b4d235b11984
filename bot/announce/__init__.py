"""Announcements, part 1: what an announcement looks like and which items to announce.

Pure code: no Discord, no SQL, no I/O. `render_plan` turns an article and a subscription into a
`MessagePlan`; `policy` decides which new items to announce and when; `filters` and `tags`
apply moderators' rules.
"""

from bot.announce.filters import FilterDecision, FilterSpec, FilterTerm, matches, parse_filter
from bot.announce.policy import (
    NewItem,
    PollDecision,
    Verdict,
    decide_new_items,
)
from bot.announce.render import (
    AnnouncementArticle,
    ButtonPlan,
    EmbedField,
    EmbedPlan,
    MessagePlan,
    SubscriptionView,
    plan_violations,
    render_plan,
)
from bot.announce.tags import ForumTag, choose_tags, forum_tag_problem
from bot.announce.template import (
    format_date,
    render_template,
    validate_date_format,
    validate_template,
    validate_timezone,
)

__all__ = [
    "AnnouncementArticle",
    "ButtonPlan",
    "EmbedField",
    "EmbedPlan",
    "FilterDecision",
    "FilterSpec",
    "FilterTerm",
    "ForumTag",
    "MessagePlan",
    "NewItem",
    "PollDecision",
    "SubscriptionView",
    "Verdict",
    "choose_tags",
    "decide_new_items",
    "format_date",
    "forum_tag_problem",
    "matches",
    "parse_filter",
    "plan_violations",
    "render_plan",
    "render_template",
    "validate_date_format",
    "validate_template",
    "validate_timezone",
]
