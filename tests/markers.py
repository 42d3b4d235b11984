"""Reading Paperboy's delivery marker off a posted message, as the stand-in stores it.

The marker travels only in the custom ids of an announcement's buttons (members never read it),
so tests find announcements and their markers the same way the sender does after a crash.
"""

from __future__ import annotations

from typing import Any

from bot.announce.render import marker_of_custom_id


def custom_ids(message: dict[str, Any]) -> list[str]:
    """Every custom id on the message's components, rows included."""
    found: list[str] = []
    stack = list(message.get("components") or [])
    while stack:
        component = stack.pop(0)
        if component.get("custom_id"):
            found.append(str(component["custom_id"]))
        stack.extend(component.get("components") or [])
    return found


def marker_of(message: dict[str, Any]) -> str:
    """The delivery marker (e.g. pb-o12) the message's buttons carry, or ''."""
    return next((m for m in map(marker_of_custom_id, custom_ids(message)) if m), "")


def visible_text(message: dict[str, Any]) -> str:
    """Everything a member reads in a message: content and every embed text part."""
    parts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts.append((embed.get("footer") or {}).get("text") or "")
        parts.append((embed.get("author") or {}).get("name") or "")
        for field in embed.get("fields") or []:
            parts += [field.get("name") or "", field.get("value") or ""]
    return "\n".join(parts)
