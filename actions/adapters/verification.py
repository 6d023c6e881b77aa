"""Support and VIP code checks as Rasa forms. The code is never repeated, logged or kept:
once checked, the slot holds a marker instead."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.adapters.common import client_key, customer_of, offer_handoff
from actions.adapters.reminders import continue_payment_reminder
from actions.runtime import get_runtime
from support import handoff as handoffs
from support.verification import (
    CUSTOMER,
    SUPPORT_CODE_QUESTION,
    VIP_CODE_QUESTION,
    VerificationResult,
    confirmed_text,
    invalid_format_text,
    lock_text,
    not_premium_text,
    priority_after,
    verified_slots,
    verify_code,
    wrong_code_text,
)

CHECKED = "geprüft"  # what the code slot holds after the check, whatever its outcome


def _check(tracker: Tracker, kind: str, value: Any) -> VerificationResult:
    services = get_runtime()
    # A VIP code is checked against the customer the conversation already knows, if any.
    customer = customer_of(tracker) if kind == "vip" else None
    with services.session() as session:
        return verify_code(
            session,
            kind,
            str(value or ""),
            key=services.code_key,
            conversation_id=tracker.sender_id,
            client_key=client_key(tracker),
            customer_id=customer,
        )


def _outcome(
    result: VerificationResult,
    kind: str,
    slot: str,
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
) -> dict[str, Any]:
    if result.status == "invalid_format":
        dispatcher.utter_message(text=invalid_format_text(kind, CUSTOMER))
        return {slot: None}
    if result.status == "wrong" and result.attempts_left > 0:
        dispatcher.utter_message(text=wrong_code_text(kind, result.attempts_left, CUSTOMER))
        return {slot: None}
    if result.status == "ok" and result.customer_id is not None:
        priority = priority_after(
            kind,
            had_priority=bool(tracker.get_slot("priority")),
            same_customer=customer_of(tracker) == result.customer_id,
        )
        verified = verified_slots(result.customer_id, result.customer_name or "", priority=priority)
        return {slot: CHECKED, "verification_result": "ok", **verified}
    if result.status == "not_premium":
        return {slot: CHECKED, "verification_result": "not_premium"}
    # Locked now, or this attempt used up the last try.
    dispatcher.utter_message(text=lock_text(result.locked_until, CUSTOMER))
    return {slot: CHECKED, "verification_result": "locked"}


class _AskForCode(Action, ABC):
    """The form's question for its code. An action, not a domain response: `rasa data
    validate` counts a form's ask response as unused and warns."""

    question = ""

    @abstractmethod
    def name(self) -> str: ...

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(text=self.question)
        return []


class ActionAskSupportCode(_AskForCode):
    def name(self) -> str:
        return "action_ask_support_code"

    question = SUPPORT_CODE_QUESTION


class ActionAskVipCode(_AskForCode):
    def name(self) -> str:
        return "action_ask_vip_code"

    question = VIP_CODE_QUESTION


class ValidateSupportCodeForm(FormValidationAction):
    def name(self) -> str:
        return "validate_support_code_form"

    async def validate_support_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        if value == CHECKED:
            return {}
        return _outcome(
            _check(tracker, "support", value), "support", "support_code", dispatcher, tracker
        )


class ValidateVipCodeForm(FormValidationAction):
    def name(self) -> str:
        return "validate_vip_code_form"

    async def validate_vip_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        if value == CHECKED:
            return {}
        return _outcome(_check(tracker, "vip", value), "vip", "vip_code", dispatcher, tracker)


class ActionVerificationDone(Action):
    """Says how the check went and continues with what the customer wanted to do."""

    def name(self) -> str:
        return "action_verification_done"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        result = tracker.get_slot("verification_result")
        events: list[EventType] = [
            SlotSet("support_code", None),
            SlotSet("vip_code", None),
            SlotSet("verification_result", None),
        ]
        if result == "locked":
            question = "Möchten Sie mit einem Mitarbeiter sprechen?"
            return events + offer_handoff(dispatcher, question, handoffs.REASON_LOCKOUT)
        if result == "not_premium":
            dispatcher.utter_message(text=not_premium_text(CUSTOMER))
            return events
        if result != "ok":
            return events
        name = tracker.get_slot("verified_customer_name") or ""
        priority = bool(tracker.get_slot("priority"))
        dispatcher.utter_message(text=confirmed_text(name, priority=priority, audience=CUSTOMER))
        if tracker.get_slot("pending_task") == "payment_reminder":
            return events + continue_payment_reminder(dispatcher, tracker)
        dispatcher.utter_message(
            text="Wie kann ich Ihnen helfen? Ich kann zum Beispiel prüfen, warum Sie eine "
            "Zahlungserinnerung erhalten haben."
        )
        return events
