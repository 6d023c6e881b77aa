"""Malformed input never makes a 500: JSON bodies with lone surrogates, NUL characters, deep
nesting, duplicate keys or the wrong shape get a German 400 (web/json_input.py) and nothing
is stored; surrogates in forms and query strings are refused or treated as plain text."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.conversations import ChatMessage, Conversation
from core.db import get_sessionmaker, session_scope
from core.settings import Settings
from tests.web.conftest import csrf_token
from web import json_input
from web.chat_api import MALFORMED
from web.json_input import (
    BAD_CHARACTERS,
    BAD_QUERY,
    DUPLICATE,
    INVALID,
    MAX_DEPTH,
    TOO_DEEP,
    JsonInputError,
)

API = "/api/chat/conversations"
JSON = {"Content-Type": "application/json"}
# The UTF-8 of the lone surrogate U+D800, which strict UTF-8 does not allow.
SURROGATE_BYTES = b"\xed\xa0\x80"
# What a WSGI server puts into QUERY_STRING for raw bytes (PEP 3333: latin-1).
RAW_QUERY = "q=" + SURROGATE_BYTES.decode("latin-1")


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


@pytest.fixture
def app(app: Flask) -> Flask:
    # A 500 must show up as one, not as an exception the test client re-raises.
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


def start(client: FlaskClient) -> str:
    response = client.post(API, json={})
    assert response.status_code == 201
    return response.get_json()["conversation_id"]


def count(web_settings: Settings, model: type, **where: str) -> int:
    with session_scope(get_sessionmaker(web_settings)) as session:
        query = select(func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        return session.scalar(query)


# -- the parser ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"text": "x \\ud800 y"}', BAD_CHARACTERS),
        ('{"text": "x \\udfff"}', BAD_CHARACTERS),
        ('{"text": "\\ude00\\ud83d"}', BAD_CHARACTERS),  # a pair the wrong way round
        ('{"\\udc00": "Schlüssel"}', BAD_CHARACTERS),
        ('{"a": [{"b": ["ok", {"\\ud800": 1}]}]}', BAD_CHARACTERS),
        ('{"a": [[[["\\ud800"]]]]}', BAD_CHARACTERS),
        ('{"text": "a\\u0000b"}', BAD_CHARACTERS),
        (b'{"text": "' + SURROGATE_BYTES + b'"}', BAD_CHARACTERS),
        (b'{"text": "\xff"}', BAD_CHARACTERS),
        ('{"x": ' + nested(MAX_DEPTH) + "}", TOO_DEEP),  # the object is one more level
        (nested(10_000), TOO_DEEP),
        (nested(1_000_000), TOO_DEEP),
        ('{"a": ' * 100_000 + "1" + "}" * 100_000, TOO_DEEP),
        ('{"text": "a", "text": "b"}', DUPLICATE),
        ('{"a": {"b": 1, "b": 1}}', DUPLICATE),
        ('{"text": NaN}', INVALID),
        ('{"text": -Infinity}', INVALID),
        ('{"n": ' + "1" * 5000 + "}", INVALID),  # longer than Python converts
        ("{kaputt", INVALID),
        ("", INVALID),
        ('"offen' + "[" * 100_000, INVALID),  # brackets after a string left open
        ("]" + "[" * 10, INVALID),
    ],
)
def test_parse_refuses(raw: str | bytes, message: str):
    with pytest.raises(JsonInputError) as refused:
        json_input.parse(raw)
    assert refused.value.message == message and refused.value.status == 400


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"text": "\\ud83d\\ude00"}', {"text": "😀"}),  # a valid pair is one character
        ('{"text": "😀 Grüße"}'.encode(), {"text": "😀 Grüße"}),
        ('{"x": ' + nested(MAX_DEPTH - 1) + "}", None),
        # Brackets and escaped quotes inside strings are text, not nesting.
        ('{"t": "' + "[" * 100 + '", "u": "\\"[[[[\\\\"}', {"t": "[" * 100, "u": '"[[[[\\'}),
        ('"nur ein String"', "nur ein String"),
        ("[]", []),
    ],
)
def test_parse_accepts(raw: str | bytes, expected: object):
    parsed = json_input.parse(raw)
    if expected is not None:
        assert parsed == expected


def test_a_deep_body_is_refused_without_reading_it_all():
    started = time.perf_counter()
    for raw in (nested(5_000_000), "[" + '"\\"' * 500_000, '["' + "\\" * 1_000_000):
        with pytest.raises(JsonInputError):
            json_input.parse(raw)
    assert time.perf_counter() - started < 2


# -- the chat API ----------------------------------------------------------------------------


CHAT_REFUSED = [
    (b'{"text": "x \\ud800 y"}', BAD_CHARACTERS),
    (b'{"text": "hallo", "display": "\\udbff"}', BAD_CHARACTERS),
    (b'{"text": "hallo", "\\ud800": true}', BAD_CHARACTERS),
    (b'{"text": "hallo", "x": {"y": ["\\udc00"]}}', BAD_CHARACTERS),
    (b'{"text": "' + SURROGATE_BYTES + b'"}', BAD_CHARACTERS),
    (b'{"text": "a\\u0000b"}', BAD_CHARACTERS),
    (b'{"text": "hallo", "x": ' + nested(10_000).encode() + b"}", TOO_DEEP),
    (b'{"text": "hallo", "x": ' + nested(MAX_DEPTH).encode() + b"}", TOO_DEEP),
    (b'{"text": "eins", "text": "zwei"}', DUPLICATE),
    (b'{"text": NaN}', INVALID),
    (b"{kaputt", INVALID),
    (b'["text"]', MALFORMED),
    (b'{"text": ["hallo"]}', MALFORMED),
    (b'{"text": "hallo", "display": {"a": 1}}', MALFORMED),
]


@pytest.mark.parametrize(("body", "message"), CHAT_REFUSED)
def test_a_malformed_message_is_a_400_and_stores_nothing(
    client, web_settings, fake_bot, body: bytes, message: str
):
    cid = start(client)
    response = client.post(f"{API}/{cid}/messages", data=body, headers=JSON)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json() == {"error": message}
    assert response.headers["Cache-Control"] == "no-store"
    assert count(web_settings, ChatMessage, conversation_id=cid) == 0
    assert fake_bot.sent == []


def test_a_deep_body_over_the_chat_limit_is_still_413(client):
    cid = start(client)
    body = '{"text": "hallo", "x": ' + nested(100_000) + "}"
    response = client.post(f"{API}/{cid}/messages", data=body, headers=JSON)
    assert response.status_code == 413
    assert "zu groß" in response.get_json()["error"]


def test_a_valid_pair_and_some_nesting_are_fine(client, web_settings):
    cid = start(client)
    body = '{"text": "Danke \\ud83d\\ude00", "x": ' + nested(MAX_DEPTH - 1) + "}"
    response = client.post(f"{API}/{cid}/messages", data=body, headers=JSON)
    assert response.status_code == 200
    assert response.get_json()["messages"][0]["text"] == "Danke 😀"
    assert count(web_settings, ChatMessage, conversation_id=cid, sender="customer") == 1


# -- the editor's preview (JSON, or a form) --------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"body": "x \\ud800"}', BAD_CHARACTERS),
        (b'{"body": "' + SURROGATE_BYTES + b'"}', BAD_CHARACTERS),
        (b'{"body": "x", "y": ' + nested(100_000).encode() + b"}", TOO_DEEP),
        (b'{"body": "x", "body": "y"}', DUPLICATE),
        (b"{kaputt", INVALID),
        (b'["body"]', 'Erwartet wird JSON {"body": "…"}.'),
        (b'{"body": null}', 'Erwartet wird JSON {"body": "…"}.'),
    ],
)
def test_preview_refuses_malformed_json(login, body: bytes, message: str):
    client = login("editor")
    headers = {**JSON, "X-CSRFToken": csrf_token(client, "/editor/new")}
    response = client.post("/editor/preview", data=body, headers=headers)
    assert response.status_code == 400
    assert response.get_json() == {"error": message}


def test_preview_of_a_form_with_a_surrogate(login):
    client = login("editor")
    headers = {"X-CSRFToken": csrf_token(client, "/editor/new")}
    form = "application/x-www-form-urlencoded"
    # werkzeug keeps an escape that is not UTF-8 as it is: plain text.
    response = client.post(
        "/editor/preview", data="body=%ED%A0%80", content_type=form, headers=headers
    )
    assert response.status_code == 200 and "%ED%A0%80" in response.get_json()["html"]
    # A form body that is not UTF-8 is no form at all: nothing to preview.
    response = client.post(
        "/editor/preview", data=b"body=" + SURROGATE_BYTES, content_type=form, headers=headers
    )
    assert response.status_code == 200 and response.get_json() == {"html": ""}


# -- forms: the agent's reply, the editor's article ------------------------------------------


def waiting_conversation(web_settings: Settings, cid: str) -> str:
    with session_scope(get_sessionmaker(web_settings)) as session:
        conversation = Conversation(id=cid, state="waiting")
        session.add(conversation)
        session.add(ChatMessage(conversation=conversation, sender="customer", text="Hilfe"))
    return cid


def test_agent_reply_with_a_surrogate(login, web_settings):
    cid = waiting_conversation(web_settings, "c-surrogate")
    client = login("agent")
    token = csrf_token(client, f"/agent/conversations/{cid}")
    url = f"/agent/conversations/{cid}/reply"
    form = "application/x-www-form-urlencoded"
    as_json = {"X-CSRFToken": token, "Accept": "application/json"}
    # Raw bytes: werkzeug yields an empty form, so the normal "empty message" error.
    response = client.post(url, data=b"text=" + SURROGATE_BYTES, content_type=form, headers=as_json)
    assert response.status_code == 400
    assert "Bitte geben Sie eine Nachricht ein." in response.get_json()["error"]
    # The same with the token in the (unreadable) form: the security check refuses it.
    body = b"csrf_token=" + token.encode() + b"&text=" + SURROGATE_BYTES
    assert client.post(url, data=body, content_type=form).status_code == 400
    # Multipart: werkzeug decodes with replacement characters.
    multipart = (
        b'--b\r\nContent-Disposition: form-data; name="text"\r\n\r\nA'
        + SURROGATE_BYTES
        + b"\r\n--b--\r\n"
    )
    response = client.post(
        url, data=multipart, content_type="multipart/form-data; boundary=b", headers=as_json
    )
    assert response.status_code == 200
    # A percent-escape that is not UTF-8 and the text "\ud800" are just text.
    for text in ("%ED%A0%80", "\\ud800"):
        response = client.post(url, data={"text": text}, headers=as_json)
        assert response.status_code == 200
    with session_scope(get_sessionmaker(web_settings)) as session:
        stored = session.scalars(
            select(ChatMessage.text)
            .where(ChatMessage.conversation_id == cid, ChatMessage.sender == "agent")
            .order_by(ChatMessage.id)
        ).all()
    assert stored == ["A\ufffd\ufffd\ufffd", "%ED%A0%80", "\\ud800"]


def test_editor_form_with_a_surrogate(login, web_settings):
    client = login("editor")
    token = csrf_token(client, "/editor/new")
    form = "application/x-www-form-urlencoded"
    fields = "&category=Domains&body=Text&lang=de&action=draft"
    before = sorted(web_settings.kb_dir.rglob("*.md"))
    body = f"csrf_token={token}&title=" + SURROGATE_BYTES.decode("latin-1") + fields
    response = client.post("/editor/new", data=body.encode("latin-1"), content_type=form)
    assert response.status_code == 400  # no readable form, so no valid token
    assert sorted(web_settings.kb_dir.rglob("*.md")) == before
    body = f"csrf_token={token}&title={quote('Titel %ED%A0%80')}" + fields
    response = client.post("/editor/new", data=body, content_type=form)
    assert response.status_code == 302  # the escape is text in the title, stored as such


def test_a_nul_from_a_form_is_refused_and_stores_nothing(login, web_settings):
    # Forms never carry surrogates, but they can carry NUL, which PostgreSQL cannot store.
    cid = waiting_conversation(web_settings, "c-nul")
    client = login("agent")
    token = csrf_token(client, f"/agent/conversations/{cid}")
    as_json = {"X-CSRFToken": token, "Accept": "application/json"}
    url = f"/agent/conversations/{cid}/reply"
    response = client.post(url, data={"text": "a\x00b"}, headers=as_json)
    assert response.status_code == 400 and "ungültiges Zeichen" in response.get_json()["error"]
    with session_scope(get_sessionmaker(web_settings)) as session:
        agent_rows = session.scalars(
            select(ChatMessage.id).where(ChatMessage.sender == "agent")
        ).all()
    assert agent_rows == []
    client = login("editor")
    before = sorted(web_settings.kb_dir.rglob("*.md"))
    response = client.post(
        "/editor/new",
        data={
            "csrf_token": csrf_token(client, "/editor/new"),
            "title": "Titel",
            "category": "Domains",
            "body": "Text\x00",
            "lang": "de",
            "action": "draft",
        },
    )
    assert response.status_code == 422 and "Nullzeichen" in response.get_data(as_text=True)
    assert sorted(web_settings.kb_dir.rglob("*.md")) == before


# -- query strings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/hilfe/", "/editor/", "/agent/", "/agent/conversations/c-q", "/agent/api/search"],
)
def test_query_strings_with_surrogates(login, web_settings, path: str):
    waiting_conversation(web_settings, "c-q")
    client = login("admin")
    for query in ("q=%ED%A0%80", "q=" + quote("\\ud800"), "%ED%A0%80=1", "q=%ff"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 200, (path, query)
    response = client.get(path, environ_overrides={"QUERY_STRING": RAW_QUERY})
    assert response.status_code == 400
    if "/api/" in path:
        assert response.get_json() == {"error": BAD_QUERY}
    else:
        assert BAD_QUERY in response.get_data(as_text=True)


def test_raw_query_bytes_on_the_chat_api(client, web_settings, fake_bot):
    cid = start(client)
    response = client.get(f"{API}/{cid}/messages", environ_overrides={"QUERY_STRING": "after=\xff"})
    assert response.status_code == 400
    assert response.get_json() == {"error": BAD_QUERY}
    response = client.post(
        f"{API}/{cid}/messages",
        json={"text": "hallo"},
        environ_overrides={"QUERY_STRING": RAW_QUERY},
    )
    assert response.status_code == 400
    assert count(web_settings, ChatMessage, conversation_id=cid) == 0 and fake_bot.sent == []


def test_a_surrogate_in_the_path_is_not_found(login):
    # werkzeug decodes the path with replacement characters: an id that does not exist.
    client = login("agent")
    assert client.get("/agent/conversations/%ED%A0%80").status_code == 404
    assert client.get(f"{API}/%ED%A0%80/messages").status_code == 404
