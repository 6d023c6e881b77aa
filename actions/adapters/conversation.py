"""The conversation's own turns: a human on request, "ja"/"nein" to an offer, a bare value."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.adapters.common import (
    OFFER_HANDOFF,
    OFFER_VERIFY,
    YES_NO_BUTTONS,
    customer_of,
    hand_off,
    intent_of,
    latest_text,
)
from actions.adapters.kb import answer_from_kb, looks_like_question
from actions.adapters.reminders import TASK, VERIFY_OFFER, continue_payment_reminder
from support import handoff as handoffs


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        return hand_off(dispatcher, tracker, handoffs.REASON_REQUESTED)


class ActionResolveOffer(Action):
    """What "ja" or "nein" means depends on what the bot offered last."""

    def name(self) -> str:
        return "action_resolve_offer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        offer = tracker.get_slot("pending_offer") or ""
        kind, _, reason = offer.partition(":")
        yes = intent_of(tracker) == "affirm"
        cleared: list[EventType] = [SlotSet("pending_offer", None)]
        if yes and kind == OFFER_HANDOFF:
            return hand_off(dispatcher, tracker, reason or handoffs.REASON_REQUESTED)
        if yes and kind == OFFER_VERIFY:
            return [*cleared, FollowupAction("support_code_form")]
        if kind == OFFER_VERIFY:
            dispatcher.utter_message(
                text="In Ordnung. Ohne Verifizierung kann ich Ihre Rechnungen nicht einsehen; "
                "die Anleitung oben beschreibt die häufigsten Ursachen."
            )
            return [*cleared, SlotSet("pending_task", None)]
        if not kind and looks_like_question(latest_text(tracker)):
            # "ja, genau, wie lösche ich mein Konto?": no offer to answer, but a question.
            events = await answer_from_kb(dispatcher, tracker, only_if_answerable=True)
            if events is not None:
                return events
        if yes:
            dispatcher.utter_message(text="Gerne. Wobei kann ich Ihnen helfen?")
        else:
            dispatcher.utter_message(text="In Ordnung. Wie kann ich Ihnen sonst helfen?")
        return cleared


class ActionHandleInform(Action):
    """A code or invoice number typed without a question that asked for it."""

    def name(self) -> str:
        return "action_handle_inform"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        text = (tracker.latest_message.get("text") or "").lower()
        if tracker.get_slot("invoice_number"):
            if customer_of(tracker) is not None:
                return continue_payment_reminder(dispatcher, tracker)
            dispatcher.utter_message(text=VERIFY_OFFER, buttons=YES_NO_BUTTONS)
            return [SlotSet("pending_offer", OFFER_VERIFY), SlotSet("pending_task", TASK)]
        if tracker.get_slot("support_code"):
            if "vip" in text:
                code = tracker.get_slot("support_code")
                return [
                    SlotSet("support_code", None),
                    SlotSet("vip_code", code),
                    FollowupAction("vip_code_form"),
                ]
            return [FollowupAction("support_code_form")]
        # No code or invoice number after all: the words may be a question.
        return await answer_from_kb(dispatcher, tracker) or []
