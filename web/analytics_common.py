"""What the analytics pages share: their blueprint, the period chosen in the URL, German
number and time formats, and the CSV export every table of theirs offers.

CSV files are for Excel as German-speaking offices use it: UTF-8 with a byte order mark (or
Excel guesses the encoding wrong) and ``;`` between fields (Excel's list separator in German
locales, where ``,`` is the decimal comma). Rates are percentages with a decimal comma
("66,7"), dates ISO 8601. A text cell starting with ``= + - @`` (or a tab / carriage return)
gets a leading ``'``, so that a customer's question cannot become a spreadsheet formula.

Each page module adds its views to :data:`bp` and its tables to :data:`EXPORTS`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime

from flask import Blueprint, Response, abort, request

from web.auth import login_required
from web.services import analytics
from web.services.analytics import Period

bp = Blueprint("analytics", __name__, url_prefix="/analytics")

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# name in the URL -> (file name stem, the table for a period: header and rows)
EXPORTS: dict[str, tuple[str, Callable[[Period], tuple[list[str], list[list[object]]]]]] = {}


def period_from_request() -> tuple[Period, str | None]:
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


# --- CSV export ---------------------------------------------------------------------------


def safe_cell(value: object) -> object:
    """A cell as the CSV writer gets it: text that a spreadsheet would run gets a ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_percent(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.1f}".replace(".", ",")


def csv_time(moment: datetime) -> str:
    return f"{moment.astimezone(analytics.TIMEZONE):%Y-%m-%d %H:%M}"


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([safe_cell(value) for value in row] for row in rows)
    return "\ufeff" + out.getvalue()


def file_name(stem: str, first: date, last: date) -> str:
    return f"{stem}_{first.isoformat()}_bis_{last.isoformat()}.csv"


@bp.get("/export/<name>.csv")
@login_required("editor")
def export(name: str):
    if name not in EXPORTS:
        abort(404)
    period, _notice = period_from_request()
    stem, build = EXPORTS[name]
    header, rows = build(period)
    response = Response(to_csv(header, rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{file_name(stem, period.first_day, period.last_day)}"'
    )
    response.headers["Cache-Control"] = "no-store"  # customers' questions: not for caches
    return response
