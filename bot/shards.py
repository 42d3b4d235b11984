"""Sharding: which process serves which servers, and how the processes share what is global.

Discord deals servers out to shards by `(guild_id >> 22) % shard_count`. A bot process started
with `--shards 0-3 --shard-count 8` serves the servers of shards 0..3: their commands, and the
deliveries of their channels. As a server's shard never changes while the count stays the same,
a channel's announcements are always claimed by the same process, which keeps them in order.

Pure functions only; the delivery claims filter with `ShardSet` in `bot.storage._outbox`.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import ConfigError

MAX_SHARD_COUNT = 65_536
"""Far above what any bot needs (Discord asks for one shard per 1,000 servers at most)."""
DISCORD_GLOBAL_RATE = 50.0
"""Discord's global limit, in requests per second for one bot token, across all its processes."""


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord gives the server `guild_id` when the bot runs `shard_count` shards."""
    if shard_count < 1:
        raise ValueError("shard_count must be at least 1")
    return (guild_id >> 22) % shard_count


@dataclass(frozen=True)
class ShardSet:
    """The shards one process serves, out of `count`."""

    ids: frozenset[int]
    count: int

    def __post_init__(self) -> None:
        if not self.ids:
            raise ValueError("a ShardSet needs at least one shard")
        if self.count < 1 or any(not 0 <= shard < self.count for shard in self.ids):
            raise ValueError(f"shards {sorted(self.ids)} do not fit a shard count of {self.count}")

    def serves(self, guild_id: int) -> bool:
        """Whether the server `guild_id` belongs to this process."""
        return shard_of(guild_id, self.count) in self.ids

    @property
    def ordered(self) -> list[int]:
        """The shard ids, smallest first (discord.py takes them as a list)."""
        return sorted(self.ids)

    def describe(self) -> str:
        """A short human form for logs: `shards 0-3 of 8`."""
        return f"shards {format_shards(self.ids)} of {self.count}"


def format_shards(ids: frozenset[int] | set[int]) -> str:
    """`{0, 1, 2, 3, 5}` as `0-3,5`: the form `parse_shards` reads."""
    runs: list[list[int]] = []
    for shard in sorted(ids):
        if runs and shard == runs[-1][1] + 1:
            runs[-1][1] = shard
        else:
            runs.append([shard, shard])
    return ",".join(str(low) if low == high else f"{low}-{high}" for low, high in runs)


def parse_shards(text: str, shard_count: int) -> ShardSet:
    """Read `--shards` (`0-3`, `0,2,5`, `0-1,4`) for `--shard-count`; ConfigError says what is
    wrong in a sentence an operator can act on."""
    if not 1 <= shard_count <= MAX_SHARD_COUNT:
        raise ConfigError(
            f"--shard-count must be between 1 and {MAX_SHARD_COUNT}, not {shard_count}."
        )
    if len(text) > 10_000:  # hostile or mistaken input: refuse before splitting it
        raise ConfigError("--shards is too long; give ranges such as 0-3 or lists such as 0,2,5.")
    ids: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            raise ConfigError(
                f"--shards {text!r} has an empty item; give ranges such as 0-3 or lists "
                "such as 0,2,5."
            )
        low_text, dash, high_text = part.partition("-")
        low = _shard_number(low_text, text)
        high = _shard_number(high_text, text) if dash else low
        if high < low:
            raise ConfigError(f"--shards range {part!r} runs backwards; write {high}-{low}.")
        if high >= shard_count:
            raise ConfigError(
                f"--shards {part!r} names shard {high}, but shards are numbered 0 to "
                f"{shard_count - 1} with --shard-count {shard_count}."
            )
        ids.update(range(low, high + 1))
    return ShardSet(frozenset(ids), shard_count)


def _shard_number(text: str, whole: str) -> int:
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        raise ConfigError(
            f"--shards {whole!r}: {text!r} is not a shard number; give ranges such as 0-3 or "
            "lists such as 0,2,5."
        )
    return int(text)


def per_process_rate(global_rate_per_second: float, bot_processes: int) -> float:
    """Each bot process's share of the global request budget: the processes never ask Discord
    together for more than one process alone would (README, Running at scale)."""
    if bot_processes < 1:
        raise ValueError("bot_processes must be at least 1")
    return global_rate_per_second / bot_processes
