"""Member fetch quotas end to end: the real bot, the Discord stand-in and the news site.

Nothing is archived here, so every article named is a page Paperboy has to fetch.
"""

from __future__ import annotations

import re

from tests.e2e.conftest import BenchFactory, message_text

COOLDOWN = re.compile(r"You can have 1 page fetched every 60 seconds; try again in (\d+) seconds\.")


async def test_a_member_past_the_cooldown_is_told_privately_when_to_try_again(
    make_bench: BenchFactory,
) -> None:
    async with make_bench(limits={"member_fetches_per_window": 1}) as bench:
        member = bench.seed.member_id
        first, second, third = bench.site.items[:3]
        url = bench.site.article_url

        answered = await bench.command("summary", {"article": url(first)}, user=member)
        assert (await answered.reply(10))["embeds"]

        # A public /summary: the refusal still comes privately, before any "thinking...".
        refusals = [await bench.command("summary", {"article": url(second)}, user=member)]
        refusals.append(await bench.command("related", {"article": url(second)}, user=member))
        posted = await bench.discord.post_user_message(
            bench.seed.general_id, member, f"Worth a read: {url(third)}"
        )
        refusals.append(
            await bench.discord.invoke_message_command(
                bench.seed.guild_id, member, "Summarize article", int(posted["id"])
            )
        )
        for handle in refusals:
            reply = await handle.reply(10)
            text = message_text(reply)
            match = COOLDOWN.fullmatch(text)
            assert match, text
            assert 1 <= int(match.group(1)) <= 60
            assert reply.get("flags", 0) & 64, "a refusal is only for the member who asked"
        assert bench.site.requests_to(second.path) == []
        assert bench.site.requests_to(third.path) == []
        public = [m for m in bench.discord.message_log if "try again" in (m.get("content") or "")]
        assert public == []

        # The quota is the member's own: someone else in the server is answered.
        other = await bench.command("summary", {"article": url(second)}, user=bench.seed.admin_id)
        assert (await other.reply(10))["embeds"]
        # And the first page, now in the page cache, costs the member nothing.
        again = await bench.command("summary", {"article": url(first)}, user=member)
        assert (await again.reply(10))["embeds"]
