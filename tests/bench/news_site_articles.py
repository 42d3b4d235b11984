"""Sample articles for the news-site stand-in: the file format and its loader.

Each article is a UTF-8 text file in `tests/bench/articles/` with a header block of
`key: value` lines, a line `---`, then the body. Lines starting with "Photo:" at the top
of the body are photo captions; the rest are paragraphs separated by blank lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ARTICLES_DIR = Path(__file__).resolve().parent / "articles"
_REQUIRED = ("title", "slug", "author", "published", "topic", "categories")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class SampleArticle:
    """One article as written in the sample corpus."""

    title: str
    slug: str
    author: str
    published: datetime
    topic: str
    categories: tuple[str, ...]
    standfirst: str | None
    image: str | None
    paragraphs: tuple[str, ...]
    captions: tuple[str, ...] = field(default=())

    @property
    def word_count(self) -> int:
        """Words in the body paragraphs (captions and standfirst excluded)."""
        return sum(len(paragraph.split()) for paragraph in self.paragraphs)

    @property
    def text(self) -> str:
        """The body as plain text, paragraphs separated by blank lines."""
        return "\n\n".join(self.paragraphs)


def category_slug(name: str) -> str:
    """WordPress-style slug of a category name ("Trade Unions" -> "trade-unions")."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def parse_article(text: str, *, source: str = "<string>") -> SampleArticle:
    """Parse one sample-article file; raises ValueError naming the file on bad input."""
    head, separator, body = text.partition("\n---\n")
    if not separator:
        raise ValueError(f"{source}: no '---' line between header and body")
    header: dict[str, str] = {}
    for line in head.splitlines():
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"{source}: header line without a colon: {line!r}")
        header[key.strip().lower()] = value.strip()
    missing = [key for key in _REQUIRED if not header.get(key)]
    if missing:
        raise ValueError(f"{source}: missing header fields {missing}")
    if not _SLUG.match(header["slug"]):
        raise ValueError(f"{source}: bad slug {header['slug']!r}")
    published = datetime.fromisoformat(header["published"].replace("Z", "+00:00"))
    if published.tzinfo is None:
        raise ValueError(f"{source}: published must carry a timezone")

    captions: list[str] = []
    paragraphs: list[str] = []
    for block in re.split(r"\n\s*\n", body.strip()):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        # Caption lines sit at the very top of the body, before any paragraph.
        while not paragraphs and lines and lines[0].startswith("Photo:"):
            captions.append(lines.pop(0))
        if lines:
            paragraphs.append(" ".join(lines))
    if not paragraphs:
        raise ValueError(f"{source}: empty body")
    return SampleArticle(
        title=header["title"],
        slug=header["slug"],
        author=header["author"],
        published=published,
        topic=header["topic"],
        categories=tuple(c.strip() for c in header["categories"].split(",") if c.strip()),
        standfirst=header.get("standfirst") or None,
        image=header.get("image") or None,
        paragraphs=tuple(paragraphs),
        captions=tuple(captions),
    )


def load_articles(directory: Path = ARTICLES_DIR) -> list[SampleArticle]:
    """Load every sample article, oldest first (ties broken by slug, so the order is stable)."""
    articles = [
        parse_article(path.read_text(encoding="utf-8"), source=path.name)
        for path in sorted(directory.glob("*.md"))
    ]
    slugs = [article.slug for article in articles]
    duplicates = sorted({slug for slug in slugs if slugs.count(slug) > 1})
    if duplicates:
        raise ValueError(f"duplicate slugs in {directory}: {duplicates}")
    return sorted(articles, key=lambda article: (article.published, article.slug))
