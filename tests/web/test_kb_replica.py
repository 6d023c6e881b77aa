"""A second web replica with its own KB files: what an editor published through the first
shows in its guide pages and its editor without a restart (web/kb_replica.py)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from flask import Flask

from core.db import get_sessionmaker, session_scope
from kb.store import ArticleStore
from tests.kb.publishing import publish
from tests.web.conftest import PASSWORD, csrf_token
from tests.web.fakes import FakeBot, FakeKb
from web import create_app

ARTICLE = 3
SENTENCE = "Die Zustellung per Brieftaube ist ausgeschlossen."


@pytest.fixture
def replica_b(web_settings, tmp_path: Path) -> Flask:
    kb_copy = tmp_path / "machine-b" / "kb"
    shutil.copytree(web_settings.kb_dir, kb_copy)
    settings_b = dataclasses.replace(
        web_settings, kb_dir=kb_copy, data_dir=tmp_path / "machine-b" / "var"
    )
    return create_app(
        {"TESTING": True, "SETTINGS": settings_b, "RASA_CLIENT": FakeBot(), "KB_CLIENT": FakeKb()}
    )


def _publish_through_a(web_settings, **changes) -> None:
    with session_scope(get_sessionmaker(web_settings)) as db:
        publish(db, ArticleStore(web_settings.kb_dir), ARTICLE, append=SENTENCE, **changes)


def test_guide_page_on_b_shows_what_a_published(app, web_settings, replica_b):
    client_b = replica_b.test_client()
    assert SENTENCE not in client_b.get(f"/hilfe/{ARTICLE}").get_data(as_text=True)
    _publish_through_a(web_settings)
    assert SENTENCE in client_b.get(f"/hilfe/{ARTICLE}").get_data(as_text=True)


def test_editor_on_b_lists_the_new_title(app, web_settings, replica_b):
    _publish_through_a(web_settings, title="Rechnungsadresse per Brieftaube")
    client_b = replica_b.test_client()
    token = csrf_token(client_b)
    client_b.post("/login", data={"username": "editor", "password": PASSWORD, "csrf_token": token})
    page = client_b.get("/editor/").get_data(as_text=True)
    assert "Rechnungsadresse per Brieftaube" in page
