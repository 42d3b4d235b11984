"""WebSub's pure part: hub discovery, the subscription steps over time (a fake clock), the
slower polling while push works, signature checks and the answers to verification calls."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import FakeClock
from bot.errors import ConfigError
from bot.feeds.hubs import HEAD_BYTES, find_hub_links
from bot.ingest.websub import (
    MAX_LEASE_SECONDS,
    MIN_LEASE_SECONDS,
    SignatureCheck,
    Step,
    WebSubSettings,
    answer_verification,
    check_public_url,
    check_signature,
    decide,
    granted_lease,
    polling_interval,
    push_works,
    renew_at,
    retry_delay,
)
from bot.storage import WebSubSubscription

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SETTINGS = WebSubSettings(
    public_url="https://bot.example.org",
    lease_seconds=86400,
    renew_margin_seconds=3600,
    poll_interval_seconds=1800,
    verify_timeout_seconds=300,
)
SECRET = "s3cret-per-subscription"
BODY = b"<rss><channel><item><title>x</title></item></channel></rss>"


def sub(**changes: object) -> WebSubSubscription:
    base = WebSubSubscription(
        feed_id=1,
        hub_url="https://hub.example/",
        topic_url="https://news.example/feed/",
        callback_id="cb",
        secret=SECRET,
        state="idle",
        pending_mode=None,
        requested_at=None,
        lease_seconds=None,
        lease_expires_at=None,
        failures=0,
        retry_at=None,
        last_error=None,
        last_push_at=None,
        pushes=0,
        wanted=True,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def active(now: datetime, lease: int = 86400) -> WebSubSubscription:
    """Verified at `now` for `lease` seconds."""
    return sub(state="active", lease_seconds=lease, lease_expires_at=now + timedelta(seconds=lease))


# -- discovery ----------------------------------------------------------------------------


def test_hub_and_self_from_link_header_come_first() -> None:
    headers = {
        "link": '<https://hub.example/>; rel="hub", </feed/>; rel="self", <x>; rel=next',
    }
    body = b'<rss><channel><atom:link rel="hub" href="https://other.example/hub"/>'
    links = find_hub_links(body, headers, base_url="https://news.example/feed/")
    assert links.hubs == ("https://hub.example/", "https://other.example/hub")
    assert links.hub == "https://hub.example/"
    assert links.self_url == "https://news.example/feed/"


def test_hub_in_rss_atom_link_and_atom_link_with_entities() -> None:
    rss = (
        b'<rss><channel><title>t</title><atom:link href="https://news.example/feed/" rel="self"/>'
        b"<atom:link rel='hub' href='https://hub.example/?a=1&amp;b=2'/><link>https://x/</link>"
    )
    links = find_hub_links(rss, {}, base_url="https://news.example/feed/")
    assert links.hubs == ("https://hub.example/?a=1&b=2",)
    assert links.self_url == "https://news.example/feed/"
    atom = b'<feed><link rel="hub" href="/hub"/><link rel="alternate self" href="/atom"/></feed>'
    links = find_hub_links(atom, {}, base_url="https://news.example/feed/atom/")
    assert links.hubs == ("https://news.example/hub",)
    assert links.self_url == "https://news.example/atom"


def test_only_the_head_before_the_first_item_is_read() -> None:
    inside_item = b'<rss><channel><item><atom:link rel="hub" href="https://evil.example/"/>'
    assert find_hub_links(inside_item, {}, base_url="https://n.example/").hub is None
    late = b"<rss><channel>" + b" " * HEAD_BYTES + b'<atom:link rel="hub" href="https://h/"/>'
    assert find_hub_links(late, {}, base_url="https://n.example/").hub is None


def test_non_http_and_absent_hubs_are_ignored() -> None:
    body = b'<feed><link rel="hub" href="javascript:alert(1)"/><link rel="hub" href="ftp://h/"/>'
    links = find_hub_links(body, {"link": "<mailto:a@b>; rel=hub"}, base_url="https://n.example/")
    assert links.hubs == () and links.hub is None
    assert find_hub_links(None, {}, base_url="https://n.example/").self_url is None


def test_json_feed_hubs_and_feed_url_before_items() -> None:
    body = (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "t",'
        b' "feed_url": "https://news.example/feed.json",'
        b' "hubs": [{"type": "rssCloud", "url": "https://cloud.example/"},'
        b' {"type": "WebSub", "url": "https:\\/\\/hub.example\\/"}],'
        b' "items": [{"id": "1", "hubs": [{"type": "WebSub", "url": "https://evil.example/"}]}]}'
    )
    links = find_hub_links(body, {}, base_url="https://news.example/feed.json")
    assert links.hubs == ("https://hub.example/",)
    assert links.self_url == "https://news.example/feed.json"
    late = b'{"items": [], "hubs": [{"type": "WebSub", "url": "https://hub.example/"}]}'
    assert find_hub_links(late, {}, base_url="https://news.example/").hub is None


# -- steps over time ------------------------------------------------------------------------


def test_a_wanted_feed_with_a_hub_is_subscribed_and_waits_for_verification() -> None:
    clock = FakeClock(START)
    assert decide(sub(), enabled=True, now=clock.now(), settings=SETTINGS).step is Step.SUBSCRIBE
    pending = sub(pending_mode="subscribe", requested_at=clock.now())
    waiting = decide(pending, enabled=True, now=clock.now(), settings=SETTINGS)
    assert waiting.step is Step.WAIT and waiting.at == START + timedelta(seconds=300)
    clock.advance(299)
    assert decide(pending, enabled=True, now=clock.now(), settings=SETTINGS).step is Step.WAIT
    clock.advance(1)
    unverified = decide(pending, enabled=True, now=clock.now(), settings=SETTINGS)
    assert unverified.step is Step.FALL_BACK and "verify" in unverified.reason


def test_push_off_or_no_hub_subscribes_nothing() -> None:
    assert decide(sub(), enabled=False, now=START, settings=SETTINGS).step is Step.WAIT
    assert decide(sub(hub_url=""), enabled=True, now=START, settings=SETTINGS).step is Step.WAIT


def test_renewal_comes_the_margin_before_the_lease_ends() -> None:
    clock = FakeClock(START)
    live = active(START)
    waiting = decide(live, enabled=True, now=clock.now(), settings=SETTINGS)
    assert waiting.step is Step.WAIT
    assert waiting.at == START + timedelta(seconds=86400 - 3600)
    clock.advance(86400 - 3601)
    assert decide(live, enabled=True, now=clock.now(), settings=SETTINGS).step is Step.WAIT
    clock.advance(1)
    assert decide(live, enabled=True, now=clock.now(), settings=SETTINGS).step is Step.RENEW
    # While the renewal awaits verification, push still works and nothing else happens.
    renewing = dataclasses.replace(live, pending_mode="subscribe", requested_at=clock.now())
    assert push_works(renewing, clock.now())
    assert decide(renewing, enabled=True, now=clock.now(), settings=SETTINGS).step is Step.WAIT


def test_a_short_granted_lease_is_renewed_at_half_not_at_once() -> None:
    short = active(START, lease=600)  # shorter than the 3600 s margin
    assert renew_at(short, SETTINGS) == START + timedelta(seconds=300)
    assert decide(short, enabled=True, now=START, settings=SETTINGS).step is Step.WAIT


def test_a_lapsed_lease_falls_back_to_polling() -> None:
    clock = FakeClock(START)
    live = active(START, lease=3600)
    clock.advance(3600)
    assert not push_works(live, clock.now())
    lapsed = decide(live, enabled=True, now=clock.now(), settings=SETTINGS)
    assert lapsed.step is Step.FALL_BACK and "lapsed" in lapsed.reason


def test_a_failed_hub_is_retried_with_growing_waits() -> None:
    clock = FakeClock(START)
    failed = sub(state="failed", failures=1, retry_at=START + timedelta(seconds=retry_delay(1)))
    assert decide(failed, enabled=True, now=clock.now(), settings=SETTINGS).step is Step.WAIT
    clock.advance(retry_delay(1))
    assert decide(failed, enabled=True, now=clock.now(), settings=SETTINGS).step is Step.SUBSCRIBE
    assert [retry_delay(n) for n in (1, 2, 3)] == [60, 120, 240]
    assert retry_delay(100) == 86400


def test_unwanted_feeds_are_unsubscribed_or_dropped() -> None:
    live = dataclasses.replace(active(START), wanted=False)
    assert decide(live, enabled=True, now=START, settings=SETTINGS).step is Step.UNSUBSCRIBE
    gone = dataclasses.replace(active(START), hub_url="")
    assert decide(gone, enabled=True, now=START, settings=SETTINGS).step is Step.STOP
    over = dataclasses.replace(live, lease_expires_at=START - timedelta(seconds=1))
    assert decide(over, enabled=True, now=START, settings=SETTINGS).step is Step.STOP
    leaving = dataclasses.replace(live, pending_mode="unsubscribe", requested_at=START)
    assert decide(leaving, enabled=True, now=START, settings=SETTINGS).step is Step.WAIT
    later = START + timedelta(seconds=301)
    assert decide(leaving, enabled=True, now=later, settings=SETTINGS).step is Step.STOP


def test_polling_slows_only_while_push_works() -> None:
    clock = FakeClock(START)
    live = active(START, lease=3600)
    assert polling_interval(300, live, clock.now(), SETTINGS) == 1800
    assert polling_interval(7200, live, clock.now(), SETTINGS) == 7200  # never faster
    assert polling_interval(300, None, clock.now(), SETTINGS) == 300
    assert polling_interval(300, sub(state="failed"), clock.now(), SETTINGS) == 300
    clock.advance(3600)  # the lease lapsed: normal polling at once
    assert polling_interval(300, live, clock.now(), SETTINGS) == 300


def test_decisions_need_aware_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        decide(sub(), enabled=True, now=datetime(2026, 1, 1), settings=SETTINGS)  # noqa: DTZ001


# -- signatures -----------------------------------------------------------------------------


def signed(body: bytes, algorithm: str = "sha256", secret: str = SECRET) -> str:
    return f"{algorithm}={hmac.new(secret.encode(), body, getattr(hashlib, algorithm)).hexdigest()}"


@pytest.mark.parametrize("algorithm", ["sha256", "sha384", "sha512"])
def test_a_valid_signature_passes(algorithm: str) -> None:
    assert (
        check_signature(SECRET, BODY, signature_256=None, signature=signed(BODY, algorithm))
        is SignatureCheck.OK
    )
    if algorithm == "sha256":
        header = signed(BODY).upper().replace("SHA256", "sha256")  # hex case does not matter
        assert check_signature(SECRET, BODY, signature_256=header, signature=None).value == "ok"


@pytest.mark.parametrize(
    ("signature_256", "signature", "expected"),
    [
        (None, None, SignatureCheck.MISSING),
        ("", None, SignatureCheck.MISSING),
        (None, signed(BODY, "sha1"), SignatureCheck.ALGORITHM),
        (None, "md5=" + "0" * 32, SignatureCheck.ALGORITHM),
        (signed(BODY, "sha512"), None, SignatureCheck.ALGORITHM),  # -256 header, other method
        (None, "sha256", SignatureCheck.MALFORMED),
        (None, "sha256=zz" + "0" * 62, SignatureCheck.MALFORMED),
        (None, "sha256=abc", SignatureCheck.MALFORMED),
        (signed(BODY + b" "), None, SignatureCheck.MISMATCH),  # another body
        (signed(BODY, secret="another secret"), None, SignatureCheck.MISMATCH),
    ],
)
def test_bad_signatures_are_refused_by_reason(
    signature_256: str | None, signature: str | None, expected: SignatureCheck
) -> None:
    got = check_signature(SECRET, BODY, signature_256=signature_256, signature=signature)
    assert got is expected


# -- verification calls ---------------------------------------------------------------------


def params(mode: str, **extra: str) -> dict[str, str]:
    return {
        "hub.mode": mode,
        "hub.topic": "https://news.example/feed/",
        "hub.challenge": "c-123",
        **extra,
    }


def test_a_requested_subscription_is_confirmed_with_its_lease() -> None:
    pending = sub(pending_mode="subscribe", requested_at=START)
    answer = answer_verification(
        pending, params("subscribe", **{"hub.lease_seconds": "4000"}), settings=SETTINGS
    )
    assert (answer.status, answer.challenge, answer.lease_seconds) == (200, "c-123", 4000)
    no_lease = answer_verification(pending, params("subscribe"), settings=SETTINGS)
    assert no_lease.lease_seconds == SETTINGS.lease_seconds


@pytest.mark.parametrize(
    ("subscription", "call"),
    [
        (None, params("subscribe")),  # unknown callback
        (sub(), params("subscribe")),  # never requested, not active
        (sub(pending_mode="subscribe"), {**params("subscribe"), "hub.topic": "https://x/"}),
        (sub(pending_mode="subscribe"), params("unsubscribe")),  # not what we asked
        (dataclasses.replace(active(START), wanted=False), params("subscribe")),
        (sub(pending_mode="subscribe"), {**params("subscribe"), "hub.challenge": ""}),
        (sub(pending_mode="subscribe"), {**params("subscribe"), "hub.challenge": "x" * 2000}),
        (sub(pending_mode="subscribe"), params("publish")),
    ],
)
def test_unrequested_verifications_get_404(
    subscription: WebSubSubscription | None, call: dict[str, str]
) -> None:
    assert answer_verification(subscription, call, settings=SETTINGS).status == 404


def test_unsubscribe_and_denial_are_answered_for_known_topics() -> None:
    leaving = sub(state="active", pending_mode="unsubscribe", requested_at=START)
    assert answer_verification(leaving, params("unsubscribe"), settings=SETTINGS).status == 200
    call = {**params("denied"), "hub.reason": "no\nFAKE LOG LINE"}
    denied = answer_verification(sub(), call, settings=SETTINGS)
    assert denied.status == 200 and denied.denied_reason == "no FAKE LOG LINE"  # one line


def test_granted_leases_are_clamped() -> None:
    assert granted_lease("1", 3600) == MIN_LEASE_SECONDS
    assert granted_lease(str(10**12), 3600) == MAX_LEASE_SECONDS
    assert granted_lease("soon", 3600) == 3600
    assert granted_lease(None, 3600) == 3600


def test_public_url_must_be_usable_and_needs_the_listener() -> None:
    check_public_url("", listening=False)
    check_public_url("https://bot.example.org/paperboy", listening=True)
    for bad in ("bot.example.org", "ftp://x/", "https://x/?k=1", "https://u@x/"):
        with pytest.raises(ConfigError, match="public_url"):
            check_public_url(bad, listening=True)
    with pytest.raises(ConfigError, match=r"\[http\] listen"):
        check_public_url("https://bot.example.org", listening=False)
    assert SETTINGS.callback_url("abc") == "https://bot.example.org/websub/abc"
