"""The member quotas as pure bookkeeping: every limiter is driven by the `now` it is given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import LimitsConfig
from bot.errors import FetchError, TryLater
from bot.fetch import kinds
from bot.services.quotas import (
    FailedUrls,
    MemberCooldown,
    MemberQuotas,
    Requester,
    ServerFetchCap,
    in_words,
)

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
ANN = Requester(guild_id=1, member_id=10)
BOB = Requester(guild_id=1, member_id=11)
ANN_ELSEWHERE = Requester(guild_id=2, member_id=10)
URL = "https://news.example.org/a/story"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def refusal(call: object) -> TryLater:
    assert callable(call)
    with pytest.raises(TryLater) as caught:
        call()
    return caught.value


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(0.2, "1 second"), (1, "1 second"), (22.1, "23 seconds"), (119, "119 seconds"),
     (120, "2 minutes"), (299.5, "5 minutes")],
)  # fmt: skip
def test_waits_are_said_in_whole_units_rounded_up(seconds: float, words: str) -> None:
    assert in_words(seconds) == words


# -- the member cooldown ------------------------------------------------------------------------


def test_a_member_gets_the_limit_per_window_then_a_specific_refusal() -> None:
    cooldown = MemberCooldown(4, 60)
    for second in (0, 10, 20, 37):
        cooldown.check(ANN, at(second))
        cooldown.charge(ANN, at(second))
    refused = refusal(lambda: cooldown.check(ANN, at(40)))
    assert str(refused) == "You can have 4 pages fetched every 60 seconds; try again in 20 seconds."
    assert refused.retry_after == 20


def test_the_window_slides_one_fetch_at_a_time() -> None:
    cooldown = MemberCooldown(2, 60)
    cooldown.charge(ANN, at(0))
    cooldown.charge(ANN, at(30))
    refusal(lambda: cooldown.check(ANN, at(59.5)))
    cooldown.check(ANN, at(60))  # the first fetch has left the window
    cooldown.charge(ANN, at(60))
    refused = refusal(lambda: cooldown.check(ANN, at(61)))
    assert refused.retry_after == 29  # until the fetch at 30 s leaves


def test_members_and_servers_are_counted_apart() -> None:
    cooldown = MemberCooldown(1, 60)
    cooldown.charge(ANN, at(0))
    refusal(lambda: cooldown.check(ANN, at(1)))
    cooldown.check(BOB, at(1))
    cooldown.check(ANN_ELSEWHERE, at(1))


def test_a_check_alone_charges_nothing() -> None:
    cooldown = MemberCooldown(1, 60)
    for second in range(10):
        cooldown.check(ANN, at(second))
    assert len(cooldown) == 0


def test_the_cooldown_forgets_idle_members_and_stays_bounded() -> None:
    cooldown = MemberCooldown(3, 60, max_members=100)
    for member in range(1000):  # a flood of members, all at once
        cooldown.charge(Requester(1, member), at(0))
    assert len(cooldown) == 100
    cooldown.charge(ANN, at(61))  # everyone else is idle by now
    assert len(cooldown) == 1


# -- the per-server cap ---------------------------------------------------------------------------


def test_a_server_gets_its_cap_of_fetches_in_flight_then_busy() -> None:
    cap = ServerFetchCap(2)
    with cap.hold(1), cap.hold(1):
        refused = refusal(lambda: cap.hold(1).__enter__())
        assert str(refused) == (
            "Paperboy is already fetching 2 pages for this server; try again in 10 seconds."
        )
        assert refused.retry_after == 10
        with cap.hold(2):  # another server is not held back
            assert cap.in_flight(2) == 1
    assert len(cap) == 0  # idle servers cost nothing
    with cap.hold(1):
        assert cap.in_flight(1) == 1


def test_a_failed_fetch_gives_its_server_slot_back() -> None:
    cap = ServerFetchCap(1)
    with pytest.raises(RuntimeError), cap.hold(1):
        raise RuntimeError("the fetch failed")
    assert cap.in_flight(1) == 0


# -- the negative cache ---------------------------------------------------------------------------


def test_a_failed_url_is_refused_with_its_reason_until_it_expires() -> None:
    failed = FailedUrls(300)
    failed.remember(URL, "The server at news.example.org answered 404 (Not Found).", at(0))
    refused = refusal(lambda: failed.check(URL, at(60)))
    assert str(refused) == (
        "That page could not be fetched a moment ago: The server at news.example.org answered "
        "404 (Not Found). Paperboy will try it again if you ask in 4 minutes."
    )
    assert refused.retry_after == 240
    failed.check(URL, at(300))  # expired
    assert len(failed) == 0


def test_failed_urls_are_keyed_by_canonical_url() -> None:
    failed = FailedUrls(300)
    failed.remember("HTTPS://News.Example.org/a/story?utm_source=x#top", "Gone.", at(0))
    refusal(lambda: failed.check(URL, at(1)))
    failed.check("https://news.example.org/a/other", at(1))


def test_the_negative_cache_is_bounded_and_drops_the_oldest() -> None:
    failed = FailedUrls(300, max_urls=50)
    for n in range(500):
        failed.remember(f"https://spam{n}.example/", "Gone.", at(n / 100))
    assert len(failed) == 50
    failed.check("https://spam0.example/", at(6))
    refusal(lambda: failed.check("https://spam499.example/", at(6)))


def test_a_zero_lifetime_remembers_nothing() -> None:
    failed = FailedUrls(0)
    failed.remember(URL, "Gone.", at(0))
    failed.check(URL, at(0))
    assert len(failed) == 0


# -- everything together --------------------------------------------------------------------------


def quotas(**limits: float) -> MemberQuotas:
    return MemberQuotas(LimitsConfig(**limits))  # type: ignore[arg-type]


def test_admitted_fetches_are_charged_and_failures_remembered() -> None:
    q = quotas(member_fetches_per_window=2, member_window_seconds=60)
    with q.fetching(URL, ANN, at(0)):
        pass
    with pytest.raises(FetchError), q.fetching(URL + "2", ANN, at(1)):
        raise FetchError(kinds.HTTP_5XX, "The server at news.example.org had an error.")
    assert "fetched every 60 seconds" in str(
        refusal(lambda: q.fetching(URL, ANN, at(2)).__enter__())
    )
    # Bob asks for the page that just failed: refused from the cache, and not charged for it.
    assert "a moment ago" in str(refusal(lambda: q.fetching(URL + "2", BOB, at(2)).__enter__()))
    assert len(q.cooldown) == 1


def test_a_refusal_by_the_server_cap_costs_no_quota() -> None:
    q = quotas(member_fetches_per_window=1, server_concurrent_fetches=1)
    with q.fetching(URL, ANN, at(0)):
        refusal(lambda: q.fetching(URL + "2", BOB, at(0)).__enter__())
    with q.fetching(URL + "3", BOB, at(1)):  # Bob's one fetch is still his
        pass


def test_a_busy_fetcher_becomes_try_later_and_is_not_remembered_as_a_failure() -> None:
    q = quotas()
    with pytest.raises(TryLater) as caught, q.fetching(URL, ANN, at(0)):
        raise FetchError(kinds.BUSY, "Paperboy is busy; try again in 20 seconds.", retry_after=20)
    assert str(caught.value) == "Paperboy is busy; try again in 20 seconds."
    assert caught.value.retry_after == 20
    with q.fetching(URL, ANN, at(1)):
        pass


@pytest.mark.parametrize("kind", [kinds.INVALID_URL, kinds.PRIVATE_ADDRESS])
def test_refusals_of_the_address_itself_are_repeated_not_cached(kind: str) -> None:
    q = quotas()
    with pytest.raises(FetchError), q.fetching(URL, ANN, at(0)):
        raise FetchError(kind, "That address points into a private network (10.0.0.1).")
    assert len(q.failed) == 0


def test_an_operator_is_not_limited_per_member() -> None:
    q = quotas(member_fetches_per_window=1, server_concurrent_fetches=1)
    for second in range(5):
        with q.fetching(URL, None, at(second)), q.fetching(URL, None, at(second)):
            pass
    assert len(q.cooldown) == 0


def test_a_check_refuses_like_fetching_but_takes_nothing() -> None:
    q = quotas(member_fetches_per_window=1, server_concurrent_fetches=1)
    q.check(URL, ANN, at(0))
    with q.fetching(URL, ANN, at(0)):
        assert "fetching a page" in str(refusal(lambda: q.check(URL + "2", BOB, at(0))))
        assert "fetched every" in str(refusal(lambda: q.check(URL + "2", ANN, at(0))))
    q.check(URL + "2", BOB, at(1))
    q.check(URL + "2", BOB, at(1))  # checking twice charged nothing
    assert q.servers.in_flight(1) == 0
