"""Remove what is not the article before scoring: captions, bylines, datelines, share lines.

Everything works on lines (paragraphs): a caption or a "Share this:" line is a paragraph of its
own once extraction has run. Whole-line rules are limited to short lines, so a real paragraph
that merely starts with "By the end of..." or "Read more closely..." is kept.
"""

from __future__ import annotations

import re

_SHORT_WORDS = 30

# "Photo: A Person", "Image credit: ...", "Pictured: ...", "(Photo: ...)", "Credit: ..."
_CAPTION = re.compile(
    r"^[\[(]?\s*(?:photo(?:graph)?s?|images?|pictures?|pic|pictured|illustrations?|graphic|"
    r"video|caption|credits?|source|top image|main image|featured image|header image)"
    r"(?:\s+(?:credit|by|courtesy|via))?\s*[:|—–-]",
    re.IGNORECASE,
)
_COPYRIGHT = re.compile(r"^(?:©|\(c\)|copyright\b)", re.IGNORECASE)
# A line ending in an agency credit: "Protesters in Leeds. Getty Images", "... / Reuters".
_AGENCY_CREDIT = re.compile(
    r"(?:[|/]|\b)(?:getty images|reuters|ap photo|afp(?: via getty images)?|pa media|"
    r"shutterstock|alamy|wikimedia commons|unsplash|flickr)\s*\)?\.?$",
    re.IGNORECASE,
)
# "By Jane Doe", "By Jane Doe and John Smith", "By JANE DOE, Political Correspondent".
_BYLINE = re.compile(
    r"^by\s+[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*){0,3}"
    r"(?:\s*(?:,|and|&)\s*[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*){0,3})*\s*\.?$",
    re.IGNORECASE,
)
_CALLS_TO_ACTION = re.compile(
    r"^(?:share (?:this|on|via|the article)|share\b\s*:?$|subscribe\b|sign up\b|"
    r"read (?:more|also)(?:\s*[:.…]|\s*$|\s+(?:at|on|here|about|from|of|in)\b)|"
    r"see also\b|related\s*(?:articles?|stories|posts)?\s*:|click here\b|"
    r"follow us\b|tweet\b|email this\b|print this\b|advertisement$|sponsored$|"
    r"support (?:us|our)\b|donate\b|become a (?:member|supporter|subscriber)\b|"
    r"join (?:us|our)\b.*\b(?:newsletter|mailing list)|you (?:may|might) also like\b|"
    r"listen to this article\b|continue reading\b|comments?\s*(?:\(\d+\))?$|"
    r"(?:facebook|twitter|whatsapp|telegram|linkedin|reddit|email|print)(?:\s*[,|/]?\s*"
    r"(?:facebook|twitter|whatsapp|telegram|linkedin|reddit|email|print))*$)",
    re.IGNORECASE,
)
# "LONDON, 3 March —", "PARIS (AFP) -", "NEW YORK —" at the start of the first paragraph.
_DATELINE = re.compile(
    r"^[A-Z][A-Z.'’ -]{1,30}[A-Z.](?:\s*,\s*[\w .,]{1,30}?)?(?:\s*\([^)]{1,30}\))?\s*[—–-]{1,2}\s+"
)
# Inline credits inside a paragraph: "(Photo: Jane Doe)", "[Image: ...]".
_INLINE_CREDIT = re.compile(
    # (?<!\s): a match starts where a whitespace run starts, not again at each of its spaces.
    r"(?<!\s)\s*[\[(]\s*(?:photo|image|picture|pic|credit|illustration)s?\s*(?:credit|by)?\s*:[^)\]]{0,150}"
    r"[)\]]",
    re.IGNORECASE,
)


def is_boilerplate_line(line: str) -> bool:
    """True for a caption, credit, byline or share/subscribe/read-more line."""
    stripped = line.strip()
    if not stripped:
        return False
    words = len(stripped.split())
    if words > _SHORT_WORDS:
        return False
    if _CAPTION.match(stripped) or _COPYRIGHT.match(stripped):
        return True
    if _BYLINE.match(stripped) or _CALLS_TO_ACTION.match(stripped):
        return True
    # An agency credit at the end marks a caption, unless the line reads like a long sentence.
    return words <= 20 and bool(_AGENCY_CREDIT.search(stripped))


def strip_dateline(paragraph: str) -> str:
    """Drop a leading news dateline ("LONDON, 3 March — ") from a paragraph."""
    match = _DATELINE.match(paragraph)
    # The dateline must be followed by real text, not be the whole paragraph.
    if match and len(paragraph) - match.end() > 20:
        return paragraph[match.end() :]
    return paragraph


def strip_boilerplate(text: str) -> str:
    """The text without boilerplate lines, inline photo credits or a leading dateline."""
    kept: list[str] = []
    for line in text.split("\n"):
        if is_boilerplate_line(line):
            continue
        line = _INLINE_CREDIT.sub("", line).strip()
        if not line:
            continue
        if not kept:
            line = strip_dateline(line)
        kept.append(line)
    return "\n".join(kept)
