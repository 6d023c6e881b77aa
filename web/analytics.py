"""Analytics for editors and admins: unanswered questions, ratings per article, conversations
and handoffs per day (with a chart), each also as a CSV download.

CSV files are for Excel as German-speaking offices use it: UTF-8 with a byte order mark (or
Excel guesses the encoding wrong) and ``;`` between fields (Excel's list separator in German
locales, where ``,`` is the decimal comma). Rates are percentages with a decimal comma
("66,7"), dates ISO 8601. A text cell starting with ``= + - @`` (or a tab / carriage return)
gets a leading ``'``, so that a customer's question cannot become a spreadsheet formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime

from flask import Blueprint, Response, abort, render_template, request

from web.analytics_chart import build_chart
from web.auth import login_required
from web.channels import settings
from web.db import get_db
from web.services import analytics
from web.services.analytics import Period

bp = Blueprint("analytics", __name__, url_prefix="/analytics")

SHOWN_QUESTIONS = 50  # on the page; the CSV has all of them
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _period() -> tuple[Period, str | None]:
    """The period from ``?days=``, and a notice when the value was not one on offer."""
    raw = request.args.get("days")
    if raw is None:
        return analytics.period_of(analytics.DEFAULT_DAYS), None
    try:
        days = int(raw)
    except ValueError:
        days = 0
    if days not in analytics.PERIODS:
        offered = ", ".join(str(d) for d in analytics.PERIODS)
        notice = (
            f"Diesen Zeitraum gibt es nicht (möglich sind {offered} Tage); "
            f"gezeigt werden die letzten {analytics.DEFAULT_DAYS} Tage."
        )
        return analytics.period_of(analytics.DEFAULT_DAYS), notice
    return analytics.period_of(days), None


def percent(rate: float | None) -> str:
    """German notation, one decimal: 0.6667 -> "66,7 %" (a no-break space); no data -> "–"."""
    if rate is None:
        return "–"
    return f"{rate * 100:.1f}\u00a0%".replace(".", ",")  # no line break before the %


def local_time(moment: datetime) -> str:
    return f"{moment.astimezone(analytics.TIMEZONE):%d.%m.%Y %H:%M}"


@bp.get("/")
@login_required("editor")
def index():
    period, notice = _period()
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


# --- CSV export ---------------------------------------------------------------------------


def safe_cell(value: object) -> object:
    """A cell as the CSV writer gets it: text that a spreadsheet would run gets a ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv_percent(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.1f}".replace(".", ",")


def _csv_time(moment: datetime) -> str:
    return f"{moment.astimezone(analytics.TIMEZONE):%Y-%m-%d %H:%M}"


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([safe_cell(value) for value in row] for row in rows)
    return "\ufeff" + out.getvalue()


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
            _csv_time(group.first_asked),
            _csv_time(group.last_asked),
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
            _csv_percent(stats.helpful_rate),
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
            _csv_percent(day.handoff_rate),
            day.kb_questions,
            day.unanswered,
        ]
        for day in analytics.summary(get_db(), period).days
    ]
    return header, rows


EXPORTS: dict[str, tuple[str, Callable[[Period], tuple[list[str], list[list[object]]]]]] = {
    "unanswered": ("unbeantwortete-fragen", _unanswered_csv),
    "articles": ("bewertungen-pro-artikel", _articles_csv),
    "daily": ("gespraeche-pro-tag", _daily_csv),
}


def _file_name(stem: str, first: date, last: date) -> str:
    return f"{stem}_{first.isoformat()}_bis_{last.isoformat()}.csv"


@bp.get("/export/<name>.csv")
@login_required("editor")
def export(name: str):
    if name not in EXPORTS:
        abort(404)
    period, _notice = _period()
    stem, build = EXPORTS[name]
    header, rows = build(period)
    response = Response(to_csv(header, rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{_file_name(stem, period.first_day, period.last_day)}"'
    )
    response.headers["Cache-Control"] = "no-store"  # customers' questions: not for caches
    return response


# The views of uncovered questions add their routes (and their CSV) to this blueprint.
from web import analytics_uncovered  # noqa: E402, F401
