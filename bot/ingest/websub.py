"""WebSub push, pure part: what to do with a subscription now, and whether a push is genuine.

Every decision is a function of the subscription's recorded state, the settings and `now`
(W3C WebSub: https://www.w3.org/TR/websub/). The subscriber (`bot.ingest.subscriber`) does the
I/O and records the outcome; polling goes on underneath at all times, only slower while push
works, so a hub that fails or a lease that lapses costs speed, never articles.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from bot.config import WebSubConfig
from bot.errors import ConfigError
from bot.storage import WebSubSubscription

CALLBACK_PATH = "/websub/"
"""Hubs call <public_url>/websub/<callback id>."""
MAX_CHALLENGE_LENGTH = 1024
MIN_LEASE_SECONDS = 60
MAX_LEASE_SECONDS = 366 * 86400
"""A lease a hub grants is clamped to these bounds (a hostile or broken hub cannot make
Paperboy renew every second, nor trust a subscription for years)."""
FIRST_RETRY_SECONDS = 60.0
MAX_RETRY_SECONDS = 86400.0

# Algorithms the spec allows for X-Hub-Signature; sha1 is refused (a collision-prone hash
# is not what we want guarding announcements), so its pushes count as the wrong algorithm.
_ALGORITHMS = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}


@dataclass(frozen=True)
class WebSubSettings:
    """The knobs of WebSub, from `[websub]`."""

    public_url: str = ""
    lease_seconds: int = 7 * 86400
    renew_margin_seconds: int = 3600
    poll_interval_seconds: int = 1800
    verify_timeout_seconds: int = 300

    @classmethod
    def from_config(cls, config: WebSubConfig) -> WebSubSettings:
        """The settings of a `[websub]` section."""
        return cls(
            public_url=config.public_url.strip().rstrip("/"),
            lease_seconds=config.lease_seconds,
            renew_margin_seconds=config.renew_margin_seconds,
            poll_interval_seconds=config.poll_interval_seconds,
            verify_timeout_seconds=config.verify_timeout_seconds,
        )

    @property
    def enabled(self) -> bool:
        """Push is on when a public callback address is configured."""
        return bool(self.public_url)

    def callback_url(self, callback_id: str) -> str:
        """The address a hub calls for one subscription."""
        return f"{self.public_url}{CALLBACK_PATH}{callback_id}"


def check_public_url(public_url: str, *, listening: bool) -> None:
    """Refuse a `[websub] public_url` hubs could not call back, with a sentence saying why."""
    url = public_url.strip()
    if not url:
        return
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid or parts.query or parts.fragment or parts.username:
        raise ConfigError(
            f"[websub] public_url = {url!r}: expected an address such as "
            "'https://paperboy.example.org' (no query, fragment or user name)"
        )
    if not listening:
        raise ConfigError(
            "[websub] public_url is set but [http] listen is not: hubs reach Paperboy through "
            "the HTTP listener, so set [http] listen (e.g. '127.0.0.1:8080') and point a "
            "reverse proxy from the public address to it."
        )


# -- keeping a subscription up -------------------------------------------------------------------


class Step(enum.Enum):
    """What the subscriber should do about one subscription."""

    WAIT = "wait"  # nothing until `Decision.at` (None: until something changes)
    SUBSCRIBE = "subscribe"  # first time, or a retry after a failure
    RENEW = "renew"  # the lease ends soon: subscribe again before it does
    UNSUBSCRIBE = "unsubscribe"  # nobody follows the feed any more
    FALL_BACK = "fall_back"  # the lease lapsed or the hub never verified: poll normally again
    STOP = "stop"  # unwanted and the lease is over: just forget it


@dataclass(frozen=True)
class Decision:
    """A step, and for WAIT when to look again."""

    step: Step
    at: datetime | None = None
    reason: str = ""


def push_works(sub: WebSubSubscription | None, now: datetime) -> bool:
    """Whether the hub is known to push this feed now: verified and the lease not over."""
    return (
        sub is not None
        and sub.state == "active"
        and sub.lease_expires_at is not None
        and sub.lease_expires_at > now
    )


def renew_at(sub: WebSubSubscription, settings: WebSubSettings) -> datetime | None:
    """When to renew an active lease: the margin before it ends, but never earlier than half
    the lease, so a hub granting a short lease is not asked again at once."""
    if sub.lease_expires_at is None:
        return None
    lease = sub.lease_seconds or settings.lease_seconds
    margin = min(float(settings.renew_margin_seconds), lease / 2)
    return sub.lease_expires_at - timedelta(seconds=margin)


def decide(
    sub: WebSubSubscription, *, enabled: bool, now: datetime, settings: WebSubSettings
) -> Decision:
    """The next step for one subscription (`enabled`: push is configured on)."""
    _require_aware(now)
    wanted = enabled and sub.wanted and bool(sub.hub_url)
    if sub.pending_mode is not None and sub.requested_at is not None:
        deadline = sub.requested_at + timedelta(seconds=settings.verify_timeout_seconds)
        if now < deadline:
            return Decision(Step.WAIT, deadline, "waiting for the hub to verify")
        if sub.pending_mode == "subscribe":
            return Decision(Step.FALL_BACK, reason="the hub did not verify the subscription")
        return Decision(Step.STOP, reason="the hub did not verify the unsubscription")
    live = push_works(sub, now)
    if not wanted:
        if live and enabled and sub.hub_url:
            return Decision(Step.UNSUBSCRIBE, reason="no subscription follows the feed")
        if sub.state != "idle":
            return Decision(Step.STOP, reason="nothing to keep up")
        return Decision(Step.WAIT)
    if sub.state == "active":
        if not live:
            return Decision(Step.FALL_BACK, reason="the lease lapsed")
        renewal = renew_at(sub, settings)
        if renewal is not None and now < renewal:
            return Decision(Step.WAIT, renewal, "lease running")
        return Decision(Step.RENEW, reason="the lease ends soon")
    if sub.state == "failed" and sub.retry_at is not None and now < sub.retry_at:
        return Decision(Step.WAIT, sub.retry_at, "waiting to retry the hub")
    return Decision(Step.SUBSCRIBE, reason="not subscribed")


def retry_delay(failures: int) -> float:
    """Seconds before trying a failed hub again: doubling from a minute, capped at a day.

    `failures` counts this one (1 for the first failure)."""
    exponent = min(max(failures - 1, 0), 30)
    return min(FIRST_RETRY_SECONDS * 2.0**exponent, MAX_RETRY_SECONDS)


def polling_interval(
    interval_seconds: float, sub: WebSubSubscription | None, now: datetime, settings: WebSubSettings
) -> float:
    """How often to poll a feed: its own interval, or the slower safety-net one while push works."""
    if push_works(sub, now):
        return max(interval_seconds, float(settings.poll_interval_seconds))
    return interval_seconds


def granted_lease(raw: str | None, requested: int) -> int:
    """The lease a hub's verification states (`hub.lease_seconds`), clamped; else what we asked."""
    try:
        seconds = int(raw) if raw is not None and raw.strip() else requested
    except ValueError:
        seconds = requested
    return min(max(seconds, MIN_LEASE_SECONDS), MAX_LEASE_SECONDS)


