"""KB editors: list and search articles, edit them with a live preview, drafts, publishing,
revisions with diff and restore. The rules live in :mod:`kb.revisions`; this module turns
requests into calls and results into pages, and keeps the editor's input on every refusal.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import IntegrityError

from kb import revisions
from kb.article import LANGUAGES
from kb.article_input import LANGUAGE_NAMES, ArticleInput, categories
from kb.revisions import Conflict, EditorError, Invalid, NotFound, WorkingCopy
from kb.store import ArticleStore
from web import channels, editor_impact, json_input, kb_replica, search_hook
from web.auth import error_response, login_required
from web.db import get_db
from web.extensions import limiter
from web.markdown_render import render_markdown
from web.services import uncovered_drafts
from web.services.uncovered_drafts import UncoveredDraft

bp = Blueprint("editor", __name__, url_prefix="/editor")

PAGE_SIZE = 100
try:
    _LOCAL = ZoneInfo("Europe/Berlin")
except ZoneInfoNotFoundError:  # a system without tz data: show UTC rather than fail
    _LOCAL = ZoneInfo("UTC")


def _when(moment: dt.datetime) -> str:
    if moment.tzinfo is None:  # SQLite keeps no offset; revisions are written in UTC
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(_LOCAL).strftime("%d.%m.%Y %H:%M")


@bp.before_request
def _files_from_database() -> None:
    """Another machine may have published since: the files are read below."""
    kb_replica.catch_up()


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {
        "when": _when,
        "kind_labels": revisions.KIND_LABELS,
        "state_labels": revisions.STATE_LABELS,
        "language_names": LANGUAGE_NAMES,
    }


def _store() -> ArticleStore:
    return ArticleStore(channels.settings().kb_dir)


def _lock():
    return revisions.kb_lock(channels.settings().data_dir)


def _categories() -> list[str]:
    return categories(channels.settings().kb_dir)


def _input(lang: str = "de") -> ArticleInput:
    form = request.form
    return ArticleInput.from_form(
        title=form.get("title", ""),
        category=form.get("category", ""),
        tags=form.get("tags", ""),
        body=form.get("body", ""),
        lang=form.get("lang", lang),
    )


def _base() -> int:
    try:
        return int(request.form.get("base_revision", ""))
    except ValueError:
        return -1  # no base: any existing revision is "newer", so nothing is overwritten


def _after_save(saved: revisions.Saved, done: str, *, published: bool = False) -> Any:
    """Commit happened; update search, tell the editor, show the article again (PRG).

    An article drafted from customers' questions is measured right after publishing: how
    many of those questions search now answers with it.
    """
    warning = search_hook.reindex_article(saved.article.id) if saved.needs_reindex else None
    flash(done, "success")
    if warning:
        flash(warning, "warning")
    if published and saved.article.published:
        if warning and uncovered_drafts.for_article(get_db(), saved.article.id):
            flash(editor_impact.RESCORE_LATER, "warning")
        elif not warning:
            for category, message in editor_impact.after_publish(get_db(), saved.article.id):
                flash(message, category)
    return redirect(url_for("editor.edit", article_id=saved.article.id))


def _for_publishing(data: ArticleInput, action: str | None) -> ArticleInput:
    """What is saved: a published text loses the customers' questions comment."""
    if action != "publish" or not uncovered_drafts.has_questions(data.body):
        return data
    return dataclasses.replace(data, body=uncovered_drafts.strip_questions(data.body))


def _cluster_from_form() -> UncoveredDraft | None:
    """The topic of customers' questions the new-article form was opened for, if any."""
    try:
        draft_id = int(request.form.get("cluster_id") or request.args.get("cluster") or "")
    except ValueError:
        return None
    return get_db().get(UncoveredDraft, draft_id)


EXPIRED = (
    "Das Formular war abgelaufen, deshalb wurde nichts gespeichert. Ihr Text ist unten "
    "erhalten: Bitte speichern Sie erneut."
)


