"""Small text helpers shared by the pipeline: everything from outside passes through `clean_text`."""

from __future__ import annotations

import re
import unicodedata

# C0 and C1 controls except tab and newline, DEL, and the bidirectional overrides and isolates
# that can make a title render backwards or hide text (Trojan Source, CVE-2021-42574).
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ufff9-\ufffb]"
)
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")


def clean_text(text: str, *, single_line: bool = False) -> str:
    """Normalise to NFC, drop control and bidi-override characters, tidy whitespace."""
    text = unicodedata.normalize("NFC", text)
    # Lone surrogates cannot be encoded to UTF-8 and would break Discord and SQLite alike.
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _UNSAFE.sub("", text)
    if single_line:
        return " ".join(text.split())
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
