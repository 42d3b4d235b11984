"""Message settings: how one subscription's announcements look, chosen in the message builder.

`MessageSettings()` (every default) reproduces the announcement Paperboy has always posted, so a
subscription nobody customised looks exactly as before. Every setting a moderator types is
checked here, once, with a sentence naming what is wrong (`with_changes`); stored settings are
read back leniently (`from_json`), so a value written by an older or newer Paperboy never stops
announcements.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Final, Literal, get_args

from bot.announce.limits import safe_image_url
from bot.announce.template import validate_template
from bot.errors import InvalidInput

log = logging.getLogger(__name__)

ImageMode = Literal["large", "thumbnail", "none"]
IMAGE_MODES: Final = get_args(ImageMode)
DescriptionUnit = Literal["characters", "sentences"]
DESCRIPTION_UNITS: Final = get_args(DescriptionUnit)
EmbedFieldName = Literal["categories", "reading_time", "author"]
EMBED_FIELDS: Final = get_args(EmbedFieldName)
FIELD_TITLES: Final = {"categories": "Topics", "reading_time": "Reading time", "author": "Author"}

DEFAULT_COLOR: Final = 0xB3202A
DEFAULT_DESCRIPTION_CHARS: Final = 300
DESCRIPTION_CHARS_RANGE: Final = (50, 4000)
DESCRIPTION_SENTENCES_RANGE: Final = (1, 10)
FOOTER_MAX_CHARS: Final = 300
CONTENT_MAX_CHARS: Final = 1000
WEBHOOK_NAME_MAX_CHARS: Final = 80
COLOUR_TEXT_MAX_CHARS: Final = 30
COLOUR_NAMES: Final = {
    "red": 0xE74C3C,
    "orange": 0xE67E22,
    "yellow": 0xF1C40F,
    "green": 0x2ECC71,
    "teal": 0x1ABC9C,
    "blue": 0x3498DB,
    "purple": 0x9B59B6,
    "pink": 0xE91E63,
    "grey": 0x95A5A6,
    "gray": 0x95A5A6,
    "black": 0x010101,  # Discord draws 0 as "no colour"
    "white": 0xFFFFFF,
    "paperboy": DEFAULT_COLOR,
}
_FORBIDDEN_NAME_PARTS: Final = ("discord", "clyde")


@dataclass(frozen=True)
class MessageSettings:
    """One subscription's message builder choices; the defaults are today's announcement."""

    color: int = DEFAULT_COLOR
    show_author: bool = True
    image: ImageMode = "large"
    footer: str = ""
    """A template; '' shows the site's name, as announcements always did."""
    timestamp: bool = True
    fields: tuple[EmbedFieldName, ...] = ("categories",)
    description_unit: DescriptionUnit = "characters"
    description_length: int = DEFAULT_DESCRIPTION_CHARS
    content: str = ""
    """A template shown above the embed (after the subscription's role mention, if any)."""
    webhook_name: str = ""
    """'' names the webhook post after the feed, as before."""
    webhook_avatar_url: str = ""
    """'' uses the feed's icon, as before."""

    def to_json(self) -> str:
        """Serialise for storage and export; only settings that differ from the default."""
        default = MessageSettings()
        changed = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        }
        return json.dumps(changed, ensure_ascii=False, sort_keys=True)

    def as_dict(self) -> dict[str, Any]:
        """Every setting by name (export files, the builder's summary)."""
        return {**asdict(self), "fields": list(self.fields)}

    @classmethod
    def from_json(cls, text: str) -> MessageSettings:
        """Settings stored by `to_json`; a damaged or unusable value falls back to its default
        (logged), so announcements never stop over a stored setting."""
        if not text.strip():
            return cls()
        try:
            raw = json.loads(text)
        except ValueError:
            log.warning("Ignoring damaged message settings %r", text[:80])
            return cls()
        if not isinstance(raw, dict):
            return cls()
        try:
            return cls().with_changes(raw)
        except InvalidInput as error:
            log.warning("Ignoring part of stored message settings: %s", error)
        # One setting at a time, keeping the ones that are still usable; the description's
        # unit and length only make sense together.
        settings = cls()
        groups: list[dict[str, Any]] = [
            {k: raw[k] for k in ("description_unit", "description_length") if k in raw}
        ]
        groups += [{k: v} for k, v in raw.items() if not k.startswith("description_")]
        for group in groups:
            try:
                settings = settings.with_changes(group)
            except InvalidInput as error:
                log.warning("Ignoring stored message setting %s: %s", ", ".join(group), error)
        return settings

    def with_changes(self, changes: Mapping[str, Any]) -> MessageSettings:
        """A copy with `changes` applied, each checked; InvalidInput names the first bad one.
        Text values are what a moderator typed (a colour may be '#B3202A' or 'blue')."""
        known = {f.name for f in fields(self)}
        updated: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in known:
                raise InvalidInput(f"{str(name)[:40]!r} is not a message setting.")
            updated[name] = _checked(name, value)
        result = replace(self, **updated)
        low, high = (
            DESCRIPTION_CHARS_RANGE
            if result.description_unit == "characters"
            else DESCRIPTION_SENTENCES_RANGE
        )
        if not low <= result.description_length <= high:
            if "description_length" in updated:
                unit = result.description_unit
                raise InvalidInput(
                    f"A description of {result.description_length} {unit} is not possible; "
                    f"choose from {low} to {high} {unit}."
                )
            # Only the unit changed: start from a sensible length for it.
            default_length = DEFAULT_DESCRIPTION_CHARS if high > 100 else 2
            result = replace(result, description_length=default_length)
        return result


