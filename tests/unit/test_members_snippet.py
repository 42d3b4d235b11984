"""/search snippets keep the engine's bold marks, escape the rest, and keep the spaces between."""

from __future__ import annotations

from cogs.members import _snippet


def test_words_beside_a_match_keep_their_spaces() -> None:
    snippet = "ends a six-week **rent** **strike** in which **rent** was withheld"
    assert _snippet(snippet) == snippet


def test_text_between_marks_is_escaped_and_an_unmatched_mark_dropped() -> None:
    assert _snippet("say _hi_ to **@everyone** now **x") == (
        "say \\_hi\\_ to **@\u200beveryone** now x"
    )