@bp.errorhandler(CSRFError)
def _form_expired(_error: CSRFError):
    """A missing or stale form token on a save: nothing is saved, and nothing typed is lost.
    Still logged in, the editor gets the form back with a fresh token and the same base
    revision (so saving again still detects a conflict); logged out, a page to copy it from.
    """
    if request.endpoint not in ("editor.new", "editor.save", "editor.impact_new", "editor.impact"):
        return error_response(400)
    data = _input()
    if not (current_user.is_authenticated and current_user.can("editor")):
        return render_template("editor/expired.html", data=data), 400
    flash(EXPIRED, "error")
    if request.endpoint in ("editor.new", "editor.impact_new"):
        return _form(data, cluster=_cluster_from_form(), status=400)
    with _lock():
        try:
            copy = revisions.working_copy(get_db(), _store(), request.view_args["article_id"])
        except NotFound:
            return error_response(400)
        get_db().commit()
    data.lang = copy.file.lang
    return _form(data, copy=copy, base=_base(), status=400)


# -- list ----------------------------------------------------------------------------------


@bp.get("/")
@login_required("editor")
def index():
    args = request.args
    filters = {
        "q": args.get("q", "").strip()[:200],
        "status": args.get("status", "") if args.get("status") in revisions.STATE_LABELS else "",
        "category": args.get("category", "").strip(),
        "lang": args.get("lang", "") if args.get("lang") in LANGUAGES else "",
    }
    rows = revisions.overview(
        get_db(),
        _store(),
        filters["q"],
        status=filters["status"],
        category=filters["category"],
        lang=filters["lang"],
    )
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(max(args.get("page", 1, type=int) or 1, 1), pages)
    return render_template(
        "editor/index.html",
        rows=rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        total=len(rows),
        page=page,
        pages=pages,
        filters=filters,
        categories=sorted({*_categories(), *(e.category for e, _ in rows if e.category)}),
        languages=LANGUAGES,
    )


# -- create and edit -----------------------------------------------------------------------


def _form(
    data: ArticleInput,
    *,
    copy: WorkingCopy | None = None,
    base: int = 0,
    errors: dict[str, list[str]] | None = None,
    conflict: dict[str, Any] | None = None,
    cluster: UncoveredDraft | None = None,
    impact: editor_impact.Preview | None = None,
    status: int = 200,
):
    options = _categories()
    if data.category and data.category not in options:
        options = [*options, data.category]  # shown (and marked) rather than silently lost
    article_url = None
    if copy is not None and copy.live:
        article_url = channels.settings().article_url(copy.file.id)
    # Customers' questions this article was drafted for (a new one: from the topics view).
    origins = [cluster] if cluster is not None and copy is None else []
    if copy is not None:
        origins = uncovered_drafts.for_article(get_db(), copy.file.id)
    return render_template(
        "editor/edit.html",
        data=data,
        copy=copy,
        base=base,
        errors=errors or {},
        conflict=conflict,
        categories=options,
        languages=LANGUAGES,
        article_url=article_url,
        # Sanitized by render_markdown (nh3 allowlist), so the template may mark it safe.
        preview_html=render_markdown(data.body),
        cluster=cluster if copy is None else None,
        origins=origins,
        impact=impact,
        impact_message=uncovered_drafts.impact_message,
    ), status


@bp.route("/new", methods=["GET", "POST"])
@login_required("editor")
def new():
    cluster = _cluster_from_form()
    if request.method == "GET":
        lang = request.args.get("lang", "de")
        data = ArticleInput(lang=lang if lang in LANGUAGES else "de")
        if cluster is not None:  # "Artikel entwerfen" on a topic of uncovered questions
            data.title = uncovered_drafts.title_suggestion(cluster.label, cluster.terms)
            data.body = uncovered_drafts.question_comment(cluster)
        return _form(data, cluster=cluster)
    data = _input()
    action = request.form.get("action")
    if action not in ("draft", "publish"):
        flash("Bitte speichern Sie als Entwurf oder veröffentlichen Sie.", "error")
        return _form(data, cluster=cluster, status=400)
    db = get_db()
    with _lock():
        try:
            saved = revisions.create(
                db,
                _store(),
                _for_publishing(data, action),
                publish=action == "publish",
                author_id=current_user.id,
                allowed_categories=_categories(),
            )
        except Invalid as exc:
            db.rollback()
            flash(str(exc), "error")
            return _form(data, errors=exc.errors, cluster=cluster, status=422)
        if cluster is not None:
            uncovered_drafts.link(db, cluster, saved.article.id)
        db.commit()
    done = "Der Artikel wurde veröffentlicht." if action == "publish" else "Entwurf gespeichert."
    return _after_save(saved, done, published=action == "publish")


