"""Pieces every adapter uses: who the customer is, offers, the handoff."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.runtime import get_runtime
from core import ownership
from support import handoff as handoffs

HANDOFF_BUTTON = {"title": "Mit einem Mitarbeiter sprechen", "payload": "/human_handoff"}
YES_NO_BUTTONS = [{"title": "Ja", "payload": "/affirm"}, {"title": "Nein", "payload": "/deny"}]
# An offer the customer can answer with "ja"/"nein" (slot ``pending_offer``).
OFFER_HANDOFF = "handoff"
OFFER_VERIFY = "verify"


def customer_of(tracker: Tracker) -> int | None:
    value = tracker.get_slot("verified_customer_id")
    return int(value) if value is not None else None


def client_key(tracker: Tracker) -> str | None:
    """The customer's network address as the web app reports it, for per-client limits."""
    metadata = tracker.latest_message.get("metadata") or {}
    value = metadata.get("client_ip") if isinstance(metadata, dict) else None
    return str(value)[:64] if value else None


def intent_of(tracker: Tracker) -> str | None:
    """The intent Rasa acted on (``nlu_fallback`` included, unlike rasa-sdk's helper)."""
    intent = tracker.latest_message.get("intent") or {}
    return intent.get("name")


def latest_text(tracker: Tracker) -> str:
    """The customer's words; button payloads ("/affirm") are not words."""
    text = (tracker.latest_message.get("text") or "").strip()
    return "" if text.startswith("/") else text


def offer_handoff(
    dispatcher: CollectingDispatcher,
    text: str,
    reason: str = handoffs.REASON_REQUESTED,
    json_message: dict[str, Any] | None = None,
) -> list[EventType]:
    dispatcher.utter_message(text=text, buttons=YES_NO_BUTTONS, json_message=json_message)
    return [SlotSet("pending_offer", f"{OFFER_HANDOFF}:{reason}")]


def hand_off(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str) -> list[EventType]:
    """Record the handoff for the agent console and pause the bot for this conversation."""
    services = get_runtime()
    priority = bool(tracker.get_slot("priority"))
    with services.session() as session:
        handoffs.create_handoff(
            session,
            conversation_id=tracker.sender_id,
            reason=reason,
            transcript=handoffs.transcript_from_events(tracker.events),
            customer_id=customer_of(tracker),
            priority=priority,
        )
    text = (
        "Ich verbinde Sie mit einem Mitarbeiter des Supports. Ihre bisherige Unterhaltung "
        "liegt ihm vor, Sie müssen nichts wiederholen. Bitte bleiben Sie in diesem Fenster: "
        "Die Antwort erscheint hier."
    )
    if priority:
        text += " Als Premium-Kunde werden Sie bevorzugt bedient."
    elif customer_of(tracker) is None:
        text += (
            " Halten Sie bitte Ihren Supportcode bereit, damit der Mitarbeiter Sie "
            "identifizieren kann."
        )
    dispatcher.utter_message(text=text, json_message={"handoff": {"reason": reason}})
    # Rasa's pause follows the owner (core.ownership): once handed off, humans have it.
    owner = ownership.next_owner(ownership.BOT, ownership.HAND_OFF)
    pause: list[EventType] = [ConversationPaused()] if ownership.rasa_paused(owner) else []
    return [SlotSet("pending_offer", None), SlotSet("failed_answers", 0), *pause]
