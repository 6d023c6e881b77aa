"""Browsers on other sites, and reverse proxies, at Rasa's channels (HELPDESK_ALLOWED_ORIGINS,
HELPDESK_TRUSTED_PROXIES): what Rasa is started with, the channel's pieces in the Rasa
environment, and a running Rasa's socket.io handshake, REST preflight and client_ip."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
import requests
import yaml

from core.keys import rasa_api_token
from core.settings import Settings
from helpdesk.rasa_config import (
    CHANNELS_FILE,
    REST_CHANNEL,
    SOCKETIO_CHANNEL,
    cors_arguments,
    credentials,
    write_credentials,
)
from helpdesk.stack import BOT_DIR, RASA_BIN, Stack
from tests.bot.test_bot_data import ENV
from tests.e2e.conftest import own_stack

SHOP = "https://shop.example.de"
DEV = "http://localhost:3000"
EVIL = "https://evil.example"
ACAO = "Access-Control-Allow-Origin"
CUSTOMER = "203.0.113.7"
FORGED = "198.51.100.1"


# --- what Rasa is started with ------------------------------------------------------------


@pytest.fixture
def shop_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, allowed_origins=(SHOP, DEV), trusted_proxies=1)


def test_credentials_add_origins_and_proxies_to_the_checked_in_channels(shop_settings):
    checked_in = yaml.safe_load(CHANNELS_FILE.read_text(encoding="utf-8"))
    written = credentials(shop_settings)
    assert set(written) == set(checked_in) == {REST_CHANNEL, SOCKETIO_CHANNEL}
    assert written[REST_CHANNEL] == {"trusted_proxies": 1}
    assert written[SOCKETIO_CHANNEL] == {
        **checked_in[SOCKETIO_CHANNEL],
        "trusted_proxies": 1,
        "cors_allowed_origins": [SHOP, DEV],
    }


def test_no_allowed_origin_is_an_empty_list_not_a_missing_one(settings):
    # Missing would mean engine.io's default (the Rasa server's own origin); empty: none.
    written = credentials(dataclasses.replace(settings, allowed_origins=()))
    assert written[SOCKETIO_CHANNEL]["cors_allowed_origins"] == []
    assert written[SOCKETIO_CHANNEL]["trusted_proxies"] == 0


def test_rasa_gets_cors_only_for_allowed_origins(shop_settings):
    assert cors_arguments(shop_settings) == ["--cors", SHOP, DEV]
    assert cors_arguments(dataclasses.replace(shop_settings, allowed_origins=("*",))) == [
        "--cors",
        "*",
    ]
    assert cors_arguments(dataclasses.replace(shop_settings, allowed_origins=())) == []


def test_the_stack_starts_rasa_with_the_written_credentials(shop_settings):
    argv = Stack(shop_settings).rasa.argv
    path = shop_settings.data_dir / "rasa" / "credentials.yml"
    assert argv[argv.index("--credentials") + 1] == str(path)
    assert argv[argv.index("--cors") :][:3] == ["--cors", SHOP, DEV]
    write_credentials(shop_settings, path)
    assert yaml.safe_load(path.read_text(encoding="utf-8")) == credentials(shop_settings)


# --- bot/channels.py in the Rasa environment -----------------------------------------------

CHANNEL_CHECK = """
import json, sys, types
import channels as c

credentials = json.loads(sys.argv[1])
socket = c.GuardedSocketIOInput.from_credentials(credentials["socketio"])
rest = c.GuardedRestInput.from_credentials(credentials["rest"])
bare = c.GuardedSocketIOInput.from_credentials({"session_persistence": True})
request = types.SimpleNamespace(ip="10.0.0.1")

def origins(value):
    result = c.engineio_origins(value)
    if callable(result):
        return "refuses all" if not result("https://a.example") else "?"
    return result

