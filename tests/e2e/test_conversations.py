"""Whole conversations against the running Rasa and action servers (REST webhook)."""

from __future__ import annotations

import re
import sqlite3
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from core.db import make_engine, session_factory
from core.models import ClarifyChoice, Feedback, Handoff, KbQuestion
from helpdesk.serve import send
from tests.e2e.conftest import CLARIFY_CANDIDATES, text_of

pytestmark = [pytest.mark.slow, pytest.mark.quality]

SUPPORT_CODE, VIP_CODE, OTHER_SUPPORT_CODE = "482913", "903311", "715204"


def verified(chat, code: str = SUPPORT_CODE) -> str:
    chat("Ich möchte mich mit meinem Supportcode verifizieren")
    return text_of(chat(code))


def rows(stack_settings, model, sender: str) -> list:
    """The conversation's rows of ``model`` (Handoff, Feedback) in the servers' database."""
    engine = make_engine(stack_settings.database_url)
    try:
        with session_factory(engine)() as session:
            return list(session.scalars(select(model).where(model.conversation_id == sender)))
    finally:
        engine.dispose()


def handoffs(stack_settings, sender: str) -> list[Handoff]:
    return rows(stack_settings, Handoff, sender)


def test_greeting(chat):
    assert "Wie kann ich Ihnen helfen" in text_of(chat("Hallo!"))


def test_empty_message_triggers_nothing(chat):
    assert chat("") == []
    assert chat("   ") == []


def test_how_to_question_is_answered_with_its_guide(chat, stack_settings):
    messages = chat("Wie kann ich die Zwei-Faktor-Authentifizierung ausschalten?")
    reply = text_of(messages)
    assert "Zwei-Faktor-Authentifizierung (2FA) deaktivieren" in reply
    assert stack_settings.public_url + "/hilfe/" in reply
    buttons = [b["title"] for m in messages for b in m.get("buttons") or []]
    assert buttons == ["Hat geholfen", "Hat nicht geholfen"]


def test_feedback_is_stored(chat, stack_settings):
    chat("Wie ändere ich meine Rechnungsadresse?")
    assert "Danke" in text_of(chat("/feedback_helpful"))
    engine = make_engine(stack_settings.database_url)
    with session_factory(engine)() as session:
        rows = list(
            session.scalars(select(Feedback).where(Feedback.conversation_id == chat.sender))
        )
    engine.dispose()
    assert [r.helpful for r in rows] == [True]
    assert rows[0].article_id is not None


def test_follow_up_is_read_in_context(chat):
    chat("Wie deaktiviere ich die Zwei-Faktor-Authentifizierung?")
    reply = text_of(chat("und wie schalte ich das wieder ein?"))
    assert "Zwei-Faktor-Authentifizierung" in reply


def test_english_question_finds_the_german_guide(chat):
    reply = text_of(chat("How do I change my billing address?"))
    assert "Rechnungsadresse" in reply


GUIDE_LINK = re.compile(r"/hilfe/\d+")


def test_off_topic_question_is_refused(chat):
    reply = text_of(chat("Wie wird das Wetter morgen in Zürich?"))
    assert not GUIDE_LINK.search(reply)
    assert "nicht" in reply


def test_uncovered_support_question_is_refused_honestly(chat, stack_settings):
    messages = chat("Wie installiere ich WordPress auf meinem Hosting?")
    reply = text_of(messages)
    assert not GUIDE_LINK.search(reply)
    assert "keine Anleitung" in reply
    assert f"{stack_settings.public_url}/hilfe/?q=Wie%20installiere" in reply  # the search
    assert "/human_handoff" in payloads(messages)
    assert {"verdict": "not_covered"}.items() <= custom_of(messages).items()


# -- clarifying questions ------------------------------------------------------------------

CHOICE = re.compile(r'^/choose_guide\{"guide_id":"(\d+|none)"\}$')


def payloads(messages: list[dict]) -> list[str]:
    return [b["payload"] for m in messages for b in m.get("buttons") or []]


def custom_of(messages: list[dict]) -> dict:
    merged: dict = {}
    for message in messages:
        merged.update(message.get("custom") or {})
    return merged


