from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from helpdesk.ports import free_port
from web.clients.rasa import RasaClient, RasaUnavailable


def _serve(body: bytes, status: int = 200, received: list | None = None):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if received is not None:
                received.append((self.path, json.loads(data)))
            self.send_response(status)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize(("body", "status"), [(b"<html>Bad gateway", 200), (b"[]", 502)])
def test_broken_answers_count_as_unavailable(body, status):
    server = _serve(body, status)
    try:
        client = RasaClient(f"http://127.0.0.1:{server.server_port}", "token", timeout=5)
        with pytest.raises(RasaUnavailable):
            client.send("c1", "Hallo")
    finally:
        server.shutdown()


def test_messages_come_back():
    server = _serve(json.dumps([{"recipient_id": "c1", "text": "Hallo"}]).encode())
    try:
        client = RasaClient(f"http://127.0.0.1:{server.server_port}", "token", timeout=5)
        assert client.send("c1", "Hallo") == [{"recipient_id": "c1", "text": "Hallo"}]
    finally:
        server.shutdown()


def test_server_down_is_unavailable():
    client = RasaClient(f"http://127.0.0.1:{free_port()}", "token", timeout=2)
    with pytest.raises(RasaUnavailable):
        client.send("c1", "Hallo")
    with pytest.raises(RasaUnavailable):
        client.resume("c1")


def test_resume_tells_the_bot_what_the_agent_learned():
    received: list = []
    server = _serve(b"{}", received=received)
    try:
        client = RasaClient(f"http://127.0.0.1:{server.server_port}", "token", timeout=5)
        client.resume("c/1", {"verified_customer_id": 7.0, "priority": True})
    finally:
        server.shutdown()
    [(path, events)] = received
    assert path.startswith("/conversations/c%2F1/tracker/events?token=")
    assert events == [
        {"event": "resume"},
        {"event": "slot", "name": "verified_customer_id", "value": 7.0},
        {"event": "slot", "name": "priority", "value": True},
        # Listening again: the rules that start at a customer's message apply to the next one.
        {"event": "action", "name": "action_listen"},
    ]
