"""The KB over loopback HTTP: the action server owns the model and the index, so the web
app (suggestions, editor re-indexing, limited service) asks here instead of loading its own.

Every route needs the installation's KB token: other local users must not re-index or
probe the KB. Searches run in a worker thread so the event loop keeps serving actions.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from retrieval.service import QueryError, Retriever

MAX_K = 10
MAX_REINDEX = 100


def _error(message: str, status: int) -> HTTPResponse:
    return json({"error": message}, status=status)


def kb_blueprint(retriever: Retriever, token: str) -> Blueprint:
    bp = Blueprint("kb", url_prefix="/kb")

    def authorized(request: Request) -> bool:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), token.encode())

    def body(request: Request) -> dict[str, Any] | None:
        try:
            data = request.json
        except Exception:  # Sanic raises its own BadRequest for invalid JSON
            return None
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
        if not isinstance(k, int) or not 1 <= k <= MAX_K:
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
        report = await asyncio.to_thread(retriever.reindex, ids)
        return json(
            {"chunks": report.chunks, "articles": report.articles, "took_ms": report.took_ms}
        )

    return bp
