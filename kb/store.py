"""The article files on disk: ``<kb_dir>/articles/<lang>/<slug>.md``.

On one machine the files are what search and the editor read; with several machines each
one's files are a copy of the database's published revisions (:mod:`kb.replica`).
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from kb.article import Article, ArticleError, read_article
from kb.folding import umlauts_as_digraphs


def slugify(title: str, max_length: int = 60) -> str:
    text = umlauts_as_digraphs(title)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "artikel"


@dataclass(frozen=True)
class BrokenFile:
    path: Path
    line: int
    message: str


class ArticleStore:
    def __init__(self, kb_dir: Path) -> None:
        self.kb_dir = kb_dir
        self.articles_dir = kb_dir / "articles"
        # Highest id ever handed out, so that a deleted article's id is never reused.
        self.sequence_file = kb_dir / "id_sequence.txt"

    def paths(self) -> list[Path]:
        if not self.articles_dir.is_dir():
            return []
        return sorted(self.articles_dir.glob("*/*.md"))

    def scan(self) -> tuple[list[Article], list[BrokenFile]]:
        """Every readable article, and the files that could not be read at all."""
        articles: list[Article] = []
        broken: list[BrokenFile] = []
        for path in self.paths():
            try:
                articles.append(read_article(path))
            except ArticleError as exc:
                broken.append(BrokenFile(path, exc.line, str(exc)))
            except UnicodeDecodeError:
                broken.append(BrokenFile(path, 1, "Die Datei ist nicht in UTF-8 kodiert."))
        return articles, broken

    def articles(self) -> list[Article]:
        return self.scan()[0]

    def get(self, article_id: int) -> Article | None:
        return next((a for a in self.articles() if a.id == article_id), None)

    def relative_path(self, article: Article) -> str:
        """The article's file relative to the repository root (or the KB's parent)."""
        assert article.path is not None
        try:
            return article.path.resolve().relative_to(self.kb_dir.resolve().parent).as_posix()
        except ValueError:
            return article.path.as_posix()

    def next_id(self) -> int:
        used = max((a.id for a in self.articles()), default=0)
        recorded = 0
        if self.sequence_file.exists():
            recorded = int(self.sequence_file.read_text().strip() or 0)
        return max(used, recorded) + 1

    def _record_id(self, article_id: int) -> None:
        current = 0
        if self.sequence_file.exists():
            current = int(self.sequence_file.read_text().strip() or 0)
        if article_id > current:
            atomic_write(self.sequence_file, f"{article_id}\n")

    def path_for(self, article: Article) -> Path:
        taken = {p for p in self.paths() if p != article.path}
        base = self.articles_dir / article.lang / f"{slugify(article.title)}.md"
        if base not in taken:
            return base
        return base.with_name(f"{base.stem}-{article.id}.md")

    def save(self, article: Article) -> Path:
        """Write the article; a new one gets its path from its title, an existing one keeps it."""
        path = article.path or self.path_for(article)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, article.to_markdown())
        article.path = path
        self._record_id(article.id)
        return path

    def write_text(self, path: Path, text: str, article_id: int) -> None:
        """Write an article's file exactly as given (a revision's text, byte for byte)."""
        atomic_write(path, text)
        self._record_id(article_id)


def atomic_write(path: Path, text: str) -> None:
    """Write via a temporary file so that a crash never leaves half an article behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
