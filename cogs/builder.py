"""The message builder's Discord side: a private message with menus, buttons and modals.

Thin: every choice goes to `bot.services.builder.MessageBuilder`, which checks it and returns a
new draft; the message is then re-rendered with `draft.plan()` (the newest item exactly as it
will be posted). A bad value gets a private sentence naming it and leaves the draft as it was.
Nothing is stored until Save. The draft lives in this view, in memory: it belongs to one
moderator's open builder, and an unsaved draft is simply gone after a restart; a click on a
closed builder (timed out, or from before a restart) is told so and how to open a new one.
"""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.announce.message import (
    COLOUR_NAMES,
    CONTENT_MAX_CHARS,
    FIELD_TITLES,
    FOOTER_MAX_CHARS,
    colour_text,
)
from bot.errors import PaperboyError
from bot.services.builder import IMAGE_LABELS, Draft, MessageBuilder, describe
from cogs._checks import is_moderator
from cogs._render import embed_of
from cogs._tree import answer_failure, reply_privately

log = logging.getLogger(__name__)

BUILDER_TIMEOUT_SECONDS = 900.0
TEXT_INPUT_MAX = 4000
"""Discord's own limit for a text input: longer values reach our checks, which name the limit."""
NO_MENTIONS = discord.AllowedMentions.none()
PARTS = {"show_author": "Author line", "timestamp": "Timestamp"}
BUILDER_ID_PREFIX = "pb:builder:"
"""Every builder control's custom id starts so (`builder_id`); closed builders are told by it."""


def builder_id(draft: Draft, what: str) -> str:
    """The custom id of one builder control (at most 100 characters, as Discord requires)."""
    return f"{BUILDER_ID_PREFIX}{draft.subscription.id}:{what}"[:100]


def builder_content(draft: Draft, *, note: str = "") -> str:
    """The builder's header above the preview, then the preview's own content."""
    plan = draft.plan()
    header = (
        f"**Message builder** · `{draft.label[:80]}`\n{describe(draft.settings)}\n"
        + (f"{note}\n" if note else "")
        + "-# The feed's newest item, exactly as it will be posted (with its Summary, Related "
        "and Read buttons). Nothing is saved until you press Save."
    )
    if not plan.content:
        return header[:2000]
    combined = f"{header}\n\n{plan.content}"
    return combined if len(combined) <= 2000 else plan.content


class SettingsModal(discord.ui.Modal):
    """One modal of text fields; on submit the values go to the view's draft."""

    def __init__(
        self,
        view: BuilderView,
        key: str,
        title: str,
        inputs: list[discord.ui.TextInput[Any]],
    ) -> None:
        super().__init__(
            title=title, custom_id=builder_id(view.draft, f"modal:{key}"), timeout=None
        )
        self.builder_view = view
        self.inputs = inputs
        for item in inputs:
            self.add_item(item)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        """Apply what was typed, then show the preview again."""
        changes = {str(item.custom_id): item.value for item in self.inputs}
        await self.builder_view.change(interaction, changes)

    async def on_error(  # type: ignore[override]  # discord.py's Modal drops the item argument
        self, interaction: discord.Interaction[Any], error: Exception, /
    ) -> None:
        """The same answers as the command tree's error boundary."""
        await answer_failure(interaction, error, where="The message builder")


def _text_input(
    custom_id: str, label: str, default: str, *, long: bool = False, placeholder: str = ""
) -> discord.ui.TextInput[Any]:
    return discord.ui.TextInput(
        label=label,
        custom_id=custom_id,
        default=default or None,
        placeholder=placeholder[:100] or None,
        required=False,
        style=discord.TextStyle.paragraph if long else discord.TextStyle.short,
        max_length=TEXT_INPUT_MAX,
    )


CLOSED_BUILDER = (
    "This message builder is closed: a builder stays open for 15 minutes, and a restart of "
    "Paperboy closes every builder. Nothing more was saved from it; open it again with "
    "/feeds message."
)


class OpenBuilders:
    """The builders open in this process, by message id. A click on any other builder message
    (timed out, or shown before a restart) gets `CLOSED_BUILDER` rather than Discord's bare
    "This interaction failed"."""

    def __init__(self) -> None:
        self._views: dict[int, BuilderView] = {}

    def add(self, message_id: int, view: BuilderView) -> None:
        """Track a builder just sent; forget the closed ones (memory stays bounded)."""
        self._views = {mid: v for mid, v in self._views.items() if not v.is_finished()}
        self._views[message_id] = view

    def is_open(self, message_id: int) -> bool:
        """Whether the builder on this message still listens to its controls."""
        view = self._views.get(message_id)
        return view is not None and not view.is_finished()