def _checked(name: str, value: Any) -> Any:
    """One setting's value, checked and normalised."""
    match name:
        case "color":
            return parse_colour(value) if isinstance(value, str) else _colour_number(value)
        case "show_author" | "timestamp":
            if not isinstance(value, bool):
                raise InvalidInput(f"The {name.replace('_', ' ')} setting is on or off.")
            return value
        case "image":
            return _one_of(value, IMAGE_MODES, "image")
        case "description_unit":
            return _one_of(value, DESCRIPTION_UNITS, "description unit")
        case "fields":
            if isinstance(value, str) or not isinstance(value, list | tuple):
                raise InvalidInput("The fields setting is a list of field names.")
            chosen = [_one_of(v, EMBED_FIELDS, "field") for v in value]
            return tuple(f for f in EMBED_FIELDS if f in chosen)  # one order, no repeats
        case "description_length":
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInput("The description length is a whole number.")
            return value
        case "footer":
            text = _text(value, "footer")
            if text:
                validate_template(text, what="the footer", max_chars=FOOTER_MAX_CHARS)
            return text
        case "content":
            text = _text(value, "content above the embed")
            if text:
                validate_template(
                    text, what="the content above the embed", max_chars=CONTENT_MAX_CHARS
                )
            return text
        case "webhook_name":
            return check_webhook_name(_text(value, "webhook name"))
        case "webhook_avatar_url":
            return check_avatar_url(_text(value, "webhook avatar URL"))
    raise InvalidInput(f"{name[:40]!r} is not a message setting.")  # pragma: no cover


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"The {what} must be text.")
    return value.strip()


def _one_of(value: Any, allowed: tuple[str, ...], what: str) -> Any:
    if value not in allowed:
        raise InvalidInput(f"{str(value)[:40]!r} is not a {what}; choose {', '.join(allowed)}.")
    return value


def _colour_number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFFFF:
        raise InvalidInput(f"{str(value)[:40]!r} is not a colour.")
    return value


def parse_colour(text: str) -> int:
    """A colour as Discord stores it, from '#B3202A', 'B3202A', '0xB3202A', '#B22' or a name
    such as 'blue'; InvalidInput naming the text otherwise."""
    cleaned = text.strip().lower()
    if len(cleaned) <= COLOUR_TEXT_MAX_CHARS and cleaned in COLOUR_NAMES:
        return COLOUR_NAMES[cleaned]
    digits = cleaned.removeprefix("#").removeprefix("0x")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    if len(digits) == 6 and all(d in "0123456789abcdef" for d in digits):
        return int(digits, 16)
    shown = text.strip()[:COLOUR_TEXT_MAX_CHARS]
    raise InvalidInput(
        f"{shown!r} is not a colour; write it as #RRGGBB (for example #B3202A) or a name such "
        f"as {', '.join(list(COLOUR_NAMES)[:6])}."
    )


def colour_text(value: int) -> str:
    """'#B3202A' for the builder's summary and the modal's current value."""
    return f"#{value:06X}"


def check_webhook_name(name: str) -> str:
    """A webhook name Discord accepts (1-80 characters, without 'discord' or 'clyde'), or ''."""
    if len(name) > WEBHOOK_NAME_MAX_CHARS:
        raise InvalidInput(
            f"The webhook name is {len(name)} characters long; the most allowed is "
            f"{WEBHOOK_NAME_MAX_CHARS}."
        )
    lowered = name.lower()
    for part in _FORBIDDEN_NAME_PARTS:
        if part in lowered:
            raise InvalidInput(
                f"Discord refuses webhook names containing {part!r}; choose another."
            )
    if lowered in ("everyone", "here"):
        raise InvalidInput(f"Discord refuses the webhook name {name!r}; choose another.")
    if any(c in name for c in "@#:`") or "\n" in name:
        raise InvalidInput("The webhook name cannot contain @, #, :, ` or a line break.")
    return name


def check_avatar_url(url: str) -> str:
    """An https image URL Discord can fetch for the webhook's avatar, or ''."""
    if not url:
        return ""
    if safe_image_url(url) != url:
        raise InvalidInput(
            f"{url[:60]!r} is not an image address Paperboy can use; give an http(s) URL on a "
            "public host."
        )
    return url


def parse_description_length(text: str) -> tuple[DescriptionUnit, int]:
    """'300', '300 characters' or '2 sentences' as (unit, number); InvalidInput otherwise."""
    words = text.strip().lower().split()
    if 1 <= len(words) <= 2 and words[0].isascii() and words[0].isdigit() and len(words[0]) < 6:
        number = int(words[0])
        unit_word = words[1] if len(words) == 2 else "characters"
        if unit_word in ("character", "characters", "chars", "char"):
            return "characters", number
        if unit_word in ("sentence", "sentences"):
            return "sentences", number
    raise InvalidInput(
        f"{text.strip()[:40]!r} is not a description length; write a number of characters "
        "(300) or of whole sentences (2 sentences)."
    )
