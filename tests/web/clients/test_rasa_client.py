from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from tests.e2e.services import free_port
from web.clients.rasa import RasaClient, RasaUnavailable


def _serve(body: bytes, status: int = 200):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
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
