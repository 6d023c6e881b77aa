"""A conversation handed to an agent and back, against the real servers: the bot that takes
it back knows the customer the agent verified in the console, and their priority."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from helpdesk.stack import Stack
from tests.e2e.conftest import Staff, form_token, logged_in

pytestmark = pytest.mark.slow

MUSTER_SUPPORT, BEISPIEL_VIP = "482913", "903311"


def _customer(base: str) -> tuple[str, Callable[[str], dict]]:
    web = requests.Session()
    created = web.post(f"{base}/api/chat/conversations", timeout=10)
    assert created.status_code == 201
    cid = created.json()["conversation_id"]

    def say(text: str) -> dict:
        response = web.post(
            f"{base}/api/chat/conversations/{cid}/messages", json={"text": text}, timeout=60
        )
        assert response.ok, response.text
        return response.json()

    return cid, say


def _console(agent: requests.Session, base: str, cid: str, action: str, **form: str) -> None:
    page = agent.get(f"{base}/agent/conversations/{cid}", timeout=30)
    response = agent.post(
        f"{base}/agent/conversations/{cid}/{action}",
        data={"csrf_token": form_token(page.text), **form},
        timeout=30,
    )
    assert response.ok, response.text[:2000]


def _hand_to_agent_and_back(stack: Stack, staff: Staff, kind: str, code: str) -> Callable:
    base = stack.settings.public_url
    cid, say = _customer(base)
    assert say("Ich möchte bitte mit einem Mitarbeiter sprechen")["state"] == "waiting"
    agent = logged_in(base, staff.agent, staff.password)
    _console(agent, base, cid, "take-over")
    _console(agent, base, cid, "verify", kind=kind, code=code)
    _console(agent, base, cid, "close")
    return say


def _text(reply: dict) -> str:
    return "\n".join(m["text"] for m in reply["messages"] if m["sender"] != "customer")


def test_resumed_bot_knows_the_customer_the_agent_verified(stack: Stack, staff: Staff):
    say = _hand_to_agent_and_back(stack, staff, "support", MUSTER_SUPPORT)
    reply = say("Warum bekomme ich eine Zahlungserinnerung, obwohl ich bezahlt habe?")
    assert reply["state"] == "bot"
    # Not asked for the code again: the bot lists the verified customer's reminded invoices.
    assert "Supportcode" not in _text(reply), _text(reply)
    payloads = [b["payload"] for m in reply["messages"] for b in m["buttons"]]
    assert any("INV-2026-1006" in payload for payload in payloads), reply


def test_resumed_bot_keeps_the_priority_of_a_vip_code(stack: Stack, staff: Staff):
    say = _hand_to_agent_and_back(stack, staff, "vip", BEISPIEL_VIP)
    reply = say("Ich möchte bitte wieder mit einem Mitarbeiter sprechen")
    assert reply["state"] == "waiting"
    assert "bevorzugt" in _text(reply), _text(reply)
