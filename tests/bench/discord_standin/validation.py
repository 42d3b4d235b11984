"""Discord's checks on message payloads that a bot can fail: lengths, embed limits, emptiness."""

from __future__ import annotations

from typing import Any

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
FIELDS_MAX = 25
EMBED_LIMITS = {"title": 256, "description": 4096}
FIELD_LIMITS = {"name": 256, "value": 1024}


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
