"""Customers: the embeddable widget, its demo host page and the guide pages.

``/widget.js`` is the one file a provider's page includes; it adds a launcher button and an
iframe with ``/widget/``, so the chat's styles and storage are the app's own, whatever page
it sits on (``web.security`` allows only ``/widget/`` to be framed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, render_template, request, send_from_directory, url_for
from markupsafe import Markup

from kb.article import Article
from kb.links import KbLink
from kb.store import ArticleStore
from web import kb_replica
from web.channels import kb, settings
from web.clients.kb import KbQueryError, KbUnavailable
from web.markdown_render import render_markdown

bp = Blueprint("chat", __name__)

SEARCH_RESULTS = 5
MAX_SEARCH_CHARS = 200
SEARCH_DOWN = (
    "Die Suche ist gerade nicht verfügbar. Bitte versuchen Sie es in einigen Minuten erneut "
    "oder wählen Sie unten eine Anleitung aus der Liste."
)


@bp.get("/")
def demo():
    """A made-up provider's homepage, to show the widget where customers meet it."""
    return render_template("chat/demo.html", brand=settings().brand, guides=_published()[:6])


@bp.get("/widget.js")
def widget_loader():
    response = send_from_directory(
        Path(current_app.static_folder or "static"),
        "widget.js",
        mimetype="text/javascript",
        max_age=300,  # short: a new release reaches the providers' pages within minutes
    )
    # A public script without credentials; allows <script crossorigin> on the host page.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@bp.get("/widget/")
def widget():
    return render_template("chat/widget.html", brand=settings().brand)


@bp.get("/hilfe/")
def guides():
    """Every published guide by category; with ``?q=``, first the guides the KB finds for
    it (the bot links here when no guide covers a question)."""
    query = " ".join(request.args.get("q", "").split())[:MAX_SEARCH_CHARS]
    kb_replica.catch_up()
    return render_template(
        "chat/guides.html",
        brand=settings().brand,
        guides=_published(),
        query=query,
        search=_search(query) if query else None,
    )


def _search(query: str) -> dict[str, Any]:
    """Up to ``SEARCH_RESULTS`` guides for ``query``; a German message if the KB is down."""
    try:
        found = kb().search(query, SEARCH_RESULTS)
    except KbUnavailable:
        return {"error": SEARCH_DOWN, "results": []}
    except KbQueryError as exc:
        return {"error": str(exc), "results": []}
    results = [
        {
            "id": r["article_id"],
            "title": str(r.get("title") or ""),
            "snippet": str(r.get("snippet") or ""),
        }
        for r in found.get("results") or []
        if isinstance(r, dict) and isinstance(r.get("article_id"), int)
    ]
    return {"error": None, "results": results[:SEARCH_RESULTS]}


@bp.get("/hilfe/<int:article_id>")
def guide(article_id: int):
    kb_replica.catch_up()
    store = ArticleStore(settings().kb_dir)
    article = store.get(article_id)
    if article is None or not article.published:
        return render_template("chat/guide_missing.html", brand=settings().brand), 404
    return render_template(
        "chat/guide.html",
        brand=settings().brand,
        article=article,
        body=_article_html(article, store),
    )


def _published() -> list[Article]:
    articles = ArticleStore(settings().kb_dir).articles()
    return sorted((a for a in articles if a.published and a.lang == "de"), key=lambda a: a.title)


def _article_html(article: Article, store: ArticleStore) -> Markup:
    """The body as sanitized HTML, with links to other articles pointing at their pages."""
    ids: dict[str, int] = {}

    def to_page(link: KbLink) -> str | None:
        # Links between articles in the KB files: [Text](kb:12) or a relative path to the file.
        if link.is_id:
            return _guide_url(link.article_id) if link.article_id is not None else None
        stem = _file_stem(link.file)
        if not stem:
            return None
        if not ids:
            ids.update({a.path.stem: a.id for a in store.articles() if a.path is not None})
        target = ids.get(stem)
        if not target:
            return ""  # an unknown file: a link to nowhere rather than a broken one
        anchor = link.target[len(link.file) :]
        return _guide_url(target) + anchor

    return Markup(render_markdown(article.body, kb_links=to_page))  # safe: sanitized


def _file_stem(path: str) -> str:
    """The file's name without ``.md``: the word characters and hyphens before it."""
    name = path.removesuffix(".md")
    start = len(name)
    while start and (name[start - 1].isalnum() or name[start - 1] in "_-"):
        start -= 1
    return name[start:]


def _guide_url(article_id: int) -> str:
    return url_for("chat.guide", article_id=article_id)
