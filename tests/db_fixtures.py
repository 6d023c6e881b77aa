"""Database fixtures for the domain and action tests: a fresh SQLite database per test,
the demo data on request. Imported by the conftest of each package that uses them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db import init_db, make_engine, session_factory
from core.models import Customer
from helpdesk.demo import load_demo

CODE_KEY = b"test-hmac-key"


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'helpdesk.db'}")
    init_db(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as session:
        yield session


@pytest.fixture
def demo(session: Session) -> dict[str, int]:
    """The demo data loaded; customer ids by name."""
    load_demo(session, CODE_KEY)
    session.commit()
    return {c.name: c.id for c in session.scalars(select(Customer))}
