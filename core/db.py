"""Connecting to the helpdesk database: engines, sessions and one transaction per unit of work.

SQLite (the default, ``var/helpdesk.db``) and PostgreSQL are both driven by the URL in
``Settings.database_url``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, MetaData, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from core.settings import Settings
from core.sqlite_wal import use_wal

# Seconds an SQLite write waits for another connection's.
_SQLITE_BUSY_SECONDS = 30.0


def _is_memory(database: str | None) -> bool:
    return not database or database == ":memory:" or database.startswith("file::memory:")


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        # SQLAlchemy 2.1 defaults to psycopg 3; the installed driver is psycopg2 (binary).
        parsed = parsed.set(drivername="postgresql+psycopg2")
    if parsed.get_backend_name() != "sqlite":
        # Connections idle in the pool may have been dropped by the server meanwhile.
        return create_engine(parsed, pool_pre_ping=True)
    memory = _is_memory(parsed.database)
    if not memory:
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {
        "connect_args": {
            # The action server and the web app use a session from worker threads.
            "check_same_thread": False,
            # pysqlite's default, 5 s, is short on a loaded machine where the web app, the
            # action server and a migration write at the same time.
            "timeout": _SQLITE_BUSY_SECONDS,
        },
    }
    if memory:
        # Every new connection would otherwise see its own, empty in-memory database.
        options["poolclass"] = StaticPool
    engine = create_engine(parsed, **options)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # SQLite ignores foreign keys unless asked, per connection.
        cursor.execute("PRAGMA foreign_keys=ON")
        if not memory:
            # WAL: readers (the agent console) do not block the action server's writes.
            use_wal(cursor, _SQLITE_BUSY_SECONDS)
            # In WAL mode NORMAL is crash-safe (a power cut may lose the last commits, never
            # the database) and spares each chat message's commits a wait for the disk.
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def init_db(engine: Engine) -> None:
    """The schema ready for use: the database migrated to the newest revision (``upgrade``)."""
    from core import migrations

    # Every model module imported, as before migrations: a foreign key to another module's
    # table (conversations → users) resolves only once that module is loaded.
    migrations.target_metadata()
    upgrade(engine)


@dataclass(frozen=True)
class Migrated:
    """What ``upgrade`` found and did."""

    before: str | None  # the revision found; None: no alembic_version (new or pre-migration)
    after: str  # the newest revision, where the database is now
    created: bool = False  # a new database: the tables were created
    adopted: bool = False  # tables from before migrations existed, taken over


def upgrade(engine: Engine) -> Migrated:
    """Bring the database to the newest migration (core/migrations), keeping every row.

    - At the newest revision: nothing to do (checked first without the lock).
    - None of our tables (a new database): every migration from the start. Today that costs
      what ``create_all`` costs (the initial revision is one), which matters for the hundreds
      of fresh databases the tests make; should replaying grow slow, ``create_all`` and a
      stamp of the newest revision is the same schema (tests/core/test_migrations.py proves
      it) and can take its place here.
    - Our tables but no ``alembic_version``: made by ``create_all`` before migrations existed.
      Missing tables, nullable columns and indexes of the initial revision are added (rows are
      never touched), the database is stamped with that revision, and upgraded from there.
    - Otherwise: upgraded from the revision it has.
    """
    from core import migrations

    head = migrations.head()
    with engine.connect() as connection:
        before = _revision(connection)
    if before == head:
        return Migrated(before, head)
    with _migration_lock(engine) as connection:
        before = _revision(connection)  # another process may have migrated meanwhile
        if before == head:
            return Migrated(before, head)
        created = adopted = False
        if before is None:
            initial = migrations.initial_schema()
            ours = set(inspect(connection).get_table_names()) & set(initial.tables)
            if ours:
                _adopt(connection, initial)
                migrations.run(connection, migrations.INITIAL, stamp=True)
                adopted = True
            else:
                created = True
        migrations.run(connection, head)
        after = _revision(connection)
    assert after == head, f"migrated to {after}, expected {head}"
    return Migrated(before, head, created=created, adopted=adopted)


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


# pg_advisory_xact_lock's key: any constant of our own ("help" in ASCII).
_PG_LOCK_KEY = 0x68656C70
# How long a second process waits for the one migrating on SQLite (pysqlite's default: 5 s).
_SQLITE_LOCK_WAIT_MS = 120_000


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """One connection in one transaction that only one process at a time gets, committed when
    the block succeeds: every process migrates on its first start (``get_sessionmaker``), and
    two starting together must not both create or alter the tables.

    The lock is the database's own, so it holds across processes and hosts with no lock file
    to go stale, and is released with the transaction even if the process dies:
    - PostgreSQL: ``pg_advisory_xact_lock`` (a transaction-level advisory lock); its DDL is
      transactional, so a failed migration leaves nothing behind.
    - SQLite: ``BEGIN IMMEDIATE`` takes the write lock at once (a plain BEGIN would only take
      it at the first write, after both processes read "no tables"); SQLite's DDL is
      transactional too. Foreign keys are switched off for the migration, as SQLite's own
      procedure for altering a table asks (a batch migration copies and drops tables, and
      dropping a parent table with them on would cascade to its children); whether every
      reference still holds is checked before the commit.
    """
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            with _sqlite_locked(connection):
                yield connection
        else:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY}
                    )
                yield connection


@contextmanager
def _sqlite_locked(connection: Connection) -> Iterator[None]:
    waited = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
    # Before BEGIN: foreign_keys does nothing inside a transaction (and pysqlite begins none
    # for a PRAGMA).
    connection.exec_driver_sql(f"PRAGMA busy_timeout = {_SQLITE_LOCK_WAIT_MS}")
    connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        # Only what the migration broke counts: old rows are not this transaction's business.
        already = set(connection.exec_driver_sql("PRAGMA foreign_key_check").all())
        yield
        broken = set(connection.exec_driver_sql("PRAGMA foreign_key_check").all()) - already
        if broken:
            raise RuntimeError(f"the migration broke foreign keys: {sorted(broken)[:5]}")
        connection.commit()
    finally:
        connection.rollback()
        connection.exec_driver_sql("PRAGMA foreign_keys = ON")
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(waited)}")
        connection.commit()


def _adopt(connection: Connection, schema: MetaData) -> None:
    """Bring tables made by ``create_all`` before migrations existed to ``schema``: create the
    missing tables, add missing nullable columns and missing indexes; rows are not touched."""
    existing = inspect(connection)
    present = set(existing.get_table_names())
    indexes = {
        table: {index["name"] for index in existing.get_indexes(table)}
        for table in present & set(schema.tables)
    }
    schema.create_all(connection)  # the missing tables only (checkfirst)
    add_missing_columns(connection, schema)
    # Columns added above (and by add_missing_columns before migrations) lack their index.
    for table, names in indexes.items():
        for index in schema.tables[table].indexes:
            if index.name not in names:
                index.create(connection)


def add_missing_columns(connection: Connection, schema: MetaData) -> None:
    """Add the nullable columns of ``schema`` that its existing tables lack.

    ``create_all`` leaves existing tables alone, so a database from an earlier version lacks
    them; only additions of nullable columns are done here, never changes or drops.
    """
    existing = inspect(connection)
    tables = set(existing.get_table_names())
    for table in schema.sorted_tables:
        if table.name not in tables:
            continue
        present = {c["name"] for c in existing.get_columns(table.name)}
        for column in table.columns:
            if column.name in present or not column.nullable:
                continue
            kind = column.type.compile(dialect=connection.dialect)
            connection.execute(
                text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}')
            )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    # Objects stay readable after commit: callers build replies from them afterwards.
    return sessionmaker(bind=engine, expire_on_commit=False)


_makers: dict[str, sessionmaker[Session]] = {}
_makers_lock = threading.Lock()


def get_sessionmaker(settings: Settings) -> sessionmaker[Session]:
    """The process-wide session factory for ``settings.database_url``, tables created.

    Cached per URL so that a server creates its engine (and connection pool) once.
    """
    url = settings.database_url
    with _makers_lock:
        maker = _makers.get(url)
        if maker is None:
            engine = make_engine(url)
            init_db(engine)
            maker = _makers[url] = session_factory(engine)
        return maker


@contextmanager
def session_scope(maker: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: committed when the block succeeds, rolled back when it raises."""
    session = maker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