print(json.dumps({
    "addresses": [c.client_address(*case) for case in json.loads(sys.argv[2])],
    "socket": [socket.allowed_origins, socket.trusted_proxies, socket.session_persistence],
    "rest": rest.trusted_proxies,
    "bare": [bare.allowed_origins, bare.trusted_proxies],
    "origins": [origins(None), origins([]), origins(["https://a.example", "*"]), origins(["x"])],
    "environ": [
        socket.client_ip({"sanic.request": request, "HTTP_X_FORWARDED_FOR": "1.1.1.1, 2.2.2.2"}),
        bare.client_ip({"sanic.request": request, "HTTP_X_FORWARDED_FOR": "1.1.1.1, 2.2.2.2"}),
    ],
    "metadata": [
        c._with_client_ip({"message": "m", "metadata": {"client_ip": "6.6.6.6", "x": 1}},
                          "metadata", "2.2.2.2"),
        c._with_client_ip({"message": "m", "metadata": '{"client_ip": "6.6.6.6"}'},
                          "metadata", "2.2.2.2"),
        c._with_client_ip({"message": "m", "metadata": "not json"}, "metadata", "2.2.2.2"),
        c._with_client_ip({"message": "m"}, "metadata", "2.2.2.2"),
    ],
}))
"""

# (peer, X-Forwarded-For, trusted proxies) -> the address, as werkzeug's ProxyFix decides.
ADDRESSES = [
    (("10.0.0.1", None, 0), "10.0.0.1"),
    (("10.0.0.1", CUSTOMER, 0), "10.0.0.1"),  # no proxy trusted: the header is ignored
    (("10.0.0.1", CUSTOMER, 1), CUSTOMER),
    (("10.0.0.1", f"{FORGED}, {CUSTOMER}", 1), CUSTOMER),  # the client forged the first
    (("10.0.0.1", f"{FORGED},{CUSTOMER}, 10.0.0.2", 2), CUSTOMER),
    (("10.0.0.1", CUSTOMER, 2), "10.0.0.1"),  # fewer entries than proxies
    (("10.0.0.1", "", 1), "10.0.0.1"),
    (("10.0.0.1", " , ", 1), "10.0.0.1"),
]


@pytest.mark.slow
def test_the_channels_pieces_in_the_rasa_environment(shop_settings):
    python = RASA_BIN.with_name("python")
    if not python.exists():
        pytest.fail(f"{python} is missing: 'make test' creates it")
    written = credentials(shop_settings)
    given = {"socketio": written[SOCKETIO_CHANNEL], "rest": written[REST_CHANNEL]}
    cases = [list(case) for case, _ in ADDRESSES]
    result = subprocess.run(
        [str(python), "-c", CHANNEL_CHECK, json.dumps(given), json.dumps(cases)],
        cwd=BOT_DIR, env=ENV, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["addresses"] == [address for _, address in ADDRESSES]
    assert seen["socket"] == [[SHOP, DEV], 1, True]
    assert seen["rest"] == 1
    assert seen["bare"] == [None, 0]  # bot/credentials.yml alone: engine.io's default
    assert seen["origins"] == [None, "refuses all", "*", ["x"]]
    assert seen["environ"] == ["2.2.2.2", "10.0.0.1"]
    assert [m["metadata"] for m in seen["metadata"]] == [
        {"client_ip": "2.2.2.2", "x": 1},
        {"client_ip": "2.2.2.2"},
        {"client_ip": "2.2.2.2"},
        {"client_ip": "2.2.2.2"},
    ]


# --- a running Rasa -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def origins_stack(stack_settings: Settings, tmp_path_factory) -> Iterator[Stack]:
    """Its own stack: one allowed origin besides the defaults' and one trusted proxy."""
    var = tmp_path_factory.mktemp("origins") / "var"
    with own_stack(stack_settings, var, allowed_origins=(SHOP,), trusted_proxies=1) as stack:
        yield stack


def _rasa(stack: Stack) -> str:
    return stack.settings.rasa_url


def handshake(stack: Stack, **headers: str) -> requests.Response:
    url = f"{_rasa(stack)}/socket.io/?EIO=4&transport=polling"
    return requests.get(url, headers=headers, timeout=10)


@pytest.mark.slow
def test_socketio_handshake_from_an_allowed_origin(origins_stack):
    response = handshake(origins_stack, Origin=SHOP)
    assert response.status_code == 200
    assert response.text.startswith("0{")  # engine.io's open packet, with the sid
    # Exactly one value: browsers refuse a response with two (requests joins them by ", ").
    assert response.headers[ACAO] == SHOP


@pytest.mark.slow
@pytest.mark.parametrize("origin", [EVIL, SHOP + ".evil.example", "http://shop.example.de"])
def test_socketio_handshake_from_a_refused_origin(origins_stack, origin):
    response = handshake(origins_stack, Origin=origin)
    assert response.status_code == 400
    assert "not an accepted origin" in response.text
    assert ACAO not in response.headers


