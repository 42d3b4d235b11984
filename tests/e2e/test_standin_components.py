"""The stand-in's message components and modals, proven with a plain discord.py client.

Discord's rules the bot can break (custom ids, rows, select options, modal shapes) are answered
with 400/50035 as Discord does; a member clicks buttons, picks select options and submits modals
through the test API, and the bot's type 7 (update) and 9 (modal) answers land where Discord
puts them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest

from tests.bench.conftest_standin import discord_standin, standin_seed  # noqa: F401
from tests.bench.discord_standin import DiscordStandIn, Seed, StandInUsageError
from tests.bench.discord_standin.harness import running_client


class NameModal(discord.ui.Modal, title="Name"):
    """One text input; the submit updates the message the modal was opened from."""

    name: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Name", custom_id="name", default="old", max_length=10
    )

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.edit_message(content=f"name: {self.name.value}")


class Panel(discord.ui.View):
    """A select and two buttons: one updates the message, one opens a modal."""

    def __init__(self) -> None:
        super().__init__(timeout=60)

    @discord.ui.select(
        custom_id="panel:colour",
        min_values=1,
        max_values=2,
        options=[discord.SelectOption(label=c, value=c) for c in ("red", "green", "blue")],
    )
    async def colour(
        self, interaction: discord.Interaction[Any], select: discord.ui.Select[Any]
    ) -> None:
        await interaction.response.edit_message(content=f"colours: {','.join(select.values)}")

    @discord.ui.button(label="Rename", custom_id="panel:rename")
    async def rename(
        self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]
    ) -> None:
        await interaction.response.send_modal(NameModal())


@pytest.fixture
async def client(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
) -> AsyncIterator[discord.Client]:
    """A logged-in plain client."""
    bot = discord.Client(intents=discord.Intents.default())
    async with running_client(discord_standin, bot):
        yield bot


async def channel_of(client: discord.Client, seed: Seed) -> discord.TextChannel:
    channel = client.get_channel(seed.general_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_select_pick_and_modal_submit_update_the_message(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
    client: discord.Client,
) -> None:
    channel = await channel_of(client, standin_seed)
    sent = await channel.send("panel", view=Panel())
    member = standin_seed.member_id
    picked = await discord_standin.click(member, sent.id, "panel:colour", values=["red", "blue"])
    assert (await picked.callback()).type == 7
    assert discord_standin.messages[sent.id]["content"] == "colours: red,blue"

    opened = await discord_standin.click(member, sent.id, "panel:rename")
    modal = (await opened.callback()).data
    assert modal["title"] == "Name" and modal["components"][0]["components"][0]["value"] == "old"
    submitted = await discord_standin.submit_modal(opened, member, {"name": "new"})
    assert (await submitted.callback()).type == 7
    assert discord_standin.messages[sent.id]["content"] == "name: new"


async def test_a_member_cannot_do_what_the_client_forbids(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
    client: discord.Client,
) -> None:
    channel = await channel_of(client, standin_seed)
    sent = await channel.send("panel", view=Panel())
    member = standin_seed.member_id
    with pytest.raises(StandInUsageError, match="not all options"):
        await discord_standin.click(member, sent.id, "panel:colour", values=["purple"])
    with pytest.raises(StandInUsageError, match="takes 1 to 2 values"):
        await discord_standin.click(member, sent.id, "panel:colour", values=[])
    with pytest.raises(StandInUsageError, match="buttons take no values"):
        await discord_standin.click(member, sent.id, "panel:rename", values=["x"])
    opened = await discord_standin.click(member, sent.id, "panel:rename")
    with pytest.raises(StandInUsageError, match="takes 0 to 10 characters"):
        await discord_standin.submit_modal(opened, member, {"name": "x" * 11})


def row(*components: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(components)}


def button(custom_id: str, label: str = "Go") -> dict[str, Any]:
    return {"type": 2, "style": 2, "label": label, "custom_id": custom_id}


def select(custom_id: str, count: int, **extra: Any) -> dict[str, Any]:
    options = [{"label": f"o{i}", "value": f"o{i}"} for i in range(count)]
    return {"type": 3, "custom_id": custom_id, "options": options, **extra}


@pytest.mark.parametrize(
    ("components", "where"),
    [
        ([row(button("x" * 101))], "custom_id"),
        (
            [row(button("a")) for _ in range(1)] + [row(button(f"b{i}")) for i in range(5)],
            "components",
        ),
        ([row(*[button(f"b{i}") for i in range(6)])], "components"),
        ([row(select("s", 26))], "options"),
        ([row(select("s", 3), button("b"))], "components"),
        ([row(button("same"), button("same"))], "custom_id"),
        ([row(select("s", 2, max_values=3))], "max_values"),
        ([button("bare")], "components"),
        ([row(button("b", label="L" * 81))], "label"),
    ],
)
async def test_components_that_break_discords_rules_are_refused(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
    client: discord.Client,
    components: list[dict[str, Any]],
    where: str,
) -> None:
    route = discord.http.Route(
        "POST", "/channels/{channel_id}/messages", channel_id=standin_seed.general_id
    )
    with pytest.raises(discord.HTTPException) as caught:
        await client.http.request(route, json={"content": "x", "components": components})
    assert caught.value.status == 400 and caught.value.code == 50035
    assert where in str(caught.value.text) or where in str(caught.value)


async def test_a_modal_that_breaks_discords_rules_is_refused(
    discord_standin: DiscordStandIn,  # noqa: F811
    standin_seed: Seed,  # noqa: F811
    client: discord.Client,
) -> None:
    channel = await channel_of(client, standin_seed)
    sent = await channel.send("panel", view=Panel())
    opened = await discord_standin.click(
        standin_seed.member_id, sent.id, "panel:colour", values=["red"]
    )
    # Answer the interaction by hand with a modal whose title is too long.
    route = discord.http.Route(
        "POST", "/interactions/{id}/{token}/callback", id=opened.id, token=opened.token
    )
    bad = {"type": 9, "data": {"custom_id": "m", "title": "T" * 46, "components": [
        row({"type": 4, "custom_id": "a", "label": "A", "style": 1})]}}  # fmt: skip
    with pytest.raises(discord.HTTPException) as caught:
        await client.http.request(route, json=bad)
    assert caught.value.status == 400 and caught.value.code == 50035
    rejection = await opened.rejection()
    assert rejection.errors is not None and "title" in rejection.errors["data"]
