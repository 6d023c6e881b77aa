from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from core.db import get_sessionmaker, session_scope
from core.models import Feedback, Handoff, KbQuestion
from web.analytics_common import safe_cell, to_csv


def ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


@pytest.fixture
def data(app, web_settings):
    with session_scope(get_sessionmaker(web_settings)) as session:
        for n, (text, days) in enumerate(
            [
                ("Wie installiere ich WordPress?", 1),
                ("wie installiere ich wordpress", 2),
                ('=HYPERLINK("http://evil.example")', 3),
                ("Gibt es <b>Rabatt</b>?", 20),  # only in the 30-day period
                ("Uralte Frage", 200),
            ]
        ):
            session.add(
                KbQuestion(
                    conversation_id=f"u{n}",
                    query=text,
                    article_id=None,
                    confidence=0.2,
                    created_at=ago(days),
                )
            )
        session.add_all(
            [
                KbQuestion(
                    conversation_id="a1",
                    query="Adresse",
                    article_id=3,
                    confidence=0.9,
                    created_at=ago(1),
                ),
                Feedback(
                    conversation_id="a1",
                    article_id=3,
                    query="Adresse",
                    helpful=True,
                    created_at=ago(1),
                ),
                Feedback(
                    conversation_id="a2",
                    article_id=999,
                    query="x",
                    helpful=False,
                    created_at=ago(1),
                ),
                Handoff(conversation_id="u0", reason="requested", created_at=ago(1)),
            ]
        )


def read_csv(response) -> list[list[str]]:
    body = response.get_data().decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:]), delimiter=";"))


@pytest.mark.parametrize("role", ["editor", "admin"])
def test_editors_and_admins_see_the_page(login, role, data):
    response = login(role).get("/analytics/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Auswertung" in html
    assert 'data-total="conversations">' in html


@pytest.mark.parametrize(
    "path",
    ["/analytics/", "/analytics/export/unanswered.csv", "/analytics/export/daily.csv"],
)
def test_agents_may_not(login, path):
    assert login("agent").get(path).status_code == 403


@pytest.mark.parametrize("path", ["/analytics/", "/analytics/export/articles.csv"])
def test_anonymous_is_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_page_shows_groups_articles_and_chart(login, data):
    html = login("editor").get("/analytics/").get_data(as_text=True)
    unanswered = html[html.index('id="unanswered-table"') :]
    # Two wordings of one question, one group of two; HTML is escaped, not rendered.
    assert re.search(r"Wie installiere ich WordPress\?</td><td class=\"num\">2</td>", unanswered)
    assert "Gibt es &lt;b&gt;Rabatt&lt;/b&gt;?" in unanswered
    assert "Uralte Frage" not in html
    assert "Rechnungsadresse" in html  # article 3's title from the KB files
    assert "Artikel #999 (gelöscht)" in html
    assert '<svg viewBox="0 0 960 300" role="img" aria-labelledby="chart-title chart-desc"' in html
    assert '<title id="chart-title">' in html and '<desc id="chart-desc">' in html
    assert html.count('class="bar-conversations"') == 30 + 1  # 30 days and the legend
    assert 'class="bar-handoffs"' in html
    assert 'id="daily-table"' in html
    # The CSP forbids inline styles and scripts: the page must not need them.
    assert "style=" not in html and "<script" not in html
    assert 'href="/static/analytics.css"' in html


def test_period_filter(login, data):
    client = login("editor")
    week = client.get("/analytics/?days=7").get_data(as_text=True)
    assert "Rabatt" not in week
    assert 'aria-current="page" class="current">Letzte 7 Tage' in week
    assert week.count('<tr><th scope="row">') == 7
    quarter = client.get("/analytics/?days=90").get_data(as_text=True)
    assert quarter.count('<tr><th scope="row">') == 90


@pytest.mark.parametrize("days", ["13", "abc", "-7", ""])
def test_unknown_period_falls_back_with_a_notice(login, data, days):
    response = login("editor").get(f"/analytics/?days={days}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Diesen Zeitraum gibt es nicht" in html
    assert 'aria-current="page" class="current">Letzte 30 Tage' in html


def test_unanswered_csv(login, data):
    response = login("editor").get("/analytics/export/unanswered.csv?days=30")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="unbeantwortete-fragen_'
    )
    rows = read_csv(response)
    assert rows[0][:3] == ["Frage (Beispiel)", "Anzahl", "Gespräche"]
    by_example = {row[0]: row for row in rows[1:]}
    assert by_example["Wie installiere ich WordPress?"][1] == "2"
    # A question that looks like a formula is defused.
    assert '\'=HYPERLINK("http://evil.example")' in by_example
    assert "Uralte Frage" not in by_example


def test_articles_csv(login, data):
    rows = read_csv(login("admin").get("/analytics/export/articles.csv"))
    assert rows[0][0] == "Artikel-ID"
    by_id = {row[0]: row for row in rows[1:]}
    assert by_id["3"][2:7] == ["nein", "1", "1", "0", "100,0"]
    assert by_id["999"][1:3] == ["Artikel #999 (gelöscht)", "ja"]


def test_daily_csv(login, data):
    rows = read_csv(login("editor").get("/analytics/export/daily.csv?days=7"))
    assert rows[0] == [
        "Tag",
        "Gespräche",
        "Übergaben",
        "Übergabequote (%)",
        "KB-Fragen",
        "Davon unbeantwortet",
    ]
    assert len(rows) == 1 + 7
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", rows[-1][0])
    assert sum(int(row[2]) for row in rows[1:]) == 1


def test_unknown_export_is_404(login):
    assert login("editor").get("/analytics/export/passwords.csv").status_code == 404


def test_empty_database_renders(login):
    html = login("editor").get("/analytics/").get_data(as_text=True)
    assert "Im Zeitraum blieb keine Frage unbeantwortet." in html
    assert "Im Zeitraum wurde kein Artikel" in html


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+41 44", "'+41 44"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("Frage", "Frage"),
        (-2, -2),
    ],
)
def test_safe_cell(value, expected):
    assert safe_cell(value) == expected


def test_to_csv_quotes_separators():
    text = to_csv(["a", "b"], [["x;y", 'sagt "hallo"']])
    assert text == '\ufeffa;b\r\n"x;y";"sagt ""hallo"""\r\n'
