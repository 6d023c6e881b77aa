"""Units of dense search: each article is embedded whole, per section and per sentence.

A question may match a guide as a whole ("Was ist Renewal Warranty?"), one of its sections,
or a single step; scoring all three granularities finds the right guide more often than
sections alone (measured in bench/quality.py). Background units, the queries an assistant
should not answer from the KB, are embedded like questions and never searched: they only
tell how typical an off-topic question's similarity is (see retrieval/confidence.py).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from retrieval.chunking import Chunk

ARTICLE, SECTION, SENTENCE, BACKGROUND = 0, 1, 2, 3
UNITS_VERSION = "2"
MIN_SENTENCE_WORDS = 3
LONG_LINE_WORDS = 40
# A sentence ends at . ! ? before an upper-case letter; "z. B. Ihr" is rare enough to accept.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZÄÖÜ])")


@dataclass
class Units:
    texts: list[str]
    kinds: np.ndarray  # int8, one of the constants above
    articles: np.ndarray  # int64 article id (-1 for background)
    chunk_rows: np.ndarray  # int64 chunk row of section/sentence units, else -1
    n_searchable: int  # background units come last

    @cached_property
    def hashes(self) -> list[str]:
        """Cache keys: what is embedded and how (question vs passage)."""
        return [
            f"{kind}:{hashlib.sha256(text.encode('utf-8')).hexdigest()[:24]}"
            for kind, text in zip(self.kinds.tolist(), self.texts, strict=True)
        ]

    def __len__(self) -> int:
        return len(self.texts)


def make_units(chunks: list[Chunk], background: list[str]) -> Units:
    texts: list[str] = []
    kinds: list[int] = []
    articles: list[int] = []
    chunk_rows: list[int] = []

    def add(text: str, kind: int, article_id: int, row: int) -> None:
        texts.append(text)
        kinds.append(kind)
        articles.append(article_id)
        chunk_rows.append(row)

    by_article: dict[int, list[int]] = {}
    for row, chunk in enumerate(chunks):
        by_article.setdefault(chunk.article_id, []).append(row)
    for article_id, rows in by_article.items():
        title = chunks[rows[0]].title
        whole = "\n".join(_section_text(chunks[r]) for r in rows)
        add(f"{title}\n{whole}", ARTICLE, article_id, -1)
        seen: set[str] = set()
        for row in rows:
            chunk = chunks[row]
            add(chunk.text, SECTION, article_id, row)
            header = f"{chunk.title}. {chunk.section}" if chunk.section else chunk.title
            for line in sentences(chunk.plain):
                if len(line.split()) >= MIN_SENTENCE_WORDS and line not in seen:
                    seen.add(line)
                    add(f"{header}\n{line}", SENTENCE, article_id, row)
    n_searchable = len(texts)
    for text in background:
        add(text, BACKGROUND, -1, -1)
    return Units(
        texts,
        np.asarray(kinds, dtype=np.int8),
        np.asarray(articles, dtype=np.int64),
        np.asarray(chunk_rows, dtype=np.int64),
        n_searchable,
    )


def sentences(text: str) -> list[str]:
    """Lines (list steps, short paragraphs); a long paragraph is cut at sentence ends."""
    found: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if len(line.split()) <= LONG_LINE_WORDS:
            found.append(line)
        else:
            found.extend(part.strip() for part in _SENTENCE_END.split(line) if part.strip())
    return found


def _section_text(chunk: Chunk) -> str:
    return f"{chunk.section}\n{chunk.plain}" if chunk.section else chunk.plain
