"""Sharding decisions: Discord's guild -> shard rule, `--shards` ranges, the budget split."""

from __future__ import annotations

import pytest

from bot.cli.run import shards_from_args
from bot.errors import ConfigError
from bot.shards import ShardSet, format_shards, parse_shards, per_process_rate, shard_of


def guild_on(shard: int, count: int, salt: int = 0) -> int:
    """A guild id whose timestamp part puts it on `shard` of `count`."""
    return ((count * (1000 + salt) + shard) << 22) | 0x2A


def test_shard_of_is_discords_rule() -> None:
    guild_id = 81384788765712384  # a real guild id: (id >> 22) is its creation time
    assert shard_of(guild_id, 1) == 0
    assert shard_of(guild_id, 2) == (guild_id >> 22) % 2
    for count in (1, 2, 3, 8, 16):
        for shard in range(count):
            assert shard_of(guild_on(shard, count), count) == shard
    # The low 22 bits (worker, process, increment) never move a guild.
    assert shard_of(guild_on(3, 8) | 0x3FFFFF, 8) == 3


def test_shard_of_refuses_no_shards() -> None:
    with pytest.raises(ValueError):
        shard_of(1 << 22, 0)


@pytest.mark.parametrize(
    ("text", "count", "ids"),
    [
        ("0-3", 8, {0, 1, 2, 3}),
        ("0,2,5", 8, {0, 2, 5}),
        ("0-1, 4", 8, {0, 1, 4}),
        ("7", 8, {7}),
        ("3-3", 4, {3}),
        ("0-2,1-3", 4, {0, 1, 2, 3}),
    ],
)
def test_parse_shards_reads_ranges_and_lists(text: str, count: int, ids: set[int]) -> None:
    shards = parse_shards(text, count)
    assert shards == ShardSet(frozenset(ids), count)
    assert parse_shards(format_shards(shards.ids), count) == shards  # the log form reads back


@pytest.mark.parametrize(
    ("text", "count", "message"),
    [
        ("0-8", 8, "names shard 8, but shards are numbered 0 to 7 with --shard-count 8"),
        ("3-1", 8, "runs backwards; write 1-3"),
        ("0,,2", 8, "has an empty item"),
        ("", 8, "has an empty item"),
        ("a-b", 8, "'a' is not a shard number"),
        ("-1", 8, "'' is not a shard number"),
        ("1.5", 8, "'1.5' is not a shard number"),
        ("٣", 8, "is not a shard number"),  # an Arabic-Indic three: a digit, but not ASCII
        ("0-3", 0, "--shard-count must be between 1 and"),
        ("0", 10**9, "--shard-count must be between 1 and"),
        ("0," * 6000, 8, "--shards is too long"),
    ],
)
def test_parse_shards_refuses_bad_ranges_clearly(text: str, count: int, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_shards(text, count)
    assert message in str(refused.value)


def test_shard_set_serves_only_its_guilds() -> None:
    shards = parse_shards("0,2", 4)
    assert shards.serves(guild_on(0, 4)) and shards.serves(guild_on(2, 4, salt=9))
    assert not shards.serves(guild_on(1, 4)) and not shards.serves(guild_on(3, 4))
    assert shards.describe() == "shards 0,2 of 4"
    assert format_shards({0, 1, 2, 3, 5, 7, 8}) == "0-3,5,7-8"


def test_shard_set_refuses_shards_outside_its_count() -> None:
    with pytest.raises(ValueError):
        ShardSet(frozenset({4}), 4)
    with pytest.raises(ValueError):
        ShardSet(frozenset(), 4)


def test_cli_shard_options() -> None:
    assert shards_from_args(None, None) is None  # the default: no sharding
    assert shards_from_args("1,3", 4) == ShardSet(frozenset({1, 3}), 4)
    assert shards_from_args(None, 3) == ShardSet(frozenset({0, 1, 2}), 3)  # all in one process
    with pytest.raises(ConfigError, match="--shards needs --shard-count"):
        shards_from_args("0-3", None)


def test_each_process_gets_its_share_of_the_global_budget() -> None:
    assert per_process_rate(45.0, 1) == 45.0
    assert per_process_rate(45.0, 2) == 22.5
    assert per_process_rate(45.0, 3) * 3 == pytest.approx(45.0)
    with pytest.raises(ValueError):
        per_process_rate(45.0, 0)
