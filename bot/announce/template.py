"""Moderator-written message templates and date formats, validated up front and rendered safely.

Templates use `{name}` placeholders, some with an option (`{summary:200}`, `{published:date}`),
and `{{`/`}}` for literal braces. Parsing is one left-to-right scan (linear in the template's
length, no regular expressions), and rendering substitutes known names only, never
`str.format`, so `{title.__class__}` and friends cannot reach Python objects. Dates use a small
strftime subset formatted here, in English, so the output does not depend on the host's locale;
a template never carries strftime text itself, only one of `PUBLISHED_FORMATS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import InvalidInput

PLACEHOLDERS: Final = (
    "title", "url", "author", "summary", "content", "image", "categories", "feed", "feed_url",
    "published", "reading_time",
)  # fmt: skip
LENGTH_PLACEHOLDERS: Final = frozenset({"summary", "content"})
"""Placeholders that take `:N`, a cut at whole sentences or words under N characters."""
PUBLISHED_FORMATS: Final = {
    "date": "2 October 2026 (the server's time zone)",
    "time": "09:30 (the server's time zone)",
    "datetime": "2 October 2026 09:30 (the server's time zone)",
    "iso": "2026-10-02T09:30:00+00:00 (UTC)",
    "relative": "Discord's 'in 2 hours' / '3 days ago', shown in each reader's own words",
    "local": "Discord's date and time, shown in each reader's own time zone",
    "local-date": "Discord's long date, shown in each reader's own time zone",
}
"""The options `{published:FORMAT}` accepts, with what each shows."""
CUT_MIN: Final = 10
CUT_MAX: Final = 4000
DEFAULT_TEMPLATE: Final = "**{title}**\n{url}"
DEFAULT_DATE_FORMAT: Final = "%d %B %Y %H:%M"
TEMPLATE_MAX_CHARS: Final = 1500
DATE_FORMAT_MAX_CHARS: Final = 100
_SHOWN_MAX = 40

_MONTHS: Final = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DATE_DIRECTIVES: Final = "aAbBdeHIjmMpSyYzZ%"


@dataclass(frozen=True)
class Placeholder:
    """One `{name}` or `{name:option}` of a template; `option` is '' when none was given."""

    name: str
    option: str = ""

    @property
    def length(self) -> int | None:
        """The N of `{summary:N}`/`{content:N}`, else None."""
        return int(self.option) if self.option and self.name in LENGTH_PLACEHOLDERS else None


Part = str | Placeholder


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN_MAX else text[:_SHOWN_MAX] + "…"


def _known() -> str:
    return ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)


def _placeholder(inner: str, what: str) -> Placeholder:
    """The placeholder written between braces, or InvalidInput naming what is wrong with it."""
    name, colon, option = inner.partition(":")
    name, option = name.strip().lower(), option.strip()
    if name not in PLACEHOLDERS:
        raise InvalidInput(
            f"Unknown placeholder {{{_shown(inner)}}} in {what}; you can use {_known()}."
        )
    if not colon:
        return Placeholder(name)
    if name in LENGTH_PLACEHOLDERS:
        if not option.isascii() or not option.isdigit() or len(option) > 5:
            raise InvalidInput(
                f"{{{_shown(inner)}}} in {what} needs a number of characters after the colon, "
                f"for example {{{name}:200}}."
            )
        if not CUT_MIN <= int(option) <= CUT_MAX:
            raise InvalidInput(
                f"{{{name}:{option}}} in {what} asks for {int(option)} characters; use a number "
                f"from {CUT_MIN} to {CUT_MAX}."
            )
        return Placeholder(name, str(int(option)))
    if name == "published":
        if option.lower() not in PUBLISHED_FORMATS:
            raise InvalidInput(
                f"{{published:{_shown(option)}}} in {what} is not a date format Paperboy knows; "
                f"use one of {', '.join(PUBLISHED_FORMATS)}."
            )
        return Placeholder(name, option.lower())
    raise InvalidInput(
        f"Unknown placeholder {{{_shown(inner)}}} in {what}: only {{summary:N}}, {{content:N}} "
        "and {published:FORMAT} take an option after a colon."
    )


def parse_template(template: str, what: str = "the template") -> tuple[Part, ...]:
    """Split a template into literal text and placeholders in one scan, or raise InvalidInput
    naming the first problem (`what` says which text field, for the message)."""
    parts: list[Part] = []
    text: list[str] = []
    index, size = 0, len(template)
    while index < size:
        char = template[index]
        if char == "{" and template.startswith("{{", index):
            text.append("{")
            index += 2
        elif char == "}" and template.startswith("}}", index):
            text.append("}")
            index += 2
        elif char == "}":
            raise InvalidInput(
                f"{what.capitalize()} has a '}}' at character {index + 1} with no matching "
                "'{'; write }} for a literal brace."
            )
        elif char == "{":
            end = index + 1
            while end < size and template[end] not in "{}":
                end += 1
            if end == size or template[end] == "{":
                raise InvalidInput(
                    f"{what.capitalize()} has a '{{' at character {index + 1} that is never "
                    "closed; write {{ for a literal brace."
                )
            if text:
                parts.append("".join(text))
                text = []
            parts.append(_placeholder(template[index + 1 : end], what))
            index = end + 1
        else:
            # Copy the run of plain characters up to the next brace at once.
            end = index
            while end < size and template[end] not in "{}":
                end += 1
            text.append(template[index:end])
            index = end
    if text:
        parts.append("".join(text))
    return tuple(parts)


def validate_template(
    text: str,
    *,
    what: str = "the template",
    max_chars: int = TEMPLATE_MAX_CHARS,
    allow_empty: bool = False,
) -> tuple[Part, ...]:
    """The parsed template, or InvalidInput with a specific message naming the problem."""
    if not text.strip() and not allow_empty:
        raise InvalidInput(
            f"{what.capitalize()} is empty; write some text, for example **{{title}}** {{url}}."
        )
    if len(text) > max_chars:
        raise InvalidInput(
            f"{what.capitalize()} is {len(text)} characters long; the most allowed is {max_chars}."
        )
    return parse_template(text, what)


def render_parts(parts: tuple[Part, ...], value_of: Callable[[Placeholder], str]) -> str:
    """Join parsed parts, asking `value_of` (which makes values safe) for each placeholder."""
    return "".join(part if isinstance(part, str) else value_of(part) for part in parts)


def render_template(template: str, values: Mapping[str, str]) -> str:
    """Substitute placeholders by name with `values` (already made safe by the caller); options
    are ignored here."""
    return render_parts(parse_template(template), lambda p: values.get(p.name, ""))


def published_text(moment: datetime, option: str, timezone: str, date_format: str) -> str:
    """`{published}` or `{published:FORMAT}` for an aware datetime."""
    stamp = int(moment.timestamp())
    match option:
        case "":
            return format_date(moment, timezone, date_format)
        case "date":
            return format_date(moment, timezone, "%e %B %Y")
        case "time":
            return format_date(moment, timezone, "%H:%M")
        case "datetime":
            return format_date(moment, timezone, "%e %B %Y %H:%M")
        case "iso":
            return format_date(moment, "UTC", "%Y-%m-%dT%H:%M:%S+00:00")
        case "relative":
            return f"<t:{stamp}:R>"
        case "local":
            return f"<t:{stamp}:f>"
        case "local-date":
            return f"<t:{stamp}:D>"
    raise InvalidInput(f"{option!r} is not a date format Paperboy knows.")


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
