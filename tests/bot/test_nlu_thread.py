"""Rasa's NLU on its own thread (bot/nlu_thread.py), run in the Rasa environment: results
unchanged, one message at a time, and the event loop free meanwhile."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot.rasa_check import run_check

pytestmark = pytest.mark.slow
CHECK = Path(__file__).with_name("nlu_thread_check.py")
SLOW = 0.3  # seconds each stand-in parse takes (nlu_thread_check.py)


@pytest.fixture(scope="module")
def seen() -> dict:
    return run_check(CHECK)


def test_rasa_parse_results_come_back_unchanged(seen) -> None:
    assert seen["installed"]
    assert seen["texts"] == ["hallo", "guten tag"]
    assert seen["intent"] == "greet"


def test_messages_are_understood_one_at_a_time_on_the_nlu_thread(seen) -> None:
    assert len(seen["threads"]) == 2
    assert all(name.startswith("nlu") for name in seen["threads"])
    assert seen["took"] >= 2 * SLOW * 0.95  # one after the other, not side by side


def test_the_event_loop_keeps_running_while_a_message_is_understood(seen) -> None:
    # A 10 ms ticker on the loop: blocked, it would tick about once in the 0.6 s.
    assert seen["ticks"] >= 20
