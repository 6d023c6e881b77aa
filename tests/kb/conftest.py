from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from core.db import get_sessionmaker
from core.settings import Settings


@pytest.fixture
def db(settings: Settings) -> Iterator[Session]:
    """A session on the test's private database (the ``settings`` fixture's)."""
    session = get_sessionmaker(settings)()
    yield session
    session.close()
