"""What is searchable: the published articles of the KB, chunked, with a content fingerprint."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from kb.article import Article
from kb.store import ArticleStore
from retrieval.chunking import CHUNKER_VERSION, Chunk, chunk_article
from retrieval.units import UNITS_VERSION, Units

BACKGROUND_FILE = Path(__file__).parent / "data" / "background.txt"


@dataclass(frozen=True)
class ArticleInfo:
    id: int
    title: str
    path: str  # relative to the repository root
    lang: str
    category: str


def article_info(store: ArticleStore, article: Article) -> ArticleInfo:
    return ArticleInfo(
        article.id, article.title, store.relative_path(article), article.lang, article.category
    )


def searchable(article: Article) -> bool:
    return article.published and article.id > 0 and bool(article.title)


def load_corpus(store: ArticleStore) -> tuple[list[Chunk], dict[int, ArticleInfo]]:
    chunks: list[Chunk] = []
    infos: dict[int, ArticleInfo] = {}
    for article in sorted(store.articles(), key=lambda a: a.id):
        if searchable(article) and article.id not in infos:
            infos[article.id] = article_info(store, article)
            chunks.extend(chunk_article(article))
    return chunks, infos


SCOPE_FILE = "out_of_scope.yml"


class ScopeError(ValueError):
    """The out-of-scope list cannot be read; the message is meant for the editor."""


def load_background(store: ArticleStore) -> list[str]:
    """Questions the KB should not answer: generic ones shipped with the code, plus the
    editors' list of topics this KB deliberately leaves out (``kb/out_of_scope.yml``)."""
    texts = [
        line.strip()
        for line in BACKGROUND_FILE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return list(dict.fromkeys([*texts, *scope_topics(store)]))


def scope_topics(store: ArticleStore) -> list[str]:
    """The editors' out-of-scope topics; ScopeError if the file cannot be read as a list."""
    path = store.kb_dir / SCOPE_FILE
    if not path.exists():
        return []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ScopeError(f"{SCOPE_FILE} lässt sich nicht lesen: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (Zeile {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScopeError(f"{SCOPE_FILE} ist kein gültiges YAML{where}: {problem}") from exc
    topics = data.get("topics") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(topics, list | None):
        raise ScopeError(f"{SCOPE_FILE}: 'topics' muss eine Liste von Fragen sein.")
    if any(isinstance(t, dict | list) for t in topics or []):
        raise ScopeError(f"{SCOPE_FILE}: jedes Thema muss ein einfacher Text sein.")
    return list(dict.fromkeys(str(t).strip() for t in topics or [] if str(t).strip()))


def fingerprint(
    chunks: list[Chunk],
    units: Units,
    infos: dict[int, ArticleInfo],
    model_id: str,
    synonyms_digest: str,
) -> str:
    """Changes whenever a searchable text, an article's path or title, the synonym list or
    the model changes."""
    digest = hashlib.sha256(
        f"{model_id}|{CHUNKER_VERSION}|{UNITS_VERSION}|{synonyms_digest}".encode()
    )
    for chunk in chunks:
        digest.update(f"|{chunk.article_id}:{chunk.content_hash}".encode())
    for unit_hash in units.hashes:
        digest.update(f"|{unit_hash}".encode())
    for info in sorted(infos.values(), key=lambda i: i.id):
        digest.update(f"|{info.id}:{info.path}:{info.title}:{info.category}".encode())
    return digest.hexdigest()
