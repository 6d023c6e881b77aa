"""The Rasa action adapters, run against fixture trackers, the demo data and a fake KB."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.adapters.conversation import ActionHandleInform, ActionHandoff, ActionResolveOffer
from actions.adapters.guide_choice import ActionChooseGuide
from actions.adapters.kb import UNSURE, ActionAnswerFromKb, ActionFeedback
from actions.adapters.reminders import (
    ActionAskInvoiceNumber,
    ActionPaymentReminder,
    ValidateInvoiceForm,
)
from actions.adapters.small_talk import ActionSmallTalk
from actions.adapters.verification import (
    CHECKED,
    ActionVerificationDone,
    ValidateSupportCodeForm,
    ValidateVipCodeForm,
)
from actions.runtime import Runtime, use_runtime
from core.models import ClarifyChoice, Feedback, Handoff, KbQuestion
from retrieval.answer import Answer, Choice, Section
from retrieval.retriever import QueryError
from support import clarify
from tests.db_fixtures import CODE_KEY


class FakeKb:
    """Answers questions that mention "rechnungsadresse" or "2fa", asks back for "pdf"
    (offering both guides); records every query."""

    ARTICLES: ClassVar = {"rechnungsadresse": (7, "Rechnungsadresse hinzufügen"), "2fa": (3, "2FA")}
    CLARIFY_ON = "pdf"

    def __init__(self) -> None:
        self.queries: list[str] = []
        self.chosen: list[tuple[str, int]] = []
        self.confidence = 0.9

    def _from(self, raw_query: str, article_id: int, title: str) -> Answer:
        sections = [Section("Schritte", "1. Öffnen Sie den Manager.")]
        return Answer(raw_query, True, self.confidence, article_id, title, "kb/x.md", sections)

    def answer(self, raw_query: str, article_id: int | None = None) -> Answer:
        if article_id is not None:
            self.chosen.append((raw_query, article_id))
            for known, title in self.ARTICLES.values():
                if known == article_id:
                    return self._from(raw_query, article_id, title)
            raise QueryError("Diese Anleitung gibt es nicht (mehr).")
        self.queries.append(raw_query)
        if self.CLARIFY_ON in raw_query.lower():
            choices = [Choice(i, title) for i, title in self.ARTICLES.values()]
            return Answer(raw_query, False, 0.5, verdict="clarify", choices=choices)
        for word, (known, title) in self.ARTICLES.items():
            if word in raw_query.lower():
                return self._from(raw_query, known, title)
        return Answer(raw_query, answerable=False, confidence=0.1, verdict="not_covered")


@pytest.fixture
def kb() -> FakeKb:
    return FakeKb()


@pytest.fixture
def services(settings, sessions, demo, kb) -> Iterator[Runtime]:
    with use_runtime(Runtime(settings, sessions, CODE_KEY, kb)) as services:
        yield services


def tracker(
    text: str = "",
    intent: str = "kb_question",
    slots: dict[str, Any] | None = None,
    events: list[dict] | None = None,
    sender: str = "conv-1",
    entities: list[dict] | None = None,
) -> Tracker:
    return Tracker(
        sender_id=sender,
        slots=slots or {},
        latest_message={
            "text": text,
            "intent": {"name": intent, "confidence": 0.9},
            "entities": entities or [],
        },
        events=events or [],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def run(action, track: Tracker) -> tuple[list[dict], list]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, track, {}))
    return dispatcher.messages, events


def validate(form, slot: str, value: str, track: Tracker) -> tuple[list[dict], dict]:
    dispatcher = CollectingDispatcher()
    method = getattr(form, f"validate_{slot}")
    return dispatcher.messages, asyncio.run(method(value, dispatcher, track, {}))


def slot(events: list, name: str) -> Any:
    values = [e["value"] for e in events if e.get("event") == "slot" and e["name"] == name]
    return values[-1] if values else None


def texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


# --- KB answers --------------------------------------------------------------------------


def test_kb_answer_has_title_link_and_feedback_buttons(services, sessions):
    messages, events = run(ActionAnswerFromKb(), tracker("Wie ändere ich die Rechnungsadresse?"))
    [message] = messages
    assert "**Rechnungsadresse hinzufügen**" in message["text"]
    assert services.settings.article_url(7) in message["text"]
    assert [b["payload"] for b in message["buttons"]] == [
        "/feedback_helpful",
        "/feedback_unhelpful",
    ]
    assert message["custom"]["article"]["id"] == 7
    assert slot(events, "last_article_id") == 7
    with sessions() as session:
        [question] = session.scalars(select(KbQuestion))
    assert (question.article_id, question.verdict) == (7, "answer")
    assert message["custom"]["verdict"] == "answer"


def test_an_unsure_answer_offers_a_human_at_once(services, kb):
    kb.confidence = 0.6
    [message], _ = run(ActionAnswerFromKb(), tracker("Wie ändere ich die Rechnungsadresse?"))
    assert "**Rechnungsadresse hinzufügen**" in message["text"]
    assert message["text"].endswith(UNSURE)
    assert [b["payload"] for b in message["buttons"]] == [
        "/feedback_helpful",
        "/feedback_unhelpful",
        "/human_handoff",
    ]
    assert message["custom"]["unsure"] is True


def test_unanswered_question_is_said_honestly_then_a_human_is_offered(services, sessions):
    messages, events = run(ActionAnswerFromKb(), tracker("Wie installiere ich WordPress?"))
    [message] = messages
    assert message["text"].startswith(clarify.NOT_COVERED_TEXT)
    search = f"{services.settings.public_url}/hilfe/?q=Wie%20installiere%20ich%20WordPress%3F"
    assert f"]({search})" in message["text"]  # a link to search the guide pages
    assert message["custom"]["verdict"] == "not_covered"
    assert message["buttons"][0]["payload"] == "/human_handoff"
    assert slot(events, "failed_answers") == 1
    with sessions() as session:
        [question] = session.scalars(select(KbQuestion))
    assert (question.verdict, question.article_id) == ("not_covered", None)
    messages, events = run(
        ActionAnswerFromKb(), tracker("WordPress Plugin?", slots={"failed_answers": 1.0})
    )
    assert "Mitarbeiter" in texts(messages)
    assert slot(events, "pending_offer") == "handoff:repeated_failure"
    messages, events = run(
        ActionAnswerFromKb(), tracker("immer noch WordPress", slots={"failed_answers": 2.0})
    )
    assert ConversationPaused().get("event") in [e.get("event") for e in events]
    with sessions() as session:
        [handoff] = session.scalars(select(Handoff))
    assert handoff.reason == "repeated_failure"


def test_off_topic_is_refused_without_counting_as_a_failure(services):
    messages, events = run(ActionAnswerFromKb(), tracker("Wie wird das Wetter?", "out_of_scope"))
    assert "nicht helfen" in texts(messages)
    assert slot(events, "failed_answers") is None


def test_follow_up_is_searched_with_the_previous_question(services, kb):
    previous = {"last_query": "Wie deaktiviere ich 2FA?"}
    messages, _ = run(
        ActionAnswerFromKb(), tracker("und wie schalte ich das wieder ein?", slots=previous)
    )
    assert kb.queries == ["Wie deaktiviere ich 2FA? und wie schalte ich das wieder ein?"]
    assert "2FA" in texts(messages)


def test_button_payloads_and_empty_text_are_not_questions(services, kb):
    assert run(ActionAnswerFromKb(), tracker("/feedback_helpful")) == ([], [])
    assert run(ActionAnswerFromKb(), tracker("   ")) == ([], [])
    assert kb.queries == []


# --- clarifying questions ----------------------------------------------------------------

PDF = "Wie lade ich die Rechnung als PDF herunter?"


def choose(guide_id: str, slots: dict[str, Any] | None = None, **kwargs) -> Tracker:
    """The customer pressed a clarify button (Rasa read the payload: intent and entity)."""
    payload = f'/choose_guide{{"guide_id":"{guide_id}"}}'
    entities = [{"entity": "guide_id", "value": guide_id}]
    return tracker(payload, "choose_guide", slots, entities=entities, **kwargs)


def clarified(services) -> dict[str, Any]:
    """The slots after the clarifying question for PDF."""
    _, events = run(ActionAnswerFromKb(), tracker(PDF))
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def test_unclear_question_offers_the_guides_as_buttons(services, sessions):
    messages, events = run(ActionAnswerFromKb(), tracker(PDF))
    [message] = messages
    assert message["text"] == "Meinen Sie eine dieser Anleitungen?"
    assert message["buttons"] == [
        {"title": "Rechnungsadresse hinzufügen", "payload": '/choose_guide{"guide_id":"7"}'},
        {"title": "2FA", "payload": '/choose_guide{"guide_id":"3"}'},
        {"title": "Etwas anderes", "payload": '/choose_guide{"guide_id":"none"}'},
    ]
    assert message["custom"] == {
        "verdict": "clarify",
        "choices": [
            {
                "id": 7,
                "title": "Rechnungsadresse hinzufügen",
                "url": services.settings.article_url(7),
            },
            {"id": 3, "title": "2FA", "url": services.settings.article_url(3)},
        ],
    }
    assert slot(events, "clarify_query") == PDF
    assert slot(events, "clarify_choices") == [7, 3]
    assert slot(events, "failed_answers") is None  # asking back is no failure
    with sessions() as session:
        [question] = session.scalars(select(KbQuestion))
    assert (question.verdict, question.article_id) == ("clarify", None)


def test_payloads_parse_back():
    assert clarify.parse_payload('/choose_guide{"guide_id":"7"}') == (True, 7)
    assert clarify.parse_payload('/choose_guide{"guide_id":"none"}') == (True, None)
    for other in ('/choose_guide{"guide_id":"x"}', "/choose_guide", "/feedback_helpful", "7"):
        assert clarify.parse_payload(other) == (False, None)
    assert clarify.choice_payload(12) == '/choose_guide{"guide_id":"12"}'


def test_choosing_a_guide_answers_from_it_and_stores_the_choice(services, sessions, kb):
    slots = clarified(services)
    messages, events = run(ActionChooseGuide(), choose("3", slots))
    [message] = messages
    assert kb.chosen == [(PDF, 3)]
    assert "**2FA**" in message["text"] and services.settings.article_url(3) in message["text"]
    assert UNSURE not in message["text"]  # the customer chose it
    assert [b["payload"] for b in message["buttons"]] == [
        "/feedback_helpful",
        "/feedback_unhelpful",
    ]
    assert message["custom"]["article"]["id"] == 3
    assert message["custom"]["verdict"] == "answer"
    assert slot(events, "last_article_id") == 3 and slot(events, "last_query") == PDF
    assert slot(events, "clarify_query") is None and slot(events, "clarify_choices") is None
    with sessions() as session:
        [choice] = session.scalars(select(ClarifyChoice))
    assert (choice.query, choice.offered, choice.chosen_article_id) == (PDF, [7, 3], 3)
    assert choice.conversation_id == "conv-1"


def test_something_else_is_not_covered_with_search_and_a_human(services, sessions):
    slots = clarified(services)
    messages, events = run(ActionChooseGuide(), choose("none", slots))
    [message] = messages
    assert message["text"].startswith("Dazu gibt es leider noch keine Anleitung.")
    assert "/hilfe/?q=Wie%20lade%20ich" in message["text"]
    assert message["custom"]["verdict"] == "not_covered"
    assert [b["payload"] for b in message["buttons"]] == ["/human_handoff"]
    assert slot(events, "failed_answers") == 1
    assert slot(events, "clarify_query") is None
    with sessions() as session:
        [choice] = session.scalars(select(ClarifyChoice))
    assert (choice.offered, choice.chosen_article_id) == ([7, 3], None)


def test_something_else_counts_towards_the_handoff(services):
    slots = {**clarified(services), "failed_answers": 1.0}
    messages, events = run(ActionChooseGuide(), choose("none", slots))
    assert "Möchten Sie mit einem Mitarbeiter" in texts(messages)
    assert slot(events, "pending_offer") == "handoff:repeated_failure"


def test_stale_or_foreign_choices_get_a_short_reply(services, sessions, kb):
    messages, events = run(ActionChooseGuide(), choose("7"))  # nothing pending
    assert texts(messages) == clarify.STALE and events == []
    slots = clarified(services)
    messages, events = run(ActionChooseGuide(), choose("99", slots))  # not offered
    assert texts(messages) == clarify.NOT_OFFERED and events == []
    messages, _ = run(ActionChooseGuide(), choose("kaputt", slots))  # not an id
    assert texts(messages) == clarify.PICK_ONE
    assert kb.chosen == []
    with sessions() as session:
        assert list(session.scalars(select(ClarifyChoice))) == []


def test_a_guide_gone_since_it_was_offered(services, kb):
    slots = {"clarify_query": PDF, "clarify_choices": [7, 42]}
    messages, events = run(ActionChooseGuide(), choose("42", slots))
    assert texts(messages) == clarify.GUIDE_GONE
    assert slot(events, "clarify_query") is None


def test_a_typed_choice_or_a_new_question(services, kb):
    slots = clarified(services)
    messages, _ = run(ActionChooseGuide(), tracker("die zweite Anleitung", "choose_guide", slots))
    assert "**2FA**" in texts(messages)
    messages, _ = run(ActionChooseGuide(), tracker("keine davon", "choose_guide", slots))
    assert texts(messages).startswith(clarify.NOT_COVERED_TEXT)
    # Words the classifier took for a choice that are a new question go to the KB.
    messages, _ = run(
        ActionChooseGuide(), tracker("Wie ändere ich die Rechnungsadresse?", "choose_guide")
    )
    assert "**Rechnungsadresse hinzufügen**" in texts(messages)


def test_a_new_answer_closes_the_open_choice(services):
    slots = clarified(services)
    _, events = run(
        ActionAnswerFromKb(), tracker("Wie ändere ich die Rechnungsadresse?", slots=slots)
    )
    assert slot(events, "clarify_query") is None and slot(events, "clarify_choices") is None
    messages, _ = run(ActionAnswerFromKb(), tracker("Wie wird das Wetter?", "out_of_scope", slots))
    assert "nicht helfen" in texts(messages)


def test_feedback_is_stored_for_the_last_answer(services, sessions):
    slots = {"last_article_id": 7.0, "last_query": "Rechnungsadresse ändern"}
    messages, _ = run(ActionFeedback(), tracker("Hat geholfen", "feedback_helpful", slots))
    assert "Danke" in texts(messages)
    with sessions() as session:
        [row] = session.scalars(select(Feedback))
    assert (row.article_id, row.helpful) == (7, True)


# --- small talk ------------------------------------------------------------------------


def test_small_talk_is_answered(services):
    messages, _ = run(ActionSmallTalk(), tracker("Hallo", "greet"))
    assert "Guten Tag" in texts(messages)


def test_a_question_taken_for_small_talk_still_reaches_the_kb(services):
    messages, _ = run(
        ActionSmallTalk(), tracker("Hallo, wie ändere ich meine Rechnungsadresse?", "greet")
    )
    assert "Rechnungsadresse hinzufügen" in texts(messages)


# --- codes -----------------------------------------------------------------------------


def test_right_support_code_verifies_without_repeating_it(services):
    messages, slots = validate(ValidateSupportCodeForm(), "support_code", "482913", tracker())
    assert slots["support_code"] == CHECKED
    assert slots["verified_customer_name"] == "Muster AG"
    assert slots["priority"] is False
    assert "482913" not in texts(messages)


def test_wrong_code_asks_again_and_counts_down(services):
    messages, slots = validate(ValidateSupportCodeForm(), "support_code", "000001", tracker())
    assert slots == {"support_code": None}
    assert "noch 4 Versuche" in texts(messages)
    assert "000001" not in texts(messages)


def test_fifth_failure_locks(services):
    form = ValidateSupportCodeForm()
    for code in ("000001", "000002", "000003", "000004"):
        validate(form, "support_code", code, tracker())
    messages, slots = validate(form, "support_code", "000005", tracker())
    assert slots["verification_result"] == "locked"
    assert "gesperrt" in texts(messages)
    messages, slots = validate(form, "support_code", "482913", tracker())
    assert slots["verification_result"] == "locked"
    assert "verified_customer_id" not in slots


def test_vip_code_sets_priority(services):
    _, slots = validate(ValidateVipCodeForm(), "vip_code", "903311", tracker())
    assert slots["verified_customer_name"] == "Beispiel GmbH"
    assert slots["priority"] is True


def test_vip_code_for_a_customer_without_premium(services, demo):
    verified = {"verified_customer_id": float(demo["Muster AG"])}
    _, slots = validate(ValidateVipCodeForm(), "vip_code", "903311", tracker(slots=verified))
    assert slots["verification_result"] == "not_premium"
    messages, _ = run(
        ActionVerificationDone(), tracker(slots={**verified, "verification_result": "not_premium"})
    )
    assert "Premium" in texts(messages)


def test_lockout_offers_a_human(services):
    messages, events = run(
        ActionVerificationDone(), tracker(slots={"verification_result": "locked"})
    )
    assert slot(events, "pending_offer") == "handoff:lockout"
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]


# --- payment reminders -----------------------------------------------------------------


def test_unverified_reminder_gets_the_guide_and_an_offer_to_verify(services):
    messages, events = run(
        ActionPaymentReminder(),
        tracker("Mahnung trotz Zahlung, Rechnungsadresse?", "payment_reminder"),
    )
    assert "Supportcode" in texts(messages)
    assert slot(events, "pending_offer") == "verify"
    assert slot(events, "pending_task") == "payment_reminder"


def test_verified_reminder_without_invoice_asks_which(services, demo):
    slots = {"verified_customer_id": float(demo["Muster AG"])}
    _, events = run(ActionPaymentReminder(), tracker("Mahnung erhalten", "payment_reminder", slots))
    assert FollowupAction("invoice_form") in events
    messages, _ = run(ActionAskInvoiceNumber(), tracker(slots=slots))
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert len(payloads) == 5  # every demo invoice with a reminder, not INV-2026-1005
    assert '/inform{"invoice_number":"INV-2026-1006"}' in payloads


def test_verified_reminder_with_invoice_is_diagnosed(services, demo):
    slots = {"verified_customer_id": float(demo["Muster AG"]), "invoice_number": "inv 2026 1006"}
    messages, events = run(ActionPaymentReminder(), tracker("Mahnung", "payment_reminder", slots))
    assert "noch keine Zahlung" in texts(messages)
    assert slot(events, "invoice_number") is None


def test_invoice_form_finds_own_invoices_only(services, demo):
    slots = {"verified_customer_id": float(demo["Muster AG"])}
    _, found = validate(ValidateInvoiceForm(), "invoice_number", "die 1002", tracker(slots=slots))
    assert found == {"invoice_number": "INV-2026-1002"}
    messages, other = validate(
        ValidateInvoiceForm(), "invoice_number", "INV-2026-2001", tracker(slots=slots)
    )
    assert other == {"invoice_number": None}
    assert "nicht" in texts(messages)


def test_verification_continues_with_the_pending_reminder(services, demo):
    slots = {
        "verification_result": "ok",
        "verified_customer_id": float(demo["Muster AG"]),
        "verified_customer_name": "Muster AG",
        "pending_task": "payment_reminder",
        "invoice_number": "INV-2026-1004",
    }
    messages, _ = run(ActionVerificationDone(), tracker(slots=slots))
    assert "Muster AG" in texts(messages)
    assert "überschnitten" in texts(messages)


# --- offers and handoff ----------------------------------------------------------------


def test_yes_to_the_lockout_offer_hands_off(services, sessions):
    slots = {"pending_offer": "handoff:lockout"}
    _, events = run(ActionResolveOffer(), tracker("ja", "affirm", slots))
    assert ConversationPaused() in events
    with sessions() as session:
        [handoff] = session.scalars(select(Handoff))
    assert handoff.reason == "lockout"


def test_yes_to_verification_starts_the_form(services):
    _, events = run(ActionResolveOffer(), tracker("ja", "affirm", {"pending_offer": "verify"}))
    assert FollowupAction("support_code_form") in events


def test_no_to_verification_drops_the_task(services):
    _, events = run(ActionResolveOffer(), tracker("nein", "deny", {"pending_offer": "verify"}))
    assert slot(events, "pending_task") is None
    assert SlotSet("pending_task", None) in events


def test_handoff_keeps_transcript_identity_and_priority_without_codes(services, sessions, demo):
    events = [
        {"event": "user", "text": "Mein VIP-Code ist 903311", "timestamp": 1_767_000_000.0},
        {"event": "bot", "text": "Ihr VIP-Code ist bestätigt.", "timestamp": 1_767_000_001.0},
    ]
    slots = {"verified_customer_id": float(demo["Beispiel GmbH"]), "priority": True}
    messages, result = run(ActionHandoff(), tracker("Mensch bitte", "human_handoff", slots, events))
    assert ConversationPaused() in result
    assert "bevorzugt" in texts(messages)
    with sessions() as session:
        [handoff] = session.scalars(select(Handoff))
    assert handoff.priority is True
    assert handoff.customer_id == demo["Beispiel GmbH"]
    assert "903311" not in str(handoff.transcript)


def test_bare_code_starts_the_check(services):
    _, events = run(ActionHandleInform(), tracker("482913", "inform", {"support_code": "482913"}))
    assert FollowupAction("support_code_form") in events


def test_support_code_after_the_vip_code_keeps_the_priority(services, demo):
    vip = {"verified_customer_id": float(demo["Beispiel GmbH"]), "priority": True}
    _, slots = validate(ValidateSupportCodeForm(), "support_code", "715204", tracker(slots=vip))
    assert slots["priority"] is True
