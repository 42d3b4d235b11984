"""Forum tag choice from article categories."""

from __future__ import annotations

from bot.announce.tags import ForumTag, choose_tags, forum_tag_problem

TAGS = (
    ForumTag(1, "Housing"),
    ForumTag(2, "Trade unions"),
    ForumTag(3, "Élections"),
    ForumTag(4, "Staff picks", moderated=True),
    ForumTag(5, "Other"),
    ForumTag(6, "International"),
    ForumTag(7, "Climate"),
    ForumTag(8, "Culture"),
)


def test_categories_match_tags_ignoring_case_accents_and_spacing() -> None:
    chosen = choose_tags(
        ("trade  UNIONS", "elections", "Unknown", "housing"),
        TAGS,
        requires_tag=False,
        fallback_tag_id=None,
    )
    assert chosen == (2, 3, 1)


def test_at_most_five_tags_and_no_duplicates() -> None:
    categories = ("Housing", "housing", "Trade unions", "Elections", "International", "Climate",
                  "Culture", "Other")  # fmt: skip
    chosen = choose_tags(categories, TAGS, requires_tag=False, fallback_tag_id=None)
    assert chosen == (1, 2, 3, 6, 7)


def test_moderated_tags_need_permission() -> None:
    assert choose_tags(("Staff picks",), TAGS, requires_tag=False, fallback_tag_id=None) == ()
    assert choose_tags(
        ("Staff picks",), TAGS, requires_tag=False, fallback_tag_id=None, can_apply_moderated=True
    ) == (4,)


def test_fallback_tag_when_required_and_nothing_matches() -> None:
    assert choose_tags(("Sport",), TAGS, requires_tag=True, fallback_tag_id=5) == (5,)
    assert choose_tags(("Sport",), TAGS, requires_tag=False, fallback_tag_id=5) == ()
    assert choose_tags(("Housing",), TAGS, requires_tag=True, fallback_tag_id=5) == (1,)


def test_a_deleted_fallback_tag_is_not_applied() -> None:
    assert choose_tags(("Sport",), TAGS, requires_tag=True, fallback_tag_id=99) == ()


def test_problems_are_explained_to_moderators() -> None:
    assert forum_tag_problem(TAGS, requires_tag=False, fallback_tag_id=None) is None
    assert forum_tag_problem(TAGS, requires_tag=True, fallback_tag_id=5) is None
    missing = forum_tag_problem(TAGS, requires_tag=True, fallback_tag_id=None)
    assert missing is not None and "no fallback tag is set" in missing
    gone = forum_tag_problem(TAGS, requires_tag=True, fallback_tag_id=99)
    assert gone == "The fallback tag no longer exists in this forum; choose another one."
    moderated = forum_tag_problem(TAGS, requires_tag=True, fallback_tag_id=4)
    assert moderated is not None and "Manage Threads" in moderated
