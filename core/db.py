"""Connecting to the helpdesk database: engines, sessions and one transaction per unit of work.

SQLite (the default, ``var/helpdesk.db``) and PostgreSQL are both driven by the URL in
``Settings.database_url``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from core.models import Base
from core.settings import Settings


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
        # The action server and the web app use a session from worker threads.
        "connect_args": {"check_same_thread": False},
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
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL is crash-safe (a power cut may lose the last commits, never
            # the database) and spares each chat message's commits a wait for the disk.
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def init_db(engine: Engine) -> None:
    """Create every table that does not exist yet (existing ones are left as they are)."""
    # Tables defined outside core.models register on Base when imported.
    import core.conversations
    import core.kb_records
    import core.users  # noqa: F401

    Base.metadata.create_all(engine)
    add_missing_columns(engine)


def add_missing_columns(engine: Engine) -> None:
    """Add nullable columns that the models gained since a table was created.

    ``create_all`` leaves existing tables alone, so a database from an earlier version would
    lack them; only additions of nullable columns are done here, never changes or drops.
    """
    existing = inspect(engine)
    tables = set(existing.get_table_names())
    with engine.begin() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name not in tables:
                continue
            present = {c["name"] for c in existing.get_columns(table.name)}
            for column in table.columns:
                if column.name in present or not column.nullable:
                    continue
                kind = column.type.compile(dialect=engine.dialect)
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
