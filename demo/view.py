"""A local web page that shows the demo server the way a Discord client would.

It reads the Discord stand-in's state (channels, messages with embeds and buttons, forum posts
with their tags, the private answers to the scripted commands) and renders it as HTML. Every
piece of text comes from feeds or commands, so everything is escaped; only http(s) links and
images are kept. The page polls `/view` and swaps in the new HTML when it changed.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.bench.discord_standin import DiscordStandIn
from tests.bench.discord_standin.interactions import InteractionHandle
from tests.bench.discord_standin.state import FORUM, NEWS, Channel

PAGE = Path(__file__).with_name("page.html")
DISCORD_EPOCH_MS = 1_420_070_400_000
MSG_EPHEMERAL = 1 << 6
MSG_LOADING = 1 << 7

# Discord's inline markdown, one token at a time: an escaped character, bold, a masked link,
# inline code, a <t:...> timestamp. Anything else is plain text.
_INLINE = re.compile(
    r"\\(?P<escaped>[^\w\s])"
    r"|\*\*(?P<bold>.+?)\*\*"
    r"|\[(?P<label>[^\]\n]{1,300})\]\(<?(?P<href>https?://[^\s)>]{1,2048})>?\)"
    r"|`(?P<code>[^`\n]{1,500})`"
    r"|<t:(?P<stamp>\d{1,12})(?::[tTdDfFR])?>"
    r"|<(?P<bare>https?://[^\s>]{1,2048})>",
)


def esc(text: object) -> str:
    """HTML-escape any value for text or a quoted attribute."""
    return html.escape(str(text), quote=True)


def safe_url(url: object) -> str | None:
    """The URL if it is plain http(s), else None (no javascript:, data: or relative links)."""
    if isinstance(url, str) and re.match(r"https?://[^\s\"'<>]+\Z", url):
        return url
    return None


def markdown(text: str) -> str:
    """Render the small part of Discord markdown that Paperboy uses, escaping everything else."""
    out: list[str] = []
    position = 0
    for match in _INLINE.finditer(text):
        out.append(esc(text[position : match.start()]))
        position = match.end()
        if match["escaped"] is not None:
            out.append(esc(match["escaped"]))
        elif match["bold"] is not None:
            out.append(f"<strong>{markdown(match['bold'])}</strong>")
        elif match["href"] is not None:
            out.append(
                f'<a href="{esc(match["href"])}" target="_blank" rel="noopener noreferrer">'
                f"{markdown(match['label'])}</a>"
            )
        elif match["code"] is not None:
            out.append(f"<code>{esc(match['code'])}</code>")
        elif match["stamp"] is not None:
            moment = datetime.fromtimestamp(min(int(match["stamp"]), 253402300799), UTC)
            out.append(f'<span class="stamp">{esc(moment.strftime("%d %b %Y %H:%M UTC"))}</span>')
        else:
            out.append(link(match["bare"], match["bare"]))
    out.append(esc(text[position:]))
    return "".join(out)


def link(url: object, label_html: str) -> str:
    """An external link if the URL is safe, else just the label."""
    href = safe_url(url)
    if href is None:
        return label_html
    return f'<a href="{esc(href)}" target="_blank" rel="noopener noreferrer">{label_html}</a>'


def snowflake_time(snowflake: int) -> str:
    """The HH:MM (UTC) a snowflake was made."""
    moment = datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, UTC)
    return moment.strftime("%H:%M")


def colour(value: object) -> str:
    """An embed colour as CSS, Discord's default grey when unset."""
    if isinstance(value, int) and 0 <= value <= 0xFFFFFF:
        return f"#{value:06x}"
    return "#4e5058"


@dataclass
class ScriptedCommand:
    """A command the demo ran as a member, kept so its private answers can be shown."""

    user: str
    name: str
    """As the client shows it: "/feeds add"."""
    handle: InteractionHandle


@dataclass
class DemoState:
    """What the page shows besides the stand-in's own state: status and scripted commands."""

    guild_id: int
    first_channel_id: int
    status: str = "Starting Paperboy…"
    commands: list[ScriptedCommand] = field(default_factory=list)


