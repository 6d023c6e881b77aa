"""Support and VIP code checks as Rasa forms. The code is never repeated, logged or kept:
once checked, the slot holds a marker instead."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.adapters.common import client_key, customer_of, offer_handoff, verified_slots
from actions.adapters.reminders import continue_payment_reminder
from actions.runtime import get_runtime
from support import handoff as handoffs
from support.verification import VerificationResult, verify_code

CHECKED = "geprüft"  # what the code slot holds after the check, whatever its outcome
LABELS = {"support": "Supportcode", "vip": "VIP-Code"}


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
    label = LABELS[kind]
    if result.status == "invalid_format":
        dispatcher.utter_message(
            text=f"Ein {label} besteht aus genau 6 Ziffern. Bitte prüfen Sie Ihre Eingabe."
        )
        return {slot: None}
    if result.status == "wrong" and result.attempts_left > 0:
        attempts = (
            "ein Versuch" if result.attempts_left == 1 else f"{result.attempts_left} Versuche"
        )
        dispatcher.utter_message(
            text=f"Dieser {label} konnte nicht bestätigt werden. Bitte prüfen Sie ihn und "
            f"versuchen Sie es noch einmal (noch {attempts})."
        )
        return {slot: None}
    if result.status == "ok" and result.customer_id is not None:
        # A support code after the VIP code of the same customer keeps the priority.
        was_priority = bool(tracker.get_slot("priority")) and (
            customer_of(tracker) == result.customer_id
        )
        verified = verified_slots(
            result.customer_id, result.customer_name or "", priority=kind == "vip" or was_priority
        )
        return {slot: CHECKED, "verification_result": "ok", **verified}
    if result.status == "not_premium":
        return {slot: CHECKED, "verification_result": "not_premium"}
    # Locked now, or this attempt used up the last try.
    dispatcher.utter_message(text=_lock_text(result.locked_until))
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

    question = (
        "Bitte geben Sie Ihren 6-stelligen Supportcode ein. Sie finden ihn in Ihrem Benutzerprofil."
    )


class ActionAskVipCode(_AskForCode):
    def name(self) -> str:
        return "action_ask_vip_code"

    question = (
        "Bitte geben Sie Ihren 6-stelligen VIP-Code ein. Sie finden ihn auf der "
        "Verwaltungsseite Ihres Premium-Supports."
    )


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


def _lock_text(locked_until: datetime | None) -> str:
    minutes = 15
    if locked_until is not None:
        left = (locked_until - datetime.now(UTC)).total_seconds() / 60
        minutes = max(1, round(left))
    return (
        "Aus Sicherheitsgründen sind weitere Code-Eingaben für "
        f"{minutes} Minuten gesperrt, weil der Code mehrmals nicht stimmte. "
        "Ein Mitarbeiter des Supports kann Sie auch anders identifizieren."
    )


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
            dispatcher.utter_message(
                text="Einen VIP-Code gibt es nur mit dem Premium-Support. Für Ihr Konto ist "
                "kein Premium-Support aktiv, deshalb kann ich keinen VIP-Code bestätigen. "
                "Mit Ihrem Supportcode kann ich Sie trotzdem identifizieren."
            )
            return events
        if result != "ok":
            return events
        name = tracker.get_slot("verified_customer_name")
        if tracker.get_slot("priority"):
            dispatcher.utter_message(
                text=f"Vielen Dank, Ihr VIP-Code ist bestätigt ({name}). Ihre Anliegen werden "
                "bevorzugt behandelt."
            )
        else:
            dispatcher.utter_message(text=f"Vielen Dank, Sie sind als Kunde {name} verifiziert.")
        if tracker.get_slot("pending_task") == "payment_reminder":
            return events + continue_payment_reminder(dispatcher, tracker)
        dispatcher.utter_message(
            text="Wie kann ich Ihnen helfen? Ich kann zum Beispiel prüfen, warum Sie eine "
            "Zahlungserinnerung erhalten haben."
        )
        return events
