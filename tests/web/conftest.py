"""Fixtures for the web app: ``app`` and ``client`` as in the Flask tutorial, with fakes for
the bot and the KB service, and staff accounts of every role."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.db import get_sessionmaker, session_scope
from core.settings import Settings
from core.users import add_user
from tests.web.fakes import FakeBot, FakeKb
from web import create_app

PASSWORD = "richtig-langes-passwort"
ROLES = ("agent", "editor", "admin")


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings, database_url=f"sqlite:///{settings.data_dir / 'web.db'}", demo=False
    )


@pytest.fixture
def fake_bot() -> FakeBot:
    return FakeBot()


@pytest.fixture
def fake_kb() -> FakeKb:
    return FakeKb()


@pytest.fixture
def app(web_settings: Settings, fake_bot: FakeBot, fake_kb: FakeKb) -> Flask:
    app = create_app(
        {
            "TESTING": True,
            "SETTINGS": web_settings,
            "RASA_CLIENT": fake_bot,
            "KB_CLIENT": fake_kb,
            # CSRF stays on: the tests send tokens like a browser does.
        }
    )
    with session_scope(get_sessionmaker(web_settings)) as session:
        for role in ROLES:
            add_user(session, role, PASSWORD, role)
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the current session, read from a page's form like a browser."""
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'name="csrf-token" content="([^"]+)"', html
    )
    assert match, f"no CSRF token on {path}"
    return match.group(1)


@pytest.fixture
def login(client: FlaskClient) -> Callable[[str], FlaskClient]:
    def log_in(role: str) -> FlaskClient:
        token = csrf_token(client)
        response = client.post(
            "/login", data={"username": role, "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return log_in