async def answer_closed_builder(
    interaction: discord.Interaction[Any], open_builders: OpenBuilders
) -> None:
    """Answer a click on a builder that no longer listens (no view will)."""
    if interaction.type is not discord.InteractionType.component or interaction.message is None:
        return
    data: dict[str, Any] = dict(interaction.data or {})
    custom_id = str(data.get("custom_id", ""))
    closed = not open_builders.is_open(interaction.message.id)
    if custom_id.startswith(BUILDER_ID_PREFIX) and closed:
        await reply_privately(interaction, CLOSED_BUILDER)


class BuilderView(discord.ui.View):
    """The builder's controls for one moderator's draft."""

    def __init__(self, builder: MessageBuilder, draft: Draft, owner_id: int) -> None:
        super().__init__(timeout=BUILDER_TIMEOUT_SECONDS)
        self.builder = builder
        self.draft = draft
        self.owner_id = owner_id
        self._build()

    # -- layout -------------------------------------------------------------------------------

    def _build(self) -> None:
        self.clear_items()
        settings = self.draft.settings
        image: discord.ui.Select[BuilderView] = discord.ui.Select(
            custom_id=builder_id(self.draft, "image"),
            placeholder="Image",
            options=[
                discord.SelectOption(label=label, value=mode, default=mode == settings.image)
                for mode, label in IMAGE_LABELS.items()
            ],
            row=0,
        )
        image.callback = self._on_image  # type: ignore[method-assign]
        fields: discord.ui.Select[BuilderView] = discord.ui.Select(
            custom_id=builder_id(self.draft, "fields"),
            placeholder="Fields under the description: none",
            min_values=0,
            max_values=len(FIELD_TITLES),
            options=[
                discord.SelectOption(label=title, value=name, default=name in settings.fields)
                for name, title in FIELD_TITLES.items()
            ],
            row=1,
        )
        fields.callback = self._on_fields  # type: ignore[method-assign]
        parts: discord.ui.Select[BuilderView] = discord.ui.Select(
            custom_id=builder_id(self.draft, "parts"),
            placeholder="Author line and timestamp: both off",
            min_values=0,
            max_values=len(PARTS),
            options=[
                discord.SelectOption(label=label, value=name, default=bool(getattr(settings, name)))
                for name, label in PARTS.items()
            ],
            row=2,
        )
        parts.callback = self._on_parts  # type: ignore[method-assign]
        for item in (image, fields, parts):
            self.add_item(item)
        for key, label in (
            ("colour", "Colour"),
            ("footer", "Footer"),
            ("description", "Description length"),
            ("content", "Content above"),
            ("webhook", "Webhook name"),
        ):
            opener: discord.ui.Button[BuilderView] = discord.ui.Button(
                label=label, custom_id=builder_id(self.draft, f"open:{key}"), row=3
            )
            opener.callback = self._opener(key)  # type: ignore[method-assign]
            self.add_item(opener)
        save: discord.ui.Button[BuilderView] = discord.ui.Button(
            label="Save",
            style=discord.ButtonStyle.success,
            custom_id=builder_id(self.draft, "save"),
            disabled=not self.draft.changed,
            row=4,
        )
        save.callback = self._on_save  # type: ignore[method-assign]
        reset: discord.ui.Button[BuilderView] = discord.ui.Button(
            label="Back to default",
            custom_id=builder_id(self.draft, "reset"),
            row=4,
        )
        reset.callback = self._on_reset  # type: ignore[method-assign]
        cancel: discord.ui.Button[BuilderView] = discord.ui.Button(
            label="Cancel",
            style=discord.ButtonStyle.danger,
            custom_id=builder_id(self.draft, "cancel"),
            row=4,
        )
        cancel.callback = self._on_cancel  # type: ignore[method-assign]
        for button in (save, reset, cancel):
            self.add_item(button)

    def message(self, *, note: str = "") -> dict[str, Any]:
        """The builder message's parts: header and preview content, the preview's embeds."""
        plan = self.draft.plan()
        return {
            "content": builder_content(self.draft, note=note),
            "embeds": [embed_of(embed) for embed in plan.embeds],
            "view": self,
            "allowed_mentions": NO_MENTIONS,
        }

    # -- checks and errors --------------------------------------------------------------------

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """Only the moderator who opened the builder, and only while still a moderator."""
        if interaction.user.id != self.owner_id:
            await reply_privately(interaction, "This builder belongs to whoever opened it.")
            return False
        if not await is_moderator(interaction):
            await reply_privately(interaction, "Only moderators can change announcements.")
            return False
        return True

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        """The same answers as the command tree's error boundary."""
        await answer_failure(interaction, error, where="The message builder")

    # -- changes ------------------------------------------------------------------------------

    async def change(self, interaction: discord.Interaction[Any], changes: dict[str, Any]) -> None:
        """Apply checked changes and re-render; a bad value is named privately, nothing changes."""
        try:
            self.draft = self.builder.apply(self.draft, changes)
        except PaperboyError as error:
            await reply_privately(interaction, f"{error} Nothing was changed.")
            return
        self._build()
        await interaction.response.edit_message(**self.message())

    def _values(self, interaction: discord.Interaction[Any]) -> list[str]:
        data: dict[str, Any] = dict(interaction.data or {})
        values = data.get("values", [])
        return [str(v) for v in values] if isinstance(values, list) else []

    async def _on_image(self, interaction: discord.Interaction[Any]) -> None:
        values = self._values(interaction)
        await self.change(interaction, {"image": values[0] if values else "large"})

    async def _on_fields(self, interaction: discord.Interaction[Any]) -> None:
        await self.change(interaction, {"fields": self._values(interaction)})

    async def _on_parts(self, interaction: discord.Interaction[Any]) -> None:
        chosen = set(self._values(interaction))
        await self.change(interaction, {name: name in chosen for name in PARTS})

    def _opener(self, key: str) -> Any:
        async def open_modal(interaction: discord.Interaction[Any]) -> None:
            await interaction.response.send_modal(self._modal(key))

        return open_modal

    def _modal(self, key: str) -> SettingsModal:
        settings = self.draft.settings
        examples = ", ".join(list(COLOUR_NAMES)[:4])
        if key == "colour":
            inputs = [
                _text_input(
                    "color",
                    "Colour (#RRGGBB or a name)",
                    colour_text(settings.color),
                    placeholder=f"#B3202A, {examples}",
                )
            ]
            return SettingsModal(self, key, "Embed colour", inputs)
        if key == "footer":
            inputs = [
                _text_input(
                    "footer",
                    f"Footer (up to {FOOTER_MAX_CHARS}; empty: site)",
                    settings.footer,
                    placeholder="{feed} · {published:date}",
                )
            ]
            return SettingsModal(self, key, "Footer text", inputs)
        if key == "description":
            current = f"{settings.description_length} {settings.description_unit}"
            inputs = [
                _text_input(
                    "description",
                    "Characters (300) or sentences (2 sentences)",
                    current,
                    placeholder="300 or 2 sentences",
                )
            ]
            return SettingsModal(self, key, "Description length", inputs)
        if key == "content":
            inputs = [
                _text_input(
                    "content",
                    f"Text above the embed (up to {CONTENT_MAX_CHARS})",
                    settings.content,
                    long=True,
                    placeholder="New from {feed}: {title}",
                )
            ]
            return SettingsModal(self, key, "Content above the embed", inputs)
        inputs = [
            _text_input("webhook_name", "Webhook name (empty: the feed's)", settings.webhook_name),
            _text_input(
                "webhook_avatar_url",
                "Avatar image URL (empty: the feed's icon)",
                settings.webhook_avatar_url,
            ),
        ]
        return SettingsModal(self, key, "Webhook name and avatar", inputs)

    # -- save, reset, cancel ------------------------------------------------------------------

    async def _on_save(self, interaction: discord.Interaction[Any]) -> None:
        try:
            self.draft = await self.builder.save(self.draft, interaction.user.id)
        except PaperboyError as error:
            await reply_privately(interaction, str(error))
            return
        self.stop()
        message = self.message(note="**Saved.** The next announcement looks like this.")
        message["view"] = None
        await interaction.response.edit_message(**message)

    async def _on_reset(self, interaction: discord.Interaction[Any]) -> None:
        self.draft = self.builder.reset(self.draft)
        self._build()
        await interaction.response.edit_message(**self.message())

    async def _on_cancel(self, interaction: discord.Interaction[Any]) -> None:
        self.stop()
        await interaction.response.edit_message(
            content="Closed without saving; the announcement is unchanged.", embeds=[], view=None
        )


async def open_builder(
    interaction: discord.Interaction[Any],
    builder: MessageBuilder,
    subscription_id: int,
    open_builders: OpenBuilders,
) -> None:
    """Answer `/feeds message` with the builder, privately."""
    assert interaction.guild_id is not None
    await interaction.response.defer(ephemeral=True, thinking=True)
    draft = await builder.open(interaction.guild_id, subscription_id)
    view = BuilderView(builder, draft, interaction.user.id)
    sent = await interaction.followup.send(ephemeral=True, wait=True, **view.message())
    open_builders.add(sent.id, view)
