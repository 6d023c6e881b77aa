"""The editors' loop for questions the KB does not cover (routes on the analytics blueprint):

1. "Nicht abgedeckte Fragen": the period's uncovered questions (:mod:`web.services.uncovered`),
   grouped into topics by the KB service (``kb.cluster``), also as CSV. With the service
   down, the questions are listed ungrouped with a notice.
2. "Artikel entwerfen": the topic is recorded (:mod:`web.services.uncovered_drafts`) and the
   editor's new-article form opens with a title suggestion and the questions as a comment.
   Publishing re-scores the questions (:mod:`web.editor_impact`).
3. "Bewusst nicht abgedeckt": the topic goes into ``kb/out_of_scope.yml`` as a revision
   (:mod:`kb.scope`) after the diff was shown, and search re-reads the list at once
   (``kb.reload_scope``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from kb import catalog, revisions, scope
from kb.revisions import EditorError, Invalid
from kb.store import ArticleStore
from web import channels, editor_impact, kb_replica
from web.analytics_common import EXPORTS, bp, csv_time, local_time, period_from_request
from web.auth import login_required
from web.clients.kb import KbQueryError, KbUnavailable
from web.db import get_db
from web.extensions import limiter
from web.services import analytics, uncovered, uncovered_drafts
from web.services.uncovered import Cluster, UncoveredQuestion
from web.services.uncovered_drafts import UncoveredDraft

log = logging.getLogger(__name__)

MAX_CLUSTERED = 1000  # distinct questions sent to the KB service, most asked first
SHOWN_UNGROUPED = 200
KB_DOWN = (
    "Der Suchdienst ist gerade nicht erreichbar, deshalb sind die Fragen nicht nach Themen "
    "gruppiert. Unten stehen alle nicht abgedeckten Fragen des Zeitraums einzeln; versuchen "
    "Sie es später erneut."
)
SCOPE_LATER = (
    "Die Liste ist gespeichert. Der Suchdienst ist gerade nicht erreichbar: Er übernimmt sie "
    "bei seinem nächsten Start, oder Sie lassen sie unter „Bewusst nicht abgedeckte Themen“ "
    "erneut einlesen."
)


@dataclass
class Topic:
    """One topic as the page shows it, with what editors already did about it."""

    cluster: Cluster
    draft: UncoveredDraft | None  # the article drafted for it, if any
    article: catalog.Entry | None
    listed: bool  # already in out_of_scope.yml


def _days(raw: str | None) -> int:
    try:
        days = int(raw or "")
    except ValueError:
        return analytics.DEFAULT_DAYS
    return days if days in analytics.PERIODS else analytics.DEFAULT_DAYS


def _back(days: int):
    return redirect(url_for("analytics.uncovered", days=days))


def cluster_questions(
    questions: list[UncoveredQuestion],
) -> tuple[list[Cluster] | None, str | None]:
    """Topics from the KB service, or ``None`` and a German notice when it cannot group."""
    if not questions:
        return [], None
    try:
        response = channels.kb().cluster([q.query for q in questions])
    except (KbUnavailable, KbQueryError) as exc:
        log.warning("clustering %d questions failed: %s", len(questions), exc)
        return None, KB_DOWN
    return uncovered.build_clusters(questions, response), None


def _topics(clusters: list[Cluster]) -> list[Topic]:
    drafts = uncovered_drafts.linked(get_db())
    kb_dir = channels.settings().kb_dir
    entries = {e.id: e for e in catalog.entries(ArticleStore(kb_dir))} if drafts else {}
    listed = scope.listed(kb_dir)
    topics = []
    for cluster in clusters:
        draft = uncovered_drafts.best_match(cluster.texts, drafts)
        article = entries.get(draft.article_id) if draft and draft.article_id else None
        topics.append(Topic(cluster, draft, article, cluster.label.casefold() in listed))
    return topics


@bp.get("/uncovered", endpoint="uncovered")
@login_required("editor")
def uncovered_view():
    period, notice = period_from_request()
    questions = uncovered.uncovered_questions(get_db(), period)
    sent = questions[:MAX_CLUSTERED]
    clusters, kb_error = cluster_questions(sent)
    return render_template(
        "analytics/uncovered.html",
        period=period,
        periods=analytics.PERIODS,
        notice=notice,
        kb_error=kb_error,
        topics=_topics(clusters) if clusters is not None else [],
        ungrouped=questions[:SHOWN_UNGROUPED] if clusters is None else [],
        total=len(questions),
        left_out=max(0, len(questions) - len(sent)),
        asked=sum(q.count for q in questions),
        source_labels=uncovered.SOURCE_LABELS,
        local_time=local_time,
        impact_message=uncovered_drafts.impact_message,
        timezone=str(analytics.TIMEZONE),
    )


# -- "Artikel entwerfen" -------------------------------------------------------------------


@bp.post("/uncovered/draft")
@login_required("editor")
def uncovered_draft():
    """Record the topic and open the new-article form for it (PRG)."""
    form = request.form
    days = _days(form.get("days"))
    questions = [q for q in form.getlist("question") if q.strip()]
    if not questions:
        flash("Zu diesem Thema wurden keine Fragen übermittelt.", "error")
        return _back(days)
    draft = uncovered_drafts.create(
        get_db(),
        label=form.get("label", ""),
        terms=form.getlist("term"),
        questions=questions,
        days=days,
        author_id=current_user.id,
    )
    get_db().commit()
    return redirect(url_for("editor.new", cluster=draft.id))


@bp.post("/uncovered/drafts/<int:draft_id>/rescore")
@login_required("editor")
@limiter.limit("30/minute")
def uncovered_rescore(draft_id: int):
    """Check again how many of a topic's questions its published article answers."""
    days = _days(request.form.get("days"))
    db = get_db()
    draft = db.get(UncoveredDraft, draft_id)
    if draft is None or draft.article_id is None:
        flash("Zu diesem Thema gibt es keinen Artikel.", "error")
        return _back(days)
    entry = catalog.find(ArticleStore(channels.settings().kb_dir), draft.article_id)
    if entry is None or not entry.published:
        flash("Der Artikel ist noch nicht veröffentlicht; der Bot verwendet ihn nicht.", "info")
        return _back(days)
    try:
        impact = editor_impact.rescore(draft, draft.article_id)
    except (KbUnavailable, KbQueryError) as exc:
        log.warning("re-score of draft %s failed: %s", draft_id, exc)
        flash(editor_impact.UNAVAILABLE, "warning")
        return _back(days)
    db.commit()
    flash(f"„{entry.title}“: {impact.message}", "success")
    return _back(days)


