"""Two machines, one database: what one publishes reaches the other's files (kb.replica)."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from core.kb_records import ArticleRevision
from core.users import add_user
from kb import catalog, revisions, scope
from kb import replica as replica_module
from kb.article_input import ArticleInput, categories
from kb.replica import Replica
from kb.store import ArticleStore
from tests.kb.publishing import TODAY, publish

ARTICLE = 3  # published in the test KB


@pytest.fixture
def here(settings) -> ArticleStore:
    """Machine A: where the editor saves."""
    return ArticleStore(settings.kb_dir)


@pytest.fixture
def there(settings, tmp_path: Path) -> ArticleStore:
    """Machine B: its own copy of the same KB files, as deployed."""
    copy = tmp_path / "machine-b" / "kb"
    shutil.copytree(settings.kb_dir, copy)
    return ArticleStore(copy)


@pytest.fixture
def editor(db: Session) -> int:
    user = add_user(db, "anna", "richtig-langes-passwort", "editor")
    db.commit()
    return user.id


def _text(store: ArticleStore, article_id: int) -> str:
    path = catalog.path_of(store, article_id)
    assert path is not None
    return path.read_text(encoding="utf-8")


def test_a_published_change_reaches_the_other_machine(db, here, there, editor):
    replica = Replica(there)
    assert not replica.catch_up(db)  # nothing published yet: nothing to write
    publish(db, here, ARTICLE, author_id=editor, body="Neuer Text auf Maschine A.\n")
    changes = replica.catch_up(db)
    assert changes.articles == [ARTICLE]
    assert _text(there, ARTICLE) == _text(here, ARTICLE)
    assert "Neuer Text auf Maschine A." in _text(there, ARTICLE)
    # Nothing new: the next look costs two queries and writes nothing.
    assert not replica.catch_up(db)


def test_a_new_article_appears_and_an_unpublished_one_goes(db, here, there, editor):
    replica = Replica(there)
    data = ArticleInput.from_form(
        title="Neu auf Maschine A",
        category=categories(here.kb_dir)[0],
        tags="",
        body="Ein neuer Leitfaden.\n",
        lang="de",
    )
    created = revisions.create(
        db,
        here,
        data,
        publish=True,
        author_id=editor,
        allowed_categories=categories(here.kb_dir),
        today=TODAY,
    )
    db.commit()
    new_id = created.article.id
    assert replica.catch_up(db).articles == [new_id]
    article = catalog.find(there, new_id)
    assert article is not None and article.published
    assert article.path is not None and article.path.name == created.article.path.name

    newest = revisions.history(db, new_id)[-1].number
    revisions.unpublish(db, here, new_id, base=newest, author_id=editor, today=TODAY)
    db.commit()
    assert replica.catch_up(db).articles == [new_id]
    gone = catalog.find(there, new_id)
    assert gone is not None and not gone.published


def test_sync_takes_the_file_lock_only_when_something_moved(
    db, here, there, editor, tmp_path, monkeypatch
):
    locked: list[Path] = []

    @contextlib.contextmanager
    def recording_lock(data_dir: Path) -> Iterator[None]:
        locked.append(data_dir)
        yield

    monkeypatch.setattr(replica_module, "kb_lock", recording_lock)
    replica = Replica(there)
    replica.sync(db, tmp_path)  # the first look
    assert locked == [tmp_path]
    assert not replica.sync(db, tmp_path) and locked == [tmp_path]
    publish(db, here, ARTICLE, author_id=editor, body="Neuer Text.\n")
    assert replica.sync(db, tmp_path).articles == [ARTICLE]
    assert locked == [tmp_path, tmp_path]


def test_a_draft_of_a_published_article_is_not_written(db, here, there, editor):
    replica = Replica(there)
    before = _text(there, ARTICLE)
    publish(db, here, ARTICLE, author_id=editor, draft=True, body="Nur ein Entwurf.\n")
    assert not replica.catch_up(db).articles
    assert _text(there, ARTICLE) == before


def test_a_hand_edit_on_the_other_machine_is_kept(db, here, there, editor):
    replica = Replica(there)
    path = catalog.path_of(there, ARTICLE)
    assert path is not None
    hand_edit = path.read_text(encoding="utf-8") + "\nVon Hand ergänzt.\n"
    path.write_text(hand_edit, encoding="utf-8")
    publish(db, here, ARTICLE, author_id=editor, body="Neuer Text auf Maschine A.\n")
    changes = replica.catch_up(db)
    assert not changes.articles and changes.kept == [path]
    assert path.read_text(encoding="utf-8") == hand_edit


def test_a_revision_committed_late_with_a_lower_id_is_not_missed(db, here, there, editor):
    """Transactions commit in any order: the one with the lower id may become visible after
    a higher one was seen. The fingerprint covers every id, not only the highest."""
    replica = Replica(there)
    other = 5
    for opened in (ARTICLE, other):  # the editor records the deployed files first
        revisions.working_copy(db, here, opened)

    def published_with_id(revision_id: int, article_id: int, sentence: str) -> None:
        text = _text(here, article_id).replace("\n---\n", f"\n---\n{sentence}\n", 1)
        db.add(
            ArticleRevision(
                id=revision_id,
                article_id=article_id,
                number=2,
                kind="published",
                title="x",
                text=text,
                author_id=editor,
            )
        )
        db.commit()

    published_with_id(50, ARTICLE, "Zuerst sichtbar.")
    assert replica.catch_up(db).articles == [ARTICLE]
    published_with_id(10, other, "Spät sichtbar.")  # a lower id, seen only now
    assert replica.catch_up(db).articles == [other]
    assert "Spät sichtbar." in _text(there, other)


def test_the_out_of_scope_list_follows(db, here, there, editor):
    replica = Replica(there)
    replica.catch_up(db)
    newest = scope.sync(db, here.kb_dir)
    db.commit()
    scope.add_topic(db, here.kb_dir, "Domainpreise", base=newest.number, author_id=editor)
    db.commit()
    assert replica.catch_up(db).scope
    assert "Domainpreise" in scope.read_text(there.kb_dir)


def test_new_revisions_are_named_even_when_the_file_was_written_here(db, here, editor):
    """One machine: the web app wrote the file itself. Nothing is left to write, but the
    article has changed since the last look, and the action server must re-index it."""
    replica = Replica(here)
    assert not replica.catch_up(db).revised  # the first look: no "since" yet
    publish(db, here, ARTICLE, author_id=editor, body="Hier geschrieben.\n")
    newest = scope.sync(db, here.kb_dir)
    db.commit()
    scope.add_topic(db, here.kb_dir, "Domainpreise", base=newest.number, author_id=editor)
    db.commit()
    changes = replica.catch_up(db)
    assert changes.articles == [] and changes.revised == [ARTICLE]
    assert not changes.scope and changes.scope_revised
