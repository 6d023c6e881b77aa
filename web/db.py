"""One database session per request, committed by the view that changes something."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from core.db import get_sessionmaker
from core.settings import Settings


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions["helpdesk.sessions"] = get_sessionmaker(settings)
    app.teardown_appcontext(_close)


def get_db() -> Session:
    if "db" not in g:
        g.db = current_app.extensions["helpdesk.sessions"]()
    return g.db


def _close(exc: BaseException | None) -> None:
    session: Session | None = g.pop("db", None)
    if session is not None:
        if exc is not None:
            session.rollback()
        session.close()