def render_embed(embed: dict[str, Any]) -> str:
    """One embed: colour bar, author, title link, description, fields, image, footer."""
    parts = [f'<div class="embed" style="border-left-color:{colour(embed.get("color"))}">']
    author = embed.get("author") or {}
    if author.get("name"):
        parts.append(
            f'<div class="embed-author">{link(author.get("url"), esc(author["name"]))}</div>'
        )
    if embed.get("title"):
        title = markdown(str(embed["title"]))
        parts.append(f'<div class="embed-title">{link(embed.get("url"), title)}</div>')
    if embed.get("description"):
        parts.append(f'<div class="embed-description">{markdown(str(embed["description"]))}</div>')
    fields = embed.get("fields") or []
    if fields:
        parts.append('<div class="embed-fields">')
        for item in fields:
            inline = " inline" if item.get("inline") else ""
            parts.append(
                f'<div class="embed-field{inline}">'
                f'<div class="embed-field-name">{markdown(str(item.get("name") or ""))}</div>'
                f'<div class="embed-field-value">{markdown(str(item.get("value") or ""))}</div>'
                "</div>"
            )
        parts.append("</div>")
    image = safe_url((embed.get("image") or {}).get("url"))
    if image is not None:
        parts.append(f'<img class="embed-image" alt="" src="{esc(image)}">')
    footer = embed.get("footer") or {}
    footer_bits = []
    icon = safe_url(footer.get("icon_url"))
    if icon is not None:
        footer_bits.append(f'<img class="embed-footer-icon" alt="" src="{esc(icon)}">')
    if footer.get("text"):
        footer_bits.append(esc(footer["text"]))
    if embed.get("timestamp"):
        footer_bits.append(f" · {esc(str(embed['timestamp'])[:16].replace('T', ' '))}")
    if footer_bits:
        parts.append(f'<div class="embed-footer">{"".join(footer_bits)}</div>')
    parts.append("</div>")
    return "".join(parts)


def render_components(rows: list[dict[str, Any]]) -> str:
    """Action rows of buttons (link buttons open their page; the others are for show)."""
    parts = ['<div class="components">']
    for row in rows:
        parts.append('<div class="action-row">')
        for component in row.get("components") or []:
            if component.get("type") != 2:
                continue
            label = esc(component.get("label") or (component.get("emoji") or {}).get("name") or "")
            style = int(component.get("style") or 2)
            url = safe_url(component.get("url"))
            if style == 5 and url is not None:
                parts.append(
                    f'<a class="button style-5" href="{esc(url)}" target="_blank" '
                    f'rel="noopener noreferrer">{label} ↗</a>'
                )
            else:
                disabled = " disabled" if component.get("disabled") else ""
                parts.append(
                    f'<button class="button style-{style}" type="button"{disabled}>{label}</button>'
                )
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


_MENTION = re.compile(r"<(#|@&|@!?)(\d{1,20})>")


def resolve_mentions(text: str, standin: DiscordStandIn) -> str:
    """`<#id>`, `<@id>` and `<@&id>` as the names a Discord client shows."""

    def name(match: re.Match[str]) -> str:
        kind, raw = match[1], int(match[2])
        if kind == "#":
            channel = standin.channels.get(raw)
            return f"#{channel.name}" if channel else "#unknown-channel"
        if kind == "@&":
            roles = (g.roles.get(raw) for g in standin.guilds.values())
            role = next((r for r in roles if r is not None), None)
            return f"@{role.name}" if role else "@unknown-role"
        user = standin.users.get(raw)
        return f"@{user.global_name or user.username}" if user else "@unknown-user"

    return _MENTION.sub(name, text)


def with_names(message: dict[str, Any], standin: DiscordStandIn) -> dict[str, Any]:
    """A copy of the message with mentions in its text replaced by names."""
    embeds = []
    for embed in message.get("embeds") or []:
        copy = dict(embed)
        if copy.get("description"):
            copy["description"] = resolve_mentions(str(copy["description"]), standin)
        copy["fields"] = [
            {**item, "value": resolve_mentions(str(item.get("value") or ""), standin)}
            for item in embed.get("fields") or []
        ]
        embeds.append(copy)
    content = resolve_mentions(str(message.get("content") or ""), standin)
    return {**message, "content": content, "embeds": embeds}


