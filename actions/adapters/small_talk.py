"""Greetings, thanks, goodbyes, "are you a bot?".

A real question that the classifier took for small talk ("Hallo, wie ändere ich meine
Rechnungsadresse?") still reaches the KB: small talk is answered only when the KB has no
answer. That is why these replies live here and not as responses in the domain.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.adapters.common import HANDOFF_BUTTON, intent_of, latest_text
from actions.adapters.kb import answer_from_kb, looks_like_question

REPLIES: dict[str, tuple[str, list[dict[str, str]]]] = {
    "greet": (
        "Guten Tag! Ich bin der digitale Assistent des Supports. Ich beantworte Ihre Fragen "
        "aus unseren Anleitungen, prüfe Ihren Supportcode oder VIP-Code und erkläre Ihnen "
        "Zahlungserinnerungen. Wie kann ich Ihnen helfen?",
        [],
    ),
    "goodbye": ("Auf Wiedersehen und einen schönen Tag!", []),
    "thanks": ("Gern geschehen! Kann ich sonst noch etwas für Sie tun?", []),
    "bot_challenge": (
        "Ich bin ein digitaler Assistent, kein Mensch. Wenn Sie möchten, verbinde ich Sie "
        "mit einem Mitarbeiter des Supports.",
        [HANDOFF_BUTTON],
    ),
}


class ActionSmallTalk(Action):
    def name(self) -> str:
        return "action_small_talk"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if looks_like_question(latest_text(tracker)):
            events = await answer_from_kb(dispatcher, tracker, only_if_answerable=True)
            if events is not None:
                return events
        intent = intent_of(tracker) or "greet"
        text, buttons = REPLIES.get(intent, REPLIES["greet"])
        dispatcher.utter_message(text=text, buttons=buttons)
        return []
