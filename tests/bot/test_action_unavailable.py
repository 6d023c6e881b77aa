"""An action server that cannot be reached (bot/action_unavailable.py), in the Rasa
environment: the bot says it is limited and offers a human, on every channel, instead of
nothing; a form's validation still fails rather than letting a value through unchecked."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpdesk.ports import free_port
from tests.bot.rasa_check import run_check

pytestmark = pytest.mark.slow
CHECK = Path(__file__).with_name("action_unavailable_check.py")


@pytest.fixture(scope="module")
def seen() -> dict:
    return run_check(CHECK, str(free_port()), timeout=180)


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
