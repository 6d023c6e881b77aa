"""The editors' loop for uncovered questions through the test client: the topics view, its
CSV, "Artikel entwerfen" to publishing with the measured impact, the impact preview, and
"Bewusst nicht abgedeckt" with diff, revision and reload. The KB service is a fake."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from werkzeug.datastructures import MultiDict

from core.db import get_sessionmaker, session_scope
from core.models import ClarifyChoice, Feedback, KbQuestion
from kb import catalog, scope
from kb.article import read_article
from kb.store import ArticleStore
from tests.web.conftest import csrf_token
from tests.web.fakes_uncovered import LoopKb
from web.services import analytics
from web.services.uncovered_drafts import UncoveredDraft

WORDPRESS = [
    "Wie installiere ich WordPress?",
    "WordPress Installation geht nicht",
    "Kann ich WordPress selbst installieren?",
]
GUTSCHEIN = "Wo löse ich einen Gutschein ein?"
FORMULA = '=HYPERLINK("http://evil.example")'

POSTS = [
    "/analytics/uncovered/draft",
    "/analytics/uncovered/scope",
    "/analytics/uncovered/scope/reload",
    "/analytics/uncovered/drafts/1/rescore",
    "/editor/impact",
    "/editor/articles/3/impact",
]


def ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


@pytest.fixture
def fake_kb(web_settings) -> LoopKb:
    return LoopKb(scope_file=web_settings.kb_dir / "out_of_scope.yml")


@pytest.fixture
def data(app, web_settings) -> datetime:
    """Stores the questions; returns the newest one's time so assertions never recompute
    "now" (a minute boundary between the two made the formatted time flaky)."""
    newest = ago(0.5)
    with session_scope(get_sessionmaker(web_settings)) as session:
        rows = [
            (WORDPRESS[0], 1),
            (WORDPRESS[0], 2),  # a repeat
            (WORDPRESS[1], 3),
            (FORMULA, 4),
            ("Uralte Frage", 200),  # outside every period
        ]
        for n, (text, days) in enumerate(rows):
            session.add(
                KbQuestion(
                    conversation_id=f"c{n}",
                    query=text,
                    article_id=None,
                    confidence=0.2,
                    verdict="not_covered",
                    created_at=ago(days),
                )
            )
        session.add(
            ClarifyChoice(
                conversation_id="x1",
                query=WORDPRESS[2],
                offered=[3, 7],
                chosen_article_id=None,
                created_at=newest,
            )
        )
        session.add(
            Feedback(
                conversation_id="x2",
                article_id=5,
                query=GUTSCHEIN,
                helpful=False,
                created_at=ago(5),
            )
        )
    return newest


def page(client, path: str = "/analytics/uncovered") -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def topic_block(text: str, label: str) -> str:
    for block in re.findall(r'<li class="card topic".*?</li>\s*(?=<li class="card topic"|</ol>)',
                            text, re.DOTALL):  # fmt: skip
        if f'<h2 class="topic-label">{html.escape(label)}</h2>' in block:
            return block
    raise AssertionError(f"no topic {label!r}")


def form_fields(block: str, action: str) -> MultiDict:
    """The hidden fields of the topic's form that posts to ``action``."""
    form = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', block, re.S)
    assert form, action
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(0))
    return MultiDict([(name, html.unescape(value)) for name, value in fields])


def new_form(text: str) -> dict[str, str]:
    def value(name: str) -> str:
        match = re.search(rf'name="{name}" value="([^"]*)"', text)
        assert match, name
        return html.unescape(match.group(1))

    body = re.search(r'<textarea id="body"[^>]*>(.*?)</textarea>', text, re.DOTALL)
    assert body
    return {
        "csrf_token": value("csrf_token"),
        "cluster_id": value("cluster_id"),
        "title": value("title"),
        "body": html.unescape(body.group(1)),
        "category": "Allgemein",
        "tags": "",
        "lang": "de",
    }


