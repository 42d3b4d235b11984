"""Which of a forum channel's existing tags a new post gets, from the article's categories."""

from __future__ import annotations

from dataclasses import dataclass

from bot.announce.keywords import fold
from bot.announce.limits import MAX_APPLIED_TAGS


@dataclass(frozen=True)
class ForumTag:
    """A tag that exists on the forum channel; `moderated` tags need Manage Threads to apply."""

    id: int
    name: str
    moderated: bool = False


def tag_key(name: str) -> str:
    """The form in which category and tag names are compared: no case, accents or extra spaces."""
    return " ".join(fold(name).split())


def choose_tags(
    categories: tuple[str, ...],
    forum_tags: tuple[ForumTag, ...],
    *,
    requires_tag: bool,
    fallback_tag_id: int | None,
    can_apply_moderated: bool = False,
) -> tuple[int, ...]:
    """Tag ids for a post: forum tags named like the categories, in category order, at most 5.

    When the forum requires a tag and none matched, the configured fallback tag is used if it
    still exists; if it does not, the result is empty and `forum_tag_problem` explains why.
    """
    usable = [tag for tag in forum_tags if can_apply_moderated or not tag.moderated]
    by_name: dict[str, int] = {}
    for tag in usable:
        by_name.setdefault(tag_key(tag.name), tag.id)
    chosen: list[int] = []
    for category in categories:
        tag_id = by_name.get(tag_key(category))
        if tag_id is not None and tag_id not in chosen:
            chosen.append(tag_id)
        if len(chosen) == MAX_APPLIED_TAGS:
            break
    if not chosen and requires_tag and any(tag.id == fallback_tag_id for tag in usable):
        assert fallback_tag_id is not None
        chosen.append(fallback_tag_id)
    return tuple(chosen)


def forum_tag_problem(
    forum_tags: tuple[ForumTag, ...],
    *,
    requires_tag: bool,
    fallback_tag_id: int | None,
    can_apply_moderated: bool = False,
) -> str | None:
    """A sentence for moderators when posts could be refused for lacking a tag, else None."""
    if not requires_tag:
        return None
    if fallback_tag_id is None:
        return (
            "This forum requires a tag on every post, and no fallback tag is set: articles whose "
            "categories match no tag cannot be posted. Choose a fallback tag."
        )
    fallback = next((tag for tag in forum_tags if tag.id == fallback_tag_id), None)
    if fallback is None:
        return "The fallback tag no longer exists in this forum; choose another one."
    if fallback.moderated and not can_apply_moderated:
        return (
            f"The fallback tag {fallback.name!r} is moderated and Paperboy lacks Manage Threads; "
            "choose an unmoderated tag or grant the permission."
        )
    return None
