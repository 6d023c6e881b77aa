from __future__ import annotations

import dataclasses
import io

import pytest
from sqlalchemy import select

from core.db import get_sessionmaker, session_scope
from core.users import User, UserError, add_user, authenticate
from helpdesk import cli
from helpdesk.demo_accounts import ensure_demo_accounts


@pytest.fixture
def sessions(settings):
    return get_sessionmaker(
        dataclasses.replace(settings, database_url=f"sqlite:///{settings.data_dir / 'u.db'}")
    )


def test_password_is_hashed_and_checked(sessions):
    with session_scope(sessions) as session:
        user = add_user(session, "Anna", "ein-langes-passwort", "agent")
        assert user.username == "anna"
        assert "ein-langes-passwort" not in user.password_hash
        assert authenticate(session, "anna", "ein-langes-passwort") is user
        assert authenticate(session, "anna", "falsch-falsch") is None
        assert authenticate(session, "niemand", "ein-langes-passwort") is None


@pytest.mark.parametrize(
    ("name", "password", "role"),
    [("a", "ein-langes-passwort", "agent"), ("bob", "kurz", "agent"), ("bob", "x" * 12, "boss")],
)
def test_invalid_accounts_are_refused(sessions, name, password, role):
    with session_scope(sessions) as session, pytest.raises(UserError):
        add_user(session, name, password, role)


def test_duplicate_username_is_refused(sessions):
    with session_scope(sessions) as session:
        add_user(session, "anna", "ein-langes-passwort", "agent")
        with pytest.raises(UserError):
            add_user(session, "ANNA", "ein-langes-passwort", "editor")


def test_cli_users_add(settings, monkeypatch, capsys):
    url = f"sqlite:///{settings.data_dir / 'cli.db'}"
    monkeypatch.setenv("HELPDESK_DATABASE_URL", url)
    monkeypatch.setenv("HELPDESK_DATA_DIR", str(settings.data_dir))
    monkeypatch.setattr("sys.stdin", io.StringIO("ein-langes-passwort\n"))
    assert cli.main(["users", "add", "erik", "--role", "editor", "--password-stdin"]) == 0
    assert "ein-langes-passwort" not in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("ein-langes-passwort\n"))
    assert cli.main(["users", "add", "erik", "--role", "editor", "--password-stdin"]) == 2
    with session_scope(get_sessionmaker(dataclasses.replace(settings, database_url=url))) as s:
        assert s.scalar(select(User.role).where(User.username == "erik")) == "editor"


def test_demo_accounts_keep_their_passwords(sessions, settings):
    with session_scope(sessions) as session:
        first = ensure_demo_accounts(session, settings)
    with session_scope(sessions) as session:
        assert ensure_demo_accounts(session, settings) == first
        assert authenticate(session, "editor", first["editor"]).role == "editor"
    mode = (settings.data_dir / "demo_accounts.json").stat().st_mode & 0o777
    assert mode == 0o600
