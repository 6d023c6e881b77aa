"""What the actions need from the rest of the system, created once per process.

The Rasa action classes take their dependencies from :func:`get_runtime`; tests put fakes in
with :func:`use_runtime`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.orm import Session, sessionmaker

from core.db import get_sessionmaker, session_scope
from core.keys import code_key
from core.settings import Settings, load_settings
from retrieval.follow_up import KnowledgeBase


@dataclass
class Runtime:
    settings: Settings
    sessions: sessionmaker[Session]
    code_key: bytes
    kb: KnowledgeBase

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.sessions) as session:
            yield session


class _Default:
    @cached_property
    def services(self) -> Runtime:
        from retrieval.retriever import get_retriever

        settings = load_settings()
        return Runtime(
            settings=settings,
            sessions=get_sessionmaker(settings),
            code_key=code_key(settings),
            kb=get_retriever(),
        )


_default = _Default()
_override: list[Runtime] = []


def get_runtime() -> Runtime:
    return _override[-1] if _override else _default.services


@contextmanager
def use_runtime(services: Runtime) -> Iterator[Runtime]:
    _override.append(services)
    try:
        yield services
    finally:
        _override.pop()
