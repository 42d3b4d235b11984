"""Configuration: a TOML file loaded into frozen dataclasses, every key checked.

The file is optional; with none, the defaults below apply. Each field's metadata holds its
one-line help and its bounds, which `config.example.toml` mirrors (a test keeps them in step).
"""

from __future__ import annotations

import os
import tomllib
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bot.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("config.toml")
CONFIG_ENV = "PAPERBOY_CONFIG"
TOKEN_ENV = "DISCORD_TOKEN"  # noqa: S105 - the name of the variable, not a secret


def _opt(
    default: Any,
    doc: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    return field(default=default, metadata={"doc": doc, "lo": lo, "hi": hi, "choices": choices})


@dataclass(frozen=True)
class BotConfig:
    """The Discord side of the process."""

    log_level: str = _opt(
        "INFO",
        "Log level: DEBUG, INFO, WARNING or ERROR.",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
    )
    contact_url: str = _opt(
        "https://github.com/paperboy-bot/paperboy",
        "Where publishers can reach the operator; sent in the User-Agent.",
    )
    guild_ready_timeout_seconds: float = _opt(
        2.0, "How long to wait for guild data after login before the bot is ready.", lo=0.0, hi=60.0
    )
    reidentify_delay_seconds: float = _opt(
        5.0,
        "Pause before re-identifying after a lost session (Discord allows 1 per 5 s).",
        lo=0.0,
        hi=60.0,
    )
    sync_commands: bool = _opt(True, "Sync the slash commands with Discord at start.")
    api_base_url: str = _opt(
        "", "Discord REST base URL; empty means Discord itself (tests point it elsewhere)."
    )
    gateway_url: str = _opt(
        "", "Discord gateway URL; empty means Discord itself (tests point it elsewhere)."
    )


@dataclass(frozen=True)
class DatabaseConfig:
    """Where state is kept."""

    path: str = _opt("paperboy.db", "SQLite database file, created if missing.")
    url: str = _opt(
        "",
        "PostgreSQL instead of the SQLite file: postgresql://user@host:5432/dbname "
        "(empty: SQLite). A password is better kept in ~/.pgpass or PGPASSWORD than here.",
    )
    busy_timeout_ms: int = _opt(
        5000, "How long a statement waits for a lock before failing.", lo=0, hi=600_000
    )

    def target(self) -> str:
        """What `Storage.open` takes: the PostgreSQL URL when set, else the SQLite file."""
        return self.url or self.path

    def where(self) -> str:
        """The database in words for messages: the file, or the URL without its password."""
        return redact_url(self.url) if self.url else self.path


def redact_url(url: str) -> str:
    """A database URL without its password, fit for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


@dataclass(frozen=True)
class FetchConfig:
    """How Paperboy fetches feeds and pages from the web."""

    allow_private_addresses: bool = _opt(
        False, "Allow loopback and private-network addresses (self-hosted sites, tests)."
    )
    connect_timeout_seconds: float = _opt(
        10.0, "Time allowed to open a connection.", lo=0.1, hi=120.0
    )
    total_timeout_seconds: float = _opt(20.0, "Time allowed for a whole request.", lo=0.1, hi=600.0)
    max_redirects: int = _opt(5, "Redirects followed before giving up.", lo=0, hi=20)
    max_feed_bytes: int = _opt(
        5 * 1024 * 1024,
        "Largest feed accepted, counted after decompression.",
        lo=1024,
        hi=100 * 1024 * 1024,
    )
    max_page_bytes: int = _opt(
        3 * 1024 * 1024,
        "Largest article page accepted, after decompression.",
        lo=1024,
        hi=100 * 1024 * 1024,
    )
    per_host_concurrency: int = _opt(
        2,
        "Simultaneous requests to one site (registrable domain, e.g. example.co.uk).",
        lo=1,
        hi=16,
    )
    max_concurrency: int = _opt(64, "Simultaneous requests overall.", lo=1, hi=1024)
    user_agent: str = _opt(
        "", "User-Agent header; empty means 'Paperboy/<version> (+contact_url)'."
    )


@dataclass(frozen=True)
class FeedsConfig:
    """When feeds are polled."""

    default_interval_seconds: int = _opt(
        300, "How often a feed is checked unless set per feed.", lo=1, hi=7 * 86400
    )
    min_interval_seconds: int = _opt(60, "No feed is checked more often than this.", lo=1, hi=86400)
    max_backoff_seconds: int = _opt(
        86400, "Longest wait after repeated failures.", lo=60, hi=7 * 86400
    )
    failing_threshold: int = _opt(
        5, "Consecutive failures after which moderators are told.", lo=1, hi=1000
    )
    max_items: int = _opt(
        200, "Only the newest this-many items of a feed are considered.", lo=1, hi=10_000
    )
    fetch_full_text: bool = _opt(True, "Fetch each new article's page to archive its full text.")


@dataclass(frozen=True)
class AnnouncementsConfig:
    """How new articles are announced."""

    backlog_count: int = _opt(
        1, "On a new subscription, how many of the newest items to announce.", lo=0, hi=50
    )
    max_age_days: float = _opt(
        3.0, "Items older than this are never announced as new.", lo=0.0, hi=3650.0
    )
    max_new_per_poll: int = _opt(5, "Most items announced from one poll of one feed.", lo=1, hi=100)
    per_channel_interval_seconds: float = _opt(
        1.0, "Least time between two posts in one channel.", lo=0.0, hi=60.0
    )
    # 45, not Discord's 50: the budget is kept in any 1-second span, and the rest of the bot's
    # REST calls (notices, lookups, threads) share Discord's global limit; interaction replies
    # do not count toward it. Drain times at this rate: bench.delivery in BENCHMARKS.md.
    global_rate_per_second: float = _opt(
        45.0,
        "Most Discord requests per second for deliveries (Discord allows 50 in all).",
        lo=0.1,
        hi=45.0,
    )


@dataclass(frozen=True)
class ModerationConfig:
    """Limits on what moderators can configure."""

    max_subscriptions_per_guild: int = _opt(
        100, "Subscriptions one server may have.", lo=1, hi=10_000
    )


@dataclass(frozen=True)
class SummariesConfig:
    """How /summary works."""

    backend: str = _opt(
        "extractive",
        "'extractive' (offline) or 'openai' (any OpenAI-compatible server).",
        choices=("extractive", "openai"),
    )
    openai_base_url: str = _opt(
        "http://127.0.0.1:8080/v1",
        "Base URL of the OpenAI-compatible server; the LLM's own session reaches only this "
        "(loopback is fine), never members' links.",
    )
    openai_model: str = _opt("", "Model name to ask for.")
    openai_api_key_env: str = _opt("OPENAI_API_KEY", "Environment variable that holds the API key.")
    timeout_seconds: float = _opt(
        20.0, "Time allowed for one LLM answer before falling back.", lo=1.0, hi=300.0
    )


@dataclass(frozen=True)
class LimitsConfig:
    """Quotas and rate limits on fetching that members and feeds cause."""

    member_fetches_per_window: int = _opt(
        4,
        "Pages one member may have fetched per window in one server (/summary, /related, "
        "the menu, the buttons); answers from the archive or a cache are free.",
        lo=1,
        hi=1000,
    )
    member_window_seconds: float = _opt(
        60.0, "The window of member_fetches_per_window (a sliding window).", lo=1.0, hi=86400.0
    )
    server_concurrent_fetches: int = _opt(
        4, "Page fetches members of one server may have in flight at once.", lo=1, hi=64
    )
    failed_url_seconds: float = _opt(
        300.0,
        "How long a page that failed to fetch for a member is refused without fetching it again.",
        lo=0.0,
        hi=86400.0,
    )
    per_ip_concurrency: int = _opt(
        8,
        "Simultaneous requests to one resolved IP address (many sites can share one).",
        lo=1,
        hi=256,
    )
    slot_wait_seconds: float = _opt(
        30.0,
        "Longest a feed or archive fetch waits for a free per-site or per-address slot.",
        lo=0.0,
        hi=600.0,
    )
    member_slot_wait_seconds: float = _opt(
        5.0, "Longest a member's fetch waits for such a slot before 'try again'.", lo=0.0, hi=60.0
    )
    archive_pages_per_poll: int = _opt(
        10,
        "Most article pages fetched for one poll of one feed (newest first); the other new "
        "articles keep the feed's own text.",
        lo=0,
        hi=1000,
    )


@dataclass(frozen=True)
class HttpConfig:
    """The operator endpoint: /healthz, /metrics and a read-only status page."""

    listen: str = _opt(
        "",
        "Address:port for the operator endpoint, e.g. '127.0.0.1:8080'; empty turns it off.",
    )
    allow_public: bool = _opt(
        False,
        "Allow a non-loopback listen address (put a reverse proxy with authentication in front).",
    )


@dataclass(frozen=True)
class WebSubConfig:
    """WebSub push: feeds whose hub pushes new items in seconds, off by default."""

    public_url: str = _opt(
        "",
        "Public https address that reaches [http] listen through a reverse proxy, e.g. "
        "'https://paperboy.example.org'; hubs call <public_url>/websub/<id>; empty turns push off.",
    )
    lease_seconds: int = _opt(
        7 * 86400,
        "Subscription lease asked of hubs (a hub may grant another).",
        lo=300,
        hi=365 * 86400,
    )
    renew_margin_seconds: int = _opt(
        3600,
        "Renew a subscription this long before its lease ends (at most half the lease).",
        lo=60,
        hi=30 * 86400,
    )
    poll_interval_seconds: int = _opt(
        1800,
        "While push works, a feed is still polled this often (a safety net), unless its own "
        "interval is longer.",
        lo=60,
        hi=7 * 86400,
    )
    verify_timeout_seconds: int = _opt(
        300,
        "A hub that has not verified a subscription within this long has failed.",
        lo=10,
        hi=86400,
    )


@dataclass(frozen=True)
class WorkersConfig:
    """The worker processes that read untrusted feeds and pages, and the event-loop watchdog."""

    processes: int = _opt(
        2, "Worker processes for parsing and extraction (one per core is right).", lo=1, hi=64
    )
    job_timeout_seconds: float = _opt(
        20.0,
        "Longest one feed or page may take to read; past it the worker is killed.",
        lo=0.1,
        hi=600.0,
    )
    memory_limit_mb: int = _opt(
        1024, "Address space one worker may use (RLIMIT_AS); 0 means no limit.", lo=0, hi=65536
    )
    queue_size: int = _opt(
        8, "Member requests that may wait for a worker; more are told to try later.", lo=0, hi=1000
    )
    loop_stall_ms: int = _opt(
        250,
        "Log a warning with the stack when the event loop is blocked longer than this.",
        lo=10,
        hi=60_000,
    )


@dataclass(frozen=True)
class ScaleConfig:
    """Several processes on one database: shard processes and `paperboy worker` (README,
    Running at scale)."""

    bot_processes: int = _opt(
        1,
        "Bot processes sharing one token; each sends at most global_rate_per_second / this.",
        lo=1,
        hi=1024,
    )
    poll_lease_seconds: float = _opt(
        30.0,
        "Only the holder of this lease archives pages and renews WebSub subscriptions; "
        "a killed holder's work resumes within it.",
        lo=1.0,
        hi=3600.0,
    )
    feed_claim_seconds: float = _opt(
        300.0,
        "A poll round claims its due feeds for this long (longer than a fetch's deadline); "
        "a killed process's claimed feeds are polled by another after it.",
        lo=5.0,
        hi=86_400.0,
    )
    check_seconds: float = _opt(
        2.0,
        "How often a process that shares the database looks for work others committed.",
        lo=0.1,
        hi=300.0,
    )


@dataclass(frozen=True)
class Config:
    """The whole configuration."""

    bot: BotConfig = field(default_factory=BotConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    feeds: FeedsConfig = field(default_factory=FeedsConfig)
    announcements: AnnouncementsConfig = field(default_factory=AnnouncementsConfig)
    moderation: ModerationConfig = field(default_factory=ModerationConfig)
    summaries: SummariesConfig = field(default_factory=SummariesConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    workers: WorkersConfig = field(default_factory=WorkersConfig)
    scale: ScaleConfig = field(default_factory=ScaleConfig)
    websub: WebSubConfig = field(default_factory=WebSubConfig)
    source: str = field(default="(defaults)", compare=False)

    def user_agent(self) -> str:
        """The User-Agent sent with every request."""
        if self.fetch.user_agent:
            return self.fetch.user_agent
        from bot import __version__

        return f"Paperboy/{__version__} (+{self.bot.contact_url})"


SECTIONS: dict[str, type] = {
    f.name: typing.get_type_hints(Config)[f.name] for f in fields(Config) if f.name != "source"
}


def resolve_path(
    cli_path: str | None, environ: typing.Mapping[str, str] = os.environ
) -> Path | None:
    """`--config`, else `$PAPERBOY_CONFIG`, else `./config.toml` if present, else None."""
    if cli_path:
        return Path(cli_path)
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def load(path: Path | None) -> Config:
    """Read and validate a config file; None gives the defaults. Raises ConfigError."""
    if path is None:
        return Config()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read config file ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    return from_mapping(raw, source=str(path))


def from_mapping(raw: dict[str, Any], *, source: str = "(config)") -> Config:
    """Build a Config from parsed TOML, naming the file and key of the first problem."""
    sections: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in SECTIONS:
            known = ", ".join(f"[{s}]" for s in SECTIONS)
            raise ConfigError(f"{source}: unknown section [{name}]; known sections are {known}")
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: [{name}] must be a table of keys")
        sections[name] = _build_section(SECTIONS[name], name, value, source)
    return Config(**sections, source=source)


def _build_section(cls: type, section: str, values: dict[str, Any], source: str) -> Any:
    assert is_dataclass(cls)
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        where = f"{source}: [{section}] {key}"
        if key not in known:
            raise ConfigError(f"{where}: unknown key; known keys are {', '.join(known)}")
        kwargs[key] = _check_value(where, hints[key], known[key].metadata, value)
    return cls(**kwargs)


def _check_value(where: str, expected: Any, meta: typing.Mapping[str, Any], value: Any) -> Any:
    if isinstance(expected, types.UnionType):
        raise AssertionError("config fields are never unions")
    if expected is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}")
    elif expected is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        value = float(value)
    elif expected is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        choices = meta.get("choices")
        if choices and value not in choices:
            raise ConfigError(f"{where}: expected one of {', '.join(choices)}, got {value!r}")
        return value
    lo, hi = meta.get("lo"), meta.get("hi")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(f"{where}: expected a value from {lo:g} to {hi:g}, got {value!r}")
    return value


def describe_defaults() -> list[tuple[str, str, Any, str]]:
    """(section, key, default, doc) for every key; used to check the example file stays complete."""
    rows = []
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            default = f.default if f.default is not MISSING else None
            rows.append((section, f.name, default, f.metadata.get("doc", "")))
    return rows
