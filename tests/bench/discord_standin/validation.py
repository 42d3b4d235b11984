"""Discord's checks on payloads that a bot can fail: message lengths, embed limits, emptiness,
message components (action rows, buttons, string selects) and modals."""

from __future__ import annotations

from typing import Any

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
FIELDS_MAX = 25
EMBED_LIMITS = {"title": 256, "description": 4096}
FIELD_LIMITS = {"name": 256, "value": 1024}

# Component types and limits (https://discord.com/developers/docs/components/reference).
ACTION_ROW = 1
BUTTON = 2
STRING_SELECT = 3
TEXT_INPUT = 4
LABEL = 18
SELECT_TYPES = frozenset({3, 5, 6, 7, 8})
ROWS_MAX = 5
BUTTONS_PER_ROW = 5
CUSTOM_ID_MAX = 100
BUTTON_LABEL_MAX = 80
SELECT_OPTIONS_MAX = 25
SELECT_OPTION_TEXT_MAX = 100
SELECT_PLACEHOLDER_MAX = 150
LINK_STYLE = 5
MODAL_TITLE_MAX = 45
TEXT_INPUT_LABEL_MAX = 45
TEXT_INPUT_VALUE_MAX = 4000
TEXT_INPUT_PLACEHOLDER_MAX = 100
COMPONENTS_V2_FLAG = 1 << 15


class ApiError(Exception):
    """An error answer of the stand-in: HTTP status plus Discord's JSON error body."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def _too_long(limit: int) -> dict[str, Any]:
    return {
        "_errors": [
            {"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {limit} or fewer in length."}
        ]
    }


def _set_path(tree: dict[str, Any], path: list[str], leaf: dict[str, Any]) -> None:
    node = tree
    for part in path:
        node = node.setdefault(part, {})
    node.update(leaf)


def invalid_form_body(errors: dict[str, Any]) -> ApiError:
    """The 400/50035 answer with Discord's nested `errors` object."""
    return ApiError(400, 50035, "Invalid Form Body", errors)


def _embed_size(embed: dict[str, Any]) -> int:
    size = len(embed.get("title") or "") + len(embed.get("description") or "")
    size += len((embed.get("footer") or {}).get("text") or "")
    size += len((embed.get("author") or {}).get("name") or "")
    for f in embed.get("fields") or []:
        size += len(f.get("name") or "") + len(f.get("value") or "")
    return size


def validate_message(
    payload: dict[str, Any], *, file_count: int = 0, allow_empty: bool = False
) -> None:
    """Raise ApiError like Discord would for a message create/edit payload."""
    errors: dict[str, Any] = {}
    content = payload.get("content")
    if content is not None and not isinstance(content, str):
        _set_path(
            errors,
            ["content"],
            {"_errors": [{"code": "BASE_TYPE_STRING", "message": "Must be a string."}]},
        )
    elif content is not None and len(content) > CONTENT_MAX:
        _set_path(errors, ["content"], _too_long(CONTENT_MAX))
    embeds = payload.get("embeds") or []
    if len(embeds) > EMBEDS_MAX:
        _set_path(errors, ["embeds"], _too_long(EMBEDS_MAX))
    total = 0
    for index, embed in enumerate(embeds):
        where = ["embeds", str(index)]
        for key, limit in EMBED_LIMITS.items():
            if len(embed.get(key) or "") > limit:
                _set_path(errors, [*where, key], _too_long(limit))
        footer = (embed.get("footer") or {}).get("text") or ""
        if len(footer) > 2048:
            _set_path(errors, [*where, "footer", "text"], _too_long(2048))
        author = (embed.get("author") or {}).get("name") or ""
        if len(author) > 256:
            _set_path(errors, [*where, "author", "name"], _too_long(256))
        fields = embed.get("fields") or []
        if len(fields) > FIELDS_MAX:
            _set_path(errors, [*where, "fields"], _too_long(FIELDS_MAX))
        for fi, fld in enumerate(fields):
            for key, limit in FIELD_LIMITS.items():
                value = fld.get(key)
                if not value:
                    _set_path(
                        errors,
                        [*where, "fields", str(fi), key],
                        {
                            "_errors": [
                                {"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}
                            ]
                        },
                    )
                elif len(value) > limit:
                    _set_path(errors, [*where, "fields", str(fi), key], _too_long(limit))
        total += _embed_size(embed)
    if total > EMBED_TOTAL_MAX:
        _set_path(
            errors,
            ["embeds"],
            {
                "_errors": [
                    {
                        "code": "MAX_EMBED_SIZE_EXCEEDED",
                        "message": f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}",
                    }
                ]
            },
        )
    components = payload.get("components")
    if components and not int(payload.get("flags") or 0) & COMPONENTS_V2_FLAG:
        _check_components(components, errors)
    if errors:
        raise invalid_form_body(errors)
    if allow_empty:
        return
    has_something = (
        bool(content)
        or bool(embeds)
        or file_count > 0
        or bool(payload.get("components"))
        or bool(payload.get("sticker_ids"))
        or bool(payload.get("poll"))
    )
    if not has_something:
        raise ApiError(400, 50006, "Cannot send an empty message")


