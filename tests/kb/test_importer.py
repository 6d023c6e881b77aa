from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

import yaml

from kb.dump import ImportRules, guide_to_markdown, is_heading, split_guides
from kb.importer import import_dump
from kb.store import ArticleStore
from kb.validate import check_store
from tests.conftest import SEED_DUMP

TODAY = dt.date(2026, 11, 27)


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _plain_lines(markdown: str) -> list[str]:
    """Body lines without the Markdown the importer adds (heading marks, list dashes)."""
    lines = []
    for line in markdown.splitlines():
        line = re.sub(r"^(#{2,6} |- )", "", line.strip())
        if line:
            lines.append(line)
    return lines


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


def test_seed_becomes_twenty_articles_without_losing_or_inventing_text(tmp_path: Path) -> None:
    store = ArticleStore(tmp_path / "kb")
    report = import_dump(SEED_DUMP, store, today=TODAY)
    assert len(report.created) == 20
    assert sorted(a.id for a in report.created) == list(range(1, 21))

    seed_lines = [line.strip() for line in SEED_DUMP.read_text(encoding="utf-8").splitlines()]
    seed_lines = [line.removeprefix("- ") for line in seed_lines]
    seed_flat = _flat(" ".join(seed_lines))
    articles_flat = _flat(" ".join(" ".join(_plain_lines(a.body)) for a in store.articles()))
    record = yaml.safe_load(report.record_path.read_text(encoding="utf-8"))
    kept_aside = set(record["preamble"])
    assert kept_aside == {line for line in seed_lines[:2]}
    for line in seed_lines:
        if line and line not in kept_aside:
            assert _flat(line) in articles_flat, f"lost: {line!r}"
    for article in store.articles():
        for line in _plain_lines(article.body):
            assert _flat(line) in seed_flat, f"invented in {article.path.name}: {line!r}"


def test_titles_categories_and_structure_read_well(tmp_path: Path) -> None:
    store = ArticleStore(tmp_path / "kb")
    import_dump(SEED_DUMP, store, today=TODAY)
    articles = {a.id: a for a in store.articles()}
    assert articles[3].title == "Rechnungsadresse hinzufügen"
    for article in articles.values():
        assert 3 <= len(article.title) <= 80
        assert not article.title.startswith(("Diese Anleitung", "Dieser Leitfaden"))
        assert article.category and article.status == "published" and article.lang == "de"
        assert article.path.parent.name == "de"
        assert "## " in article.body or len(article.body) < 800
    assert check_store(store) == []


def test_reimport_changes_nothing(tmp_path: Path) -> None:
    store = ArticleStore(tmp_path / "kb")
    import_dump(SEED_DUMP, store, today=TODAY)
    before = _tree_digest(tmp_path / "kb")
    report = import_dump(SEED_DUMP, store, today=TODAY + dt.timedelta(days=3))
    assert report.created == [] and len(report.unchanged) == 20
    assert _tree_digest(tmp_path / "kb") == before


def test_reimport_keeps_editorial_changes(tmp_path: Path) -> None:
    store = ArticleStore(tmp_path / "kb")
    import_dump(SEED_DUMP, store, today=TODAY)
    article = store.get(3)
    article.title = "Weitere Rechnungsadresse anlegen"
    store.save(article)
    import_dump(SEED_DUMP, store, today=TODAY)
    assert store.get(3).title == "Weitere Rechnungsadresse anlegen"
    assert len(store.articles()) == 20


def test_committed_kb_holds_every_seed_guide(kb_copy: Path) -> None:
    store = ArticleStore(kb_copy)
    report = import_dump(SEED_DUMP, store, today=TODAY)
    assert report.created == [], "the committed KB misses guides of the seed"
    assert check_store(store) == []


def test_ids_are_never_reused_after_a_deletion(tmp_path: Path) -> None:
    store = ArticleStore(tmp_path / "kb")
    import_dump(SEED_DUMP, store, today=TODAY)
    store.get(20).path.unlink()
    assert store.next_id() == 21


def test_headings_lists_and_broken_lines() -> None:
    dump = "\n".join(
        [
            "Diese Anleitung erklärt, wie Sie etwas tun.",
            "Vorwort",
            "- Ein Punkt.",
            "Erste Stufe",
            "Zweite Stufe",
            "Um es zu tun:",
            "- Klicken Sie auf das Symbol",
            "ganz rechts neben dem Namen",
            "kSuite Angebot ändern",
            "Text danach.",
        ]
    )
    preamble, guides = split_guides(dump, ImportRules.load())
    assert preamble == [] and len(guides) == 1
    body = guide_to_markdown(guides[0])
    assert "## Vorwort" in body
    assert "## Erste Stufe\n\n### Zweite Stufe" in body
    assert "- Klicken Sie auf das Symbol ganz rechts neben dem Namen" in body
    assert "## kSuite Angebot ändern" in body
    assert "Um es zu tun:\n\n- Klicken" in body  # a list needs a blank line before it


def test_heading_detection() -> None:
    assert is_heading("Dauerauftrag", "Text.")
    assert is_heading("Mahnung, die mit der Zahlung zusammenfällt", "Text.")
    assert not is_heading("Um zusätzliche Rechnungsadressen zu erstellen:", "- x")
    assert not is_heading("Ein Benutzer kann gehen, solange…", "- … er will")
    assert not is_heading("Letzte Zeile", None)