@bp.get("/articles/<int:article_id>")
@login_required("editor")
def edit(article_id: int):
    db = get_db()
    with _lock():
        copy = _working_copy(article_id)
        db.commit()  # an imported revision, if the file changed outside the editor
        return _form(ArticleInput.from_article(copy.working), copy=copy, base=copy.newest.number)


def _working_copy(article_id: int) -> WorkingCopy:
    try:
        return revisions.working_copy(get_db(), _store(), article_id)
    except NotFound:
        abort(404)


@bp.post("/articles/<int:article_id>")
@login_required("editor")
def save(article_id: int):
    action = request.form.get("action")
    db = get_db()
    with _lock():
        copy = _working_copy(article_id)
        data = _input(copy.file.lang)
        data.lang = copy.file.lang  # the language is the article's folder; not changed here
        base = _base()
        if action not in ("draft", "publish"):
            db.commit()
            flash("Bitte speichern Sie als Entwurf oder veröffentlichen Sie.", "error")
            return _form(data, copy=copy, base=base, status=400)
        try:
            saved = revisions.save(
                db,
                _store(),
                article_id,
                _for_publishing(data, action),
                base=base,
                publish=action == "publish",
                author_id=current_user.id,
                allowed_categories=_categories(),
            )
        except Conflict as exc:
            db.commit()
            return _conflict_page(exc, data, copy, article_id)
        except Invalid as exc:
            db.commit()
            flash(str(exc), "error")
            return _form(data, copy=copy, base=base, errors=exc.errors, status=422)
        except IntegrityError:
            # Saved through another machine in the same moment: its revision took the number
            # (the editor's lock is per machine). Nothing of this save was written.
            db.rollback()
            copy = _working_copy(article_id)
            newer = Conflict(copy.newest, revisions.author_name(db, copy.newest))
            db.commit()
            return _conflict_page(newer, data, copy, article_id)
        db.commit()
    if action == "publish":
        done = "Der Artikel wurde veröffentlicht. Der Bot antwortet ab sofort mit diesem Text."
    elif saved.file_written:
        done = "Entwurf gespeichert."
    else:
        done = "Entwurf gespeichert. Kunden sehen weiterhin die veröffentlichte Fassung."
    return _after_save(saved, done, published=action == "publish")


def _conflict_page(exc: Conflict, data: ArticleInput, copy: WorkingCopy, article_id: int):
    """The newer version is not touched; the editor's text stays in the form, with a diff.

    The form now names the newer revision as its base: saving again is a deliberate choice
    made after seeing the difference, and the newer version stays in the history anyway.
    """
    mine = data.to_article(article_id, "draft", dt.date.today(), based_on=copy.file)
    conflict = {
        "message": str(exc),
        "newer": exc.newer,
        "author": exc.author,
        "diff": revisions.diff(
            exc.newer.text,
            mine.to_markdown(),
            f"Version {exc.newer.number} ({exc.author})",
            "Ihr Text",
        ),
    }
    fresh = revisions.working_copy(get_db(), _store(), article_id)
    return _form(data, copy=fresh, base=exc.newer.number, conflict=conflict, status=409)


@bp.post("/articles/<int:article_id>/unpublish")
@login_required("editor")
def unpublish(article_id: int):
    db = get_db()
    with _lock():
        _working_copy(article_id)
        try:
            saved = revisions.unpublish(
                db, _store(), article_id, base=_base(), author_id=current_user.id
            )
        except Conflict as exc:
            db.commit()
            flash(
                f"{exc} Bitte prüfen Sie die neuere Version und versuchen Sie es erneut.", "error"
            )
            return redirect(url_for("editor.edit", article_id=article_id))
        except EditorError as exc:
            db.commit()
            flash(str(exc), "error")
            return redirect(url_for("editor.edit", article_id=article_id))
        db.commit()
    return _after_save(
        saved, "Der Artikel wurde zurückgezogen. Der Bot verwendet ihn nicht mehr für Antworten."
    )