def clarifying(stack) -> tuple:
    """A new conversation whose first question the bot answered with a choice of guides:
    ``(say, question, messages)``."""
    for question in CLARIFY_CANDIDATES:
        sender = f"test-{uuid.uuid4().hex[:12]}"

        def say(text: str, sender: str = sender) -> list[dict]:
            return send(stack.rest_url, sender, text)

        say.sender = sender  # type: ignore[attr-defined]
        messages = say(question)
        if custom_of(messages).get("verdict") == "clarify":
            return say, question, messages
    pytest.fail(f"none of {CLARIFY_CANDIDATES} gets a clarifying question any more")


def test_unclear_question_offers_guides_and_answers_the_chosen_one(stack, stack_settings):
    say, question, messages = clarifying(stack)
    assert "Meinen Sie eine dieser Anleitungen?" in text_of(messages)
    buttons = [b for m in messages for b in m.get("buttons") or []]
    assert 2 <= len(buttons) <= 4 and buttons[-1]["title"] == "Etwas anderes"
    assert all(CHOICE.match(b["payload"]) for b in buttons), buttons
    choices = custom_of(messages)["choices"]
    assert [c["title"] for c in choices] == [b["title"] for b in buttons[:-1]]
    assert all(c["url"] == f"{stack_settings.public_url}/hilfe/{c['id']}" for c in choices)

    first = buttons[0]
    answer = say(first["payload"])
    reply = text_of(answer)
    assert f"**{first['title']}**" in reply  # the chosen guide's own text
    assert custom_of(answer)["article"]["id"] == choices[0]["id"]
    assert payloads(answer)[:2] == ["/feedback_helpful", "/feedback_unhelpful"]

    # The choice is stored for the editors; a second click is stale.
    [stored] = rows(stack_settings, ClarifyChoice, say.sender)
    assert stored.offered == [c["id"] for c in choices]
    assert stored.chosen_article_id == choices[0]["id"]
    assert stored.query == question
    assert "nicht mehr aktuell" in text_of(say(buttons[-1]["payload"]))
    assert len(rows(stack_settings, ClarifyChoice, say.sender)) == 1
    verdicts = [q.verdict for q in rows(stack_settings, KbQuestion, say.sender)]
    assert verdicts == ["clarify"]


def test_something_else_is_not_covered_and_offers_a_human(stack, stack_settings):
    say, question, messages = clarifying(stack)
    other = [b for m in messages for b in m.get("buttons") or []][-1]
    assert other["title"] == "Etwas anderes"
    reply = say(other["payload"])
    assert "keine Anleitung" in text_of(reply)
    assert "/hilfe/?q=" in text_of(reply)
    assert "/human_handoff" in payloads(reply)
    assert custom_of(reply)["verdict"] == "not_covered"
    [stored] = rows(stack_settings, ClarifyChoice, say.sender)
    assert stored.chosen_article_id is None and stored.query == question
    assert "verbinde Sie" in text_of(say("/human_handoff"))


def test_a_guide_that_was_not_offered_is_refused(stack, stack_settings):
    say, _, messages = clarifying(stack)
    offered = {c["id"] for c in custom_of(messages)["choices"]}
    foreign = next(i for i in range(1, 100) if i not in offered)
    reply = text_of(say(f'/choose_guide{{"guide_id":"{foreign}"}}'))
    assert "nicht zur Auswahl" in reply
    assert rows(stack_settings, ClarifyChoice, say.sender) == []


def test_support_code_success(chat):
    asked = text_of(chat("Ich möchte mich mit meinem Supportcode verifizieren"))
    assert "Supportcode" in asked
    reply = text_of(chat(SUPPORT_CODE))
    assert "Muster AG" in reply
    assert SUPPORT_CODE not in reply


def test_codes_are_not_kept_in_clear_by_rasa(chat, stack_settings):
    verified(chat)
    chat(f"Mein VIP-Code ist {VIP_CODE}")
    tracker_db = make_url(stack_settings.tracker_store_url).database
    with sqlite3.connect(tracker_db) as db:
        events = [
            row[0]
            for row in db.execute("SELECT data FROM events WHERE sender_id = ?", (chat.sender,))
        ]
    assert any("[Code entfernt]" in data for data in events)
    assert not [data for data in events if SUPPORT_CODE in data or VIP_CODE in data]


def test_support_code_given_in_the_first_message(chat):
    reply = text_of(chat(f"Mein Supportcode ist {OTHER_SUPPORT_CODE}"))
    assert "Beispiel GmbH" in reply
    assert OTHER_SUPPORT_CODE not in reply


