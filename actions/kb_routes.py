"""The KB over loopback HTTP: the action server owns the model and the index, so the web
app (suggestions, editor re-indexing, limited service) asks here instead of loading its own.

Every route needs the installation's KB token: other local users must not re-index or
probe the KB. Searches run in a worker thread so the event loop keeps serving actions.

The editors' "uncovered questions" loop (retrieval/preview.py, retrieval/clusters.py):
``/kb/rescore`` (search's verdict now for stored questions), ``/kb/cluster`` (questions
grouped by topic), ``/kb/preview`` (what a draft article would change, on a private copy of
the index) and ``/kb/reload-scope`` (kb/out_of_scope.yml in effect without a restart).
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from core import strict_json
from kb.article import LANGUAGES
from retrieval.corpus import ScopeError
from retrieval.preview import preview, reload_scope, rescore, topics_of
from retrieval.retriever import IndexReport, QueryError, Retriever

MAX_K = 10
MAX_REINDEX = 100
# The editors' "uncovered questions" routes: at most this many questions per request, each
# at most MAX_QUESTION_CHARS long (longer ones are refused, not cut: they are stored texts).
MAX_RESCORE = 500
MAX_CLUSTER = 2000
MAX_PREVIEW = 500
MAX_QUESTION_CHARS = 10_000
MAX_TITLE_CHARS = 300
MAX_MARKDOWN_CHARS = 200_000
# Questions are encoded for clustering in slices: the embedder's query cache (2,048) must
# hold a whole call's texts.

MAX_JSON_DEPTH = strict_json.MAX_DEPTH
# Bodies are parsed by core.strict_json, not by Sanic (ujson): it passes lone surrogates
# ("\ud800": a draft's text made /kb/preview a 500, a question came back as a cluster's
# label) and duplicate keys, and refuses nesting only at 1,024 levels. NUL is allowed here:
# stored questions are rescored, nothing is stored.
_REASONS = {
    strict_json.NOT_UTF8: "body is not valid UTF-8",
    strict_json.TOO_DEEP: f"JSON is nested deeper than {strict_json.MAX_DEPTH} levels",
    strict_json.INVALID: "body is not valid JSON",
    strict_json.DUPLICATE_KEY: "JSON object has a duplicate key",
    strict_json.UNUSABLE_CHARACTER: "JSON contains a lone surrogate (such as \\ud800)",
}


class BadBody(ValueError):
    """The body is not JSON this server accepts; the message says why."""


def _error(message: str, status: int) -> HTTPResponse:
    return json({"error": message}, status=status)


def parse_body(raw: bytes) -> Any:
    """``raw`` as JSON, or :class:`BadBody` saying why it was refused."""
    try:
        return strict_json.parse(raw, allow_nul=True)
    except strict_json.BadJson as exc:
        raise BadBody(_REASONS[exc.reason]) from None


def _questions(value: Any, name: str, low: int, high: int) -> tuple[list[str] | None, str]:
    """``value`` as a list of ``low``..``high`` strings, or None and the error message."""
    if (
        not isinstance(value, list)
        or not low <= len(value) <= high
        or not all(isinstance(q, str) for q in value)
    ):
        return None, f"{name} must be a list of {low}..{high} strings"
    for i, question in enumerate(value):
        if len(question) > MAX_QUESTION_CHARS:
            return None, f"{name}[{i}] is longer than {MAX_QUESTION_CHARS} characters"
    return value, ""


def _draft(value: Any) -> tuple[dict[str, Any] | None, str]:
    """The draft article of a preview, or None and the error message."""
    expected = "article must be {id: int|null, title: str, markdown: str, lang: str}"
    if not isinstance(value, dict):
        return None, expected
    article_id, title = value.get("id"), value.get("title")
    markdown, lang = value.get("markdown"), value.get("lang")
    if article_id is not None and (
        not isinstance(article_id, int) or isinstance(article_id, bool) or article_id < 1
    ):
        return None, "article.id must be a positive integer or null"
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE_CHARS:
        return (
            None,
            f"article.title must be a non-empty string of at most {MAX_TITLE_CHARS} characters",
        )
    if not isinstance(markdown, str) or len(markdown) > MAX_MARKDOWN_CHARS:
        return None, f"article.markdown must be a string of at most {MAX_MARKDOWN_CHARS} characters"
    if lang not in LANGUAGES:
        return None, f"article.lang must be one of {', '.join(LANGUAGES)}"
    return {"id": article_id, "title": title, "markdown": markdown, "lang": lang}, ""


def kb_blueprint(
    retriever: Retriever,
    token: str,
    reindex_with: Callable[[list[int]], IndexReport | None] | None = None,
) -> Blueprint:
    """The KB routes; ``reindex_with`` first brings this machine's files up to date with the
    database (actions/kb_sync.py), plain ``retriever.reindex`` when not given."""
    bp = Blueprint("kb", url_prefix="/kb")
    reindex_articles = reindex_with or retriever.reindex

    def authorized(request: Request) -> bool:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), token.encode())

    @bp.exception(BadBody)
    async def bad_body(_request: Request, exc: BadBody) -> HTTPResponse:
        return _error(str(exc), 400)

    def body(request: Request) -> dict[str, Any] | None:
        """The JSON object sent, or None (no body, or JSON that is no object: each route
        names what it expects); :class:`BadBody` for a body no route should see."""
        if not request.body:
            return None
        data = parse_body(request.body)
        return data if isinstance(data, dict) else None

    def query_of(
        request: Request, expected: str
    ) -> tuple[dict[str, Any] | None, HTTPResponse | None]:
        """The request's JSON with a string ``query``, or the error response to send."""
        if not authorized(request):
            return None, _error("unauthorized", 401)
        data = body(request)
        if data is None or not isinstance(data.get("query"), str):
            return None, _error(f"expected JSON {expected}", 400)
        return data, None

    @bp.post("/search")
    async def search(request: Request) -> HTTPResponse:
        data, error = query_of(request, "{query: str, k?: int}")
        if error is not None:
            return error
        k = data.get("k", 5)
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
            return _error(f"k must be 1..{MAX_K}", 400)
        try:
            response = await asyncio.to_thread(retriever.search, data["query"], k)
        except QueryError as exc:
            return _error(str(exc), 400)
        found = response.to_dict()
        for result, confidence in zip(found["results"], response.confidences, strict=False):
            result["confidence"] = round(confidence, 4)
        return json({**found, "confidence": round(response.confidence, 4)})

    @bp.post("/answer")
    async def answer(request: Request) -> HTTPResponse:
        data, error = query_of(request, "{query: str, article_id?: int}")
        if error is not None:
            return error
        # A guide the customer chose among those offered for an unclear question.
        chosen = data.get("article_id")
        if chosen is not None and (not isinstance(chosen, int) or isinstance(chosen, bool)):
            return _error("article_id must be an integer", 400)
        try:
            result = await asyncio.to_thread(retriever.answer, data["query"], chosen)
        except QueryError as exc:
            return _error(str(exc), 400)
        return json(result.to_dict())

    @bp.post("/reindex")
    async def reindex(request: Request) -> HTTPResponse:
        if not authorized(request):
            return _error("unauthorized", 401)
        data = body(request)
        ids = data.get("article_ids") if data else None
        if (
            not isinstance(ids, list)
            or not ids
            or len(ids) > MAX_REINDEX
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
        ):
            return _error(f"expected JSON {{article_ids: [int, …]}} (1..{MAX_REINDEX})", 400)
        report = await asyncio.to_thread(reindex_articles, ids)
        assert report is not None  # ids is never empty
        return json(
            {"chunks": report.chunks, "articles": report.articles, "took_ms": report.took_ms}
        )

    def texts_of(
        request: Request, key: str, most: int
    ) -> tuple[list[str] | None, HTTPResponse | None]:
        """The request's JSON list of 1..most strings under ``key``, or the error to send."""
        if not authorized(request):
            return None, _error("unauthorized", 401)
        data = body(request)
        if data is None:
            return None, _error(f"expected JSON {{{key}: [str, …]}}", 400)
        texts, problem = _questions(data.get(key), key, 1, most)
        return texts, None if texts is not None else _error(problem, 400)

    @bp.post("/rescore")
    async def rescore_route(request: Request) -> HTTPResponse:
        queries, error = texts_of(request, "queries", MAX_RESCORE)
        if queries is None:
            return error
        results = await asyncio.to_thread(rescore, retriever, queries)
        return json({"results": results})

    @bp.post("/cluster")
    async def cluster_route(request: Request) -> HTTPResponse:
        questions, error = texts_of(request, "questions", MAX_CLUSTER)
        if questions is None:
            return error
        for i, question in enumerate(questions):
            if not question.strip():
                return _error(f"questions[{i}] is empty", 400)
        try:
            found = await asyncio.to_thread(topics_of, retriever, tuple(questions))
        except QueryError as exc:
            return _error(str(exc), 400)
        return json({"clusters": found})

    @bp.post("/preview")
    async def preview_route(request: Request) -> HTTPResponse:
        if not authorized(request):
            return _error("unauthorized", 401)
        data = body(request)
        if data is None:
            return _error("expected JSON {article: {…}, queries: [str, …]}", 400)
        draft, problem = _draft(data.get("article"))
        if draft is None:
            return _error(problem, 400)
        queries, problem = _questions(data.get("queries"), "queries", 0, MAX_PREVIEW)
        if queries is None:
            return _error(problem, 400)
        return json(await asyncio.to_thread(preview, retriever, draft, queries))

    @bp.post("/reload-scope")
    async def reload_scope_route(request: Request) -> HTTPResponse:
        if not authorized(request):
            return _error("unauthorized", 401)
        if request.body and body(request) is None:
            return _error("expected JSON {}", 400)
        try:
            topics = await asyncio.to_thread(reload_scope, retriever)
        except ScopeError as exc:
            return _error(str(exc), 400)
        return json({"topics": topics})

    return bp
