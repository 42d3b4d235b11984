"""Moderator-written message templates and date formats, validated up front and rendered safely.

Templates use `{name}` placeholders and `{{`/`}}` for literal braces. Rendering is a tiny
substitution of known names only, never `str.format`, so `{title.__class__}` and friends cannot
reach Python objects. Dates use a small strftime subset formatted here, in English, so the
output does not depend on the host's locale.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import InvalidInput

PLACEHOLDERS: Final = ("title", "url", "author", "summary", "categories", "feed", "published")
DEFAULT_TEMPLATE: Final = "**{title}**\n{url}"
DEFAULT_DATE_FORMAT: Final = "%d %B %Y %H:%M"
TEMPLATE_MAX_CHARS: Final = 1500
DATE_FORMAT_MAX_CHARS: Final = 100

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_MONTHS: Final = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DATE_DIRECTIVES: Final = "aAbBdeHIjmMpSyYzZ%"


def _parse(template: str) -> list[tuple[str, str]]:
    """Split a template into ("text", literal) and ("field", name) parts, or raise InvalidInput."""
    parts: list[tuple[str, str]] = []
    position = 0
    for match in _TOKEN.finditer(template):
        if match.start() > position:
            parts.append(("text", template[position : match.start()]))
        piece = match.group(0)
        if piece in ("{{", "}}"):
            parts.append(("text", piece[0]))
        elif piece == "{":
            raise InvalidInput(
                f"The template has a '{{' at character {match.start() + 1} that is never closed; "
                "write {{ for a literal brace."
            )
        elif piece == "}":
            raise InvalidInput(
                f"The template has a '}}' at character {match.start() + 1} with no matching '{{'; "
                "write }} for a literal brace."
            )
        else:
            name = match.group(1)
            if name.strip().lower() not in PLACEHOLDERS:
                known = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
                shown = name if len(name) <= 40 else name[:40] + "…"
                raise InvalidInput(f"Unknown placeholder {{{shown}}}; you can use {known}.")
            parts.append(("field", name.strip().lower()))
        position = match.end()
    if position < len(template):
        parts.append(("text", template[position:]))
    return parts


def validate_template(text: str) -> None:
    """Raise InvalidInput with a specific message unless `text` is a usable template."""
    if not text.strip():
        raise InvalidInput("The template is empty; write some text, for example **{title}** {url}.")
    if len(text) > TEMPLATE_MAX_CHARS:
        raise InvalidInput(
            f"The template is {len(text)} characters long; "
            f"the most allowed is {TEMPLATE_MAX_CHARS}."
        )
    _parse(text)


def render_template(template: str, values: Mapping[str, str]) -> str:
    """Substitute known placeholders with `values` (already made safe by the caller)."""
    return "".join(
        value if kind == "text" else values.get(value, "") for kind, value in _parse(template)
    )


def validate_date_format(fmt: str) -> None:
    """Raise InvalidInput unless `fmt` uses only the supported strftime directives."""
    if not fmt.strip():
        raise InvalidInput("The date format is empty; try %d %B %Y %H:%M.")
    if len(fmt) > DATE_FORMAT_MAX_CHARS:
        raise InvalidInput(
            f"The date format is {len(fmt)} characters long; the most allowed is "
            f"{DATE_FORMAT_MAX_CHARS}."
        )
    index = 0
    while index < len(fmt):
        if fmt[index] == "%":
            directive = fmt[index + 1 : index + 2]
            if not directive or directive not in DATE_DIRECTIVES:
                shown = "%" + directive if directive else "a lone %"
                supported = " ".join("%" + d for d in DATE_DIRECTIVES)
                raise InvalidInput(
                    f"The date format uses {shown}, which is not supported; "
                    f"you can use {supported}."
                )
            index += 2
        else:
            index += 1


def validate_timezone(name: str) -> ZoneInfo:
    """The zone for an IANA name such as Europe/London, or InvalidInput naming the problem."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(
            f"{name[:60]!r} is not a known time zone; use a name such as UTC or Europe/London."
        ) from None


def format_date(moment: datetime, timezone: str, fmt: str) -> str:
    """Format an aware datetime in the named zone with the supported strftime subset."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    validate_date_format(fmt)
    local = moment.astimezone(validate_timezone(timezone))
    out: list[str] = []
    index = 0
    while index < len(fmt):
        char = fmt[index]
        if char != "%":
            out.append(char)
            index += 1
            continue
        out.append(_directive(local, fmt[index + 1]))
        index += 2
    return "".join(out)


def _directive(local: datetime, directive: str) -> str:
    hour12 = local.hour % 12 or 12
    table = {
        "a": _WEEKDAYS[local.weekday()][:3],
        "A": _WEEKDAYS[local.weekday()],
        "b": _MONTHS[local.month - 1][:3],
        "B": _MONTHS[local.month - 1],
        "d": f"{local.day:02d}",
        "e": str(local.day),
        "H": f"{local.hour:02d}",
        "I": f"{hour12:02d}",
        "j": f"{local.timetuple().tm_yday:03d}",
        "m": f"{local.month:02d}",
        "M": f"{local.minute:02d}",
        "p": "AM" if local.hour < 12 else "PM",
        "S": f"{local.second:02d}",
        "y": f"{local.year % 100:02d}",
        "Y": f"{local.year:04d}",
        "z": local.strftime("%z"),
        "Z": local.tzname() or "",
        "%": "%",
    }
    return table[directive]