# -- "Bewusst nicht abgedeckt" -------------------------------------------------------------


def _reload_scope() -> None:
    try:
        result = channels.kb().reload_scope()
    except (KbUnavailable, KbQueryError) as exc:
        log.warning("reloading the out-of-scope list failed: %s", exc)
        flash(SCOPE_LATER, "warning")
        return
    topics = result.get("topics") if isinstance(result, dict) else None
    count = f" ({topics} Themen)" if isinstance(topics, int) else ""
    flash(f"Die Suche berücksichtigt die Liste ab sofort{count}.", "success")


@bp.post("/uncovered/scope")
@login_required("editor")
def scope_change():
    """``action=preview``: the diff of the list with the topic added, or with
    ``change=remove`` removed (nothing written); ``action=confirm``: write it as a revision
    (based on the diff's version) and reload."""
    kb_replica.catch_up()
    form = request.form
    days = _days(form.get("days"))
    topic = form.get("topic", "")
    remove = form.get("change") == "remove"
    write = scope.remove_topic if remove else scope.add_topic
    settings = channels.settings()
    db = get_db()
    errors: dict[str, list[str]] = {}
    with revisions.kb_lock(settings.data_dir):
        if form.get("action") == "confirm":
            try:
                base = int(form.get("base", ""))
            except ValueError:
                base = -1
            try:
                revision = write(db, settings.kb_dir, topic, base=base, author_id=current_user.id)
            except Invalid as exc:
                db.commit()
                errors = exc.errors
            except EditorError as exc:  # a newer version, or a list that is not YAML
                db.commit()
                flash(str(exc), "error")
            else:
                db.commit()
                where = "nicht mehr" if remove else "jetzt"
                flash(
                    f"„{revision.topic}“ steht {where} auf der Liste der bewusst nicht "
                    f"abgedeckten Themen (Version {revision.number}).",
                    "success",
                )
                _reload_scope()
                return _back(days)
        proposal = None
        if not errors:
            try:
                proposal = scope.propose(db, settings.kb_dir, topic, remove=remove)
            except Invalid as exc:
                errors = exc.errors
            except EditorError as exc:
                flash(str(exc), "error")
        db.commit()
    status = 200 if proposal is not None else 422
    return render_template(
        "analytics/scope_confirm.html",
        proposal=proposal,
        topic=scope.clean_topic(topic),
        remove=remove,
        errors=errors,
        days=days,
        file_name=scope.FILE_NAME,
    ), status


