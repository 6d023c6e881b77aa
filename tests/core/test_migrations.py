"""The migrations (core/migrations) and ``core.db.upgrade``: they make exactly the models'
schema, and a database from before them, with rows in it, is taken over without losing any.

Each test runs on SQLite and, marked slow, on a throw-away PostgreSQL server
(bench/services.py; skipped when PostgreSQL is not installed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, inspect, select, text
from sqlalchemy.engine import make_url

from bench.services import postgres, postgres_bin
from core import migrations
from core.conversations import Conversation
from core.db import init_db, make_engine, session_factory, session_scope, upgrade
from core.models import Customer, UTCDateTime
from core.settings import REPO_ROOT

UNMIGRATED = "a model changed without a migration: helpdesk db revision -m '…' writes it"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CONVERSATION = "c0ffee" * 5


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[str]:
    if postgres_bin() is None:
        pytest.skip("PostgreSQL not installed (scripts/install-test-services.sh)")
    with postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def new_url(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """Makes an empty database of the parametrized kind and returns its URL."""
    if request.param == "sqlite":
        return lambda: f"sqlite:///{tmp_path / uuid.uuid4().hex}.db"
    server = request.getfixturevalue("postgres_server")

    def new_postgres() -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        admin = make_engine(server).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
        admin.dispose()
        return make_url(server).set(database=name).render_as_string(hide_password=False)

    return new_postgres


@pytest.fixture
def url(new_url: Callable[[], str]) -> str:
    return new_url()


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    yield engine
    engine.dispose()


LATER = """
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "9001"
down_revision = {head!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
{body}


def downgrade() -> None:
    pass
"""


@pytest.fixture
def later_migration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    """Adds a revision after the real ones, in a folder of the test's own; returns its id."""
    folder = tmp_path / "later_versions"
    folder.mkdir()
    real_config = migrations.config

    def config(connection: sa.Connection | None = None) -> Config:
        cfg = real_config(connection)
        versions = [str(migrations.HERE / "versions"), str(folder)]
        cfg.set_main_option("version_locations", os.pathsep.join(versions))
        return cfg

    def add(body: str) -> str:
        code = LATER.format(
            head=migrations.head(), body=textwrap.indent(textwrap.dedent(body).strip(), "    ")
        )
        (folder / "9001_later.py").write_text(code, encoding="utf-8")
        monkeypatch.setattr(migrations, "config", config)
        monkeypatch.setattr(migrations, "_scripts", None)  # read the revisions again
        return "9001"

    return add


def _models() -> MetaData:
    return migrations.target_metadata()


def _old_schema() -> MetaData:
    """The schema of an earlier version: no ``clarify_choices`` yet, and ``kb_questions``
    without the ``verdict`` column (and its index) the models gained later."""
    old = MetaData(naming_convention=_models().naming_convention)
    for table in _models().sorted_tables:
        if table.name not in ("clarify_choices", "kb_questions"):
            table.to_metadata(old)
    sa.Table(
        "kb_questions",
        old,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("conversation_id", sa.String(128), nullable=False, index=True),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("article_id", sa.Integer, index=True),
        sa.Column("confidence", sa.Double, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False, index=True),
    )
    return old


def _fill(engine: Engine, schema: MetaData) -> None:
    """Rows in most tables, as an installation in use has them."""
    rows: dict[str, list[dict[str, Any]]] = {
        "customers": [
            {"id": 1, "name": "Muster AG", "email": "info@muster.example"},
            {"id": 2, "name": "Beispiel GmbH", "email": None},
        ],
        "access_codes": [
            {"id": 1, "customer_id": 1, "kind": "support", "digest": "a" * 64},
            {"id": 2, "customer_id": 2, "kind": "vip", "digest": "b" * 64},
        ],
        "invoices": [
            {
                "id": 1,
                "number": "INV-2026-1001",
                "customer_id": 1,
                "amount": Decimal("129.90"),
                "currency": "CHF",
                "reference": "RF18 2026 1001",
                "issued_on": date(2026, 1, 5),
                "due_on": date(2026, 2, 4),
            }
        ],
        "reminders": [{"id": 1, "invoice_id": 1, "sent_on": date(2026, 2, 20), "level": 1}],
        "payments": [
            {
                "id": 1,
                "customer_id": 1,
                "invoice_id": 1,
                "amount": Decimal("50.00"),
                "currency": "CHF",
                "reference": "RF18 2026 1001",
                "method": "transfer",
                "received_on": date(2026, 2, 1),
                "credited_to": "invoice",
            }
        ],
        "prepaid_accounts": [
            {"id": 1, "customer_id": 2, "balance": Decimal("120.00"), "currency": "EUR"}
        ],
        "users": [
            {
                "id": 1,
                "username": "anna.agent",
                "password_hash": "pbkdf2:sha256:1$salt$hash",
                "role": "agent",
                "active": True,
                "created_at": NOW,
            }
        ],
        "conversations": [
            {
                "id": CONVERSATION,
                "created_at": NOW,
                "updated_at": NOW,
                "state": "agent",
                "priority": True,
                "handed_off_at": NOW,
                "agent_id": 1,
                "customer_id": 1,
                "handoffs": 1,
            }
        ],
        "chat_messages": [
            {
                "id": i,
                "conversation_id": CONVERSATION,
                "created_at": NOW,
                "sender": sender,
                "text": message,
                "data": data,
                "agent_id": 1 if sender == "agent" else None,
            }
            for i, (sender, message, data) in enumerate(
                [
                    ("customer", "Warum habe ich eine Mahnung?", {}),
                    ("bot", "Ich verbinde Sie.", {"buttons": [{"title": "Ja"}], "limited": True}),
                    ("agent", "Guten Tag, ich schaue nach.", {}),
                ],
                start=1,
            )
        ],
        "handoffs": [
            {
                "id": 1,
                "conversation_id": CONVERSATION,
                "created_at": NOW,
                "reason": "customer_request",
                "priority": True,
                "customer_id": 1,
                "transcript": [{"role": "customer", "text": "Hallo", "time": None}],
                "status": "assigned",
                "closed_at": None,
            }
        ],
        "article_revisions": [
            {
                "id": 1,
                "article_id": 3,
                "number": 1,
                "kind": "published",
                "title": "Rechnungsadresse hinzufügen",
                "text": "---\nid: 3\ntitle: Rechnungsadresse hinzufügen\n---\nSo geht es.",
                "author_id": 1,
                "created_at": NOW,
            }
        ],
        "kb_questions": [
            {
                "id": 1,
                "conversation_id": CONVERSATION,
                "query": "Wie ändere ich die Rechnungsadresse?",
                "article_id": 3,
                "confidence": 0.87,
                "created_at": NOW,
            }
        ],
        "feedback": [
            {
                "id": 1,
                "conversation_id": CONVERSATION,
                "article_id": 3,
                "query": "Rechnungsadresse",
                "helpful": True,
                "created_at": NOW,
            }
        ],
    }
    with engine.begin() as connection:
        for table in schema.sorted_tables:
            if table.name in rows:
                connection.execute(sa.insert(table), rows[table.name])


def _rows(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of our tables as stored, read without the models."""
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names()) & set(_models().tables)
        return {
            table: [
                dict(row)
                for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY 1")).mappings()
            ]
            for table in sorted(tables)
        }


def _differences(engine: Engine) -> list[Any]:
    """What Alembic's autogenerate would change to make the database the models' schema."""
    with engine.connect() as connection:
        options = migrations.context_options(connection)
        context = MigrationContext.configure(connection, opts=options)
        return compare_metadata(context, options["target_metadata"])


def _revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _schema(engine: Engine) -> dict[str, dict[str, Any]]:
    """The reflected schema, check constraints included (which autogenerate never compares)."""
    found = inspect(engine)
    schema = {}
    for table in sorted(set(found.get_table_names()) - {"alembic_version"}):
        schema[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                for c in found.get_columns(table)
            ],
            "primary key": found.get_pk_constraint(table)["constrained_columns"],
            "foreign keys": sorted(
                (f["constrained_columns"], f["referred_table"], f["options"].get("ondelete"))
                for f in found.get_foreign_keys(table)
            ),
            "unique": sorted(
                (str(u["name"]), u["column_names"]) for u in found.get_unique_constraints(table)
            ),
            "indexes": sorted(
                (str(i["name"]), i["column_names"], bool(i["unique"]))
                for i in found.get_indexes(table)
            ),
            "checks": sorted((c["name"], c["sqltext"]) for c in found.get_check_constraints(table)),
        }
    return schema


def _ours(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [row for row in rows if row[2] != "alembic_version"]


def test_migrations_make_the_models_schema(engine: Engine, new_url: Callable[[], str]) -> None:
    done = upgrade(engine)
    assert done.created and not done.adopted
    assert done.before is None and done.after == migrations.head() == _revision(engine)
    assert _differences(engine) == [], UNMIGRATED
    # The same as create_all, check constraints (which autogenerate never compares) included.
    created = make_engine(new_url())
    _models().create_all(created)
    assert _schema(engine) == _schema(created)
    if engine.dialect.name == "sqlite":  # there, even the statements are the same
        ddl = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
        with engine.connect() as one, created.connect() as other:
            assert _ours(one.exec_driver_sql(ddl).all()) == other.exec_driver_sql(ddl).all()
    created.dispose()


def test_database_from_before_migrations_keeps_every_row(engine: Engine) -> None:
    _models().create_all(engine)  # what init_db did before migrations: no alembic_version
    _fill(engine, _models())
    before = _rows(engine)
    assert sum(map(len, before.values())) >= 15

    done = upgrade(engine)

    assert done.adopted and not done.created
    assert done.before is None and done.after == migrations.head() == _revision(engine)
    assert _rows(engine) == before
    assert _differences(engine) == []
    with session_scope(session_factory(engine)) as session:
        customer = session.scalars(select(Customer).where(Customer.name == "Muster AG")).one()
        assert [code.kind for code in customer.access_codes] == ["support"]
        assert customer.invoices[0].amount == Decimal("129.90")
        assert customer.invoices[0].reminders[0].level == 1
        conversation = session.get(Conversation, CONVERSATION)
        assert conversation is not None and conversation.handed_off_at == NOW
        assert [m.sender for m in conversation.messages] == ["customer", "bot", "agent"]
        assert conversation.messages[1].data["buttons"] == [{"title": "Ja"}]


def test_older_schema_gains_the_table_column_and_index_it_lacked(engine: Engine) -> None:
    _old_schema().create_all(engine)
    _fill(engine, _old_schema())
    before = _rows(engine)
    assert "clarify_choices" not in before

    done = upgrade(engine)

    assert done.adopted and _revision(engine) == migrations.head()
    after = _rows(engine)
    assert after.pop("clarify_choices") == []
    before["kb_questions"] = [{**row, "verdict": None} for row in before["kb_questions"]]
    assert after == before
    indexes = {index["name"] for index in inspect(engine).get_indexes("kb_questions")}
    assert "ix_kb_questions_verdict" in indexes
    assert _differences(engine) == []


def test_later_migration_runs_after_adoption_and_keeps_rows_of_copied_tables(
    engine: Engine, later_migration: Callable[[str], str]
) -> None:
    # On SQLite a type change copies the table; customers is the parent of codes, invoices,
    # payments … with ON DELETE CASCADE, which the copy's DROP must not set off.
    later = later_migration(
        """
        with op.batch_alter_table("customers") as batch:
            batch.alter_column(
                "email", type_=sa.String(length=400), existing_type=sa.String(length=320)
            )
        """
    )
    _models().create_all(engine)
    _fill(engine, _models())
    before = _rows(engine)

    done = upgrade(engine)

    assert done.adopted and done.after == later == _revision(engine)
    assert _rows(engine) == before
    email = next(c for c in inspect(engine).get_columns("customers") if c["name"] == "email")
    assert email["type"].length == 400


def test_failed_migration_leaves_the_database_as_it_was(
    engine: Engine, later_migration: Callable[[str], str]
) -> None:
    later_migration(
        """
        op.add_column("customers", sa.Column("phone", sa.String(length=40)))
        raise RuntimeError("the migration failed half-way")
        """
    )
    _old_schema().create_all(engine)
    _fill(engine, _old_schema())
    before, schema = _rows(engine), _schema(engine)

    with pytest.raises(RuntimeError, match="half-way"):
        upgrade(engine)

    # Not even the adoption's new table and column: all of it was one transaction.
    assert _schema(engine) == schema and _rows(engine) == before
    assert "alembic_version" not in inspect(engine).get_table_names()


def test_tables_of_others_in_the_same_database_are_left_alone(engine: Engine) -> None:
    # Rasa's tracker store may share the database (tests/e2e/test_stores.py): not ours, so
    # the database still counts as new, and the comparison does not offer to drop it.
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE events (id INTEGER PRIMARY KEY, data TEXT)")
        connection.exec_driver_sql("INSERT INTO events (id, data) VALUES (1, 'rasa')")
    assert upgrade(engine).created
    assert _differences(engine) == []
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT data FROM events").scalar() == "rasa"


def test_init_db_migrates_once_then_only_checks(engine: Engine) -> None:
    init_db(engine)
    init_db(engine)
    assert upgrade(engine) == upgrade(engine)
    assert upgrade(engine).before == migrations.head()


# Waits for the go file, so that all processes migrate at the same moment.
RACER = """
import json, pathlib, sys, time
from core.db import make_engine, upgrade

print("ready", flush=True)
go = pathlib.Path(sys.argv[2])
while not go.exists():
    time.sleep(0.002)
done = upgrade(make_engine(sys.argv[1]))
print(json.dumps({"created": done.created, "after": done.after}))
"""


def test_processes_starting_together_migrate_once(url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, url, str(go)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for racer in racers:
        assert racer.stdout is not None and racer.stdout.readline().strip() == "ready"
    go.touch()
    results = []
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        assert racer.returncode == 0, err
        results.append(json.loads(out))
    assert sum(result["created"] for result in results) == 1
    assert {result["after"] for result in results} == {migrations.head()}
    engine = make_engine(url)
    assert _differences(engine) == [] and _revision(engine) == migrations.head()
    engine.dispose()
