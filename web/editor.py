"""KB editors: articles, drafts, revisions (stub)."""

from __future__ import annotations

from flask import Blueprint

from web.auth import login_required

bp = Blueprint("editor", __name__, url_prefix="/editor")


@bp.get("/")
@login_required("editor")
def index():
    return "Artikel"