def start_draft(client) -> tuple[str, dict[str, str]]:
    """Click "Artikel entwerfen" on the WordPress topic; the new-article form's fields."""
    block = topic_block(page(client), WORDPRESS[0])
    response = client.post(
        "/analytics/uncovered/draft", data=form_fields(block, "/analytics/uncovered/draft")
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert re.search(r"/editor/new\?cluster=\d+$", location)
    return location, new_form(page(client, location))


# -- roles and CSRF ------------------------------------------------------------------------


def test_anonymous_goes_to_login(client):
    response = client.get("/analytics/uncovered")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("path", ["/analytics/uncovered", "/analytics/uncovered/scope"])
def test_agents_may_not_see_it(login, path):
    assert login("agent").get(path).status_code == 403


@pytest.mark.parametrize("path", POSTS)
def test_agents_may_not_post(login, path):
    client = login("agent")
    response = client.post(path, data={"csrf_token": csrf_token(client, "/login")})
    assert response.status_code == 403


@pytest.mark.parametrize("path", POSTS)
def test_posts_need_the_csrf_token(login, data, path):
    client = login("editor")
    assert (
        client.post(path, data={"topic": "x", "question": "x", "action": "confirm"}).status_code
        == 400
    )


def test_the_analytics_page_links_to_it(login, data):
    text = page(login("editor"), "/analytics/?days=7")
    assert 'href="/analytics/uncovered?days=7"' in text


# -- the view ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["editor", "admin"])
def test_topics_with_counts_terms_and_questions(login, data, fake_kb, role):
    text = page(login(role))
    assert "Nicht abgedeckte Fragen" in text
    (sent,) = fake_kb.called("cluster")
    assert "Uralte Frage" not in sent and sorted(sent) == sorted([*WORDPRESS, FORMULA, GUTSCHEIN])
    labels = re.findall(r'<h2 class="topic-label">(.*?)</h2>', text)
    # Most asked first: WordPress 4 times (a repeat, a clarify "Etwas anderes"), then by date.
    assert [html.unescape(label) for label in labels] == [WORDPRESS[0], FORMULA, GUTSCHEIN]
    block = topic_block(text, WORDPRESS[0])
    assert '<strong data-topic="count">4</strong>' in block
    last = data.astimezone(analytics.TIMEZONE).strftime("%d.%m.%Y %H:%M")
    assert f'<span data-topic="last">{last}' in block
    assert '<span class="term">wordpress</span>' in block
    assert "<details" in block and "(2×)" in block
    for question in WORDPRESS:
        assert html.escape(question) in block
    assert "„Etwas anderes“ gewählt 1" in block
    assert "„Hat nicht geholfen“ 1" in topic_block(text, GUTSCHEIN)
    assert "=HYPERLINK(&#34;http://evil.example&#34;)" in text  # escaped, as text


def test_period_is_honoured(login, data, fake_kb, web_settings):
    with session_scope(get_sessionmaker(web_settings)) as session:
        session.add(
            KbQuestion(
                conversation_id="p",
                query="Vor zehn Tagen",
                article_id=None,
                confidence=0.2,
                verdict="not_covered",
                created_at=ago(10),
            )
        )
    client = login("editor")
    page(client, "/analytics/uncovered?days=7")
    page(client, "/analytics/uncovered?days=30")
    week, month = fake_kb.called("cluster")
    assert GUTSCHEIN in week and "Vor zehn Tagen" not in week
    assert "Vor zehn Tagen" in month and "Uralte Frage" not in month


def test_kb_service_down_lists_the_questions_ungrouped(login, data, fake_kb):
    fake_kb.down = True
    text = page(login("editor"))
    assert "Der Suchdienst ist gerade nicht erreichbar" in text
    assert 'id="ungrouped-table"' in text
    for question in [*WORDPRESS, GUTSCHEIN]:
        assert html.escape(question) in text
    assert 'class="card topic"' not in text


def test_nothing_uncovered(login, fake_kb):
    text = page(login("editor"))
    assert "keine Frage ohne passenden Artikel" in text
    assert fake_kb.called("cluster") == []


def read_csv(response) -> list[list[str]]:
    body = response.get_data().decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:]), delimiter=";"))


