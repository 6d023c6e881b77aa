"""One KB article: YAML front matter plus a Markdown body, parsed and written losslessly."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

STATUSES = ("draft", "published")
LANGUAGES = ("de", "en", "fr", "it")
FIELD_ORDER = ("id", "title", "lang", "category", "tags", "status", "updated", "source")

# libyaml's parser where the wheel has it: a KB of thousands of articles starts in a second.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.DOTALL)


class ArticleError(ValueError):
    """The file is not an article at all (no or unreadable front matter)."""

    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class Article:
    id: int
    title: str
    lang: str
    category: str
    body: str
    tags: list[str] = field(default_factory=list)
    status: str = "published"
    updated: str = ""
    source: str | None = None
    path: Path | None = None
    # Where each front-matter key and the body start, for validation messages.
    key_lines: dict[str, int] = field(default_factory=dict, repr=False)
    body_line: int = 1

    @property
    def published(self) -> bool:
        return self.status == "published"

    def front_matter(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "lang": self.lang,
            "category": self.category,
            "tags": list(self.tags),
            "status": self.status,
            "updated": _date_or_text(self.updated),
        }
        if self.source:
            data["source"] = self.source
        return data

    def to_markdown(self) -> str:
        header = yaml.safe_dump(
            self.front_matter(), allow_unicode=True, sort_keys=False, width=1000
        )
        return f"---\n{header}---\n\n{self.body.strip()}\n"


def split_front_matter(text: str) -> tuple[dict[str, Any], dict[str, int], str, int]:
    """Return (front matter, line of each key, body, first line of the body)."""
    match = _FRONT_MATTER.match(text)
    if not match:
        raise ArticleError("Front matter fehlt: Die Datei muss mit '---' beginnen.")
    raw = match.group(1) or ""
    try:
        data = yaml.load(raw, Loader=_LOADER) or {}
    except yaml.YAMLError as exc:
        # The context mark points at the construct that is broken, the problem mark at the
        # place the parser gave up (often the next line).
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        raise ArticleError(f"Front matter ist kein gültiges YAML: {exc}", line) from exc
    if not isinstance(data, dict):
        raise ArticleError("Front matter muss aus 'schlüssel: wert'-Zeilen bestehen.", 2)
    key_lines = {}
    for offset, line in enumerate(raw.splitlines()):
        key = line.split(":", 1)[0].strip()
        if key and not line.startswith((" ", "-", "#")):
            key_lines.setdefault(key, offset + 2)
    body_line = text[: match.end()].count("\n") + 1
    return data, key_lines, text[match.end() :], body_line


def _date_or_text(value: str) -> dt.date | str:
    """ISO dates are written as YAML dates (unquoted), anything else as it was."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return value


def _as_date(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()[:10]
    return "" if value is None else str(value)


def parse_article(text: str, path: Path | None = None) -> Article:
    """Parse an article leniently; :mod:`kb.validate` reports what is wrong with it."""
    data, key_lines, body, body_line = split_front_matter(text)
    raw_id = data.get("id")
    tags = data.get("tags") or []
    return Article(
        id=raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) else -1,
        title=str(data.get("title") or "").strip(),
        lang=str(data.get("lang") or "").strip(),
        category=str(data.get("category") or "").strip(),
        body=body,
        tags=[str(t) for t in tags] if isinstance(tags, list) else [str(tags)],
        status=str(data.get("status") or "").strip(),
        updated=_as_date(data.get("updated")),
        source=str(data["source"]) if data.get("source") else None,
        path=path,
        key_lines=key_lines,
        body_line=body_line,
    )


def read_article(path: Path) -> Article:
    return parse_article(path.read_text(encoding="utf-8"), path)