@bp.get("/uncovered/scope")
@login_required("editor")
def scope_history():
    """The list as it is and every change to it, with author, time and diff."""
    kb_replica.catch_up()
    settings = channels.settings()
    db = get_db()
    with revisions.kb_lock(settings.data_dir):
        scope.sync(db, settings.kb_dir)
        db.commit()
    history = scope.history(db)
    changes = []
    for before, after in zip([None, *history], history, strict=False):
        lines = revisions.diff(
            before.text if before else "",
            after.text,
            f"Version {before.number}" if before else "(leer)",
            f"Version {after.number}",
        )
        changes.append((after, scope.author_name(db, after), lines))
    try:
        topics = scope.topics_of(history[-1].text)
    except EditorError as exc:
        flash(str(exc), "error")
        topics = []
    return render_template(
        "analytics/scope_history.html",
        topics=topics,
        changes=list(reversed(changes)),
        kind_labels=scope.KIND_LABELS,
        file_name=scope.FILE_NAME,
        local_time=local_time,
        days=_days(request.args.get("days")),
    )


@bp.post("/uncovered/scope/reload")
@login_required("editor")
@limiter.limit("10/minute")
def scope_reload():
    _reload_scope()
    return redirect(url_for("analytics.scope_history", days=_days(request.form.get("days"))))


# -- CSV -----------------------------------------------------------------------------------


def _topics_csv(period: analytics.Period) -> tuple[list[str], list[list[object]]]:
    """One row per topic; with the KB service down, one row per question (ungrouped)."""
    header = [
        "Thema (zentrale Frage)",
        "Häufige Begriffe",
        "Anzahl",
        "Verschiedene Fragen",
        "Zuletzt gestellt",
        "Nicht abgedeckt",
        "Etwas anderes gewählt",
        "Hat nicht geholfen",
        "Artikel-ID",
        "Jetzt beantwortet",
        "Fragen",
    ]
    questions = uncovered.uncovered_questions(get_db(), period)
    clusters, _error = cluster_questions(questions[:MAX_CLUSTERED])
    if clusters is None:
        clusters = [Cluster(q.query, [], [q]) for q in questions]
    rows: list[list[object]] = []
    for topic in _topics(clusters):
        cluster, draft = topic.cluster, topic.draft
        sources = cluster.sources
        checked = draft is not None and draft.checked_at is not None
        rows.append(
            [
                cluster.label,
                ", ".join(cluster.terms),
                cluster.count,
                len(cluster.questions),
                csv_time(cluster.last_asked),
                sources["not_covered"],
                sources["something_else"],
                sources["unhelpful"],
                draft.article_id if draft is not None else "",
                f"{draft.answered} von {draft.total}" if checked else "",
                "\n".join(cluster.texts),
            ]
        )
    return header, rows


EXPORTS["uncovered"] = ("nicht-abgedeckte-fragen", _topics_csv)
