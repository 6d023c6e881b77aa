"""`helpdesk db upgrade` and `helpdesk db revision`: the database migrated, the revision told."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from core import migrations
from core.db import make_engine
from core.settings import REPO_ROOT
from helpdesk import cli
from helpdesk.ports import free_port


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'var' / 'helpdesk.db'}"
    monkeypatch.setenv("HELPDESK_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HELPDESK_DATABASE_URL", url)
    return url


def test_upgrade_creates_the_database_then_finds_it_up_to_date(database_url, capsys) -> None:
    up_to_date = f"Datenbank ist auf dem neuesten Stand (Revision {migrations.head()}, "
    assert cli.main(["db", "upgrade"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith("Neue Datenbank angelegt.\n")
    assert f"{up_to_date}{database_url})." in out

    assert cli.main(["db", "upgrade"]) == cli.EXIT_OK
    assert capsys.readouterr().out == f"{up_to_date}{database_url}).\n"


def test_upgrade_takes_over_a_database_from_before_migrations(database_url, capsys) -> None:
    engine = make_engine(database_url)
    migrations.target_metadata().create_all(engine)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO customers (id, name) VALUES (1, 'Muster AG')"))

    assert cli.main(["db", "upgrade"]) == cli.EXIT_OK

    out = capsys.readouterr().out
    assert "Bestehende Datenbank übernommen" in out and "alle Daten erhalten" in out
    assert f"(Revision {migrations.head()}, " in out
    with engine.connect() as connection:
        assert connection.execute(text("SELECT name FROM customers")).scalars().all() == [
            "Muster AG"
        ]
    engine.dispose()


def test_upgrade_of_an_unreachable_database_fails_with_the_reason(monkeypatch, capsys) -> None:
    url = f"postgresql://helpdesk:geheim@127.0.0.1:{free_port()}/helpdesk"
    monkeypatch.setenv("HELPDESK_DATABASE_URL", url)
    assert cli.main(["db", "upgrade"]) == cli.EXIT_FAILED
    err = capsys.readouterr().err
    assert err.startswith("Fehler: Die Datenbank (postgresql://helpdesk:***@127.0.0.1:")
    assert "geheim" not in err and "wurde nicht migriert" in err


def test_revision_without_model_changes_writes_no_migration(monkeypatch, capsys) -> None:
    # Never a file in the source tree from a test, even when a model did change.
    monkeypatch.setattr(command, "revision", lambda *a, **k: pytest.fail("models changed"))
    versions = migrations.HERE / "versions"
    files = sorted(versions.glob("*.py"))
    assert cli.main(["db", "revision", "-m", "nichts"]) == cli.EXIT_OK
    assert "Die Modelle entsprechen den Migrationen: keine neue Revision" in capsys.readouterr().out
    assert sorted(versions.glob("*.py")) == files


def test_the_installed_command_runs(database_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "helpdesk.cli", "db", "upgrade"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"(Revision {migrations.head()}, {database_url})" in done.stdout