def test_csv_of_the_topics(login, data):
    response = login("editor").get("/analytics/export/uncovered.csv?days=30")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "nicht-abgedeckte-fragen_" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    rows = read_csv(response)
    assert rows[0][:5] == [
        "Thema (zentrale Frage)",
        "Häufige Begriffe",
        "Anzahl",
        "Verschiedene Fragen",
        "Zuletzt gestellt",
    ]
    by_label = {row[0]: row for row in rows[1:]}
    wordpress = by_label[WORDPRESS[0]]
    assert wordpress[1:4] == ["wordpress", "4", "3"]
    assert wordpress[5:8] == ["3", "1", "0"]
    assert set(wordpress[10].split("\n")) == set(WORDPRESS)
    assert "'" + FORMULA in by_label  # a formula stays text


def test_csv_without_the_kb_service_is_ungrouped(login, data, fake_kb):
    fake_kb.down = True
    rows = read_csv(login("editor").get("/analytics/export/uncovered.csv"))
    assert len(rows) == 1 + 5  # one row per distinct question
    assert all(row[1] == "" for row in rows[1:])


# -- "Artikel entwerfen" -------------------------------------------------------------------


def test_draft_opens_a_prefilled_form(login, data, app, web_settings):
    client = login("editor")
    _location, form = start_draft(client)
    assert form["title"] == WORDPRESS[0].rstrip("?")
    assert form["body"].startswith("<!-- Fragen von Kunden zum Thema")
    for question in WORDPRESS:
        assert f"- {question}" in form["body"]
    assert form["body"].rstrip().endswith("-->")
    with session_scope(get_sessionmaker(web_settings)) as session:
        draft = session.get(UncoveredDraft, int(form["cluster_id"]))
        assert draft is not None and draft.article_id is None
        assert draft.label == WORDPRESS[0] and draft.terms == ["wordpress"]
        assert set(draft.questions) == set(WORDPRESS)


def test_draft_without_questions_is_refused(login, data):
    client = login("editor")
    token = csrf_token(client, "/analytics/uncovered")
    response = client.post(
        "/analytics/uncovered/draft",
        data={"csrf_token": token, "label": "x"},
        follow_redirects=True,
    )
    assert "keine Fragen übermittelt" in response.get_data(as_text=True)


def _article_id(response) -> int:
    match = re.search(r"/editor/articles/(\d+)$", response.headers["Location"])
    assert match, response.headers.get("Location")
    return int(match.group(1))


def _body_of(text: str) -> str:
    body = re.search(r'<textarea id="body"[^>]*>(.*?)</textarea>', text, re.DOTALL)
    assert body
    return html.unescape(body.group(1))


def test_draft_then_publish_measures_the_questions(login, data, fake_kb, web_settings):
    client = login("editor")
    _location, form = start_draft(client)
    form["body"] += "\n\n## WordPress installieren\n\n1. Öffnen Sie das Hosting-Panel."
    saved = client.post("/editor/new", data={**form, "action": "draft"})
    article_id = _article_id(saved)
    store = ArticleStore(web_settings.kb_dir)
    path = catalog.path_of(store, article_id)
    assert path is not None and "Fragen von Kunden" in path.read_text(encoding="utf-8")
    assert fake_kb.called("rescore") == []  # a draft: nothing measured

    edit = page(client, f"/editor/articles/{article_id}")
    assert 'id="customer-questions"' in edit
    fake_kb.answered = set(WORDPRESS[:2])
    fake_kb.answer_with = article_id
    publish = {
        "csrf_token": csrf_token(client, f"/editor/articles/{article_id}"),
        "base_revision": re.search(r'name="base_revision" value="(\d+)"', edit).group(1),
        "title": form["title"],
        "category": "Allgemein",
        "tags": "",
        "body": _body_of(edit),
        "action": "publish",
    }
    response = client.post(f"/editor/articles/{article_id}", data=publish, follow_redirects=True)
    text = response.get_data(as_text=True)
    assert "2 von 3 Fragen werden jetzt beantwortet." in text
    article = read_article(path)
    assert article.published and "Fragen von Kunden" not in article.to_markdown()
    assert article.body.strip().startswith("## WordPress installieren")
    (rescored,) = fake_kb.called("rescore")
    assert set(rescored) == set(WORDPRESS)
    assert fake_kb.reindexed[-1] == [article_id]
    # The topic view shows the article and what it answers, and offers to check again.
    block = topic_block(page(client), WORDPRESS[0])
    assert "2 von 3 Fragen werden jetzt beantwortet." in block
    assert html.escape(form["title"]) in block and "veröffentlicht" in block
    assert 'data-action="rescore"' in block
    # Checking again after more of them are answered.
    fake_kb.answered = set(WORDPRESS)
    rescore = form_fields(block, f"/analytics/uncovered/drafts/{_draft_id(block)}/rescore")
    again = client.post(f"/analytics/uncovered/drafts/{_draft_id(block)}/rescore", data=rescore,
                        follow_redirects=True)  # fmt: skip
    assert "3 von 3 Fragen werden jetzt beantwortet." in again.get_data(as_text=True)


