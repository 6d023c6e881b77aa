"""Behind reverse proxies (HELPDESK_TRUSTED_PROXIES): the customer's own address counts for
the rate limits and goes to the bot as client_ip (its code lockout); without trusted proxies,
or beyond their count, an X-Forwarded-For header is the client's word and ignored."""

from __future__ import annotations

import dataclasses

import pytest
import requests
from flask import request
from flask.testing import FlaskClient

from core.settings import Settings
from tests.web.fakes import FakeBot, FakeKb
from tests.web.processes import started, web_process
from web import create_app

API = "/api/chat/conversations"
PROXY = "10.0.0.1"  # what the web app sees as the peer behind nginx
CUSTOMER = "203.0.113.7"
OTHER_CUSTOMER = "203.0.113.8"


def client_for(settings: Settings, bot: FakeBot, **changes) -> FlaskClient:
    settings = dataclasses.replace(settings, chat_rate_limit="2/minute", **changes)
    app = create_app(
        {"TESTING": True, "SETTINGS": settings, "RASA_CLIENT": bot, "KB_CLIENT": FakeKb()}
    )
    return app.test_client()


def via(peer: str, forwarded_for: str | None = None, **headers: str) -> dict:
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    return {"environ_base": {"REMOTE_ADDR": peer}, "headers": headers}


def client_ip_sent(client: FlaskClient, bot: FakeBot, **request_args) -> str:
    """The address the bot is told for a new conversation's first message."""
    response = client.post(API, json={}, **request_args)
    assert response.status_code == 201, response.get_data(as_text=True)
    cid = response.get_json()["conversation_id"]
    turn = client.post(f"{API}/{cid}/messages", json={"text": "Hallo"}, **request_args)
    assert turn.status_code == 200
    return bot.sent[-1][2]["client_ip"]


def seen_by_the_app(settings: Settings, **request_args) -> dict:
    """The app's view of a request: its root URL (scheme and host) and the peer's address."""
    app = create_app(
        {"TESTING": True, "SETTINGS": settings, "RASA_CLIENT": FakeBot(), "KB_CLIENT": FakeKb()}
    )

    @app.get("/_seen")
    def seen():
        return {"root": request.url_root, "address": request.remote_addr}

    return app.test_client().get("/_seen", **request_args).get_json()


def statuses(client: FlaskClient, senders: list[dict]) -> list[int]:
    """New conversations started one after the other, each as ``via`` describes it."""
    return [client.post(API, json={}, **sender).status_code for sender in senders]


# --- one trusted proxy --------------------------------------------------------------------


@pytest.fixture
def bot() -> FakeBot:
    return FakeBot()


@pytest.fixture
def behind_proxy(web_settings, bot) -> FlaskClient:
    return client_for(web_settings, bot, trusted_proxies=1)


def test_the_forwarded_address_goes_to_the_bot(behind_proxy, bot):
    assert client_ip_sent(behind_proxy, bot, **via(PROXY, CUSTOMER)) == CUSTOMER


def test_the_rate_limit_counts_each_customer_not_the_proxy(behind_proxy):
    customer, other = via(PROXY, CUSTOMER), via(PROXY, OTHER_CUSTOMER)
    assert statuses(behind_proxy, [customer, customer, customer]) == [201, 201, 429]
    # Everyone comes from the proxy's address, yet the next customer has their own allowance.
    assert statuses(behind_proxy, [other, other, other]) == [201, 201, 429]


def test_a_forged_entry_left_of_the_proxys_is_ignored(behind_proxy, bot):
    # The customer sent "X-Forwarded-For: 198.51.100.1"; nginx appended the real peer.
    forged = via(PROXY, f"198.51.100.1, {CUSTOMER}")
    assert client_ip_sent(behind_proxy, bot, **forged) == CUSTOMER
    rotating = [via(PROXY, f"198.51.100.{n}, {CUSTOMER}") for n in range(3)]
    # The conversation above used one of the customer's two; rotating the forgery gains none.
    assert statuses(behind_proxy, rotating) == [201, 429, 429]


def test_scheme_and_host_come_from_the_proxy(web_settings):
    settings = dataclasses.replace(web_settings, trusted_proxies=1)
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hilfe.example.de"}
    seen = seen_by_the_app(settings, **via(PROXY, CUSTOMER, **headers))
    assert seen == {"root": "https://hilfe.example.de/", "address": CUSTOMER}


def test_two_proxies_trust_two_entries(web_settings, bot):
    client = client_for(web_settings, bot, trusted_proxies=2)
    # CDN -> nginx -> app: the CDN saw the customer (who forged the first entry), nginx saw
    # the CDN.
    chain = via(PROXY, f"198.51.100.1, {CUSTOMER}, 10.0.0.2")
    assert client_ip_sent(client, bot, **chain) == CUSTOMER


def test_fewer_entries_than_proxies_leave_the_peer(web_settings, bot):
    client = client_for(web_settings, bot, trusted_proxies=2)
    assert client_ip_sent(client, bot, **via(PROXY, CUSTOMER)) == PROXY


# --- no trusted proxy (the default) -------------------------------------------------------


@pytest.fixture
def direct(web_settings, bot) -> FlaskClient:
    assert web_settings.trusted_proxies == 0
    return client_for(web_settings, bot)


def test_without_trusted_proxies_a_forged_header_is_ignored(direct, bot):
    assert client_ip_sent(direct, bot, **via(CUSTOMER, "198.51.100.1")) == CUSTOMER


def test_without_trusted_proxies_a_forged_header_cannot_dodge_the_limit(direct):
    rotating = [via(CUSTOMER, f"198.51.100.{n}") for n in range(3)]
    assert statuses(direct, rotating) == [201, 201, 429]


def test_without_trusted_proxies_scheme_and_host_stay(web_settings):
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}
    seen = seen_by_the_app(web_settings, **via(CUSTOMER, "198.51.100.1", **headers))
    assert seen == {"root": "http://localhost/", "address": CUSTOMER}


@pytest.mark.parametrize(("hops", "statuses"), [(1, [201, 201, 201]), (0, [201, 201, 429])])
def test_the_real_server_lets_forwarded_addresses_through_only_behind_proxies(
    web_settings, hops, statuses
):
    """waitress, not the test client: it drops X-Forwarded-* from peers it does not trust,
    so behind nginx every customer had nginx's address (one limit, one code lockout)."""
    settings = dataclasses.replace(web_settings, trusted_proxies=hops, chat_rate_limit="2/minute")
    server = started(web_process(settings, f"web-proxy-{hops}"))
    try:
        url = server.health_url.replace("/healthz", API)
        customers = [CUSTOMER, OTHER_CUSTOMER, CUSTOMER]  # two each: within the limit
        seen = [
            requests.post(url, json={}, headers={"X-Forwarded-For": who}, timeout=10).status_code
            for who in customers
        ]
    finally:
        server.stop()
    # Counted per customer behind a proxy; without one the header is ignored and all three
    # are this machine's address.
    assert seen == statuses
