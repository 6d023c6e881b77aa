"""Articles to search chunks: one chunk per section (title + heading path + text).

The article stays the unit of an answer; chunks only decide which article and which of its
sections fit a question best.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property

from kb.article import Article

CHUNKER_VERSION = "1"
_HEADING = re.compile(r"^(#{2,6})\s+(.*?)\s*#*\s*$")
# Long sections are cut at paragraph boundaries: the embedding model reads 512 tokens at most
# and a short chunk keeps the answer focused.
MAX_WORDS = 220


@dataclass(frozen=True)
class Chunk:
    article_id: int
    title: str
    section: str  # heading path, "" for the text before the first heading
    markdown: str  # the section as written, shown in answers
    position: int  # order within the article

    @cached_property
    def plain(self) -> str:
        """The section without Markdown syntax."""
        return markdown_to_text(self.markdown)

    @cached_property
    def text(self) -> str:
        """What search reads: the title and headings give every section its context."""
        header = f"{self.title}. {self.section}" if self.section else self.title
        return f"{header}\n{self.plain}"

    @cached_property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:24]


def markdown_to_text(markdown: str) -> str:
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", markdown)  # images
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links keep their words
    text = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", text, flags=re.MULTILINE)
    text = re.sub(r"[*_`>#]+", " ", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def chunk_article(article: Article) -> list[Chunk]:
    sections: list[tuple[str, list[str]]] = [("", [])]
    path: list[tuple[int, str]] = []
    for line in article.body.splitlines():
        match = _HEADING.match(line)
        if match:
            level, heading = len(match.group(1)), match.group(2)
            path = [(lvl, h) for lvl, h in path if lvl < level] + [(level, heading)]
            sections.append((" › ".join(h for _, h in path), []))
        else:
            sections[-1][1].append(line)
    chunks: list[Chunk] = []
    for section, lines in sections:
        for part in _split_long("\n".join(lines).strip()):
            if part:
                chunks.append(Chunk(article.id, article.title, section, part, len(chunks)))
    if not chunks:  # an article with headings only still deserves to be found by its title
        chunks.append(Chunk(article.id, article.title, "", "", 0))
    return chunks


def _split_long(markdown: str) -> list[str]:
    if len(markdown.split()) <= MAX_WORDS:
        return [markdown]
    parts: list[str] = []
    current: list[str] = []
    for paragraph in markdown.split("\n\n"):
        if current and len(" ".join([*current, paragraph]).split()) > MAX_WORDS:
            parts.append("\n\n".join(current))
            current = []
        current.append(paragraph)
    if current:
        parts.append("\n\n".join(current))
    return parts