def _draft_id(block: str) -> int:
    match = re.search(r"/analytics/uncovered/drafts/(\d+)/rescore", block)
    assert match
    return int(match.group(1))


def test_publish_straight_from_the_new_form(login, data, fake_kb, web_settings):
    client = login("editor")
    _location, form = start_draft(client)
    form["body"] += "\n\nSo installieren Sie WordPress."
    fake_kb.answered = set(WORDPRESS)
    fake_kb.answer_with = catalog_next_id(web_settings)
    response = client.post("/editor/new", data={**form, "action": "publish"}, follow_redirects=True)
    text = response.get_data(as_text=True)
    assert "3 von 3 Fragen werden jetzt beantwortet." in text
    assert "Der Artikel wurde veröffentlicht." in text


def catalog_next_id(web_settings) -> int:
    return ArticleStore(web_settings.kb_dir).next_id()


def test_publishing_only_the_questions_comment_is_refused(login, data, fake_kb):
    client = login("editor")
    _location, form = start_draft(client)
    response = client.post("/editor/new", data={**form, "action": "publish"})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "keinen Text" in text
    assert "Fragen von Kunden" in _body_of(text)  # the editor's form keeps the comment
    assert fake_kb.called("rescore") == []


def test_publish_with_the_kb_service_down_says_so(login, data, fake_kb):
    client = login("editor")
    _location, form = start_draft(client)
    form["body"] += "\n\nSo installieren Sie WordPress."
    fake_kb.down = True
    response = client.post("/editor/new", data={**form, "action": "publish"}, follow_redirects=True)
    text = response.get_data(as_text=True)
    assert "Der Artikel wurde veröffentlicht." in text
    assert "ließ sich nicht prüfen" in text


def test_ordinary_editing_does_not_ask_the_kb_service(login, data, fake_kb):
    client = login("editor")
    text = page(client, "/editor/articles/3")
    form = {
        "csrf_token": csrf_token(client, "/editor/articles/3"),
        "base_revision": re.search(r'name="base_revision" value="(\d+)"', text).group(1),
        "title": "Rechnungsadresse hinzufügen",
        "category": "Rechnungen und Zahlungen",
        "tags": "",
        "body": _body_of(text) + "\n\nNoch ein Satz.",
    }
    assert client.post("/editor/articles/3", data={**form, "action": "draft"}).status_code == 302
    token = csrf_token(client, "/editor/articles/3")
    preview = client.post("/editor/preview", json={"body": "# x"}, headers={"X-CSRFToken": token})
    assert preview.status_code == 200
    assert fake_kb.calls == []


# -- the impact preview --------------------------------------------------------------------


def test_preview_lists_only_the_questions_that_change(login, data, fake_kb):
    client = login("editor")
    _location, form = start_draft(client)
    form["body"] += "\n\nSo installieren Sie WordPress."
    fake_kb.changes = {WORDPRESS[0], GUTSCHEIN}
    response = client.post("/editor/impact", data={**form, "action": "impact"})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    table = re.search(r'<table class="list" id="impact-table">.*?</table>', text, re.S).group(0)
    assert html.escape(WORDPRESS[0]) in table and html.escape(GUTSCHEIN) in table
    assert html.escape(WORDPRESS[1]) not in table
    assert "nicht abgedeckt" in table and "→ beantwortet mit diesem Artikel" in table
    assert "auf 2 von 5 geprüften Fragen" in text
    (call,) = fake_kb.called("preview")
    assert call["article"]["id"] is None and call["article"]["lang"] == "de"
    assert "Fragen von Kunden" not in call["article"]["markdown"]
    assert call["queries"][:3] == [WORDPRESS[0], WORDPRESS[2], WORDPRESS[1]]  # topic first
    assert len(call["queries"]) == 5
    # The form comes back with the text as typed and the topic kept; nothing was saved.
    assert _body_of(text) == form["body"].strip()
    assert f'name="cluster_id" value="{form["cluster_id"]}"' in text


