"""Support agents: the queue of handed-off conversations (stub)."""

from __future__ import annotations

from flask import Blueprint

from web.auth import login_required

bp = Blueprint("agent", __name__, url_prefix="/agent")


@bp.get("/")
@login_required("agent")
def queue():
    return "Warteschlange"
