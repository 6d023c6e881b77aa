"""Cross-origin use of the chat API (HELPDESK_ALLOWED_ORIGINS): a widget on the provider's
site may call it, any other site may not, and nothing with cookies ever answers another
origin."""

from __future__ import annotations

import dataclasses

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.settings import Settings
from tests.web.conftest import PASSWORD, csrf_token
from tests.web.fakes import FakeBot, FakeKb
from web import create_app

API = "/api/chat/conversations"
SHOP = "https://shop.example.de"
EVIL = "https://evil.example"
ACAO = "Access-Control-Allow-Origin"


def preflight(client: FlaskClient, path: str, origin: str, method: str = "POST"):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "Content-Type",
        },
    )


def app_for(settings: Settings, **changes) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "SETTINGS": dataclasses.replace(settings, **changes),
            "RASA_CLIENT": FakeBot(),
            "KB_CLIENT": FakeKb(),
        }
    )


@pytest.fixture
def shop_client(web_settings: Settings) -> FlaskClient:
    return app_for(web_settings, allowed_origins=(SHOP, "http://localhost:3000")).test_client()


def test_an_allowed_origin_passes_the_preflight(shop_client):
    response = preflight(shop_client, API, SHOP)
    assert response.status_code == 200
    assert response.headers[ACAO] == SHOP
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Allow-Headers"].lower() == "content-type"
    assert response.headers["Access-Control-Max-Age"] == "600"
    # No cookies are involved, so none may be sent along.
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert "Origin" in response.headers.get("Vary", "")


def test_a_refused_origin_gets_no_cors_headers(shop_client):
    response = preflight(shop_client, API, EVIL)
    assert ACAO not in response.headers
    assert "Access-Control-Allow-Methods" not in response.headers
    # Nor does an origin that only looks like an allowed one.
    for lookalike in (SHOP + ".evil.example", "http://shop.example.de", SHOP + ":8443"):
        assert ACAO not in preflight(shop_client, API, lookalike).headers


def test_the_conversation_routes_answer_an_allowed_origin(shop_client):
    response = shop_client.post(API, json={}, headers={"Origin": SHOP})
    assert response.status_code == 201
    assert response.headers[ACAO] == SHOP
    cid = response.get_json()["conversation_id"]
    path = f"{API}/{cid}/messages"
    assert preflight(shop_client, path, SHOP).headers[ACAO] == SHOP
    sent = shop_client.post(path, json={"text": "Hallo"}, headers={"Origin": SHOP})
    assert sent.status_code == 200 and sent.headers[ACAO] == SHOP
    polled = shop_client.get(path, headers={"Origin": "http://localhost:3000"})
    assert polled.headers[ACAO] == "http://localhost:3000"
    refused = shop_client.get(path, headers={"Origin": EVIL})
    assert ACAO not in refused.headers


def test_preflights_do_not_use_up_the_rate_limit(web_settings):
    client = app_for(
        web_settings, allowed_origins=(SHOP,), chat_rate_limit="2/minute"
    ).test_client()
    for _ in range(5):
        assert preflight(client, API, SHOP).status_code == 200
    statuses = [client.post(API, json={}, headers={"Origin": SHOP}).status_code for _ in range(3)]
    assert statuses == [201, 201, 429]


def test_by_default_only_the_public_urls_own_origin(web_settings):
    assert web_settings.allowed_origins == ("http://127.0.0.1:8000",)
    client = app_for(web_settings).test_client()
    assert preflight(client, API, "http://127.0.0.1:8000").headers[ACAO] == "http://127.0.0.1:8000"
    assert ACAO not in preflight(client, API, SHOP).headers


def test_any_origin_when_asked_for_explicitly(web_settings):
    client = app_for(web_settings, allowed_origins=("*",)).test_client()
    for origin in (SHOP, EVIL):
        response = preflight(client, API, origin)
        assert response.headers[ACAO] in (origin, "*")
        assert "Access-Control-Allow-Credentials" not in response.headers


def test_no_origin_at_all_when_the_list_is_empty(web_settings):
    client = app_for(web_settings, allowed_origins=()).test_client()
    for origin in ("http://127.0.0.1:8000", SHOP):
        assert ACAO not in preflight(client, API, origin).headers
        assert ACAO not in client.post(API, json={}, headers={"Origin": origin}).headers


@pytest.mark.parametrize(
    "path",
    [
        "/login",
        "/agent/",
        "/agent/api/queue",
        "/agent/api/search?q=rechnung",
        "/editor/",
        "/editor/preview",
        "/analytics/",
        "/widget/",
        "/hilfe/",
        "/healthz",
    ],
)
@pytest.mark.parametrize("origins", [(SHOP,), ("*",)], ids=["listed", "any"])
def test_pages_with_cookies_never_answer_another_origin(app, web_settings, path, origins):
    # Logged in (the `app` fixture made the accounts), with the session cookie a cross-site
    # request would carry along.
    client = app_for(web_settings, allowed_origins=origins).test_client()
    form = {"username": "admin", "password": PASSWORD, "csrf_token": csrf_token(client)}
    assert client.post("/login", data=form).status_code == 302
    for response in (
        client.get(path, headers={"Origin": SHOP}),
        preflight(client, path.split("?")[0], SHOP),
        preflight(client, path.split("?")[0], SHOP, method="GET"),
    ):
        assert ACAO not in response.headers
        assert "Access-Control-Allow-Credentials" not in response.headers