def test_preview_of_an_existing_article_names_the_guides(login, data, fake_kb):
    client = login("editor")
    text = page(client, "/editor/articles/3")
    fake_kb.changes = {GUTSCHEIN}
    form = {
        "csrf_token": csrf_token(client, "/editor/articles/3"),
        "base_revision": re.search(r'name="base_revision" value="(\d+)"', text).group(1),
        "title": "Rechnungsadresse hinzufügen",
        "category": "Rechnungen und Zahlungen",
        "tags": "",
        "body": _body_of(text) + "\n\nAuch Gutscheine.",
    }
    response = client.post("/editor/articles/3/impact", data={**form, "action": "impact"})
    assert response.status_code == 200
    result = response.get_data(as_text=True)
    assert "→ beantwortet mit diesem Artikel" in result
    (call,) = fake_kb.called("preview")
    assert call["article"]["id"] == 3 and "Auch Gutscheine." in call["article"]["markdown"]
    assert fake_kb.called("rescore") == [] and fake_kb.reindexed == []


def test_preview_with_the_kb_service_down(login, data, fake_kb):
    client = login("editor")
    _location, form = start_draft(client)
    fake_kb.down = True
    response = client.post("/editor/impact", data={**form, "action": "impact"})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert 'id="impact-error"' in text and "nicht erreichbar" in text
    assert "Fragen von Kunden" in _body_of(text)


# -- "Bewusst nicht abgedeckt" -------------------------------------------------------------


def test_out_of_scope_shows_the_diff_then_writes_a_revision(login, data, fake_kb, web_settings):
    client = login("editor")
    path = web_settings.kb_dir / "out_of_scope.yml"
    before = path.read_text(encoding="utf-8")
    block = topic_block(page(client), GUTSCHEIN)
    fields = form_fields(block, "/analytics/uncovered/scope")
    response = client.post("/analytics/uncovered/scope", data=fields)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    diff = re.search(r'<pre id="scope-diff" class="diff">.*?</pre>', text, re.S).group(0)
    assert f'<span class="diff-add">+  - {html.escape(GUTSCHEIN)}</span>' in diff
    assert path.read_text(encoding="utf-8") == before  # nothing written before confirming
    assert fake_kb.called("reload_scope") == []

    base = re.search(r'name="base" value="(\d+)"', text).group(1)
    token = csrf_token(client, "/analytics/uncovered")
    confirm = {"csrf_token": token, "topic": GUTSCHEIN, "base": base, "action": "confirm",
               "days": "30"}  # fmt: skip
    response = client.post("/analytics/uncovered/scope", data=confirm)
    assert response.status_code == 302 and "/analytics/uncovered" in response.headers["Location"]
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["topics"][-1] == GUTSCHEIN
    assert len(fake_kb.called("reload_scope")) == 1
    with session_scope(get_sessionmaker(web_settings)) as session:
        newest = scope.history(session)[-1]
        assert (newest.kind, newest.topic) == ("added", GUTSCHEIN)
        assert scope.author_name(session, newest) == "editor"
    after = page(client)
    assert "steht jetzt auf der Liste" in after and "(22 Themen)" in after
    block = topic_block(after, GUTSCHEIN)
    assert 'data-topic="listed"' in block and 'data-action="scope"' not in block
    history = page(client, "/analytics/uncovered/scope")
    assert html.escape(GUTSCHEIN) in history and "Thema hinzugefügt" in history
    assert "editor" in history and 'class="diff-add"' in history


