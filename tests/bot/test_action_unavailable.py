"""An action server that cannot be reached (bot/action_unavailable.py), in the Rasa
environment: the bot says it is limited and offers a human, on every channel, instead of
nothing; a form's validation still fails rather than letting a value through unchecked."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from helpdesk.ports import free_port
from helpdesk.stack import BOT_DIR, RASA_BIN
from tests.bot.test_bot_data import ENV

pytestmark = pytest.mark.slow
CHECK = Path(__file__).with_name("action_unavailable_check.py")


@pytest.fixture(scope="module")
def seen() -> dict:
    python = RASA_BIN.parent / "python"
    if not python.exists():
        pytest.fail(f"{python} is missing: 'make test' creates it")
    result = subprocess.run(
        [str(python), str(CHECK), str(free_port())],
        cwd=BOT_DIR,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_failed_action_answers_limited_with_a_human_on_offer(seen) -> None:
    events = seen["action_kb_answer"]["events"]
    assert [e["event"] for e in events] == ["bot"]
    bot = events[0]
    assert "nur eingeschränkt verfügbar" in bot["text"]
    assert bot["data"]["buttons"] == [
        {"title": "Mit einem Mitarbeiter sprechen", "payload": "/human_handoff"}
    ]
    assert bot["data"]["custom"] == {"limited": True}


def test_a_failed_validation_still_fails(seen) -> None:
    assert seen["validate_code_form"] == {"raised": "RasaException"}
