"""Operational metrics in Prometheus form: counters the core increments where things happen,
and values read only when scraped (outbox depth, and whatever the wiring point binds).

Each `Metrics` holds its own `CollectorRegistry`, never prometheus_client's global one, so tests
and several Apps in one process never collide.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Feed polls wait on the network: from a few milliseconds (304) to the 20 s request limit.
POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 60.0)

EVENT_LOOP_STALLS = "paperboy_event_loop_stalls_total"
POOL_JOBS_KILLED = "paperboy_pool_jobs_killed_total"


def _zero() -> float:
    return 0.0


@dataclass
class _Bound:
    """A value read at scrape time from a function the wiring point passed in."""

    name: str
    kind: str  # "counter" or "gauge"
    doc: str
    read: Callable[[], float]


class _BoundCollector(Collector):
    """Reports every bound value; a reader that fails is logged and left out of that scrape."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        """One family per bound value, plus the outbox depth read by `refresh()`."""
        for bound in list(self._metrics.bound.values()):
            try:
                value = float(bound.read())
            except Exception:
                log.exception("Reading metric %s failed", bound.name)
                continue
            if bound.kind == "counter":
                # The family name is given without _total; the exposition adds it.
                yield CounterMetricFamily(bound.name.removesuffix("_total"), bound.doc, value)
            else:
                yield GaugeMetricFamily(bound.name, bound.doc, value)
        depth = GaugeMetricFamily(
            "paperboy_outbox_depth",
            "Announcements waiting to be delivered, by state (read at scrape time).",
            labels=["state"],
        )
        for state, count in sorted(self._metrics.outbox_depth.items()):
            depth.add_metric([state], count)
        yield depth


class Metrics:
    """Every metric Paperboy exports; one per App, injected where things are counted."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter(
            "paperboy_polls",
            "Feed polls, by result (ok, not_modified, failed, deferred: not the feed's failure;"
            " it is polled again).",
            ["result"],
            registry=r,
        )
        # Every poll counts one: the children are looked up once (labels() checks and locks).
        self._poll_results = {
            result: self.polls.labels(result)
            for result in ("ok", "not_modified", "failed", "deferred")
        }
        self.poll_failures = Counter(
            "paperboy_poll_failures",
            "Failed feed polls, by error class (timeout, http-5xx, ...).",
            ["kind"],
            registry=r,
        )
        self.poll_seconds = Histogram(
            "paperboy_feed_fetch_seconds",
            "Time to fetch and process one feed (conditional GET, parse, store).",
            buckets=POLL_BUCKETS,
            registry=r,
        )
        self.new_articles = Counter(
            "paperboy_new_articles", "Articles seen for the first time in a feed.", registry=r
        )
        self.deliveries = Counter(
            "paperboy_deliveries",
            "Announcement deliveries, by outcome (sent, retry, refused, failed, skipped).",
            ["outcome"],
            registry=r,
        )
        self.discord_rate_limited = Counter(
            "paperboy_discord_rate_limited",
            "HTTP 429 answers from Discord's REST API (discord.py waits and retries).",
            registry=r,
        )
        self.member_commands = Counter(
            "paperboy_member_commands",
            "Application commands run, by name and result (ok, error).",
            ["command", "result"],
            registry=r,
        )
        self.bound: dict[str, _Bound] = {}
        self.outbox_depth: dict[str, int] = {}
        self._refreshers: list[Callable[[], Awaitable[Mapping[str, int]]]] = []
        self.bind_counter(
            EVENT_LOOP_STALLS, "Times the event loop was held longer than allowed.", _zero
        )
        self.bind_counter(
            POOL_JOBS_KILLED, "Worker-pool jobs killed for running past their limit.", _zero
        )
        r.register(_BoundCollector(self))

    # ----- values read at scrape time -------------------------------------------------
    def bind_counter(self, name: str, doc: str, read: Callable[[], float]) -> None:
        """Export `read()` as a counter named `name` (ending in _total); rebinding replaces."""
        if not name.endswith("_total"):
            raise ValueError(f"counter {name} must end in _total")
        self.bound[name] = _Bound(name, "counter", doc, read)

    def bind_gauge(self, name: str, doc: str, read: Callable[[], float]) -> None:
        """Export `read()` as a gauge named `name`; rebinding replaces."""
        self.bound[name] = _Bound(name, "gauge", doc, read)

    def outbox_source(self, read: Callable[[], Awaitable[Mapping[str, int]]]) -> None:
        """Where `refresh()` reads the outbox depth by state (the database, at scrape time)."""
        self._refreshers.append(read)

    async def refresh(self) -> None:
        """Read the values that need the database; called by /metrics before `render()`."""
        for read in self._refreshers:
            try:
                self.outbox_depth = dict(await read())
            except Exception as error:
                # A read-only or locked database must not break the scrape: keep the last value.
                log.warning("Reading the outbox depth failed: %s", error)

    def render(self) -> bytes:
        """The Prometheus text exposition of everything."""
        return generate_latest(self.registry)

    # ----- events ------------------------------------------------------------------
    def observe_poll(
        self,
        *,
        ok: bool,
        not_modified: bool,
        error_kind: str | None,
        new: int,
        seconds: float,
        deferred: bool = False,
    ) -> None:
        """Count one feed poll and how long it took. A `deferred` poll is no failure of the
        feed's (our own request slots stayed full, or another process's result stood): it is
        counted apart, so failure rates and alerts speak of feeds only."""
        if deferred:
            result = "deferred"
        else:
            result = "failed" if not ok else "not_modified" if not_modified else "ok"
        self._poll_results[result].inc()
        if error_kind and not deferred:
            self.poll_failures.labels(error_kind).inc()
        if new:
            self.new_articles.inc(new)
        self.poll_seconds.observe(max(seconds, 0.0))

    def observe_delivery(self, outcome: str) -> None:
        """Count one delivery attempt by its outcome."""
        self.deliveries.labels(outcome).inc()

    def observe_command(self, name: str, *, ok: bool) -> None:
        """Count one application command by name and result."""
        self.member_commands.labels(name, "ok" if ok else "error").inc()
