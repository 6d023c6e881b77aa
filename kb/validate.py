"""`helpdesk kb check`: every problem of every article, with file and line."""

from __future__ import annotations

import contextlib
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from kb.article import LANGUAGES, STATUSES, Article
from kb.links import links_in
from kb.store import ArticleStore

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int
    message: str

    def format(self, root: Path | None = None) -> str:
        shown = self.path
        if root is not None:
            with contextlib.suppress(ValueError):
                shown = self.path.resolve().relative_to(root.resolve())
        return f"{shown}:{self.line}: {self.message}"


def check_store(store: ArticleStore) -> list[Problem]:
    articles, broken = store.scan()
    problems = [Problem(b.path, b.line, b.message) for b in broken]
    for article in articles:
        problems.extend(check_article(article))
    problems.extend(_duplicate_ids(articles))
    known_ids = {a.id for a in articles}
    known_paths = {a.path.resolve() for a in articles if a.path}
    for article in articles:
        problems.extend(_broken_links(article, known_ids, known_paths))
    return sorted(problems, key=lambda p: (str(p.path), p.line))


def check_article(article: Article) -> list[Problem]:
    """Problems visible in one article on its own (ids across articles: see check_store)."""
    assert article.path is not None
    path, lines = article.path, article.key_lines
    found: list[Problem] = []

    def report(key: str, message: str) -> None:
        found.append(Problem(path, lines.get(key, 1), message))

    if "id" not in lines:
        report("id", "Feld 'id' fehlt.")
    elif article.id <= 0:
        report("id", "Feld 'id' muss eine positive ganze Zahl sein.")
    if not article.title:
        report("title", "Feld 'title' fehlt oder ist leer.")
    if article.lang not in LANGUAGES:
        report("lang", f"Unbekannte Sprache '{article.lang}' (erlaubt: {', '.join(LANGUAGES)}).")
    elif path.parent.name != article.lang:
        report("lang", f"Sprache '{article.lang}' passt nicht zum Ordner '{path.parent.name}'.")
    if article.status not in STATUSES:
        report("status", f"Unbekannter Status '{article.status}' (erlaubt: {', '.join(STATUSES)}).")
    if not article.category:
        report("category", "Feld 'category' fehlt oder ist leer.")
    if article.updated and not _DATE.match(article.updated):
        report("updated", f"Datum '{article.updated}' ist nicht im Format JJJJ-MM-TT.")
    if not article.body.strip():
        found.append(Problem(path, article.body_line, "Der Artikel hat keinen Text."))
    for offset, line in enumerate(article.body.splitlines()):
        if re.match(r"^#{1,6}\s*$", line):
            found.append(Problem(path, article.body_line + offset, "Leere Überschrift."))
    return found


def _duplicate_ids(articles: list[Article]) -> list[Problem]:
    by_id: dict[int, list[Article]] = defaultdict(list)
    for article in articles:
        if article.id > 0:
            by_id[article.id].append(article)
    problems = []
    for article_id, same in by_id.items():
        if len(same) < 2:
            continue
        for article in same:
            others = ", ".join(a.path.name for a in same if a is not article and a.path)
            line = article.key_lines.get("id", 1)
            message = f"Doppelte id {article_id} (auch in {others})."
            problems.append(Problem(article.path, line, message))  # type: ignore[arg-type]
    return problems


def _broken_links(article: Article, known_ids: set[int], known_paths: set[Path]) -> list[Problem]:
    assert article.path is not None
    problems = []
    # Links to other articles: the short form ``kb:<id>`` or a relative path to a .md file.
    for link in links_in(article.body):
        lineno = article.body_line + link.line - 1
        if link.is_id:
            if link.article_id not in known_ids:
                problems.append(
                    Problem(article.path, lineno, f"Link auf unbekannten Artikel '{link.target}'.")
                )
        else:
            resolved = (article.path.parent / link.file).resolve()
            if resolved not in known_paths:
                problems.append(
                    Problem(article.path, lineno, f"Link auf fehlende Datei '{link.target}'.")
                )
    return problems
