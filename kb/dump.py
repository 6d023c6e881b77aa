"""Read a plain-text help-centre dump: find the guides in it and turn each into Markdown.

The dump has no markup: a guide starts with an intro sentence, headings are short lines
without closing punctuation, steps are ``- `` lines. Every line of a guide ends up in its
Markdown, unchanged apart from joining broken lines and adding heading/list syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

RULES_FILE = Path(__file__).with_name("import_rules.yml")
_CLOSING_PUNCTUATION = ".:;,!"
_MAX_HEADING_WORDS = 12


@dataclass(frozen=True)
class ImportRules:
    guide_start: tuple[re.Pattern[str], ...]
    faq_start_headings: tuple[re.Pattern[str], ...]
    generic_headings: frozenset[str]

    @classmethod
    def load(cls, path: Path = RULES_FILE) -> ImportRules:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return cls(
            guide_start=tuple(re.compile(p) for p in data.get("guide_start", [])),
            faq_start_headings=tuple(re.compile(p) for p in data.get("faq_start_headings", [])),
            generic_headings=frozenset(h.casefold() for h in data.get("generic_headings", [])),
        )


@dataclass
class Guide:
    """One guide of the dump: its original lines and where they stood (1-based)."""

    lines: list[str]
    first_line: int
    has_intro: bool = True
    headings: list[str] = field(default_factory=list)

    @property
    def last_line(self) -> int:
        return self.first_line + len(self.lines) - 1

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def is_list_item(line: str) -> bool:
    return line.startswith("- ")


def is_heading(line: str, next_line: str | None) -> bool:
    """A short line without closing punctuation that something follows."""
    text = line.strip()
    if not text or next_line is None or is_list_item(text):
        return False
    if "," in text and text.endswith(("…", "...")):
        return False  # "… verlassen, solange…" introduces a list, it is no heading
    if text[-1] in _CLOSING_PUNCTUATION or len(text.split()) > _MAX_HEADING_WORDS:
        return False
    if text.startswith(("…", "...")):
        return True
    first_word = text.split()[0]
    # Brand names such as "kSuite" start lower-case but still open a heading.
    return first_word[0].isupper() or first_word[0].isdigit() or _is_brand(first_word)


def _is_brand(word: str) -> bool:
    return word[0].islower() and any(c.isupper() for c in word[1:])


def _is_continuation(line: str, previous: str) -> bool:
    """A line broken off its predecessor (an inline image was cut out of the dump)."""
    first_word = line.split()[0]
    return (
        first_word[0].islower()
        and not _is_brand(first_word)
        and previous.rstrip()[-1:] not in ".:!?"
    )


def split_guides(text: str, rules: ImportRules) -> tuple[list[str], list[Guide]]:
    """Return (preamble lines before the first guide, guides)."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    preamble: list[str] = []
    guides: list[Guide] = []
    for index, line in enumerate(lines):
        next_line = lines[index + 1] if index + 1 < len(lines) else None
        if any(p.search(line) for p in rules.guide_start):
            guides.append(Guide([line], index + 1))
        elif (
            guides
            and any(p.search(line.strip()) for p in rules.faq_start_headings)
            and next_line is not None
            and next_line.strip()
            and not is_list_item(next_line)
        ):
            guides.append(Guide([line], index + 1, has_intro=False))
        elif guides:
            guides[-1].lines.append(line)
        elif line.strip():
            preamble.append(line)
    return preamble, guides


def guide_to_markdown(guide: Guide) -> str:
    """Markdown body of a guide; also records its headings on the guide."""
    blocks: list[list[str]] = []
    kinds: list[str] = []
    lines = [line for line in guide.lines if line.strip()]
    levels = _heading_levels(lines, guide.has_intro)
    guide.headings = []
    for index, line in enumerate(lines):
        text = line.strip()
        if index in levels:
            guide.headings.append(text)
            blocks.append([f"{'#' * levels[index]} {text}"])
            kinds.append("heading")
        elif blocks and kinds[-1] != "heading" and _is_continuation(text, blocks[-1][-1]):
            blocks[-1][-1] += f" {text}"
        elif is_list_item(text):
            if kinds and kinds[-1] == "list":
                blocks[-1].append(text)
            else:
                blocks.append([text])
                kinds.append("list")
        else:
            # Each line of the dump is its own paragraph: that is how the help centre showed it.
            blocks.append([text])
            kinds.append("paragraph")
    return "\n\n".join("\n".join(block) for block in blocks) + "\n"


def _heading_levels(lines: list[str], has_intro: bool) -> dict[int, int]:
    """Heading line index -> level. A heading followed directly by another heading is a
    parent (##) and the headings below it are subsections (###) until the next parent."""
    candidates = [
        i
        for i, line in enumerate(lines)
        if (i > 0 or not has_intro)
        and is_heading(line, lines[i + 1] if i + 1 < len(lines) else None)
    ]
    heading_set = set(candidates)
    levels: dict[int, int] = {}
    under_parent = False
    for i in candidates:
        is_parent = i + 1 in heading_set
        if is_parent:
            under_parent = True
            levels[i] = 2
        else:
            levels[i] = 3 if under_parent else 2
    return levels
