"""The KB editor through the test client: permissions, drafts, publishing, revisions,
conflicts, validation and the search hook. Works on the ``kb_copy`` of the KB only."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from kb import catalog
from kb.article import read_article
from kb.store import ArticleStore
from tests.web.conftest import PASSWORD, csrf_token

ARTICLE = 3  # "Rechnungsadresse hinzufügen", published

GET_ROUTES = [
    "/editor/",
    "/editor/?q=rechnung&status=published&category=Domains&lang=de",
    "/editor/new",
    f"/editor/articles/{ARTICLE}",
    f"/editor/articles/{ARTICLE}/revisions",
    f"/editor/articles/{ARTICLE}/diff",
]
POST_ROUTES = [
    "/editor/new",
    f"/editor/articles/{ARTICLE}",
    f"/editor/articles/{ARTICLE}/unpublish",
    f"/editor/articles/{ARTICLE}/revisions/1/restore",
    "/editor/preview",
]


def _path(web_settings, article_id: int = ARTICLE):
    path = catalog.path_of(ArticleStore(web_settings.kb_dir), article_id)
    assert path is not None
    return path


def _form(client: FlaskClient, article_id: int = ARTICLE) -> dict[str, str]:
    """The edit form's fields as a browser would submit them."""
    html = client.get(f"/editor/articles/{article_id}").get_data(as_text=True)

    def value(name: str) -> str:
        match = re.search(rf'name="{name}" value="([^"]*)"', html)
        assert match, name
        return _unescape(match.group(1))

    category = re.search(r'<option value="([^"]*)" selected>', html.split('id="category"')[1])
    body = re.search(r'<textarea id="body"[^>]*>(.*?)</textarea>', html, re.DOTALL)
    assert category and body
    return {
        "csrf_token": value("csrf_token"),
        "base_revision": value("base_revision"),
        "title": value("title"),
        "category": _unescape(category.group(1)),
        "tags": value("tags"),
        "body": _unescape(body.group(1)),
    }


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)


