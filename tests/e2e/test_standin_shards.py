"""The Discord stand-in shards as Discord does: IDENTIFY with [shard_id, shard_count], guilds dealt
out by (guild_id >> 22) % shard_count, events and interactions only to their shard's session."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import discord
from discord.ext import commands

from tests.bench.discord_standin import DiscordStandIn
from tests.bench.discord_standin.gateway import shard_of
from tests.bench.discord_standin.harness import running_client

COUNT = 4


class RawShard:
    """A hand-written gateway client: IDENTIFY as one shard, collect what is dispatched."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def receive(self) -> dict[str, Any]:
        message = await asyncio.wait_for(self.ws.receive(), 5)
        if message.type != aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"gateway sent {message.type}: {message.data!r}")
        return dict(json.loads(message.data))

    async def events_until(self, count: int) -> list[dict[str, Any]]:
        return [await self.receive() for _ in range(count)]


@asynccontextmanager
async def raw_shard(standin: DiscordStandIn, shard: Any) -> AsyncIterator[RawShard]:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(standin.gateway_url) as ws,
    ):
        raw = RawShard(ws)
        hello = await raw.receive()
        assert hello["op"] == 10
        identify = {"token": standin.token, "intents": 1, "properties": {}}
        if shard is not None:
            identify["shard"] = shard
        await ws.send_str(json.dumps({"op": 2, "d": identify}))
        yield raw


def guilds_on_shards(standin: DiscordStandIn) -> dict[int, list[int]]:
    by_shard: dict[int, list[int]] = {}
    for shard_id in (0, 1, 2, 3, 1):
        guild = standin.add_guild(f"Server on shard {shard_id}", shard=(shard_id, COUNT))
        assert shard_of(guild.id, COUNT) == shard_id
        standin.add_channel(guild.id, "general")
        by_shard.setdefault(shard_id, []).append(guild.id)
    return by_shard


async def test_each_shard_is_told_only_of_its_own_guilds() -> None:
    async with DiscordStandIn() as standin:
        by_shard = guilds_on_shards(standin)
        async with raw_shard(standin, [1, COUNT]) as one, raw_shard(standin, [2, COUNT]) as two:
            ready, *creates = await one.events_until(1 + len(by_shard[1]))
            assert ready["t"] == "READY"
            assert ready["d"]["shard"] == [1, COUNT]
            assert [int(g["id"]) for g in ready["d"]["guilds"]] == by_shard[1]
            assert [int(c["d"]["id"]) for c in creates] == by_shard[1]
            ready_two, create_two = await two.events_until(2)
            assert [int(g["id"]) for g in ready_two["d"]["guilds"]] == by_shard[2]
            assert int(create_two["d"]["id"]) == by_shard[2][0]
            # Both sessions live side by side (a second shard does not replace the first).
            assert standin.gateway.connected_shards() == {(1, COUNT), (2, COUNT)}
            # A change in shard 2's guild reaches shard 2 only.
            await standin.gateway.dispatch(
                "GUILD_UPDATE", {**standin.guild_json(by_shard[2][0]), "name": "Renamed"}
            )
            update = await two.receive()
            assert update["t"] == "GUILD_UPDATE" and int(update["d"]["id"]) == by_shard[2][0]
            await standin.gateway.dispatch(
                "GUILD_UPDATE", {**standin.guild_json(by_shard[1][1]), "name": "Renamed too"}
            )
            update = await one.receive()
            assert int(update["d"]["id"]) == by_shard[1][1]  # not shard 2's first guild


async def test_unsharded_session_still_gets_every_guild() -> None:
    async with DiscordStandIn() as standin:
        by_shard = guilds_on_shards(standin)
        async with raw_shard(standin, None) as whole:
            ready = await whole.receive()
            every = sorted(g for ids in by_shard.values() for g in ids)
            assert sorted(int(g["id"]) for g in ready["d"]["guilds"]) == every


