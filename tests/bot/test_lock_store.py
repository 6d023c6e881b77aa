"""Rasa's lock store for several server processes without Redis (bot/lock_store.py), run in
the Rasa environment: one turn per conversation at a time, across processes and in order
within one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot.rasa_check import run_check

pytestmark = pytest.mark.slow
CHECK = Path(__file__).with_name("lock_store_check.py")


@pytest.fixture(scope="module")
def seen(tmp_path_factory) -> dict:
    return run_check(CHECK, str(tmp_path_factory.mktemp("locks")))


def test_turns_of_one_conversation_never_overlap_and_keep_their_order(seen) -> None:
    assert not seen["overlap"]
    assert seen["order"] == [0, 1, 2, 3, 4]


def test_a_conversation_held_by_another_process_waits_for_it(seen) -> None:
    assert seen["waited"] >= 0.1  # the other process held it for 0.4 s after signalling


def test_other_conversations_are_not_held_up(seen) -> None:
    assert seen["free_wait"] < 0.1


def test_waiting_longer_than_the_lifetime_is_a_lock_error(seen) -> None:
    assert seen["timed_out"]


def test_finished_conversations_are_forgotten(seen) -> None:
    assert seen["forgotten"]
