"""The editor's rules on a private copy of the KB: drafts, publishing, history, conflicts."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from core.users import add_user
from kb import catalog, revisions
from kb.article import read_article
from kb.article_input import ArticleInput, categories, parse_tags, validate
from kb.revisions import Conflict, EditorError, Invalid, NotFound
from kb.store import ArticleStore

TODAY = dt.date(2031, 5, 4)
ARTICLE = 3  # "Rechnungsadresse hinzufügen", published


@pytest.fixture
def store(settings) -> ArticleStore:
    return ArticleStore(settings.kb_dir)


@pytest.fixture
def users(db: Session) -> tuple[int, int]:
    anna = add_user(db, "anna", "richtig-langes-passwort", "editor")
    ben = add_user(db, "ben", "richtig-langes-passwort", "editor")
    db.commit()
    return anna.id, ben.id


@pytest.fixture
def allowed(settings) -> list[str]:
    return categories(settings.kb_dir)


def _path(store: ArticleStore, article_id: int) -> Path:
    path = catalog.path_of(store, article_id)
    assert path is not None
    return path


def _edit(db, store, article_id: int, **changes) -> ArticleInput:
    copy = revisions.working_copy(db, store, article_id)
    return dataclasses.replace(ArticleInput.from_article(copy.working), **changes)


def test_first_look_records_the_file_as_imported(db, store):
    copy = revisions.working_copy(db, store, ARTICLE)
    assert [(r.number, r.kind, r.author_id) for r in revisions.history(db, ARTICLE)] == [
        (1, "imported", None)
    ]
    assert copy.newest.text == _path(store, ARTICLE).read_text(encoding="utf-8")
    assert copy.live and not copy.pending
    # Looking again records nothing new.
    revisions.working_copy(db, store, ARTICLE)
    assert len(revisions.history(db, ARTICLE)) == 1


def test_unknown_article_is_not_found(db, store):
    with pytest.raises(NotFound):
        revisions.working_copy(db, store, 999)


def test_draft_of_a_published_article_leaves_the_file_alone(db, store, users, allowed):
    before = _path(store, ARTICLE).read_text(encoding="utf-8")
    data = _edit(db, store, ARTICLE, body="## Neu\n\nGanz neuer Text.")
    saved = revisions.save(
        db, store, ARTICLE, data, base=1, publish=False, author_id=users[0],
        allowed_categories=allowed, today=TODAY,
    )  # fmt: skip
    assert not saved.file_written and not saved.needs_reindex
    assert _path(store, ARTICLE).read_text(encoding="utf-8") == before
    copy = revisions.working_copy(db, store, ARTICLE)
    assert copy.pending and copy.newest.kind == "draft" and copy.newest.author_id == users[0]
    assert "Ganz neuer Text." in copy.working.body
    # The draft is not mistaken for an outside change of the file.
    assert len(revisions.history(db, ARTICLE)) == 2


def test_publish_writes_the_file_and_asks_for_a_reindex(db, store, users, allowed):
    data = _edit(db, store, ARTICLE, title="Rechnungsadresse anlegen", body="Neuer Text.")
    saved = revisions.save(
        db, store, ARTICLE, data, base=1, publish=True, author_id=users[0],
        allowed_categories=allowed, today=TODAY,
    )  # fmt: skip
    assert saved.file_written and saved.needs_reindex
    path = _path(store, ARTICLE)
    assert path.name == "rechnungsadresse-hinzufuegen.md"  # the path stays, links keep working
    article = read_article(path)
    assert (article.title, article.status, article.updated) == (
        "Rechnungsadresse anlegen",
        "published",
        "2031-05-04",
    )
    assert article.source  # kept from the import
    assert path.read_text(encoding="utf-8") == saved.revision.text


def test_create_draft_then_publish(db, store, users, allowed):
    data = ArticleInput(
        title="Neue Anleitung", category="Domains", tags=["dns"], body="Text.", lang="de"
    )
    saved = revisions.create(
        db, store, data, publish=False, author_id=users[0], allowed_categories=allowed,
        today=TODAY,
    )  # fmt: skip
    assert saved.article.id == 21 and not saved.needs_reindex
    path = store.kb_dir / "articles" / "de" / "neue-anleitung.md"
    assert read_article(path).status == "draft"
    assert (store.kb_dir / "id_sequence.txt").read_text().strip() == "21"
    copy = revisions.working_copy(db, store, 21)
    assert not copy.live and copy.newest.number == 1  # the draft is what the file says
    saved = revisions.save(
        db, store, 21, ArticleInput.from_article(copy.working), base=1, publish=True,
        author_id=users[1], allowed_categories=allowed, today=TODAY,
    )  # fmt: skip
    assert read_article(path).status == "published" and saved.needs_reindex


def test_drafts_of_a_draft_article_are_written(db, store, users, allowed):
    data = ArticleInput(title="Entwurf", category="Domains", body="Eins.", lang="de")
    saved = revisions.create(
        db, store, data, publish=False, author_id=users[0], allowed_categories=allowed
    )
    data.body = "Zwei."
    revisions.save(
        db, store, saved.article.id, data, base=1, publish=False, author_id=users[0],
        allowed_categories=allowed,
    )  # fmt: skip
    assert "Zwei." in _path(store, saved.article.id).read_text(encoding="utf-8")


def test_second_save_on_the_same_base_is_refused(db, store, users, allowed):
    revisions.working_copy(db, store, ARTICLE)
    first = _edit(db, store, ARTICLE, body="Annas Text.")
    second = _edit(db, store, ARTICLE, body="Bens Text.")
    revisions.save(
        db, store, ARTICLE, first, base=1, publish=True, author_id=users[0],
        allowed_categories=allowed,
    )  # fmt: skip
    published = _path(store, ARTICLE).read_text(encoding="utf-8")
    with pytest.raises(Conflict) as caught:
        revisions.save(
            db, store, ARTICLE, second, base=1, publish=True, author_id=users[1],
            allowed_categories=allowed,
        )  # fmt: skip
    assert "von anna geändert" in str(caught.value)
    assert caught.value.newer.number == 2
    assert _path(store, ARTICLE).read_text(encoding="utf-8") == published
    assert len(revisions.history(db, ARTICLE)) == 2


def test_a_file_changed_outside_is_recorded_before_building_on_it(db, store, users, allowed):
    revisions.working_copy(db, store, ARTICLE)
    path = _path(store, ARTICLE)
    outside = path.read_text(encoding="utf-8") + "\nNachgetragen per git.\n"
    path.write_text(outside, encoding="utf-8")
    data = _edit(db, store, ARTICLE)  # the editor opens the article now
    history = revisions.history(db, ARTICLE)
    assert [r.kind for r in history] == ["imported", "imported"]
    assert history[-1].text == outside
    assert "Nachgetragen per git." in data.body


def test_an_outside_change_while_editing_is_a_conflict(db, store, users, allowed):
    data = _edit(db, store, ARTICLE, body="Mein Text.")
    path = _path(store, ARTICLE)
    path.write_text(path.read_text(encoding="utf-8") + "\nDazwischen.\n", encoding="utf-8")
    with pytest.raises(Conflict) as caught:
        revisions.save(
            db, store, ARTICLE, data, base=1, publish=True, author_id=users[0],
            allowed_categories=allowed,
        )  # fmt: skip
    assert caught.value.newer.kind == "imported"
    assert "außerhalb des Editors" in str(caught.value)
    assert "Dazwischen." in path.read_text(encoding="utf-8")


def test_unpublish_keeps_the_working_text_as_a_draft_file(db, store, users, allowed):
    data = _edit(db, store, ARTICLE, body="Noch nicht fertig.")
    revisions.save(
        db, store, ARTICLE, data, base=1, publish=False, author_id=users[0],
        allowed_categories=allowed,
    )  # fmt: skip
    saved = revisions.unpublish(db, store, ARTICLE, base=2, author_id=users[1], today=TODAY)
    article = read_article(_path(store, ARTICLE))
    assert article.status == "draft" and "Noch nicht fertig." in article.body
    assert saved.revision.kind == "unpublished" and saved.needs_reindex
    with pytest.raises(EditorError):
        revisions.unpublish(db, store, ARTICLE, base=3, author_id=users[1])


def test_restore_makes_a_new_draft_and_keeps_the_newest(db, store, users, allowed):
    original = read_article(_path(store, ARTICLE)).body
    data = _edit(db, store, ARTICLE, body="Überarbeitet.")
    revisions.save(
        db, store, ARTICLE, data, base=1, publish=True, author_id=users[0],
        allowed_categories=allowed,
    )  # fmt: skip
    saved = revisions.restore(db, store, ARTICLE, 1, author_id=users[1], allowed_categories=allowed)
    assert saved.revision.number == 3 and saved.revision.kind == "draft"
    # Published article: the restored text waits as a draft; customers still see revision 2.
    assert "Überarbeitet." in _path(store, ARTICLE).read_text(encoding="utf-8")
    copy = revisions.working_copy(db, store, ARTICLE)
    assert copy.pending and copy.working.body.strip() == original.strip()
    assert [r.number for r in revisions.history(db, ARTICLE)] == [1, 2, 3]
    with pytest.raises(NotFound):
        revisions.restore(db, store, ARTICLE, 42, author_id=users[1], allowed_categories=allowed)


def test_written_revision_skips_drafts_of_a_live_article(db, store, users, allowed):
    data = _edit(db, store, ARTICLE, body="Entwurf eins.")
    for base in (1, 2):
        revisions.save(
            db, store, ARTICLE, data, base=base, publish=False, author_id=users[0],
            allowed_categories=allowed,
        )  # fmt: skip
    history = revisions.history(db, ARTICLE)
    assert [r.kind for r in history] == ["imported", "draft", "draft"]
    assert revisions.written_revision(history) is history[0]


def test_validation_names_the_field(settings, allowed):
    data = ArticleInput(
        title="", category="Gibt es nicht", tags=["x" * 50], body="## \n\nText [a](kb:999)"
    )
    errors = validate(data, kb_dir=settings.kb_dir, allowed_categories=allowed, known_ids={1})
    assert errors["title"] == ["Bitte geben Sie einen Titel ein."]
    assert "Unbekannte Kategorie „Gibt es nicht“" in errors["category"][0]
    assert "zu lang" in errors["tags"][0]
    assert "Zeile 1: Leere Überschrift." in errors["body"]
    assert "Zeile 3: Link auf unbekannten Artikel „kb:999“." in errors["body"]
    empty = ArticleInput(title="T", category=allowed[0], body="")
    assert validate(empty, kb_dir=settings.kb_dir, allowed_categories=allowed) == {
        "body": ["Der Artikel hat keinen Text."]
    }


def test_invalid_input_is_refused_and_nothing_written(db, store, users, allowed):
    before = _path(store, ARTICLE).read_text(encoding="utf-8")
    data = _edit(db, store, ARTICLE, title="")
    with pytest.raises(Invalid) as caught:
        revisions.save(
            db, store, ARTICLE, data, base=1, publish=True, author_id=users[0],
            allowed_categories=allowed,
        )  # fmt: skip
    assert "title" in caught.value.errors
    assert _path(store, ARTICLE).read_text(encoding="utf-8") == before


def test_tags_and_form_input_are_tidied():
    assert parse_tags(" a, b ,,a\nc  d ") == ["a", "b", "c d"]
    data = ArticleInput.from_form(
        title="  Zwei   Wörter ", category=" Domains ", tags="x", body="\r\nZeile\r\n", lang="de"
    )
    assert (data.title, data.category, data.body) == ("Zwei Wörter", "Domains", "Zeile")


def test_diff_lines():
    lines = revisions.diff("a\nb\n", "a\nc\n", "alt", "neu")
    assert [line.kind for line in lines] == ["head", "head", "hunk", "same", "del", "add"]


def test_catalog_search_filters_and_states(db, store, users, allowed):
    items = catalog.entries(store)
    assert len(items) == 20
    assert [e.id for e in catalog.search(items, "rechnungsadresse")] == [3]
    assert [e.id for e in catalog.search(items, "RECHNUNGSADRESSE hinzufuegen")] == [3]
    assert [e.id for e in catalog.search(items, "#3")] == [3]
    assert {e.category for e in catalog.search(items, category="Domains")} == {"Domains"}
    assert catalog.search(items, lang="fr") == []
    data = _edit(db, store, ARTICLE, body="Nur im Entwurf.")
    revisions.save(
        db, store, ARTICLE, data, base=1, publish=False, author_id=users[0],
        allowed_categories=allowed,
    )  # fmt: skip
    rows = revisions.overview(db, store, status="changed")
    assert [(e.id, s) for e, s in rows] == [(3, "changed")]
    assert len(revisions.overview(db, store, status="published")) == 19
    # A changed file is read again (the cache compares modification time and size).
    path = _path(store, 5)
    path.write_text(path.read_text(encoding="utf-8") + "\nZauberwort\n", encoding="utf-8")
    assert [e.id for e in catalog.search(catalog.entries(store), "zauberwort")] == [5]
