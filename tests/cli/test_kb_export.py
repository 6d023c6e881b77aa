"""`helpdesk kb export`: this machine's article files brought to what the database has
published (through any machine), for a backup or a commit to git."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.db import get_sessionmaker, session_scope
from helpdesk import cli
from kb import catalog
from kb.store import ArticleStore
from tests.kb.publishing import publish

ARTICLE = 3
SENTENCE = "Dieser Satz kam über die Datenbank."


@pytest.fixture
def export_dir(settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The exporting machine's own copy of the KB, sharing the database with ``settings``."""
    copy = tmp_path / "export" / "kb"
    shutil.copytree(settings.kb_dir, copy)
    monkeypatch.setenv("HELPDESK_KB_DIR", str(copy))
    monkeypatch.setenv("HELPDESK_DATA_DIR", str(tmp_path / "export" / "var"))
    monkeypatch.setenv("HELPDESK_DATABASE_URL", settings.database_url)
    return copy


def _publish_elsewhere(settings) -> None:
    with session_scope(get_sessionmaker(settings)) as db:
        publish(db, ArticleStore(settings.kb_dir), ARTICLE, append=SENTENCE)


def test_export_writes_what_was_published_elsewhere(settings, export_dir, capsys):
    _publish_elsewhere(settings)
    assert cli.main(["kb", "export"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert f"geschrieben      {ARTICLE}" in out and "1 Artikel aus der Datenbank" in out
    article = catalog.find(ArticleStore(export_dir), ARTICLE)
    assert article is not None and SENTENCE in article.body
    # Again: nothing left to write.
    assert cli.main(["kb", "export"]) == cli.EXIT_OK
    assert "0 Artikel aus der Datenbank geschrieben" in capsys.readouterr().out


def test_export_keeps_and_names_a_file_edited_here(settings, export_dir, capsys):
    _publish_elsewhere(settings)
    path = catalog.path_of(ArticleStore(export_dir), ARTICLE)
    assert path is not None
    path.write_text(path.read_text(encoding="utf-8") + "\nHier von Hand.\n", encoding="utf-8")
    assert cli.main(["kb", "export"]) == cli.EXIT_FAILED
    out = capsys.readouterr().out
    assert f"behalten     {path}" in out
    assert "Hier von Hand." in path.read_text(encoding="utf-8")
