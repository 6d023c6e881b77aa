"""Staff login (agents, editors, admins) and the ``login_required`` decorator with roles."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from core.users import User, authenticate
from web.db import get_db
from web.extensions import limiter, login_manager

bp = Blueprint("auth", __name__)

# Where each role lands after logging in.
HOME = {"agent": "agent.queue", "editor": "editor.index", "admin": "agent.queue"}


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    try:
        user = get_db().get(User, int(user_id))
    except ValueError:
        return None
    return user if user is not None and user.active else None


def login_required(*roles: str) -> Callable:
    """The view needs a logged-in user with one of ``roles`` (admins pass every check).

    Without roles, any staff account will do. A logged-in user without the role gets 403,
    not a login page: they are who they say, they just may not do this.
    """

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if roles and not current_user.can(*roles):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_roles = roles  # type: ignore[attr-defined]
        return wrapped

    return decorator


class LoginForm(FlaskForm):
    username = StringField("Benutzername", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Passwort", validators=[DataRequired(), Length(max=256)])


def _safe_next(target: str | None) -> str | None:
    """Only paths on this site: a login link must not redirect to somebody else's."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10/minute", methods=["POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(get_db(), form.username.data or "", form.password.data or "")
        if user is None:
            flash("Benutzername oder Passwort ist falsch.", "error")
            return render_template("login.html", form=form), 401
        login_user(user)
        target = _safe_next(request.args.get("next")) or url_for(HOME[user.role])
        return redirect(target)
    return render_template("login.html", form=form)


@bp.post("/logout")
def logout():
    logout_user()
    flash("Sie sind abgemeldet.", "info")
    return redirect(url_for("auth.login"))


# status: (page title, message). JSON for the API and fetch() callers, a page otherwise.
ERRORS = {
    400: ("Sicherheitsprüfung", "Das Formular ist abgelaufen oder unvollständig "
          "(Sicherheitsprüfung). Bitte gehen Sie zurück, laden Sie die Seite neu und senden "
          "Sie es noch einmal."),
    403: ("Kein Zugriff", "Ihre Rolle erlaubt diese Seite nicht."),
    404: ("Nicht gefunden", "Diese Seite gibt es nicht."),
    413: ("Zu groß", "Die Anfrage ist zu groß."),
    429: ("Zu viele Anfragen", "Zu viele Anfragen. Bitte warten Sie einen Moment und "
          "versuchen Sie es erneut."),
    500: ("Fehler", "Ein interner Fehler ist aufgetreten. Bitte versuchen Sie es später "
          "erneut."),
}  # fmt: skip


def error_response(status: int):
    title, message = ERRORS[status]
    if request.path.startswith("/api/") or request.is_json:
        return {"error": message}, status
    return render_template("error.html", title=title, message=message), status


@bp.app_errorhandler(CSRFError)
def _csrf_failed(_error):
    return error_response(400)


for _status in (403, 404, 413, 429, 500):
    bp.app_errorhandler(_status)(lambda _error, status=_status: error_response(status))
