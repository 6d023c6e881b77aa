"""What an editor submits for an article (title, category, tags, body) and what is wrong
with it, field by field, in German.

The body checks are the validator's own (``kb.validate.check_article``), run on the article
exactly as it would be written, so the editor and ``helpdesk kb check`` never disagree.
Markdown itself cannot be "broken": odd Markdown saves, and the preview shows what it is.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from kb.article import LANGUAGES, Article, parse_article
from kb.importer import load_categories
from kb.links import links_in
from kb.validate import check_article

MAX_TITLE_CHARS = 200
MAX_TAG_CHARS = 40
MAX_TAGS = 20
NUL_MESSAGE = "Der Text enthält ein Nullzeichen (\\0); bitte entfernen Sie es."

LANGUAGE_NAMES = {"de": "Deutsch", "en": "Englisch", "fr": "Französisch", "it": "Italienisch"}


@dataclass
class ArticleInput:
    title: str = ""
    category: str = ""
    tags: list[str] = field(default_factory=list)
    body: str = ""
    lang: str = "de"

    @classmethod
    def from_form(
        cls, *, title: str, category: str, tags: str, body: str, lang: str
    ) -> ArticleInput:
        """Whitespace tidied, nothing else dropped: an invalid value is kept to be shown."""
        return cls(
            title=" ".join(title.split()),
            category=category.strip(),
            tags=parse_tags(tags),
            body=body.replace("\r\n", "\n").replace("\r", "\n").strip(),
            lang=lang.strip(),
        )

    @classmethod
    def from_article(cls, article: Article) -> ArticleInput:
        return cls(
            title=article.title,
            category=article.category,
            tags=list(article.tags),
            body=article.body.strip(),
            lang=article.lang,
        )

    @property
    def tags_text(self) -> str:
        return ", ".join(self.tags)

    def to_article(
        self, article_id: int, status: str, today: dt.date, based_on: Article | None = None
    ) -> Article:
        """The article to write; an existing one keeps its language, source and path."""
        return Article(
            id=article_id,
            title=self.title,
            lang=based_on.lang if based_on else self.lang,
            category=self.category,
            body=self.body,
            tags=list(self.tags),
            status=status,
            updated=today.isoformat(),
            source=based_on.source if based_on else None,
            path=based_on.path if based_on else None,
        )


def parse_tags(text: str) -> list[str]:
    """ "a, b,, a" -> ["a", "b"]: comma or line separated, duplicates once."""
    tags: list[str] = []
    for part in re.split(r"[,\n]", text):
        tag = " ".join(part.split())
        if tag and tag not in tags:
            tags.append(tag)
    return tags


def categories(kb_dir: Path) -> list[str]:
    """The categories editors may choose: those of ``categories.yml`` and its default."""
    path = kb_dir / "categories.yml"
    if not path.exists():
        return ["Allgemein"]
    default, rules = load_categories(path)
    return sorted({default, *rules})


def validate(
    data: ArticleInput,
    *,
    kb_dir: Path,
    allowed_categories: list[str],
    known_ids: set[int] | None = None,
) -> dict[str, list[str]]:
    """Problems per form field (``title``, ``category``, ``tags``, ``lang``, ``body``)."""
    errors: dict[str, list[str]] = defaultdict(list)
    if not data.title:
        errors["title"].append("Bitte geben Sie einen Titel ein.")
    elif len(data.title) > MAX_TITLE_CHARS:
        errors["title"].append(f"Der Titel ist zu lang (höchstens {MAX_TITLE_CHARS} Zeichen).")
    if not data.category:
        errors["category"].append("Bitte wählen Sie eine Kategorie.")
    elif data.category not in allowed_categories:
        errors["category"].append(
            f"Unbekannte Kategorie „{data.category}“. Bitte wählen Sie eine Kategorie aus der "
            "Liste (kb/categories.yml)."
        )
    if len(data.tags) > MAX_TAGS:
        errors["tags"].append(f"Höchstens {MAX_TAGS} Schlagwörter.")
    for tag in data.tags:
        if len(tag) > MAX_TAG_CHARS:
            errors["tags"].append(
                f"Das Schlagwort „{tag[:MAX_TAG_CHARS]}…“ ist zu lang "
                f"(höchstens {MAX_TAG_CHARS} Zeichen)."
            )
    if data.lang not in LANGUAGES:
        errors["lang"].append("Bitte wählen Sie eine Sprache aus der Liste.")
    errors["body"].extend(_body_problems(data, kb_dir))
    # A NUL character cannot be stored in PostgreSQL (the revisions) and means nothing here.
    for name, value in (("title", data.title), ("body", data.body), ("tags", " ".join(data.tags))):
        if "\x00" in value:
            errors[name].append(NUL_MESSAGE)
    if known_ids is not None:
        errors["body"].extend(_unknown_links(data.body, known_ids))
    return {name: messages for name, messages in errors.items() if messages}


def _body_problems(data: ArticleInput, kb_dir: Path) -> list[str]:
    lang = data.lang if data.lang in LANGUAGES else "de"
    probe = ArticleInput(title="x", category="x", body=data.body, lang=lang)
    text = probe.to_article(1, "draft", dt.date.today()).to_markdown()
    article = parse_article(text, kb_dir / "articles" / lang / "probe.md")
    problems = []
    for problem in check_article(article):
        if problem.line < article.body_line:
            continue  # front matter: reported field by field above
        # The parsed body starts with the blank line after the front matter.
        line = problem.line - article.body_line
        problems.append(f"Zeile {line}: {problem.message}" if line > 0 else problem.message)
    return problems


def _unknown_links(body: str, known_ids: set[int]) -> list[str]:
    return [
        f"Zeile {link.line}: Link auf unbekannten Artikel „{link.target}“."
        for link in links_in(body)
        if link.is_id and link.article_id not in known_ids
    ]