async def test_invalid_shards_are_closed_with_4010() -> None:
    async with DiscordStandIn() as standin:
        for bad in ([4, 4], [-1, 2], [0, 0], [0], "0,1", [True, 2]):
            async with raw_shard(standin, bad) as raw:
                message = await asyncio.wait_for(raw.ws.receive(), 5)
                assert message.type == aiohttp.WSMsgType.CLOSE, bad
                assert message.data == 4010, bad
        assert len(standin.gateway.refused_identifies) == 6
        assert standin.gateway.identify_count == 0


async def test_too_many_guilds_on_one_session_is_closed_with_4011() -> None:
    async with DiscordStandIn() as standin:
        standin.gateway.max_guilds_per_session = 2
        guilds_on_shards(standin)  # 5 guilds; shard 1 of 4 holds 2 of them
        async with raw_shard(standin, None) as whole:
            message = await asyncio.wait_for(whole.ws.receive(), 5)
            assert message.data == 4011
        async with raw_shard(standin, [1, COUNT]) as one:
            assert (await one.receive())["t"] == "READY"


async def test_gateway_bot_recommends_the_configured_shards() -> None:
    async with DiscordStandIn() as standin:
        standin.gateway.recommended_shards = 3
        standin.gateway.max_concurrency = 2
        headers = {"Authorization": f"Bot {standin.token}"}
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{standin.api_base_url}/gateway/bot", headers=headers) as response,
        ):
            body = await response.json()
        assert body["shards"] == 3
        assert body["session_start_limit"]["max_concurrency"] == 2


class PingBot(commands.AutoShardedBot):
    """A minimal auto-sharded bot that records which of its shards each /ping reached."""

    def __init__(self, shard_ids: list[int]) -> None:
        super().__init__(
            command_prefix="!",
            intents=discord.Intents.none() | discord.Intents(guilds=True),
            shard_ids=shard_ids,
            shard_count=COUNT,
        )
        self.pings: list[tuple[int, int | None]] = []

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """No 5-second pause between shards on the stand-in."""

    async def setup_hook(self) -> None:
        @self.tree.command(name="ping")
        async def ping(interaction: discord.Interaction) -> None:
            """Answer, noting the shard."""
            assert interaction.guild_id is not None
            self.pings.append((interaction.guild_id, interaction.guild.shard_id))  # type: ignore[union-attr]
            await interaction.response.send_message("pong")

        await self.tree.sync()


async def test_auto_sharded_clients_split_guilds_and_interactions() -> None:
    async with DiscordStandIn() as standin:
        by_shard = guilds_on_shards(standin)
        first, second = PingBot([0, 1]), PingBot([2, 3])
        async with running_client(standin, first), running_client(standin, second):
            assert {g.id for g in first.guilds} == set(by_shard[0] + by_shard[1])
            assert {g.id for g in second.guilds} == set(by_shard[2] + by_shard[3])
            owner = standin.guilds[by_shard[3][0]].owner_id
            handle = await standin.invoke(by_shard[3][0], owner, "ping")
            assert (await handle.callback()).data["content"] == "pong"
            owner = standin.guilds[by_shard[1][0]].owner_id
            handle = await standin.invoke(by_shard[1][0], owner, "ping")
            assert (await handle.callback()).data["content"] == "pong"
        assert first.pings == [(by_shard[1][0], 1)]
        assert second.pings == [(by_shard[3][0], 3)]


async def test_dropping_one_shard_leaves_the_others_connected() -> None:
    async with DiscordStandIn() as standin:
        by_shard = guilds_on_shards(standin)
        first, second = PingBot([0, 1]), PingBot([2, 3])
        async with running_client(standin, first), running_client(standin, second):
            resumes = standin.gateway.resume_count
            await standin.gateway.drop(shard=2)
            assert (1, COUNT) in standin.gateway.connected_shards()
            await standin.wait_until(
                lambda: (
                    standin.gateway.resume_count > resumes
                    and (2, COUNT) in standin.gateway.connected_shards()
                ),
                what="shard 2 resumed",
            )
            # Its guild's interactions reach it again after the resume.
            owner = standin.guilds[by_shard[2][0]].owner_id
            handle = await standin.invoke(by_shard[2][0], owner, "ping")
            assert (await handle.callback()).data["content"] == "pong"
        assert second.pings == [(by_shard[2][0], 2)]
        assert first.pings == []
