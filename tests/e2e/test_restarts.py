"""One crashed server must not take the assistant down (issue 16), against ``helpdesk serve``
itself: customers chat through the web API while Rasa and then the action server are
SIGKILLed, as the kernel's OOM killer would. The web app keeps serving (limited answers,
handoffs to the agents' queue), each server comes back by itself, no message is lost or
answered twice, and SIGTERM still stops everything.

The restart times are printed: ``pytest -s tests/e2e/test_restarts.py``.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from dataclasses import dataclass, field

import pytest
import requests
from sqlalchemy import select

from core import ownership
from core.conversations import ChatMessage, Conversation
from core.db import make_engine, session_factory
from core.settings import Settings
from tests.e2e.serve_run import ServeRun, health_url, healthy, serve_settings
from web.services.chat import queue
from web.services.conversation import HANDOFF_PAYLOAD

pytestmark = pytest.mark.slow

CUSTOMERS = 5
SCRIPT = (
    "Hallo",
    "Wie ändere ich meine Rechnungsadresse?",
    "Wie kann ich die Zwei-Faktor-Authentifizierung ausschalten?",
    "Ich habe mein Passwort vergessen",
    "Danke",
)
# Customer 0 asks for a human while Rasa is down, customer 1 while the action server is.
HANDS_OFF_DURING = {0: "rasa", 1: "actions"}
BACK_WITHIN = 60.0


@dataclass
class Turn:
    customer: int
    text: str
    sent_at: float
    outage: str | None  # the server that was down when the message was sent
    status: int | None = None
    error: str | None = None
    messages: list[dict] = field(default_factory=list)
    state: str | None = None

    @property
    def replies(self) -> list[dict]:
        return [m for m in self.messages if m["sender"] != "customer"]


class Customers:
    """Customers chatting through the web API, each in a thread, until stopped."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.outage: str | None = None  # set by the test while a server is down
        self.turns: list[Turn] = []
        self.conversations: dict[int, str] = {}
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._chat, args=(i,)) for i in range(CUSTOMERS)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _chat(self, customer: int) -> None:
        web = requests.Session()
        created = web.post(f"{self.base}/api/chat/conversations", json={}, timeout=30)
        cid = self.conversations[customer] = created.json()["conversation_id"]
        for text in itertools.cycle(SCRIPT[customer % 2 :] + SCRIPT[: customer % 2]):
            if self._stop.is_set():
                return
            turn = self._say(web, cid, customer, text)
            if turn.outage is not None and HANDS_OFF_DURING.get(customer) == turn.outage:
                offered = [b for m in turn.replies for b in m["buttons"]]
                button = next((b for b in offered if b["payload"] == HANDOFF_PAYLOAD), None)
                if button is not None and turn.state == ownership.BOT:
                    self._say(web, cid, customer, button["payload"], button["title"])
            self._stop.wait(0.5)  # a customer reads, then types

    def _say(
        self, web: requests.Session, cid: str, customer: int, text: str, display: str = ""
    ) -> Turn:
        turn = Turn(customer, text, time.monotonic(), self.outage)
        body = {"text": text, **({"display": display} if display else {})}
        try:
            response = web.post(
                f"{self.base}/api/chat/conversations/{cid}/messages", json=body, timeout=60
            )
            turn.status = response.status_code
            turn.messages = response.json()["messages"]
            turn.state = response.json()["state"]
        except (requests.RequestException, ValueError, KeyError) as exc:
            turn.error = repr(exc)
        self.turns.append(turn)  # list.append is atomic: the threads share the list
        return turn


def _kill_and_wait_back(run: ServeRun, customers: Customers, name: str) -> tuple[float, float]:
    """SIGKILL one server; when it was killed, and when a new one of its kind passed its
    health check (time.monotonic())."""
    old = run.pid(name)
    customers.outage = name
    killed_at = time.monotonic()
    os.kill(old, signal.SIGKILL)
    # Gone first (the signal is delivered asynchronously), then back.
    while old in run.server_pids() and time.monotonic() - killed_at < BACK_WITHIN:
        time.sleep(0.05)
    url = health_url(run.settings, name)
    while time.monotonic() - killed_at < BACK_WITHIN:
        if healthy(url):
            break
        time.sleep(0.2)
    back_at = time.monotonic()
    customers.outage = None
    assert back_at - killed_at < BACK_WITHIN, f"{name} not back in time:\n{run.text()}"
    assert run.pid(name) != old
    return killed_at, back_at


