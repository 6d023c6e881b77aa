"""The customer's pick among the guides offered for an unclear question.

The buttons send ``/choose_guide{"guide_id":"5"}`` (or ``"none"`` for "Etwas anderes"),
which Rasa reads without NLU. The question they answer and the ids offered are kept in the
slots ``clarify_query`` and ``clarify_choices`` until the next KB reply replaces them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.adapters.common import latest_text
from actions.adapters.kb import (
    answer_from_kb,
    clear_clarification,
    looks_like_question,
    not_covered,
    say_answer,
)
from actions.runtime import get_runtime
from retrieval.retriever import QueryError
from support import clarify, feedback


def offered_ids(tracker: Tracker) -> list[int]:
    ids = []
    for value in tracker.get_slot("clarify_choices") or []:
        found, article_id = clarify.parse_guide_id(value)
        if found and article_id is not None:
            ids.append(article_id)
    return ids


def picked(tracker: Tracker, offered: list[int]) -> tuple[bool, int | None]:
    """The button's guide id (or None for "Etwas anderes"); a typed pick ("die zweite") if
    the classifier took words for a choice. ``(False, None)``: no choice in the message."""
    values = list(tracker.get_latest_entity_values(clarify.ENTITY))
    if values:
        return clarify.parse_guide_id(values[-1])
    text = latest_text(tracker)
    return clarify.choice_from_text(text, offered) if text and offered else (False, None)


def record_choice(tracker: Tracker, query: str, offered: list[int], chosen: int | None) -> None:
    with get_runtime().session() as session:
        feedback.record_choice(
            session,
            conversation_id=tracker.sender_id,
            query=query,
            offered=offered,
            chosen_article_id=chosen,
        )


async def choose_guide(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    query = tracker.get_slot("clarify_query")
    offered = offered_ids(tracker)
    found, article_id = picked(tracker, offered)
    pending = bool(query and offered)
    if not found:
        if looks_like_question(latest_text(tracker)):
            return await answer_from_kb(dispatcher, tracker) or []
        dispatcher.utter_message(text=clarify.PICK_ONE if pending else clarify.STALE)
        return []
    if not pending:
        # An old button, or a click after the conversation moved on.
        dispatcher.utter_message(text=clarify.STALE)
        return []
    if article_id is not None and article_id not in offered:
        dispatcher.utter_message(text=clarify.NOT_OFFERED)
        return []
    cleared = clear_clarification(tracker)
    if article_id is None:  # "Etwas anderes": none of the guides covers it
        record_choice(tracker, query, offered, None)
        return [*not_covered(dispatcher, tracker, query), *cleared]
    services = get_runtime()
    try:
        answer = await asyncio.to_thread(services.kb.answer, query, article_id)
    except QueryError:  # unpublished since it was offered
        dispatcher.utter_message(text=clarify.GUIDE_GONE)
        return cleared
    record_choice(tracker, query, offered, article_id)
    events = say_answer(dispatcher, answer, chosen=True)
    return [SlotSet("last_query", query), *events, *cleared]


class ActionChooseGuide(Action):
    def name(self) -> str:
        return "action_choose_guide"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        return await choose_guide(dispatcher, tracker)
