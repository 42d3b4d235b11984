"""MessagePlan → discord.py objects: written once, for previews and for the announcer."""

from __future__ import annotations

import discord

from bot.announce.render import EmbedPlan, MessagePlan
from bot.clock import from_iso


def embed_of(plan: EmbedPlan) -> discord.Embed:
    """One embed exactly as planned; empty parts are left unset."""
    embed = discord.Embed(
        title=plan.title or None,
        url=plan.url,
        description=plan.description or None,
        color=plan.color,
        timestamp=from_iso(plan.timestamp) if plan.timestamp else None,
    )
    if plan.author_name:
        embed.set_author(name=plan.author_name, url=plan.author_url, icon_url=plan.author_icon_url)
    if plan.image_url:
        embed.set_image(url=plan.image_url)
    if plan.thumbnail_url:
        embed.set_thumbnail(url=plan.thumbnail_url)
    if plan.footer_text:
        embed.set_footer(text=plan.footer_text, icon_url=plan.footer_icon_url)
    for field in plan.fields:
        embed.add_field(name=field.name, value=field.value, inline=field.inline)
    return embed


def view_of(plan: MessagePlan, *, with_custom_ids: bool = True) -> discord.ui.View | None:
    """The plan's buttons; persistent buttons are left out when nothing will answer them."""
    view = discord.ui.View(timeout=None)
    for button in plan.buttons:
        if button.url:
            view.add_item(discord.ui.Button(label=button.label, url=button.url))
        elif button.custom_id and with_custom_ids:
            view.add_item(
                discord.ui.Button(
                    label=button.label,
                    custom_id=button.custom_id,
                    style=discord.ButtonStyle.secondary,
                )
            )
    return view if view.children else None


def allowed_mentions_of(plan: MessagePlan) -> discord.AllowedMentions:
    """Only the subscription's own role may be pinged; never everyone, here or users."""
    return discord.AllowedMentions(
        everyone=False,
        users=False,
        roles=[discord.Object(role_id) for role_id in plan.allowed_role_ids],
        replied_user=False,
    )
