"""One exception tree. Every `PaperboyError` carries a message that is safe to show a user."""

from __future__ import annotations


class PaperboyError(Exception):
    """Base of every expected error; `str(error)` is a sentence fit for users."""


class ConfigError(PaperboyError):
    """The configuration file is unreadable or holds an invalid value."""


class StorageError(PaperboyError):
    """A database problem an operator must act on (newer schema, foreign database, disk full)."""


class FetchError(PaperboyError):
    """A URL could not be fetched. `kind` is a stable class name such as ``timeout`` or ``dns``."""

    def __init__(self, kind: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


class FeedError(PaperboyError):
    """A document could not be read as a feed (``not-a-feed``, ``parse-error``, ``too-large``)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class NotFound(PaperboyError):
    """The thing asked for does not exist (or belongs to another guild, which looks the same)."""


class InvalidInput(PaperboyError):
    """User input failed validation; the message says what was expected."""


class PermissionDenied(PaperboyError):
    """The user may not do this."""


class DeliveryError(PaperboyError):
    """Discord refused or failed a send. `permanent` errors pause the subscription; others retry."""

    def __init__(self, message: str, *, permanent: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status = status


class TryLater(PaperboyError):
    """Refused for now (a cooldown, a full queue, a busy host); `retry_after` says when to retry."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
