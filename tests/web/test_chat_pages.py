"""The customer-facing pages: demo host page, widget loader and frame, guide pages."""

from __future__ import annotations

import re

import pytest

ARTICLE = """---
id: {id}
title: {title}
lang: de
category: Test
tags: []
status: {status}
updated: 2026-01-01
---

Siehe auch [die andere Anleitung](kb:14) und [die Datei](benutzerkonto-loeschen.md).

<script>alert(1)</script>

- **Schritt** eins
"""


@pytest.fixture
def write_article(web_settings):
    def write(article_id: int, title: str, status: str = "published") -> None:
        path = web_settings.kb_dir / "articles" / "de" / f"test-{article_id}.md"
        path.write_text(ARTICLE.format(id=article_id, title=title, status=status), "utf-8")

    return write


def test_demo_page_embeds_the_widget_with_exactly_one_script_tag(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Beispiel Hosting" in html and 'lang="de"' in html
    assert html.count("<script") == 1
    assert '<script src="/widget.js" defer></script>' in html
    assert "/static/site.css" in html
    assert "style=" not in html and not re.search(r"\son\w+=", html)


def test_widget_loader_is_javascript_and_embeddable_anywhere(client):
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response.mimetype in ("text/javascript", "application/javascript")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    source = response.get_data(as_text=True)
    assert "document.currentScript" in source  # URLs come from the script's own address
    for needed in ("hd-launcher", "hd-frame", "Fragen Sie uns", "aria-expanded"):
        assert needed in source


def test_widget_frame_may_be_framed_and_has_the_stable_ids(client):
    response = client.get("/widget/")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors *" in csp and "script-src 'self'" in csp
    assert "X-Frame-Options" not in response.headers
    html = response.get_data(as_text=True)
    for element_id in ("hd-form", "hd-input", "hd-send", "hd-log", "hd-typing", "hd-status"):
        assert f'id="{element_id}"' in html
    assert 'role="log"' in html and 'aria-live="polite"' in html
    assert '<label for="hd-input"' in html
    # CSP forbids inline code: every script is a file.
    assert not re.search(r"<script(?![^>]*\ssrc=)", html)
    assert "style=" not in html and not re.search(r"\son\w+=", html)


def test_other_pages_may_not_be_framed(client):
    for path in ("/", "/hilfe/14"):
        response = client.get(path)
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    "path",
    [
        "/static/widget-app.js",
        "/static/widget.css",
        "/static/widget-loader.css",
        "/static/site.css",
    ],
)
def test_widget_assets_are_served(client, path):
    assert client.get(path).status_code == 200


def test_guide_page(client):
    response = client.get("/hilfe/14")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1>Benutzerkonto löschen</h1>" in html
    assert "<h2>Vorbemerkung</h2>" in html


def test_guide_links_to_other_guides_and_is_sanitized(client, write_article):
    write_article(901, "Testartikel")
    html = client.get("/hilfe/901").get_data(as_text=True)
    assert 'href="/hilfe/14"' in html  # kb:14
    assert html.count('href="/hilfe/14"') == 2  # and the relative file path
    assert "<strong>Schritt</strong>" in html
    assert "alert(1)" not in html


def test_unknown_or_unpublished_guide_is_a_german_404(client, write_article):
    write_article(902, "Entwurf", status="draft")
    for path in ("/hilfe/902", "/hilfe/99999"):
        response = client.get(path)
        assert response.status_code == 404
        assert "Anleitung nicht gefunden" in response.get_data(as_text=True)
    assert client.get("/hilfe/keine-zahl").status_code == 404


def test_guide_index_lists_published_guides_only(client, write_article):
    write_article(903, "Sichtbarer Artikel")
    write_article(904, "Geheimer Entwurf", status="draft")
    html = client.get("/hilfe/").get_data(as_text=True)
    assert "Sichtbarer Artikel" in html and "Benutzerkonto löschen" in html
    assert "Geheimer Entwurf" not in html


def test_guide_search_shows_up_to_five_guides_linked(client):
    html = client.get("/hilfe/?q=Rechnung%20als%20PDF").get_data(as_text=True)
    assert "Suchergebnisse für „Rechnung als PDF“" in html
    results = html.split('class="guide-results__list"')[1].split("</ol>")[0]
    assert re.findall(r'href="/hilfe/(\d+)"', results) == ["7", "8", "9", "10", "11"]
    assert "Rechnungsadresse ändern 0" in results
    assert 'value="Rechnung als PDF"' in html  # the search box keeps the question
    assert "Alle Anleitungen" in html and "Benutzerkonto löschen" in html  # and the list


def test_guide_search_escapes_the_query(client):
    html = client.get("/hilfe/", query_string={"q": "<script>alert(1)</script>"}).get_data(
        as_text=True
    )
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_guide_search_when_the_kb_is_down(client, fake_kb):
    fake_kb.down = True
    response = client.get("/hilfe/?q=Rechnung")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Die Suche ist gerade nicht verfügbar" in html
    assert "Benutzerkonto löschen" in html  # the list of guides is still there


def test_guide_index_without_a_query_searches_nothing(client, fake_kb):
    fake_kb.down = True  # would show the message if it searched
    html = client.get("/hilfe/?q=%20%20").get_data(as_text=True)
    assert "Suchergebnisse" not in html and "nicht verfügbar" not in html
    assert 'role="search"' in html
