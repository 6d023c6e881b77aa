"""`helpdesk kb import FILE`: turn a plain-text help-centre dump into KB articles.

Idempotent: each guide is recognised by a hash of its original text (kept in the article's
``source`` field), so a second run finds every guide already imported and writes nothing new.
Articles already imported are never overwritten: editors may have improved them since.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kb.article import Article
from kb.dump import Guide, ImportRules, guide_to_markdown, split_guides
from kb.store import ArticleStore, atomic_write

CATEGORIES_FILE = Path(__file__).with_name("categories.yml")
_MAX_TITLE_CHARS = 70
# "…erklärt, wie Sie eine Rechnungsadresse hinzufügen können, damit …" -> the how-to clause.
_HOW_TO = re.compile(r"\bwie\s+(?:Sie|man)\s+(.+?)(?:[,.:;!?]|\s+damit\b|\s+um\b|$)")
_LEADING_WORDS = re.compile(
    r"^(?:(?:die|der|das|den|dem|des|eine|einer|einen|ein|Ihr|Ihre|Ihren|Ihrem|Ihrer|sich)\s+)+"
)
_TRAILING_MODALS = re.compile(r"\s+(?:können|kann|lassen|müssen|sollten)$")
_PARENTHESES = re.compile(r"\s*\([^)]*\)")


@dataclass
class ImportReport:
    created: list[Article] = field(default_factory=list)
    unchanged: list[Article] = field(default_factory=list)
    preamble: list[str] = field(default_factory=list)
    record_path: Path | None = None


def guide_digest(guide: Guide) -> str:
    """Identifies a guide by its text, whatever the dump file is called."""
    return "sha256:" + hashlib.sha256(guide.text.strip().encode("utf-8")).hexdigest()[:16]


def derive_title(guide: Guide, rules: ImportRules) -> str:
    """A short German title: the intro's how-to clause, else the first telling heading."""
    if guide.has_intro:
        match = _HOW_TO.search(_PARENTHESES.sub("", guide.lines[0]))
        if match:
            clause = _TRAILING_MODALS.sub("", _LEADING_WORDS.sub("", match.group(1).strip()))
            if len(clause.split()) >= 2 and len(clause) <= _MAX_TITLE_CHARS:
                return clause[0].upper() + clause[1:]
    for heading in guide.headings:
        cleaned = heading.strip(" .…?")
        if cleaned.casefold() not in rules.generic_headings and len(cleaned) <= _MAX_TITLE_CHARS:
            return cleaned
    words = " ".join(line for line in guide.lines if line.strip()).split()
    return " ".join(words[:8]).rstrip(",.:;") + " …"


def load_categories(path: Path = CATEGORIES_FILE) -> tuple[str, dict[str, list[str]]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return str(data.get("default", "Allgemein")), dict(data.get("categories") or {})


def assign_category(
    title: str, body: str, categories: dict[str, list[str]], default: str
) -> tuple[str, list[str]]:
    """(category, matched keywords as tags): title hits count three times."""
    title_l, body_l = title.casefold(), body.casefold()
    best, best_score, best_tags = default, 0, []
    for name, keywords in categories.items():
        score, tags = 0, []
        for keyword in keywords:
            pattern = re.compile(rf"(?<!\w){re.escape(keyword.casefold())}")
            hits = 3 * len(pattern.findall(title_l)) + len(pattern.findall(body_l))
            if hits:
                score += hits
                tags.append(keyword)
        if score > best_score:
            best, best_score, best_tags = name, score, tags
    return best, best_tags[:5]


def import_dump(
    dump: Path,
    store: ArticleStore,
    *,
    lang: str = "de",
    today: dt.date | None = None,
    rules: ImportRules | None = None,
) -> ImportReport:
    rules = rules or ImportRules.load()
    today = today or dt.date.today()
    text = dump.read_text(encoding="utf-8")
    preamble, guides = split_guides(text, rules)
    default_category, categories = load_categories()
    existing = {a.source.rsplit("#", 1)[-1]: a for a in store.articles() if a.source}
    report = ImportReport(preamble=preamble)
    record_guides = []
    for guide in guides:
        body = guide_to_markdown(guide)
        digest = guide_digest(guide)
        if digest in existing:
            article = existing[digest]
            report.unchanged.append(article)
        else:
            title = derive_title(guide, rules)
            category, tags = assign_category(title, body, categories, default_category)
            article = Article(
                id=store.next_id(),
                title=title,
                lang=lang,
                category=category,
                body=body,
                tags=tags,
                status="published",
                updated=today.isoformat(),
                source=f"{dump.name}#{digest}",
            )
            store.save(article)
            report.created.append(article)
        record_guides.append({"id": article.id, "lines": [guide.first_line, guide.last_line]})
    report.record_path = _write_record(store, dump, text, preamble, record_guides)
    return report


def _write_record(
    store: ArticleStore, dump: Path, text: str, preamble: list[str], guides: list[dict]
) -> Path:
    """Which lines of the dump became which article, and the lines that became none."""
    record = {
        "source": dump.name,
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "preamble": preamble,
        "guides": guides,
    }
    path = store.kb_dir / "imports" / f"{dump.stem}.yml"
    content = yaml.safe_dump(record, allow_unicode=True, sort_keys=False, width=1000)
    if not path.exists() or path.read_text(encoding="utf-8") != content:
        atomic_write(path, content)
    return path
