"""The editors' loop for uncovered questions against the real servers: stored questions the
KB does not cover are grouped by the KB service, an editor drafts an article for their topic
and publishes it, and the web app reports how many of them search now answers with it."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest

from core.db import make_engine, session_factory, session_scope
from core.models import KbQuestion
from helpdesk.stack import Stack
from tests.e2e.conftest import Staff, form_token, logged_in
from web.clients.kb import KbClient, KbUnavailable

# quality too: how many questions a topic groups and the new article answers are bars.
pytestmark = [pytest.mark.slow, pytest.mark.quality]

QUESTIONS = [
    "Wie löse ich einen Gutschein ein?",
    "Wo gebe ich meinen Gutscheincode ein?",
    "Mein Gutscheincode funktioniert nicht",
    "Kann ich beim Bestellen einen Gutschein verwenden?",
]
BODY = """Diese Anleitung erklärt, wie Sie einen Gutschein oder einen Gutscheincode einlösen.

## Gutscheincode eingeben

1. Melden Sie sich im Manager an.
2. Legen Sie das gewünschte Produkt in den Warenkorb.
3. Geben Sie im Warenkorb im Feld „Gutscheincode“ Ihren Code ein und klicken Sie auf \
„Einlösen“.

## Wenn der Gutschein nicht funktioniert

- Prüfen Sie, ob der Gutschein abgelaufen ist.
- Ein Gutschein gilt nur für die auf ihm genannten Produkte und nur bei einer neuen Bestellung.
"""


def _hidden(form: str) -> list[tuple[str, str]]:
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)
    return [(name, html.unescape(value)) for name, value in fields]


@pytest.fixture
def kb_routes(stack: Stack) -> None:
    try:
        KbClient.from_settings(stack.settings).cluster(["Gutschein"])
    except KbUnavailable as exc:
        if "404" in str(exc):
            pytest.skip("the KB service has no /kb/cluster route yet")
        raise


def test_topic_to_published_article_answers_its_questions(stack: Stack, staff: Staff, kb_routes):
    engine = make_engine(stack.settings.database_url)
    try:
        with session_scope(session_factory(engine)) as session:
            for n, question in enumerate(QUESTIONS):
                session.add(
                    KbQuestion(
                        conversation_id=f"e2e-uncovered-{n}",
                        query=question,
                        article_id=None,
                        confidence=0.2,
                        verdict="not_covered",
                        created_at=datetime.now(UTC) - timedelta(hours=n + 1),
                    )
                )
    finally:
        engine.dispose()

    base = stack.settings.public_url
    web = logged_in(base, staff.editor, staff.password)

    # The topics view: the KB service put the voucher questions into one topic.
    view = web.get(f"{base}/analytics/uncovered?days=7", timeout=180)
    assert view.status_code == 200 and "nicht erreichbar" not in view.text, view.text[:2000]
    forms = re.findall(
        r'<form method="post" action="/analytics/uncovered/draft".*?</form>', view.text, re.S
    )
    ours = [f for f in forms if html.escape(QUESTIONS[0]) in f]
    assert len(ours) == 1, "the first voucher question is in no topic"
    fields = _hidden(ours[0])
    grouped = [value for name, value in fields if name == "question"]
    assert len(set(grouped) & set(QUESTIONS)) >= 3, grouped

    # "Artikel entwerfen": the new-article form, prefilled.
    drafted = web.post(f"{base}/analytics/uncovered/draft", data=fields, timeout=30)
    assert re.search(r"/editor/new\?cluster=\d+$", drafted.url), drafted.url
    cluster_id = re.search(r'name="cluster_id" value="(\d+)"', drafted.text).group(1)
    body = html.unescape(
        re.search(r'<textarea id="body"[^>]*>(.*?)</textarea>', drafted.text, re.S).group(1)
    )
    assert body.startswith("<!-- Fragen von Kunden")

    # Publish with the editor's own text: re-indexed, then the questions re-scored.
    published = web.post(
        f"{base}/editor/new",
        data={
            "csrf_token": form_token(drafted.text),
            "cluster_id": cluster_id,
            "title": "Gutschein einlösen",
            "category": "Rechnungen und Zahlungen",
            "tags": "Gutschein, Gutscheincode",
            "lang": "de",
            "body": body + "\n" + BODY,
            "action": "publish",
        },
        timeout=300,
    )
    assert published.status_code == 200, published.text[:2000]
    assert "Der Artikel wurde veröffentlicht." in published.text
    result = re.search(r"(\d+) von (\d+) Fragen? (?:wird|werden) jetzt beantwortet", published.text)
    assert result, published.text[:3000]
    answered, total = int(result.group(1)), int(result.group(2))
    assert total == len(grouped)
    assert answered >= total - 1, f"{answered} von {total}"
    assert "Fragen von Kunden" not in html.unescape(
        re.search(r'<textarea id="body"[^>]*>(.*?)</textarea>', published.text, re.S).group(1)
    )
