"""The action server's KB routes refuse malformed JSON with a 400 and a reason, never a 500:
lone surrogates (escaped or as UTF-8 bytes, in keys or values, at any depth), deep nesting,
duplicate keys, NaN and fields of the wrong type. The server is the one
tests/actions/test_kb_editor_routes.py starts (Sanic, fake embedding model)."""

from __future__ import annotations

import time

import pytest
import requests

from actions.kb_routes import MAX_JSON_DEPTH, BadBody, parse_body
from tests.actions import test_kb_editor_routes as editor_routes
from tests.actions.test_kb_editor_routes import DRAFT, TOKEN, Server

# The same module-scoped fixture: one server for this module, started as that one starts it.
server = editor_routes.server

SURROGATE_BYTES = b"\xed\xa0\x80"  # the UTF-8 of U+D800, which strict UTF-8 refuses
ARTICLE = b'{"id": null, "title": "Brieftaube", "markdown": "## Taube\\n\\nText.\\n", "lang": "de"}'


def nested(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


# -- the parser ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"query": "x \\ud800 y"}', "surrogate"),
        (b'{"\\udc00": 1, "query": "x"}', "surrogate"),
        (b'{"queries": ["ok", ["\\udfff"]]}', "surrogate"),
        (b'{"query": "' + SURROGATE_BYTES + b'"}', "UTF-8"),
        (b'{"query": "\xff"}', "UTF-8"),
        (b'{"x": ' + nested(MAX_JSON_DEPTH) + b"}", "deeper"),
        (nested(1_000_000), "deeper"),
        (b'{"query": "a", "query": "b"}', "duplicate"),
        (b'{"k": NaN}', "not valid JSON"),
        (b"{kaputt", "not valid JSON"),
        (b'"offen' + b"[" * 100_000, "not valid JSON"),
    ],
)
def test_parse_body_refuses(raw: bytes, reason: str):
    with pytest.raises(BadBody, match=reason):
        parse_body(raw)


def test_parse_body_accepts():
    assert parse_body('{"query": "\\ud83d\\ude00 Grüße"}'.encode()) == {"query": "😀 Grüße"}
    assert parse_body(b'{"query": "[[[\\"{{{"}') == {"query": '[[["{{{'}
    assert parse_body(b'{"x": ' + nested(MAX_JSON_DEPTH - 1) + b"}")["x"]
    assert parse_body(b'{"query": "a\\u0000b"}') == {"query": "a\x00b"}  # nothing is stored


def test_a_deep_body_is_refused_quickly():
    started = time.perf_counter()
    with pytest.raises(BadBody):
        parse_body(nested(5_000_000))
    assert time.perf_counter() - started < 1


# -- over HTTP -------------------------------------------------------------------------------


MALFORMED = [
    ("/kb/search", b'{"query": "x \\ud800 y"}'),
    ("/kb/search", b'{"query": "' + SURROGATE_BYTES + b'"}'),
    ("/kb/search", b'{"\\ud800": 1, "query": "x"}'),
    ("/kb/search", b'{"query": "x", "z": ' + nested(10_000) + b"}"),
    ("/kb/search", b'{"query": "x", "z": ' + nested(100_000) + b"}"),
    ("/kb/search", b'{"query": "x", "z": ' + nested(MAX_JSON_DEPTH) + b"}"),
    ("/kb/search", b'{"query": "x", "query": "y"}'),
    ("/kb/search", b'{"query": "x", "k": true}'),
    ("/kb/search", b'{"query": "x", "k": NaN}'),
    ("/kb/search", b'{"query": ["x"]}'),
    ("/kb/answer", b'{"query": "x \\ud800 y"}'),
    ("/kb/answer", b'{"query": "x", "article_id": true}'),
    ("/kb/reindex", b'{"article_ids": [1], "x": "\\ud800"}'),
    ("/kb/reindex", b'{"article_ids": ' + nested(5_000) + b"}"),
    ("/kb/rescore", b'{"queries": ["x \\ud800 y"]}'),
    ("/kb/rescore", b'{"queries": ["' + SURROGATE_BYTES + b'"]}'),
    ("/kb/cluster", b'{"questions": ["x \\ud800 y", "zweite Frage"]}'),
    ("/kb/preview", b'{"article": ' + ARTICLE[:-1] + b', "x": "\\udc00"}, "queries": []}'),
    ("/kb/preview", b'{"article": ' + ARTICLE + b', "queries": ["\\ud800"]}'),
    ("/kb/preview", b'{"article": ' + ARTICLE + b', "queries": [' + nested(50) + b"]}"),
    ("/kb/reload-scope", b'{"x": "\\ud800"}'),
    ("/kb/reload-scope", nested(100_000)),
]


@pytest.mark.parametrize(("route", "body"), MALFORMED)
def test_malformed_bodies_are_a_400_with_a_reason(server: Server, route: str, body: bytes):
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    response = requests.post(server.url + route, data=body, headers=headers, timeout=30)
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"error"} and response.json()["error"]


def test_a_draft_with_a_surrogate_was_a_500(server: Server):
    draft = {**DRAFT, "lang": "de", "markdown": "## Taube\n\nText \ud800.\n"}
    # requests encodes the surrogate as the escape \ud800 (json.dumps, ensure_ascii).
    response = server.post("/kb/preview", {"article": draft, "queries": []})
    assert response.status_code == 400 and "surrogate" in response.json()["error"]


def test_the_token_is_still_checked_first(server: Server):
    body = b'{"query": "\\ud800"}'
    response = requests.post(server.url + "/kb/search", data=body, timeout=10)
    assert response.status_code == 401


def test_good_bodies_still_work(server: Server):
    assert server.post("/kb/search", {"query": "Rechnung 😀", "k": 2}).status_code == 200
    assert server.post("/kb/reload-scope").status_code == 200  # no body at all
