"""Rasa's socketio channel, as third-party Rasa web widgets use it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from helpdesk.stack import RASA_BIN

pytestmark = pytest.mark.slow
CLIENT = Path(__file__).with_name("socketio_client.py")


def test_socketio_widget_gets_answers_and_empty_messages_do_nothing(stack, stack_settings):
    python = RASA_BIN.with_name("python")
    url = f"http://127.0.0.1:{stack_settings.rasa_port}"
    result = subprocess.run(
        [str(python), str(CLIENT), url, "socket-test-1", "", "Hallo"],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    empty, greeting = (json.loads(line) for line in result.stdout.splitlines())
    assert empty == []  # what a widget sends on opening must not trigger anything
    assert any("Guten Tag" in (reply.get("text") or "") for reply in greeting)