def test_out_of_scope_refuses_a_stale_diff(login, data, fake_kb, web_settings):
    client = login("editor")
    path = web_settings.kb_dir / "out_of_scope.yml"
    token = csrf_token(client, "/analytics/uncovered")
    shown = client.post(
        "/analytics/uncovered/scope",
        data={"csrf_token": token, "topic": GUTSCHEIN, "action": "preview"},
    ).get_data(as_text=True)
    base = re.search(r'name="base" value="(\d+)"', shown).group(1)
    path.write_text(path.read_text(encoding="utf-8") + "  - Von Hand ergänzt\n", "utf-8")
    response = client.post(
        "/analytics/uncovered/scope",
        data={"csrf_token": token, "topic": GUTSCHEIN, "base": base, "action": "confirm"},
    )
    assert response.status_code == 200  # the diff again, against the newer version
    text = response.get_data(as_text=True)
    assert "inzwischen" in text and "Von Hand ergänzt" in text
    assert GUTSCHEIN not in path.read_text(encoding="utf-8")
    assert fake_kb.called("reload_scope") == []


def test_out_of_scope_refuses_a_listed_topic(login, data, fake_kb):
    client = login("editor")
    token = csrf_token(client, "/analytics/uncovered")
    response = client.post(
        "/analytics/uncovered/scope",
        data={
            "csrf_token": token,
            "topic": "Wie richte ich einen Cronjob ein?",
            "action": "preview",
        },
    )
    assert response.status_code == 422
    assert "steht bereits auf der Liste" in response.get_data(as_text=True)


def test_out_of_scope_with_the_kb_service_down_still_saves(login, data, fake_kb, web_settings):
    client = login("editor")
    token = csrf_token(client, "/analytics/uncovered")
    shown = client.post(
        "/analytics/uncovered/scope",
        data={"csrf_token": token, "topic": GUTSCHEIN, "action": "preview"},
    ).get_data(as_text=True)
    base = re.search(r'name="base" value="(\d+)"', shown).group(1)
    fake_kb.down = True
    response = client.post(
        "/analytics/uncovered/scope",
        data={"csrf_token": token, "topic": GUTSCHEIN, "base": base, "action": "confirm"},
        follow_redirects=True,
    )
    text = response.get_data(as_text=True)
    assert "Die Liste ist gespeichert. Der Suchdienst ist gerade nicht erreichbar" in text
    assert GUTSCHEIN in (web_settings.kb_dir / "out_of_scope.yml").read_text(encoding="utf-8")
    fake_kb.down = False
    reload = client.post(
        "/analytics/uncovered/scope/reload", data={"csrf_token": token}, follow_redirects=True
    )
    assert "berücksichtigt die Liste ab sofort" in reload.get_data(as_text=True)


def test_a_listed_topic_is_taken_off_the_list_after_its_diff(login, data, fake_kb, web_settings):
    client = login("editor")
    path = web_settings.kb_dir / "out_of_scope.yml"
    topic = "Wie richte ich einen Cronjob ein?"
    history = page(client, "/analytics/uncovered/scope")
    assert "Von der Liste nehmen" in history
    token = csrf_token(client, "/analytics/uncovered/scope")
    shown = client.post(
        "/analytics/uncovered/scope",
        data={"csrf_token": token, "topic": topic, "change": "remove", "action": "preview"},
    )
    assert shown.status_code == 200
    text = shown.get_data(as_text=True)
    assert f'<span class="diff-del">-  - {html.escape(topic)}</span>' in text
    assert "Thema von der Liste nehmen" in text and topic in path.read_text(encoding="utf-8")
    base = re.search(r'name="base" value="(\d+)"', text).group(1)
    response = client.post(
        "/analytics/uncovered/scope",
        data={
            "csrf_token": token,
            "topic": topic,
            "change": "remove",
            "base": base,
            "action": "confirm",
        },
    )
    assert response.status_code == 302
    assert topic not in yaml.safe_load(path.read_text(encoding="utf-8"))["topics"]
    assert len(fake_kb.called("reload_scope")) == 1
    assert "steht nicht mehr auf der Liste" in page(client)


def test_the_impact_check_names_listed_topics_that_would_block_the_article(login, data, fake_kb):
    client = login("editor")
    _location, form = start_draft(client)
    form["title"] = "Cronjob"
    response = client.post("/editor/impact", data={**form, "action": "impact"})
    text = response.get_data(as_text=True)
    block = re.search(r'<div class="note note--warn" id="impact-scope".*?</div>', text, re.S)
    assert block is not None
    assert "Wie richte ich einen Cronjob ein?" in block.group(0)
    assert 'name="change" value="remove"' in block.group(0)
