"""Checks over every message body the bot sent to the Discord stand-in."""

from __future__ import annotations

import re
from typing import Any

from tests.bench.discord_standin.recorder import RecordedRequest

_MENTION = re.compile(r"@everyone|@here|<@[!&]?\d+>", re.IGNORECASE)


def _message_bodies(request: RecordedRequest) -> list[dict[str, Any]]:
    body = request.json
    if not isinstance(body, dict):
        return []
    if "/interactions/" in request.path and isinstance(body.get("data"), dict):
        body = body["data"]  # an interaction callback wraps the message in `data`
    if "content" in body or "embeds" in body:
        return [body]
    return []


def body_problems(body: dict[str, Any], allowed_roles: set[int]) -> list[str]:
    """Every Discord limit or mention rule the message body breaks."""
    problems: list[str] = []
    content = body.get("content") or ""
    if len(content) > 2000:
        problems.append(f"content is {len(content)} characters")
    embeds = body.get("embeds") or []
    if len(embeds) > 10:
        problems.append(f"{len(embeds)} embeds")
    total = 0
    for embed in embeds:
        for key, limit in (("title", 256), ("description", 4096)):
            if len(embed.get(key) or "") > limit:
                problems.append(f"embed {key} over {limit}")
        footer = (embed.get("footer") or {}).get("text") or ""
        author = (embed.get("author") or {}).get("name") or ""
        fields = embed.get("fields") or []
        if len(footer) > 2048 or len(author) > 256 or len(fields) > 25:
            problems.append("embed footer, author or fields over the limit")
        for item in fields:
            if len(item.get("name") or "") > 256 or len(item.get("value") or "") > 1024:
                problems.append("embed field over the limit")
        total += len(embed.get("title") or "") + len(embed.get("description") or "")
        total += len(footer) + len(author)
        total += sum(len(f.get("name") or "") + len(f.get("value") or "") for f in fields)
    if total > 6000:
        problems.append(f"embeds total {total} characters")
    mentions = body.get("allowed_mentions")
    if mentions is None:
        if _MENTION.search(content):
            problems.append(f"mention syntax without allowed_mentions: {content[:80]!r}")
    else:
        parse = set(mentions.get("parse") or [])
        if "everyone" in parse:
            problems.append("allowed_mentions parses everyone/here")
        if "roles" in parse:
            problems.append("allowed_mentions parses every role")
        roles = {int(r) for r in mentions.get("roles") or []}
        if not roles <= allowed_roles:
            problems.append(f"allowed_mentions allows roles {roles - allowed_roles}")
    return problems


def output_problems(
    requests: list[RecordedRequest], allowed_roles: set[int] | None = None
) -> list[str]:
    """Problems across every message-bearing request the bot made."""
    found = []
    for request in requests:
        for body in _message_bodies(request):
            for problem in body_problems(body, allowed_roles or set()):
                found.append(f"{request.method} {request.path}: {problem}")
    return found


def message_bodies(requests: list[RecordedRequest]) -> list[dict[str, Any]]:
    """Every message body the bot sent (posts, edits, webhook executions, interaction replies)."""
    return [body for request in requests for body in _message_bodies(request)]