# -- revisions -----------------------------------------------------------------------------


@bp.get("/articles/<int:article_id>/revisions")
@login_required("editor")
def revision_list(article_id: int):
    db = get_db()
    with _lock():
        copy = _working_copy(article_id)
        db.commit()
    history = revisions.history(db, article_id)
    return render_template(
        "editor/revisions.html",
        copy=copy,
        history=list(reversed(history)),
        authors=revisions.author_names(db, history),
    )


@bp.get("/articles/<int:article_id>/diff")
@login_required("editor")
def diff(article_id: int):
    db = get_db()
    with _lock():
        copy = _working_copy(article_id)
        db.commit()
    history = {r.number: r for r in revisions.history(db, article_id)}
    b = request.args.get("b", copy.newest.number, type=int)
    a = request.args.get("a", (b or 0) - 1, type=int)
    if a not in history or b not in history:
        if a == 0 and b in history:  # the first revision: compare with nothing
            a = b
        else:
            abort(404)
    old, new = history[a], history[b]
    authors = revisions.author_names(db, [old, new])
    return render_template(
        "editor/diff.html",
        copy=copy,
        old=old,
        new=new,
        authors=authors,
        numbers=sorted(history, reverse=True),
        lines=revisions.diff(old.text, new.text, f"Version {a}", f"Version {b}"),
    )


@bp.post("/articles/<int:article_id>/revisions/<int:number>/restore")
@login_required("editor")
def restore(article_id: int, number: int):
    db = get_db()
    with _lock():
        _working_copy(article_id)
        try:
            saved = revisions.restore(
                db,
                _store(),
                article_id,
                number,
                author_id=current_user.id,
                allowed_categories=_categories(),
            )
        except NotFound:
            db.commit()
            abort(404)
        except Invalid as exc:
            db.commit()
            problems = " ".join(m for messages in exc.errors.values() for m in messages)
            flash(f"Version {number} kann nicht wiederhergestellt werden: {problems}", "error")
            return redirect(url_for("editor.revision_list", article_id=article_id))
        except EditorError as exc:
            db.commit()
            flash(str(exc), "error")
            return redirect(url_for("editor.revision_list", article_id=article_id))
        db.commit()
    flash(
        f"Version {number} wurde als neuer Entwurf (Version {saved.revision.number}) "
        "wiederhergestellt. Veröffentlichen Sie ihn, wenn Kunden ihn sehen sollen.",
        "success",
    )
    return redirect(url_for("editor.edit", article_id=article_id))


# -- preview -------------------------------------------------------------------------------


@bp.post("/preview")
@login_required("editor")
@limiter.limit("300/minute")
def preview():
    """Sanitized HTML of the body as typed (CSRF token in the ``X-CSRFToken`` header)."""
    expected = 'Erwartet wird JSON {"body": "…"}.'
    try:
        form = json_input.read_object(not_object=expected) if request.is_json else request.form
    except json_input.JsonInputError as exc:
        return json_input.error(exc.message, exc.status)
    body = form.get("body", "")
    if not isinstance(body, str):
        return json_input.error(expected, 400)
    return {"html": render_markdown(body)}


# -- impact on customers' questions ----------------------------------------------------------


@bp.post("/impact")
@login_required("editor")
@limiter.limit("30/minute")
def impact_new():
    """The new-article form again, with the stored questions it would answer differently."""
    data = _input()
    cluster = _cluster_from_form()
    drafts = [cluster] if cluster is not None else []
    found = editor_impact.preview(get_db(), data, article_id=None, drafts=drafts)
    return _form(data, cluster=cluster, impact=found)


@bp.post("/articles/<int:article_id>/impact")
@login_required("editor")
@limiter.limit("30/minute")
def impact(article_id: int):
    """The edit form again (nothing saved), with what publishing it would change."""
    db = get_db()
    with _lock():
        copy = _working_copy(article_id)
        db.commit()
    data = _input(copy.file.lang)
    data.lang = copy.file.lang
    drafts = uncovered_drafts.for_article(db, article_id)
    found = editor_impact.preview(db, data, article_id=article_id, drafts=drafts)
    return _form(data, copy=copy, base=_base(), impact=found)
