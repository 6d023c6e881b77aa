"""The editor's view of every article file: list, filter and full-text search.

A KB may hold thousands of articles, so parsed files are cached per path and re-read only
when their modification time or size changes (a ``stat`` per file per listing, not a YAML
parse). Search is a plain folded substring match over title, tags and body: every word of
the query must occur. That is what an editor looking for "their" article needs; ranking by
meaning is the retriever's job, and it only knows published articles.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from kb.article import Article, ArticleError, read_article
from kb.folding import fold_for_catalog_search
from kb.store import ArticleStore


@dataclass(frozen=True)
class Entry:
    id: int
    title: str
    lang: str
    category: str
    status: str
    updated: str
    tags: tuple[str, ...]
    path: Path
    haystack: str  # folded title, tags and body

    @property
    def published(self) -> bool:
        return self.status == "published"


def _entry(article: Article) -> Entry:
    assert article.path is not None
    text = "\n".join([article.title, " ".join(article.tags), article.body])
    return Entry(
        id=article.id,
        title=article.title,
        lang=article.lang,
        category=article.category,
        status=article.status,
        updated=article.updated,
        tags=tuple(article.tags),
        path=article.path,
        haystack=fold_for_catalog_search(text),
    )


# kb_dir -> path -> ((mtime_ns, size), entry or None for an unreadable file)
_cache: dict[Path, dict[Path, tuple[tuple[int, int], Entry | None]]] = {}
_lock = threading.Lock()


def entries(store: ArticleStore) -> list[Entry]:
    """Every readable article file, re-parsing only files that changed since last time."""
    with _lock:
        known = _cache.setdefault(store.kb_dir.resolve(), {})
        fresh: dict[Path, tuple[tuple[int, int], Entry | None]] = {}
        for path in store.paths():
            try:
                stat = path.stat()
            except FileNotFoundError:  # deleted between the listing and now
                continue
            stamp = (stat.st_mtime_ns, stat.st_size)
            cached = known.get(path)
            if cached is not None and cached[0] == stamp:
                fresh[path] = cached
                continue
            try:
                fresh[path] = (stamp, _entry(read_article(path)))
            except (ArticleError, UnicodeDecodeError, OSError):
                fresh[path] = (stamp, None)  # `helpdesk kb check` reports it
        known.clear()
        known.update(fresh)
        return [entry for _, entry in fresh.values() if entry is not None and entry.id > 0]


def path_of(store: ArticleStore, article_id: int) -> Path | None:
    return next((e.path for e in entries(store) if e.id == article_id), None)


def find(store: ArticleStore, article_id: int) -> Article | None:
    """The article's current file, parsed fresh (the cache may be a moment old)."""
    path = path_of(store, article_id)
    if path is None:
        return None
    try:
        article = read_article(path)
    except (ArticleError, UnicodeDecodeError, OSError):
        return None
    return article if article.id == article_id else None


def search(
    items: list[Entry],
    query: str = "",
    *,
    status: str = "",
    category: str = "",
    lang: str = "",
) -> list[Entry]:
    """Entries matching every filter; with a query, title hits first, then by title."""
    words = fold_for_catalog_search(query).split()
    found = []
    for entry in items:
        if status and entry.status != status:
            continue
        if category and entry.category != category:
            continue
        if lang and entry.lang != lang:
            continue
        by_id = len(words) == 1 and words[0].lstrip("#") == str(entry.id)
        if words and not by_id and not all(word in entry.haystack for word in words):
            continue
        found.append(entry)
    title_hits = (
        {e.id: sum(w in fold_for_catalog_search(e.title) for w in words) for e in found}
        if words
        else {}
    )
    return sorted(
        found, key=lambda e: (-title_hits.get(e.id, 0), fold_for_catalog_search(e.title), e.id)
    )