def _stored(settings: Settings, cids: list[str]) -> tuple[dict[str, list[ChatMessage]], dict]:
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as session:
            messages = {
                cid: list(
                    session.scalars(
                        select(ChatMessage)
                        .where(ChatMessage.conversation_id == cid)
                        .order_by(ChatMessage.id)
                    )
                )
                for cid in cids
            }
            states = {c.id: c.state for c in session.scalars(select(Conversation))}
            queued = {c.id for c in queue(session)}
            session.expunge_all()
    finally:
        engine.dispose()
    return messages, {"states": states, "queued": queued}


def test_killed_servers_come_back_and_no_message_is_lost(tmp_path):
    settings = serve_settings(tmp_path)
    run = ServeRun(settings, tmp_path / "serve.out")
    customers = Customers(settings.web_url)
    try:
        run.wait_ready()
        assert "eingeschränkt" not in run.text()
        customers.start()
        time.sleep(5)
        rasa = _kill_and_wait_back(run, customers, "rasa")
        time.sleep(8)
        actions = _kill_and_wait_back(run, customers, "actions")
        time.sleep(8)
        end = time.monotonic()
    finally:
        customers.stop()
        servers = run.server_pids()
        code = run.terminate()
    output = run.text()
    print(
        f"\nrestart (SIGKILL to healthy): rasa {rasa[1] - rasa[0]:.1f} s, "
        f"actions {actions[1] - actions[0]:.1f} s\n{output}"
    )

    # SIGTERM stopped everything cleanly (the exit code says it was a SIGTERM, as usual).
    assert code == 128 + signal.SIGTERM, output
    assert "Server werden gestoppt" in output
    assert all(not os.path.exists(f"/proc/{pid}") for pid in servers)
    for name in ("rasa", "actions", "web"):
        assert not healthy(health_url(settings, name))
    # The supervisor said what happened, and restarted each server once.
    assert "Rasa hat sich unerwartet beendet (Signal SIGKILL)" in output
    assert "Der Aktionsserver hat sich unerwartet beendet (Signal SIGKILL)" in output
    assert output.count("ist wieder bereit") == 2
    assert "alle werden gestoppt" not in output

    turns = customers.turns
    # The web app never refused a connection, nor failed a message.
    assert [t for t in turns if t.error or t.status != 200] == []
    assert len(customers.conversations) == CUSTOMERS

    cids = list(customers.conversations.values())
    stored, conversations = _stored(settings, cids)
    # Every customer message has a bot answer, a limited answer, or a place in the queue.
    for turn in turns:
        assert turn.messages[0]["sender"] == "customer"
        # Answered once: by the bot, or in the limited mode, never both.
        assert len({r["limited"] for r in turn.replies}) <= 1, turn
        if not turn.replies:
            assert turn.state == ownership.WAITING, turn
            assert customers.conversations[turn.customer] in conversations["queued"], turn
    # The outages were seen, and answered in the limited mode.
    for name in ("rasa", "actions"):
        during = [t for t in turns if t.outage == name and t.replies]
        assert during and any(r["limited"] for t in during for r in t.replies), name
    # Without the action server there is no KB either: the customers were offered a human.
    offered = [b for t in turns if t.outage == "actions" for r in t.replies for b in r["buttons"]]
    assert any(b["payload"] == HANDOFF_PAYLOAD for b in offered)
    # After each restart the bot answers again: every turn sent from a second after it
    # (until a few seconds before the next kill, whose turns may still be on their way).
    for back_at, until in ((rasa[1], actions[0] - 3), (actions[1], end)):
        after = [t for t in turns if back_at + 1 < t.sent_at < until and t.replies]
        assert after
        assert [t for t in after if any(r["limited"] for r in t.replies)] == []
        assert all(r["sender"] == "bot" for t in after for r in t.replies)

    # What the customers saw is what is stored: nothing lost, nothing answered twice.
    for customer, cid in customers.conversations.items():
        seen = sorted(m["id"] for t in turns if t.customer == customer for m in t.messages)
        assert seen == [m.id for m in stored[cid]], f"customer {customer}"
    # Those who asked for a human during an outage are in the agents' queue.
    for customer in HANDS_OFF_DURING:
        cid = customers.conversations[customer]
        assert conversations["states"][cid] == ownership.WAITING, customer
        assert cid in conversations["queued"]