# -- the hub's calls --------------------------------------------------------------------------


class SignatureCheck(enum.Enum):
    """Whether a push's signature holds; anything but OK is refused and counted by its value."""

    OK = "ok"
    MISSING = "missing"
    ALGORITHM = "algorithm"  # sha1, or a method the spec does not know
    MALFORMED = "malformed"
    MISMATCH = "mismatch"


def check_signature(
    secret: str, body: bytes, *, signature_256: str | None, signature: str | None
) -> SignatureCheck:
    """Check `X-Hub-Signature-256` (`sha256=<hex>`), else the spec's `X-Hub-Signature`
    (`<method>=<hex>`, sha256/384/512), against an HMAC of the exact body with `secret`.

    The comparison takes constant time whatever the signature sent."""
    header = signature_256 if signature_256 is not None else signature
    if header is None or not header.strip():
        return SignatureCheck.MISSING
    method, sep, sent = header.strip().partition("=")
    if not sep:
        return SignatureCheck.MALFORMED
    method = method.strip().lower()
    if signature_256 is not None and method != "sha256":
        return SignatureCheck.ALGORITHM
    digest = _ALGORITHMS.get(method)
    if digest is None:
        return SignatureCheck.ALGORITHM
    expected = hmac.new(secret.encode(), body, digest).hexdigest()
    sent = sent.strip().lower()
    if len(sent) != len(expected) or any(ch not in "0123456789abcdef" for ch in sent):
        return SignatureCheck.MALFORMED
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        return SignatureCheck.MISMATCH
    return SignatureCheck.OK


@dataclass(frozen=True)
class VerificationAnswer:
    """How to answer a hub's verification GET: echo `challenge` (status 200) or refuse (404)."""

    status: int
    challenge: str = ""
    mode: str = ""
    lease_seconds: int | None = None
    denied_reason: str | None = None


def answer_verification(
    sub: WebSubSubscription | None,
    params: dict[str, str],
    *,
    settings: WebSubSettings,
) -> VerificationAnswer:
    """The answer to a verification of intent (or a denial) for a callback.

    The challenge is echoed only for a known callback whose topic matches and whose request
    is the one we made: a subscribe we asked for (or one that keeps a live subscription we still
    want), an unsubscribe we asked for. Anything else is 404, so nobody can subscribe Paperboy
    to anything."""
    if sub is None:
        return VerificationAnswer(404)
    mode = params.get("hub.mode", "")
    topic = params.get("hub.topic", "")
    if topic != sub.topic_url:
        return VerificationAnswer(404)
    if mode == "denied":
        reason = "".join(
            ch if ch.isprintable() else " " for ch in params.get("hub.reason", "")[:300]
        )
        return VerificationAnswer(200, mode=mode, denied_reason=reason)
    challenge = params.get("hub.challenge", "")
    if not challenge or len(challenge) > MAX_CHALLENGE_LENGTH:
        return VerificationAnswer(404)
    if mode == "subscribe":
        expected = sub.pending_mode == "subscribe" or (
            sub.pending_mode is None and sub.state == "active" and sub.wanted
        )
        if not expected:
            return VerificationAnswer(404)
        lease = granted_lease(params.get("hub.lease_seconds"), settings.lease_seconds)
        return VerificationAnswer(200, challenge, mode, lease)
    if mode == "unsubscribe" and sub.pending_mode == "unsubscribe":
        return VerificationAnswer(200, challenge, mode)
    return VerificationAnswer(404)


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
