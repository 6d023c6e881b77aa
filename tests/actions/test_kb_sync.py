"""An action server on machine B picks up what an editor published on machine A: its files
are written from the database and the article is re-indexed (actions/kb_sync.py)."""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from actions.kb_sync import KbSync
from actions.runtime import Runtime
from core.users import add_user
from kb.store import ArticleStore
from retrieval.retriever import Retriever
from tests.db_fixtures import CODE_KEY
from tests.fakes import FakeEmbedder
from tests.kb.publishing import publish

ARTICLE = 3
WORD = "Brieftaubenzustellung"


@pytest.fixture
def machine_b(settings, tmp_path: Path, sessions: sessionmaker[Session]) -> Runtime:
    kb_copy = tmp_path / "machine-b" / "kb"
    shutil.copytree(settings.kb_dir, kb_copy)
    b = dataclasses.replace(
        settings, kb_dir=kb_copy, data_dir=tmp_path / "machine-b" / "var", kb_sync_interval=0.1
    )
    retriever = Retriever(b, embedder=FakeEmbedder())
    retriever.load()
    return Runtime(settings=b, sessions=sessions, code_key=CODE_KEY, kb=retriever)


def _publish_on_a(settings, sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        editor = add_user(db, "anna", "richtig-langes-passwort", "editor")
        section = f"## Sonderfall\n\nDie {WORD} ist ausgeschlossen."
        publish(db, ArticleStore(settings.kb_dir), ARTICLE, author_id=editor.id, append=section)


def _found(runtime: Runtime) -> bool:
    """The new section is in the index (the fake model ranks nothing by meaning)."""
    chunks = runtime.kb.index.chunks
    return any(c.article_id == ARTICLE and WORD in c.markdown for c in chunks)


def test_step_writes_the_file_and_reindexes(settings, sessions, machine_b):
    sync = KbSync(machine_b)
    assert sync.step() is None  # nothing published: nothing re-indexed
    assert not _found(machine_b)
    _publish_on_a(settings, sessions)
    report = sync.step()
    assert report is not None and report.articles > 0
    assert _found(machine_b)


def test_the_thread_finds_it_within_the_interval(settings, sessions, machine_b):
    sync = KbSync(machine_b)
    sync.files()
    sync.start()
    try:
        _publish_on_a(settings, sessions)
        deadline = time.monotonic() + 5
        while not _found(machine_b) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _found(machine_b)
    finally:
        sync.stop()


def test_an_interval_of_zero_starts_no_thread(machine_b):
    runtime = dataclasses.replace(
        machine_b, settings=dataclasses.replace(machine_b.settings, kb_sync_interval=0)
    )
    sync = KbSync(runtime)
    sync.start()
    assert sync._thread is None


def test_a_file_this_machines_web_app_wrote_is_still_reindexed(settings, sessions, tmp_path):
    """One machine: the web app writes the file the action server indexes, and may have
    asked another action server to re-index. The new revision alone must make this one
    re-index."""
    same_files = dataclasses.replace(settings, data_dir=tmp_path / "same", kb_sync_interval=0)
    retriever = Retriever(same_files, embedder=FakeEmbedder())
    retriever.load()
    runtime = Runtime(settings=same_files, sessions=sessions, code_key=CODE_KEY, kb=retriever)
    sync = KbSync(runtime)
    sync.step()  # the first look: the index was built from these very files
    _publish_on_a(settings, sessions)  # writes settings.kb_dir: this machine's files
    assert not _found(runtime)
    report = sync.step()  # nothing left to write, but a new revision: re-indexed
    assert report is not None and _found(runtime)