def test_wrong_and_unknown_codes_get_the_same_answer(chat):
    chat("Ich möchte mich mit meinem Supportcode verifizieren")
    wrong = text_of(chat("482914"))
    assert "nicht bestätigt" in wrong
    unknown = text_of(chat("100000"))
    assert unknown.replace("3 Versuche", "4 Versuche") == wrong
    assert "482914" not in wrong


def test_badly_formatted_code_is_explained(chat):
    chat("Ich möchte mich mit meinem Supportcode verifizieren")
    assert "6 Ziffern" in text_of(chat("12345"))


def test_lockout_after_five_failures(chat, stack_settings):
    chat("Ich möchte mich mit meinem Supportcode verifizieren")
    for wrong in ("111111", "222222", "333333", "444444"):
        assert "nicht bestätigt" in text_of(chat(wrong))
    locked = text_of(chat("555555"))
    assert "gesperrt" in locked
    assert "Mitarbeiter" in locked
    # Even the right code is not compared while the lock lasts.
    again = verified(chat)
    assert "gesperrt" in again and "Muster AG" not in again
    # The offer of a human stands: "ja" hands over.
    chat("Ich möchte mich mit meinem Supportcode verifizieren")
    chat(SUPPORT_CODE)
    assert "verbinde Sie" in text_of(chat("ja"))
    assert [h.reason for h in handoffs(stack_settings, chat.sender)] == ["lockout"]


def test_vip_code_marks_the_conversation_as_priority(chat, stack_settings):
    reply = text_of(chat(f"Hier ist mein VIP-Code: {VIP_CODE}"))
    assert "VIP-Code ist bestätigt" in reply
    assert VIP_CODE not in reply
    chat("Ich möchte mit einem Mitarbeiter sprechen")
    [handoff] = handoffs(stack_settings, chat.sender)
    assert handoff.priority is True


def test_vip_attempt_by_a_customer_without_premium(chat):
    verified(chat)
    chat("Ich möchte meinen VIP-Code angeben")
    reply = text_of(chat("903311"))
    assert "Premium" in reply
    assert "bestätigt (" not in reply


@pytest.mark.parametrize(
    ("invoice", "expected"),
    [
        ("INV-2026-1001", ["Dauerauftrag", "Prepaid", "CHF 120.00"]),
        ("INV-2026-1002", ["EUR 9.90"]),
        ("INV-2026-1003", ["EUR", "Währung"]),
        ("INV-2026-1004", ["überschnitten", "nichts weiter tun"]),
        ("INV-2026-1005", ["Phishing"]),
        ("INV-2026-1006", ["keine Zahlung", "CHF 240.00"]),
    ],
)
def test_payment_reminder_causes(chat, invoice, expected):
    verified(chat)
    reply = text_of(chat(f"Ich habe eine Mahnung für {invoice} bekommen, obwohl ich bezahlt habe"))
    for words in expected:
        assert words in reply, reply


def test_payment_reminder_unverified_then_verified(chat):
    first = chat("Warum bekomme ich eine Zahlungserinnerung, obwohl ich bezahlt habe?")
    assert "Supportcode" in text_of(first)
    assert "Supportcode" in text_of(chat("ja"))
    listed = chat(SUPPORT_CODE)
    payloads = [b["payload"] for m in listed for b in m.get("buttons") or []]
    assert any("INV-2026-1006" in p for p in payloads)
    assert "keine Zahlung" in text_of(chat('/inform{"invoice_number":"INV-2026-1006"}'))


def test_invoice_of_another_customer_is_not_found(chat):
    verified(chat)
    reply = text_of(chat("Ich habe eine Mahnung für INV-2026-2001 bekommen"))
    assert "nicht gefunden" in reply


def test_handoff_pauses_the_bot(chat, stack_settings):
    chat("Wie ändere ich meine Rechnungsadresse?")
    reply = text_of(chat("Ich möchte bitte mit einem Mitarbeiter sprechen"))
    assert "verbinde Sie" in reply
    [handoff] = handoffs(stack_settings, chat.sender)
    assert handoff.reason == "requested" and handoff.status == "open"
    assert any("Rechnungsadresse" in entry["text"] for entry in handoff.transcript)
    assert chat("Hallo?") == []  # the bot is paused: a human has the conversation