def _second_client(app, role: str = "admin") -> FlaskClient:
    other = app.test_client()
    token = csrf_token(other)
    response = other.post(
        "/login", data={"username": role, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    return other


# -- permissions ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", GET_ROUTES)
def test_anonymous_get_goes_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("path", POST_ROUTES)
def test_anonymous_post_goes_to_login(client, path):
    token = csrf_token(client)
    response = client.post(path, data={"csrf_token": token})
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("path", GET_ROUTES)
def test_agents_may_not_edit(login, path):
    assert login("agent").get(path).status_code == 403


@pytest.mark.parametrize("path", POST_ROUTES)
def test_agents_may_not_post(login, path):
    client = login("agent")
    token = csrf_token(client, "/login")
    response = client.post(path, data={"csrf_token": token, "action": "publish"})
    assert response.status_code == 403


@pytest.mark.parametrize("role", ["editor", "admin"])
@pytest.mark.parametrize("path", GET_ROUTES)
def test_editors_and_admins_get_every_page(login, role, path):
    response = login(role).get(path)
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("path", POST_ROUTES)
def test_posts_need_the_csrf_token(login, path):
    assert login("editor").post(path, data={"action": "draft"}).status_code == 400


def test_unknown_article_is_404(login):
    client = login("editor")
    assert client.get("/editor/articles/999").status_code == 404
    assert client.get(f"/editor/articles/{ARTICLE}/diff?a=1&b=9").status_code == 404


# -- list ----------------------------------------------------------------------------------


def test_list_search_and_filters(login):
    client = login("editor")
    html = client.get("/editor/").get_data(as_text=True)
    assert html.count('class="article-row"') == 20
    assert 'id="q"' in html and "veröffentlicht" in html
    html = client.get("/editor/?q=Rechnungsadresse").get_data(as_text=True)
    assert html.count('class="article-row"') == 1
    assert 'data-article-id="3"' in html
    html = client.get("/editor/?category=Domains").get_data(as_text=True)
    assert html.count('class="article-row"') == 1
    html = client.get("/editor/?q=gibtesnichtwort").get_data(as_text=True)
    assert "Keine Artikel gefunden" in html


# -- drafts and publishing -----------------------------------------------------------------


def test_create_a_draft(login, web_settings, fake_kb):
    client = login("editor")
    token = csrf_token(client, "/editor/new")
    response = client.post(
        "/editor/new",
        data={
            "csrf_token": token, "title": "Neue Anleitung", "category": "Domains",
            "tags": "dns, nameserver", "body": "## Schritte\n\n1. Eins\n2. Zwei", "lang": "de",
            "action": "draft",
        },
    )  # fmt: skip
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/editor/articles/21")
    article = read_article(web_settings.kb_dir / "articles" / "de" / "neue-anleitung.md")
    assert (article.id, article.status, article.tags) == (21, "draft", ["dns", "nameserver"])
    assert fake_kb.reindexed == []  # drafts are not searchable: nothing to re-index
    html = client.get("/editor/?status=draft").get_data(as_text=True)
    assert "Neue Anleitung" in html and "Entwurf" in html


def test_publish_writes_the_file_and_reindexes_that_article(login, web_settings, fake_kb):
    client = login("editor")
    form = _form(client)
    form.update(body="## Neu\n\nDer neue Text.", action="publish")
    response = client.post(f"/editor/articles/{ARTICLE}", data=form)
    assert response.status_code == 302
    article = read_article(_path(web_settings))
    assert article.status == "published" and article.body.strip() == "## Neu\n\nDer neue Text."
    assert fake_kb.reindexed == [[ARTICLE]]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "veröffentlicht" in page


def test_draft_of_a_published_article_keeps_the_file(login, web_settings, fake_kb):
    client = login("editor")
    before = _path(web_settings).read_text(encoding="utf-8")
    form = _form(client)
    form.update(body="Noch geheim.", action="draft")
    response = client.post(f"/editor/articles/{ARTICLE}", data=form, follow_redirects=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Kunden sehen weiterhin die veröffentlichte Fassung" in html
    assert "Noch geheim." in html  # the form continues from the draft
    assert _path(web_settings).read_text(encoding="utf-8") == before
    assert fake_kb.reindexed == []
    listing = client.get("/editor/?status=changed").get_data(as_text=True)
    assert "unveröffentlichte Änderungen" in listing and 'data-article-id="3"' in listing


def test_unpublish(login, web_settings, fake_kb):
    client = login("editor")
    assert client.get(f"/hilfe/{ARTICLE}").status_code == 200
    form = _form(client)
    response = client.post(
        f"/editor/articles/{ARTICLE}/unpublish",
        data={"csrf_token": form["csrf_token"], "base_revision": form["base_revision"]},
    )
    assert response.status_code == 302
    assert read_article(_path(web_settings)).status == "draft"
    assert fake_kb.reindexed == [[ARTICLE]]
    assert client.get(f"/hilfe/{ARTICLE}").status_code == 404  # gone for customers too
    html = client.get(f"/editor/articles/{ARTICLE}").get_data(as_text=True)
    assert 'id="unpublish"' not in html  # nothing left to unpublish


def test_unknown_action_keeps_the_input(login):
    client = login("editor")
    form = _form(client)
    form.update(body="Mein Text bleibt.", action="löschen")
    response = client.post(f"/editor/articles/{ARTICLE}", data=form)
    assert response.status_code == 400
    assert "Mein Text bleibt." in response.get_data(as_text=True)


# -- revisions -----------------------------------------------------------------------------


def _publish(client, body: str) -> None:
    form = _form(client)
    form.update(body=body, action="publish")
    assert client.post(f"/editor/articles/{ARTICLE}", data=form).status_code == 302


def test_revision_list_shows_author_and_time(login):
    client = login("editor")
    _publish(client, "Zweite Fassung.")
    html = client.get(f"/editor/articles/{ARTICLE}/revisions").get_data(as_text=True)
    rows = re.findall(r'<tr class="revision".*?</tr>', html, re.DOTALL)
    assert len(rows) == 2
    assert "Veröffentlicht" in rows[0] and ">editor<" in rows[0]
    assert "Aus der Datei übernommen" in rows[1] and "außerhalb des Editors" in rows[1]
    assert re.search(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", rows[0])


def test_diff_between_revisions(login):
    client = login("editor")
    _publish(client, "Zweite Fassung mit <b>Markup</b>.")
    html = client.get(f"/editor/articles/{ARTICLE}/diff?a=1&b=2").get_data(as_text=True)
    assert 'id="diff"' in html
    assert '<span class="diff-add">+Zweite Fassung mit &lt;b&gt;Markup&lt;/b&gt;.</span>' in html
    assert 'class="diff-del"' in html
    same = client.get(f"/editor/articles/{ARTICLE}/diff?a=2&b=2").get_data(as_text=True)
    assert "Keine Unterschiede." in same


def test_restore_creates_a_draft(login, web_settings, fake_kb):
    client = login("editor")
    original = read_article(_path(web_settings)).body.strip()
    _publish(client, "Zweite Fassung.")
    token = csrf_token(client, "/editor/")
    response = client.post(
        f"/editor/articles/{ARTICLE}/revisions/1/restore", data={"csrf_token": token}
    )
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "unveröffentlichte Änderungen" in html
    # Published stays published until the restored draft is published too.
    assert read_article(_path(web_settings)).body.strip() == "Zweite Fassung."
    form = _form(client)
    assert form["body"] == original and form["base_revision"] == "3"
    missing = client.post(
        f"/editor/articles/{ARTICLE}/revisions/9/restore", data={"csrf_token": token}
    )
    assert missing.status_code == 404


# -- conflicts and outside changes ---------------------------------------------------------


def test_second_editor_is_told_and_nothing_is_overwritten(app, login, web_settings):
    anna = login("editor")
    ben = _second_client(app, "admin")
    form_a, form_b = _form(anna), _form(ben)
    assert form_a["base_revision"] == form_b["base_revision"] == "1"
    form_a.update(body="Annas Fassung.", action="publish")
    assert anna.post(f"/editor/articles/{ARTICLE}", data=form_a).status_code == 302
    published = _path(web_settings).read_text(encoding="utf-8")

    form_b.update(body="Bens Fassung.", action="publish")
    response = ben.post(f"/editor/articles/{ARTICLE}", data=form_b)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert 'id="conflict"' in html
    assert "wurde inzwischen von editor geändert" in html
    assert "Bens Fassung." in html.split('id="body"')[1]  # the text is still in the form
    assert '<span class="diff-del">-Annas Fassung.</span>' in html
    assert '<span class="diff-add">+Bens Fassung.</span>' in html
    assert _path(web_settings).read_text(encoding="utf-8") == published
    # Saving again after seeing the difference is deliberate, and Anna's text stays in history.
    assert 'name="base_revision" value="2"' in html


def test_a_save_through_another_machine_in_the_same_moment_is_a_conflict(
    login, web_settings, monkeypatch
):
    """The editor's lock is per machine: two replicas may both pass the check of the base
    revision. The database's one number per revision decides; the loser sees the conflict."""
    from core.db import get_sessionmaker, session_scope
    from kb import revisions
    from tests.kb.publishing import publish

    anna = login("editor")
    form = _form(anna)  # records the file as revision 1 and commits it
    checked = revisions._check_base

    def other_machine_saves_meanwhile(session, history, base):
        checked(session, history, base)
        monkeypatch.setattr(revisions, "_check_base", checked)  # machine B checks normally
        with session_scope(get_sessionmaker(web_settings)) as other:
            publish(other, ArticleStore(web_settings.kb_dir), ARTICLE, body="Von Maschine B.")

    monkeypatch.setattr(revisions, "_check_base", other_machine_saves_meanwhile)
    form.update(body="Annas Fassung.", action="publish")
    response = anna.post(f"/editor/articles/{ARTICLE}", data=form)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert 'id="conflict"' in html
    assert "Annas Fassung." in html.split('id="body"')[1]  # the text is still in the form
    assert "Von Maschine B." in _path(web_settings).read_text(encoding="utf-8")


def test_outside_file_change_becomes_an_imported_revision(login, web_settings):
    client = login("editor")
    form = _form(client)  # revision 1: the file as the editor first saw it
    path = _path(web_settings)
    path.write_text(path.read_text(encoding="utf-8") + "\nPer git geändert.\n", encoding="utf-8")
    form.update(body="Meine Fassung.", action="draft")
    response = client.post(f"/editor/articles/{ARTICLE}", data=form)
    assert response.status_code == 409
    assert "außerhalb des Editors" in response.get_data(as_text=True)
    assert "Per git geändert." in path.read_text(encoding="utf-8")
    html = client.get(f"/editor/articles/{ARTICLE}/revisions").get_data(as_text=True)
    assert html.count("Aus der Datei übernommen") == 2


# -- validation ----------------------------------------------------------------------------


def test_validation_errors_are_shown_at_the_field_and_input_kept(login, web_settings):
    client = login("editor")
    before = _path(web_settings).read_text(encoding="utf-8")
    form = _form(client)
    form.update(title="", category="Erfunden", body="Mein langer Text\n\n## ", action="publish")
    response = client.post(f"/editor/articles/{ARTICLE}", data=form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'id="title"[^>]*aria-invalid="true"', html)
    title_part = html.split('id="title"')[1].split('id="category"')[0]
    assert "Bitte geben Sie einen Titel ein." in title_part
    category_part = html.split('id="category"')[1].split('id="tags"')[0]
    assert "Unbekannte Kategorie „Erfunden“" in category_part
    assert '<option value="Erfunden" selected>' in category_part  # kept, not dropped
    body_part = html.split('id="body"')[1]
    assert "Mein langer Text" in body_part and "Zeile 3: Leere Überschrift." in body_part
    assert html.count('class="field-error"') == 3
    assert _path(web_settings).read_text(encoding="utf-8") == before


def test_new_article_with_errors_keeps_everything(login, web_settings):
    client = login("editor")
    token = csrf_token(client, "/editor/new")
    response = client.post(
        "/editor/new",
        data={
            "csrf_token": token, "title": "Ohne Kategorie", "category": "", "tags": "a, b",
            "body": "Wichtiger Text", "lang": "fr", "action": "publish",
        },
    )  # fmt: skip
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Bitte wählen Sie eine Kategorie." in html
    assert 'value="Ohne Kategorie"' in html and 'value="a, b"' in html
    assert "Wichtiger Text" in html and '<option value="fr" selected>' in html
    assert not (web_settings.kb_dir / "articles" / "fr").exists()


# -- search hook ---------------------------------------------------------------------------


def test_kb_service_down_saves_with_a_warning_and_retries_later(login, web_settings, fake_kb):
    client = login("editor")
    fake_kb.down = True
    form = _form(client)
    form.update(body="Während der Suchdienst schläft.", action="publish")
    response = client.post(f"/editor/articles/{ARTICLE}", data=form, follow_redirects=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Die Suche wird aktualisiert, sobald der Suchdienst wieder läuft" in html
    assert "Während der Suchdienst schläft." in _path(web_settings).read_text(encoding="utf-8")
    # The next re-index also brings the missed article up to date.
    fake_kb.down = False
    form = _form(client, 5)
    form.update(action="publish")
    assert client.post("/editor/articles/5", data=form).status_code == 302
    assert fake_kb.reindexed == [[ARTICLE, 5]]


def test_reindex_can_be_switched_off(app, login, fake_kb):
    app.config["SEARCH_REINDEX"] = False
    _publish(login("editor"), "Ohne Suche.")
    assert fake_kb.reindexed == []


# -- preview -------------------------------------------------------------------------------


def test_preview_renders_sanitized_markdown(login):
    client = login("editor")
    token = csrf_token(client, "/editor/")
    response = client.post(
        "/editor/preview",
        json={"body": "## Titel\n\n- eins\n\n<script>alert(1)</script>"},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200
    html = response.get_json()["html"]
    assert "<h2>Titel</h2>" in html and "<li>eins</li>" in html
    assert "<script" not in html
    wrong = client.post("/editor/preview", json={"body": 5}, headers={"X-CSRFToken": token})
    assert wrong.status_code == 400


def test_preview_needs_the_csrf_header(login):
    response = login("editor").post("/editor/preview", json={"body": "x"})
    assert response.status_code == 400


def test_edit_page_has_the_stable_selectors(login):
    html = login("editor").get(f"/editor/articles/{ARTICLE}").get_data(as_text=True)
    for selector in (
        'id="article-form"', 'id="title"', 'id="category"', 'id="tags"', 'id="body"',
        'id="save-draft"', 'id="publish"', 'id="unpublish"', 'id="preview"',
        'name="csrf-token"', "editor.js",
    ):  # fmt: skip
        assert selector in html
    assert "style=" not in html and "onclick" not in html  # the CSP allows neither


# -- an expired form -----------------------------------------------------------------------


def test_an_expired_form_keeps_the_text_and_saving_again_works(login, web_settings):
    client = login("editor")
    form = _form(client)
    form.update(csrf_token="abgelaufen", body="Mein neuer Text, lange getippt.", action="publish")
    response = client.post(f"/editor/articles/{ARTICLE}", data=form)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Formular war abgelaufen" in html and "Mein neuer Text, lange getippt." in html
    assert "lange getippt" not in _path(web_settings).read_text()  # nothing saved
    fresh = re.search(r'name="csrf_token" value="([^"]+)"', html)
    base = re.search(r'name="base_revision" value="([^"]*)"', html)
    assert fresh and base and base.group(1) == form["base_revision"]
    form.update(csrf_token=fresh.group(1))
    assert client.post(f"/editor/articles/{ARTICLE}", data=form).status_code == 302
    assert "lange getippt" in _path(web_settings).read_text()


def test_an_expired_new_article_form_keeps_everything(login):
    client = login("editor")
    response = client.post(
        "/editor/new",
        data={"title": "Neu und ungespeichert", "body": "Erster Absatz.", "action": "draft"},
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Neu und ungespeichert" in html and "Erster Absatz." in html


def test_logged_out_while_editing_the_text_can_be_copied_and_stays_inert(client):
    token = csrf_token(client)
    response = client.post(
        f"/editor/articles/{ARTICLE}",
        data={"csrf_token": token + "x", "title": "T", "body": "<script>alert(1)</script> Text"},
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Sitzung abgelaufen" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Text" in html and "<script>alert" not in html


def test_other_editor_posts_without_a_token_still_fail_plainly(login):
    client = login("editor")
    response = client.post(f"/editor/articles/{ARTICLE}/unpublish")
    assert response.status_code == 400
    assert "Sitzung abgelaufen" not in response.get_data(as_text=True)
    assert client.post("/editor/articles/999", data={"body": "x"}).status_code == 400