def render_message(
    message: dict[str, Any],
    standin: DiscordStandIn,
    *,
    only_visible_to: str | None = None,
    command_names: dict[int, str] | None = None,
) -> str:
    """One message as a Discord client shows it; `command_names` by interaction id."""
    message = with_names(message, standin)
    author = message.get("author") or {}
    name = author.get("global_name") or author.get("username") or "unknown"
    flags = int(message.get("flags") or 0)
    classes = "message ephemeral" if only_visible_to else "message"
    parts = [f'<article class="{classes}" data-message-id="{esc(message.get("id", ""))}">']
    used = (message.get("interaction_metadata") or {}).get("user")
    if used:
        who = esc(used.get("global_name") or used.get("username"))
        interaction = (message.get("interaction_metadata") or {}).get("id")
        command = (command_names or {}).get(int(interaction or 0), "a command")
        parts.append(f'<div class="used-command">↱ <b>{who}</b> used {esc(command)}</div>')
    parts.append(f'<div class="avatar">{esc(name[:1].upper())}</div><div class="message-body">')
    badge = '<span class="badge">APP</span>' if author.get("bot") else ""
    parts.append(
        f'<div class="message-header"><span class="author">{esc(name)}</span>{badge}'
        f'<span class="time">Today at {snowflake_time(int(message.get("id") or 0))}</span></div>'
    )
    if flags & MSG_LOADING:
        parts.append(f'<div class="thinking">{esc(name)} is thinking…</div>')
    if message.get("content"):
        parts.append(f'<div class="content">{markdown(str(message["content"]))}</div>')
    for embed in message.get("embeds") or []:
        parts.append(render_embed(embed))
    if message.get("components"):
        parts.append(render_components(message["components"]))
    thread = message.get("thread")
    if thread:
        count = len(standin.channel_messages.get(int(thread["id"]), []))
        parts.append(
            f'<div class="thread-link">Thread: <b>{esc(thread.get("name") or "")}</b> · '
            f"{count} message{'s' if count != 1 else ''}</div>"
        )
    if only_visible_to:
        parts.append(
            f'<div class="only-you">Only {esc(only_visible_to)} can see this · '
            "<span>Dismiss message</span></div>"
        )
    parts.append("</div></article>")
    return "".join(parts)


def private_answers(state: DemoState, standin: DiscordStandIn) -> dict[int, list[tuple[int, str]]]:
    """The scripted commands' private answers by channel, as (message id, html)."""
    found: dict[int, list[tuple[int, str]]] = {}
    for command in state.commands:
        handle = command.handle
        ids = [handle.original_message_id, *handle.followup_ids]
        for message_id in dict.fromkeys(i for i in ids if i is not None):
            message = standin.ephemeral_messages.get(message_id)
            if message is None or message_id in standin.messages:
                continue  # public answers are in the channel already
            found.setdefault(handle.channel_id, []).append(
                (
                    message_id,
                    render_message(
                        message,
                        standin,
                        only_visible_to=command.user,
                        command_names={handle.id: command.name},
                    ),
                )
            )
    return found


def render_forum(forum: Channel, standin: DiscordStandIn) -> str:
    """A forum channel: its posts, newest first, each with its tags and first message."""
    tag_names = {tag.id: tag.name for tag in forum.available_tags}
    posts = [
        channel
        for channel in standin.channels.values()
        if channel.parent_id == forum.id and channel.is_thread
    ]
    posts.sort(key=lambda post: post.id, reverse=True)
    if not posts:
        return '<p class="empty">No posts yet.</p>'
    parts = []
    for post in posts:
        tags = "".join(
            f'<span class="tag">{esc(tag_names.get(tag, "?"))}</span>' for tag in post.applied_tags
        )
        first = standin.messages.get(post.id)
        body = render_message(first, standin) if first is not None else ""
        parts.append(
            f'<section class="forum-post" data-post-id="{post.id}">'
            f'<h3 class="post-title">{esc(post.name)}</h3><div class="tags">{tags}</div>'
            f'{body}<div class="post-meta">{max(post.message_count - 1, 0)} replies</div>'
            "</section>"
        )
    return "".join(parts)


