"""Analytics for editors and admins: unanswered questions, ratings per article, conversations
and handoffs per day (with a chart), each also as a CSV download (formats and the export
route: :mod:`web.analytics_common`)."""

from __future__ import annotations

from flask import render_template

from web.analytics_chart import build_chart
from web.analytics_common import (
    EXPORTS,
    bp,
    csv_percent,
    csv_time,
    local_time,
    percent,
    period_from_request,
)
from web.auth import login_required
from web.channels import settings
from web.db import get_db
from web.services import analytics
from web.services.analytics import Period

SHOWN_QUESTIONS = 50  # on the page; the CSV has all of them


@bp.get("/")
@login_required("editor")
def index():
    period, notice = period_from_request()
    session = get_db()
    totals = analytics.summary(session, period)
    questions = analytics.unanswered_questions(session, period)
    titles = analytics.article_titles(settings().kb_dir)
    articles = analytics.article_feedback(session, period, titles)
    return render_template(
        "analytics/index.html",
        period=period,
        periods=analytics.PERIODS,
        notice=notice,
        totals=totals,
        chart=build_chart(totals.days),
        questions=questions[:SHOWN_QUESTIONS],
        more_questions=max(0, len(questions) - SHOWN_QUESTIONS),
        articles=articles,
        percent=percent,
        local_time=local_time,
        timezone=str(analytics.TIMEZONE),
    )


# --- CSV tables ---------------------------------------------------------------------------


def _unanswered_csv(period: Period) -> tuple[list[str], list[list[object]]]:
    header = [
        "Frage (Beispiel)",
        "Anzahl",
        "Gespräche",
        "Formulierungen",
        "Zuerst gestellt",
        "Zuletzt gestellt",
        "Beste Konfidenz",
        "Gruppe",
    ]
    rows: list[list[object]] = [
        [
            group.example,
            group.count,
            group.conversations,
            group.variants,
            csv_time(group.first_asked),
            csv_time(group.last_asked),
            f"{group.best_confidence:.3f}".replace(".", ","),
            group.key,
        ]
        for group in analytics.unanswered_questions(get_db(), period)
    ]
    return header, rows


def _articles_csv(period: Period) -> tuple[list[str], list[list[object]]]:
    titles = analytics.article_titles(settings().kb_dir)
    header = [
        "Artikel-ID",
        "Titel",
        "Gelöscht",
        "Antworten",
        "Hilfreich",
        "Nicht hilfreich",
        "Anteil hilfreich (%)",
    ]
    rows: list[list[object]] = [
        [
            stats.article_id,
            stats.title,
            "ja" if stats.deleted else "nein",
            stats.answers,
            stats.helpful,
            stats.unhelpful,
            csv_percent(stats.helpful_rate),
        ]
        for stats in analytics.article_feedback(get_db(), period, titles)
    ]
    return header, rows


def _daily_csv(period: Period) -> tuple[list[str], list[list[object]]]:
    header = [
        "Tag",
        "Gespräche",
        "Übergaben",
        "Übergabequote (%)",
        "KB-Fragen",
        "Davon unbeantwortet",
    ]
    rows: list[list[object]] = [
        [
            day.day.isoformat(),
            day.conversations,
            day.handoffs,
            csv_percent(day.handoff_rate),
            day.kb_questions,
            day.unanswered,
        ]
        for day in analytics.summary(get_db(), period).days
    ]
    return header, rows


EXPORTS.update(
    unanswered=("unbeantwortete-fragen", _unanswered_csv),
    articles=("bewertungen-pro-artikel", _articles_csv),
    daily=("gespraeche-pro-tag", _daily_csv),
)