def _error(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


def _check_custom_id(
    component: dict[str, Any], where: list[str], errors: dict[str, Any], seen: set[str]
) -> None:
    custom_id = component.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        _set_path(
            errors, [*where, "custom_id"], _error("BASE_TYPE_REQUIRED", "This field is required")
        )
    elif len(custom_id) > CUSTOM_ID_MAX:
        _set_path(errors, [*where, "custom_id"], _too_long(CUSTOM_ID_MAX))
    elif custom_id in seen:
        _set_path(
            errors,
            [*where, "custom_id"],
            _error("COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"),
        )
    else:
        seen.add(custom_id)


def _check_button(
    button: dict[str, Any], where: list[str], errors: dict[str, Any], seen: set[str]
) -> None:
    if len(button.get("label") or "") > BUTTON_LABEL_MAX:
        _set_path(errors, [*where, "label"], _too_long(BUTTON_LABEL_MAX))
    if button.get("style") == LINK_STYLE:
        if not button.get("url") or button.get("custom_id"):
            _set_path(
                errors,
                [*where, "url"],
                _error("BUTTON_COMPONENT_INVALID_URL", "A link button needs a url, no custom_id"),
            )
    else:
        _check_custom_id(button, where, errors, seen)


def _check_select(
    select: dict[str, Any], where: list[str], errors: dict[str, Any], seen: set[str]
) -> None:
    _check_custom_id(select, where, errors, seen)
    if len(select.get("placeholder") or "") > SELECT_PLACEHOLDER_MAX:
        _set_path(errors, [*where, "placeholder"], _too_long(SELECT_PLACEHOLDER_MAX))
    low, high = int(select.get("min_values", 1)), int(select.get("max_values", 1))
    if not 0 <= low <= SELECT_OPTIONS_MAX or not 1 <= high <= SELECT_OPTIONS_MAX or low > high:
        _set_path(
            errors,
            [*where, "max_values"],
            _error("BASE_TYPE_BAD_INT", "min_values and max_values must be 0-25, min <= max"),
        )
    if select.get("type") != STRING_SELECT:
        return
    options = select.get("options") or []
    if not 1 <= len(options) <= SELECT_OPTIONS_MAX:
        _set_path(
            errors,
            [*where, "options"],
            _error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 25 in length."),
        )
    if high > len(options):
        _set_path(
            errors,
            [*where, "max_values"],
            _error("BASE_TYPE_MAX", f"Must be less than or equal to {len(options)}."),
        )
    values: set[str] = set()
    for index, option in enumerate(options):
        for key in ("label", "value", "description"):
            if len(option.get(key) or "") > SELECT_OPTION_TEXT_MAX:
                _set_path(errors, [*where, "options", str(index), key], _too_long(100))
        if not option.get("label") or not option.get("value"):
            _set_path(
                errors,
                [*where, "options", str(index)],
                _error("BASE_TYPE_REQUIRED", "An option needs a label and a value"),
            )
        if option.get("value") in values:
            _set_path(
                errors,
                [*where, "options", str(index), "value"],
                _error("SELECT_COMPONENT_OPTION_VALUE_DUPLICATED", "Option values must be unique"),
            )
        values.add(option.get("value"))
    defaults = sum(1 for option in options if option.get("default"))
    if defaults > high:
        _set_path(
            errors,
            [*where, "options"],
            _error("SELECT_COMPONENT_TOO_MANY_DEFAULTS", "More default options than max_values"),
        )


def _check_components(components: Any, errors: dict[str, Any]) -> None:
    """Discord's rules for a message's components: at most 5 action rows; a row holds up to 5
    buttons or one select; custom ids required, at most 100 characters and unique."""
    if not isinstance(components, list):
        _set_path(errors, ["components"], _error("BASE_TYPE_ARRAY", "Must be an array."))
        return
    if len(components) > ROWS_MAX:
        _set_path(errors, ["components"], _too_long(ROWS_MAX))
    seen: set[str] = set()
    for r, row in enumerate(components):
        where = ["components", str(r)]
        if not isinstance(row, dict) or row.get("type") != ACTION_ROW:
            _set_path(
                errors,
                where,
                _error("UNION_TYPE_CHOICES", "Top-level components must be action rows"),
            )
            continue
        children = row.get("components") or []
        kinds = [c.get("type") for c in children if isinstance(c, dict)]
        if not children or len(children) > BUTTONS_PER_ROW:
            _set_path(
                errors,
                [*where, "components"],
                _error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."),
            )
        if any(k in SELECT_TYPES for k in kinds) and len(children) != 1:
            _set_path(
                errors,
                [*where, "components"],
                _error("COMPONENT_LAYOUT_WIDTH_EXCEEDED", "A select takes a whole action row"),
            )
        for c, child in enumerate(children):
            inner = [*where, "components", str(c)]
            if not isinstance(child, dict):
                continue
            if child.get("type") == BUTTON:
                _check_button(child, inner, errors, seen)
            elif child.get("type") in SELECT_TYPES:
                _check_select(child, inner, errors, seen)
            else:
                _set_path(
                    errors,
                    [*inner, "type"],
                    _error("COMPONENT_TYPE_INVALID", "This component does not go in a message row"),
                )


def modal_text_inputs(modal: dict[str, Any]) -> list[dict[str, Any]]:
    """The text inputs of a modal, whether wrapped in action rows or in labels."""
    found: list[dict[str, Any]] = []
    for row in modal.get("components") or []:
        if row.get("type") == LABEL and isinstance(row.get("component"), dict):
            found.append({**row["component"], "label": row.get("label", "")})
        for child in row.get("components") or []:
            if child.get("type") == TEXT_INPUT:
                found.append(child)
    return found


def validate_modal(modal: dict[str, Any]) -> None:
    """Raise ApiError like Discord does for a MODAL (type 9) callback's data."""
    errors: dict[str, Any] = {}
    title = modal.get("title") or ""
    if not title:
        _set_path(errors, ["data", "title"], _error("BASE_TYPE_REQUIRED", "This field is required"))
    elif len(title) > MODAL_TITLE_MAX:
        _set_path(errors, ["data", "title"], _too_long(MODAL_TITLE_MAX))
    custom_id = modal.get("custom_id") or ""
    if not custom_id:
        _set_path(
            errors, ["data", "custom_id"], _error("BASE_TYPE_REQUIRED", "This field is required")
        )
    elif len(custom_id) > CUSTOM_ID_MAX:
        _set_path(errors, ["data", "custom_id"], _too_long(CUSTOM_ID_MAX))
    rows = modal.get("components") or []
    if not 1 <= len(rows) <= ROWS_MAX:
        _set_path(
            errors,
            ["data", "components"],
            _error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."),
        )
    seen: set[str] = set()
    for r, row in enumerate(rows):
        where = ["data", "components", str(r)]
        if row.get("type") == LABEL:
            children = [row.get("component") or {}]
            label = row.get("label") or ""
        elif row.get("type") == ACTION_ROW:
            children = row.get("components") or []
            label = children[0].get("label", "") if len(children) == 1 else ""
        else:
            children, label = [], ""
        if len(children) != 1 or children[0].get("type") != TEXT_INPUT:
            _set_path(
                errors,
                where,
                _error("MODAL_COMPONENT_INVALID", "Each modal row holds exactly one text input"),
            )
            continue
        text_input = children[0]
        _check_custom_id(text_input, [*where, "components", "0"], errors, seen)
        if not label or len(label) > TEXT_INPUT_LABEL_MAX:
            _set_path(errors, [*where, "components", "0", "label"], _too_long(TEXT_INPUT_LABEL_MAX))
        if text_input.get("style") not in (1, 2):
            _set_path(
                errors,
                [*where, "components", "0", "style"],
                _error("BASE_TYPE_CHOICES", "Value must be one of (1, 2)."),
            )
        low = int(text_input.get("min_length", 0))
        high = int(text_input.get("max_length", TEXT_INPUT_VALUE_MAX))
        if not 0 <= low <= high <= TEXT_INPUT_VALUE_MAX or high < 1:
            _set_path(
                errors,
                [*where, "components", "0", "max_length"],
                _error("BASE_TYPE_BAD_INT", "min_length/max_length must be 0-4000, min <= max"),
            )
        if len(text_input.get("value") or "") > high:
            _set_path(errors, [*where, "components", "0", "value"], _too_long(high))
        if len(text_input.get("placeholder") or "") > TEXT_INPUT_PLACEHOLDER_MAX:
            _set_path(
                errors,
                [*where, "components", "0", "placeholder"],
                _too_long(TEXT_INPUT_PLACEHOLDER_MAX),
            )
    if errors:
        raise invalid_form_body(errors)
