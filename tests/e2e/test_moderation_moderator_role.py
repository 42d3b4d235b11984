"""Moderation stays with Manage Server: holders of the moderator role may moderate, but only
members with Manage Server choose who moderates, and never @everyone or a role that a bot or
integration manages."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from tests.bench.discord_standin import Perm
from tests.e2e.conftest import Bench


@dataclass
class Branch:
    """A server with an owner-appointed admin, a helper role holder and a plain member."""

    guild_id: int
    general_id: int
    admin_id: int
    helper_id: int
    helper_role_id: int
    other_role_id: int
    integration_role_id: int
    bot_role_id: int


async def branch(bench: Bench) -> Branch:
    discord = bench.discord
    guild = discord.add_guild("Branch", bot_member=False)
    admins = discord.add_role(guild.id, "Admins", Perm.MANAGE_GUILD)
    helpers = discord.add_role(guild.id, "Helpers")
    other = discord.add_role(guild.id, "Readers")
    integration = discord.add_role(
        guild.id, "Patrons", managed=True, tags={"integration_id": "4242"}
    )
    general = discord.add_channel(guild.id, "general")
    admin = discord.add_member(guild.id, "admin", roles=[admins.id])
    helper = discord.add_member(guild.id, "helper", roles=[helpers.id])
    joined = asyncio.ensure_future(bench.bot.wait_for("guild_join", timeout=5.0))
    await discord.add_bot_to_guild(guild.id)
    await joined
    [bot_role] = [
        role
        for role in discord.guilds[guild.id].roles.values()
        if role.tags and "bot_id" in role.tags
    ]
    return Branch(
        guild.id,
        general.id,
        admin.user.id,
        helper.user.id,
        helpers.id,
        other.id,
        integration.id,
        bot_role.id,
    )


async def run(
    bench: Bench,
    place: Branch,
    user_id: int,
    command: str,
    options: dict[str, object] | None = None,
) -> str:
    # forged: as if the server's command permissions exposed /settings to the helper role.
    handle = await bench.discord.invoke(
        place.guild_id, user_id, command, options, channel_id=place.general_id, forged=True
    )
    reply = await handle.reply()
    assert reply["flags"] & 64  # always private
    return str(reply["content"])


async def moderator_role(bench: Bench, place: Branch) -> int | None:
    return (await bench.app.storage.guild_settings(place.guild_id)).moderator_role_id


async def test_a_moderator_role_holder_cannot_change_the_moderator_role(bench: Bench) -> None:
    place = await branch(bench)
    text = await run(
        bench, place, place.admin_id, "settings moderator-role", {"role": place.helper_role_id}
    )
    assert "may now use moderator commands" in text
    assert await moderator_role(bench, place) == place.helper_role_id

    # The helper moderates ...
    assert "Time zone: UTC" in await run(bench, place, place.helper_id, "settings show")
    # ... but cannot hand moderation to another role, to everyone, or take it away.
    for options in ({"role": place.other_role_id}, {"role": place.guild_id}, {}):
        text = await run(bench, place, place.helper_id, "settings moderator-role", options)
        assert text == (
            "Only members with the Manage Server permission can change the moderator role."
        )
        assert await moderator_role(bench, place) == place.helper_role_id


async def test_everyone_and_managed_roles_are_refused_as_moderator_role(bench: Bench) -> None:
    place = await branch(bench)
    everyone = await run(
        bench, place, place.admin_id, "settings moderator-role", {"role": place.guild_id}
    )
    assert everyone.startswith("@everyone cannot be the moderator role")
    for role_id in (place.integration_role_id, place.bot_role_id):
        text = await run(bench, place, place.admin_id, "settings moderator-role", {"role": role_id})
        assert text.startswith("That role is managed by a bot or an integration")
    assert await moderator_role(bench, place) is None


async def test_an_import_by_a_moderator_role_holder_keeps_the_moderator_role(bench: Bench) -> None:
    place = await branch(bench)
    await run(
        bench, place, place.admin_id, "settings moderator-role", {"role": place.helper_role_id}
    )
    document = {
        "format": "paperboy-export",
        "version": 1,
        "settings": {
            "timezone": "Europe/Berlin",
            "log_channel": None,
            "moderator_role": {"id": place.other_role_id, "name": "Readers"},
        },
        "subscriptions": [],
    }
    upload = bench.discord.upload("config.json", json.dumps(document).encode(), "application/json")
    text = await run(bench, place, place.helper_id, "feeds import", {"file": upload})
    assert "The moderator role was left as it is" in text
    settings = await bench.app.storage.guild_settings(place.guild_id)
    assert settings.timezone == "Europe/Berlin"  # the rest of the file still applies
    assert settings.moderator_role_id == place.helper_role_id

    # Manage Server may import a role, but not a managed one.
    document["settings"]["moderator_role"] = {"id": place.integration_role_id, "name": "Patrons"}  # type: ignore[index]
    upload = bench.discord.upload("config.json", json.dumps(document).encode(), "application/json")
    text = await run(bench, place, place.admin_id, "feeds import", {"file": upload})
    assert "managed by a bot or an integration" in text
    assert await moderator_role(bench, place) is None
