"""Who an item is: canonical URLs and per-feed entry keys that survive edits."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urljoin, urlsplit, urlunsplit

import idna

from bot.textutil import clean_text

# Query parameters that only say how a reader arrived, never which page they get. `ref` is kept
# on purpose: some sites use it to pick content (a branch, a referral page), so it is not safe.
_TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "twclid",
        "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id",
        "vero_conv", "__s",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_",)
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_PERCENT = re.compile(r"%[0-9a-fA-F]{2}")
_MAX_KEY_CHARS = 512


def _upper_percent(text: str) -> str:
    return _PERCENT.sub(lambda m: m.group(0).upper(), text)


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name in _TRACKING_PARAMS or name.startswith(_TRACKING_PREFIXES)


def _canonical_host(host: str) -> str | None:
    host = host.rstrip(".").lower()
    if not host:
        return None
    if host.startswith("[") or host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        try:
            return host.encode("idna").decode("ascii")
        except UnicodeError:
            return None


# A URL already in canonical form as far as the full rules go: lowercase scheme and ASCII host,
# no user, no port or a non-default one without leading zeros, a path free of percent escapes,
# no query or fragment. Most feeds' links and guids are such; they come back unchanged.
_ALREADY_CANONICAL = re.compile(
    r"(?P<scheme>https?)://[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::(?P<port>[1-9][0-9]{0,4}))?"
    r"/[A-Za-z0-9._~!$&'()*+,;=:@/-]*"
)


def canonical_url(url: str) -> str:
    """One spelling per page: lowercase scheme and IDNA host, no default port, fragment or trackers.

    Query parameters are sorted; WordPress ids such as `?p=123` are kept. Text that is not an
    http(s) URL with a host comes back stripped but otherwise unchanged.
    """
    url = url.strip()
    simple = _ALREADY_CANONICAL.fullmatch(url)
    if simple is not None:
        port = simple["port"]
        if port is None or (int(port) <= 65535 and port != _DEFAULT_PORTS[simple["scheme"]]):
            return url  # what the full rules would give, without splitting and joining it
    return _canonical_by_the_rules(url)


def _canonical_by_the_rules(url: str) -> str:
    """canonical_url's rules, applied in full to a stripped URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return url
    host = _canonical_host(parts.hostname)
    if host is None:
        return url
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    netloc = host
    if port is not None and str(port) != _DEFAULT_PORTS[scheme]:
        netloc = f"{host}:{port}"
    if parts.username is not None or parts.password is not None:
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@{netloc}"
    path = _upper_percent(parts.path) or "/"
    kept = [
        pair for pair in parts.query.split("&") if pair and not _is_tracking(pair.partition("=")[0])
    ]
    query = "&".join(sorted(_upper_percent(pair) for pair in kept))
    return urlunsplit((scheme, netloc, path, query, ""))


def resolve_http_url(link: str | None, base: str | None) -> str | None:
    """`link` made absolute against `base`; None unless that is an http(s) URL with a host."""
    if not link:
        return None
    link = clean_text(link, single_line=True)
    if not link:
        return None
    try:
        absolute = urljoin(base or "", link)
        parts = urlsplit(absolute)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    # Consumers compare links textually; `HTTP://` must read `http://`.
    return scheme + absolute[len(scheme) :] if absolute[: len(scheme)].lower() == scheme else None


def entry_key(*, guid: str | None, link: str | None, title: str, content: str) -> str:
    """An item's identity in its feed: guid, else canonical link, else hash of title and content.

    Dates never take part, so an edited pubDate or description never makes an item new again.
    """
    if guid and guid.strip():
        guid = guid.strip()
        if guid.lower().startswith(("http://", "https://")):
            guid = canonical_url(guid)
        return _bounded("guid:", guid)
    if link and link.strip():
        return _bounded("url:", canonical_url(link))
    digest = hashlib.sha256(f"{title.strip()}\x1f{content.strip()}".encode()).hexdigest()
    return f"hash:{digest[:40]}"


def _bounded(prefix: str, value: str) -> str:
    """Keys stay short enough to index; a very long guid is replaced by its digest."""
    if len(prefix) + len(value) <= _MAX_KEY_CHARS:
        return prefix + value
    return f"{prefix}sha256:{hashlib.sha256(value.encode('utf-8', 'replace')).hexdigest()}"