@pytest.mark.slow
def test_socketio_without_an_origin_is_no_browser_and_passes(origins_stack):
    # Non-browser clients (tests/e2e/socketio_client.py, server-side integrations) send none.
    assert handshake(origins_stack).status_code == 200


@pytest.mark.slow
def test_rest_preflight_answers_only_an_allowed_origin(origins_stack):
    url = f"{_rasa(origins_stack)}/webhooks/rest/webhook"

    def preflight(origin: str) -> requests.Response:
        headers = {
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        }
        return requests.options(url, headers=headers, timeout=10)

    allowed = preflight(SHOP)
    assert allowed.status_code < 300
    assert allowed.headers[ACAO] == SHOP
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert ACAO not in preflight(EVIL).headers


def _socketio_session(stack: Stack, headers: dict[str, str]) -> str:
    """A socket.io connection over HTTP long-polling, opened as a browser widget opens it;
    the URL its packets are posted to."""
    base = f"{_rasa(stack)}/socket.io/?EIO=4&transport=polling"
    opened = requests.get(base, headers=headers, timeout=10)
    assert opened.status_code == 200, opened.text
    url = f"{base}&sid={json.loads(opened.text[1:])['sid']}"
    _post(url, headers, "40")  # connect to the default namespace
    assert requests.get(url, headers=headers, timeout=30).text.startswith("40")  # connected
    return url


def _post(url: str, headers: dict[str, str], packet: str) -> None:
    response = requests.post(url, data=packet, headers=headers, timeout=10)
    assert response.status_code == 200 and response.text.lower() == "ok", response.text


def _event(name: str, data: dict) -> str:
    return "42" + json.dumps([name, data])


def _user_metadata(stack: Stack, sender: str, text: str, timeout: float = 90) -> dict:
    """The metadata Rasa stored with the customer's message ``text``."""
    token = rasa_api_token(stack.settings)
    url = f"{_rasa(stack)}/conversations/{sender}/tracker"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = requests.get(url, params={"token": token}, timeout=10).json().get("events", [])
        for event in events:
            if event.get("event") == "user" and event.get("text") == text:
                return event.get("metadata") or {}
        time.sleep(0.5)
    raise AssertionError(f"Rasa never stored {text!r} for {sender}")


@pytest.mark.slow
def test_socketio_client_ip_is_the_forwarded_address_not_the_widgets_claim(origins_stack):
    session = f"origins-{uuid.uuid4().hex[:10]}"
    # nginx appended the customer's address to the one they forged.
    headers = {"Origin": SHOP, "X-Forwarded-For": f"{FORGED}, {CUSTOMER}"}
    url = _socketio_session(origins_stack, headers)
    _post(url, headers, _event("session_request", {"session_id": session}))
    claim = {"client_ip": FORGED, "page": "/kontakt"}
    message = {"message": "Hallo", "session_id": session, "metadata": claim}
    _post(url, headers, _event("user_uttered", message))
    metadata = _user_metadata(origins_stack, session, "Hallo")
    assert metadata["client_ip"] == CUSTOMER
    assert metadata["page"] == "/kontakt"  # the rest of the widget's metadata stays


@pytest.mark.slow
def test_rest_client_ip_through_a_proxy_and_from_the_web_app(origins_stack):
    url = origins_stack.rest_url
    through_proxy = f"rest-{uuid.uuid4().hex[:10]}"
    body = {"sender": through_proxy, "message": "Hallo", "metadata": {"client_ip": FORGED}}
    headers = {"Origin": SHOP, "X-Forwarded-For": f"{FORGED}, {CUSTOMER}"}
    response = requests.post(url, json=body, headers=headers, timeout=60)
    assert response.status_code == 200 and response.headers[ACAO] == SHOP
    assert _user_metadata(origins_stack, through_proxy, "Hallo")["client_ip"] == CUSTOMER
    # The web app calls on loopback without the header: the address it passes on stands.
    from_web_app = f"rest-{uuid.uuid4().hex[:10]}"
    body = {"sender": from_web_app, "message": "Hallo", "metadata": {"client_ip": CUSTOMER}}
    assert requests.post(url, json=body, timeout=60).status_code == 200
    assert _user_metadata(origins_stack, from_web_app, "Hallo")["client_ip"] == CUSTOMER