# Drawn as SVG: a headless browser on a server often has no emoji font.
_MEGAPHONE = (
    '<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true"><path fill="currentColor" '
    'd="M3 10v4h3l6 4V6L6 10H3zm13 2a4 4 0 0 0-2-3.5v7A4 4 0 0 0 16 12zm-2-8v2a6 6 0 0 1 0 12v2'
    'a8 8 0 0 0 0-16z"/></svg>'
)
_BUBBLES = (
    '<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true"><path fill="currentColor" '
    'd="M4 3h12a2 2 0 0 1 2 2v7a2 2 0 0 1-2 2H9l-4 3v-3H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm16 5h1a1 '
    '1 0 0 1 1 1v9a1 1 0 0 1-1 1h-1v3l-4-3h-6a1 1 0 0 1-1-1v-1h8a3 3 0 0 0 3-3V8z"/></svg>'
)


def channel_icon(channel: Channel) -> str:
    """The symbol Discord shows before a channel's name (trusted markup)."""
    return {NEWS: _MEGAPHONE, FORUM: _BUBBLES}.get(channel.type, "#")


def render_view(state: DemoState, standin: DiscordStandIn) -> str:
    """The whole client (server name, channel list, every channel's content) as HTML."""
    guild = standin.guilds.get(state.guild_id)
    if guild is None:
        return '<p class="empty">Starting…</p>'
    channels = [
        standin.channels[c]
        for c in guild.channel_ids
        if c in standin.channels and not standin.channels[c].is_thread
    ]
    answers = private_answers(state, standin)
    names = {command.handle.id: command.name for command in state.commands}
    sidebar = [f'<aside class="sidebar"><header class="guild-name">{esc(guild.name)}</header><nav>']
    panes = []
    for channel in channels:
        sidebar.append(
            f'<a class="channel-link" href="#c{channel.id}" data-channel="{channel.id}">'
            f'<span class="icon">{channel_icon(channel)}</span>{esc(channel.name)}</a>'
        )
        topic = f'<span class="topic">{esc(channel.topic)}</span>' if channel.topic else ""
        header = (
            f'<header class="channel-header"><span class="icon">{channel_icon(channel)}</span>'
            f"<h2>{esc(channel.name)}</h2>{topic}</header>"
        )
        if channel.type == FORUM:
            content = render_forum(channel, standin)
        else:
            items = [
                (int(message["id"]), render_message(message, standin, command_names=names))
                for message in standin.messages_in(channel.id, include_threads=False)
            ]
            items += answers.get(channel.id, [])
            items.sort()
            content = (
                "".join(html_ for _, html_ in items) or '<p class="empty">No messages yet.</p>'
            )
        panes.append(
            f'<section class="channel" id="c{channel.id}" data-pane="{channel.id}"'
            f' data-channel-name="{esc(channel.name)}">{header}'
            f'<div class="messages">{content}</div></section>'
        )
    sidebar.append(f'</nav><footer class="status">{esc(state.status)}</footer></aside>')
    return (
        f'<div class="client" data-default="{state.first_channel_id}">'
        f"{''.join(sidebar)}<main>{''.join(panes)}</main></div>"
    )


def make_app(render: Callable[[], str]) -> web.Application:
    """The page at / and its live fragment at /view."""
    page = PAGE.read_text(encoding="utf-8")

    async def index(_: web.Request) -> web.Response:
        return web.Response(
            text=page.replace("<!--VIEW-->", render()),
            content_type="text/html",
            headers={"Cache-Control": "no-store"},
        )

    async def view(_: web.Request) -> web.Response:
        return web.Response(
            text=render(), content_type="text/html", headers={"Cache-Control": "no-store"}
        )

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/view", view)
    return app
