"""Analytics for editors and admins (stub)."""

from __future__ import annotations

from flask import Blueprint

from web.auth import login_required

bp = Blueprint("analytics", __name__, url_prefix="/analytics")


@bp.get("/")
@login_required("editor")
def index():
    return "Auswertung"
