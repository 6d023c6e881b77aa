"""Answers while Rasa is down (or up without its action server): the web app answers from the
KB itself, says that service is limited, and still hands over to a human or answers a chosen
guide. The KB's verdict is the bot's: an answer, the guides to choose from, or that none
covers the question. When the KB is away too (it lives in the action server), the customer
is offered a human."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.conversations import ChatMessage, Conversation
from support import clarify
from support.code_format import mask_codes
from support.feedback import record_choice, record_question
from web.clients.kb import KbQueryError, KbUnavailable
from web.services.conversation import (
    HANDOFF_BUTTON,
    HANDOFF_PAYLOAD,
    Channels,
    add_message,
    choices_of,
    hand_off,
    recent_bot_messages,
)

LIMITED_PREFIX = "Unser Assistent ist gerade nur eingeschränkt verfügbar. Aus unseren Anleitungen:"
UNAVAILABLE = (
    "Unser Assistent ist gerade nur eingeschränkt verfügbar und kann Ihre Nachricht nicht "
    "bearbeiten. Bitte versuchen Sie es in einigen Minuten erneut, oder sprechen Sie mit "
    "einem Mitarbeiter des Supports."
)
HANDOFF_WITHOUT_BOT = (
    "Ich leite Ihr Anliegen an einen Mitarbeiter des Supports weiter. Bitte haben Sie etwas "
    "Geduld; Sie können hier schon schreiben, worum es geht."
)
THANKS_WITHOUT_BOT = "Vielen Dank für Ihre Rückmeldung."


def limited_answer(session: Session, conversation: Conversation, text: str, channels: Channels):
    """Rasa is down: answer from the KB directly, and say that service is limited. The KB's
    verdict is the bot's: an answer, the guides to choose from, or that none covers it."""
    try:
        answer = channels.kb.answer(text)
    except (KbUnavailable, KbQueryError):
        return [_unavailable(session, conversation)]
    data: dict[str, Any] = {"limited": True, "confidence": answer.get("confidence")}
    choices = choices_of(answer.get("choices"))
    answered = bool(answer.get("answerable")) and answer.get("article_id") is not None
    verdict = answer.get("verdict")
    # Stored like the bot's questions: editors see what went unanswered during the outage.
    record_question(
        session,
        conversation_id=conversation.id,
        query=text,
        article_id=answer["article_id"] if answered else None,
        confidence=float(answer.get("confidence") or 0.0),
        verdict=verdict if verdict in clarify.VERDICTS else None,
    )
    if answered:
        data["article"] = {"id": answer["article_id"], "title": answer.get("title", "")}
        data["verdict"] = clarify.ANSWER
        body = f"{LIMITED_PREFIX}\n\n{answer.get('markdown', '')}"
    elif answer.get("verdict") == clarify.CLARIFY and choices:
        # The same buttons as the bot's; the question is kept here for the choice.
        offered = [(c["id"], c["title"]) for c in choices]
        data.update(
            verdict=clarify.CLARIFY,
            choices=choices,
            buttons=clarify.buttons(offered),
            query=mask_codes(text),
        )
        body = clarify.CLARIFY_QUESTION
    else:
        return [_not_covered(session, conversation, text, channels)]
    return [add_message(session, conversation, "bot", body, **data)]


def _unavailable(session: Session, conversation: Conversation) -> ChatMessage:
    """Neither the bot nor the KB can answer: a human can. A bot message, so that its button
    counts as offered (web.services.chat reads the bot's buttons)."""
    return add_message(
        session, conversation, "bot", UNAVAILABLE, limited=True, buttons=[HANDOFF_BUTTON]
    )


def _not_covered(
    session: Session, conversation: Conversation, query: str, channels: Channels
) -> ChatMessage:
    url = clarify.search_url(channels.public_url, query)
    return add_message(
        session,
        conversation,
        "bot",
        clarify.not_covered_text(url),
        limited=True,
        verdict=clarify.NOT_COVERED,
        buttons=[HANDOFF_BUTTON],
    )


def _open_clarification(
    session: Session, conversation: Conversation, payload: str
) -> tuple[str, list[int]] | None:
    """The question and guide ids of the clarifying question ``payload`` answers: the bot's
    latest reply with a verdict must be that question (a later reply closed the choice)."""
    recent = recent_bot_messages(session, conversation)
    asked = next((m for m in recent if (m.data or {}).get("verdict")), None)
    data = asked.data if asked is not None else {}
    if data.get("verdict") != clarify.CLARIFY:
        return None
    if payload not in {b.get("payload") for b in data.get("buttons") or []}:
        return None
    offered = [c["id"] for c in choices_of(data.get("choices"))]
    query = data.get("query")
    if not isinstance(query, str) or not query:
        # The bot asked (Rasa was up then): the question is the customer's message before.
        query = session.scalar(
            select(ChatMessage.text)
            .where(
                ChatMessage.conversation_id == conversation.id,
                ChatMessage.sender == "customer",
                ChatMessage.id < asked.id,
            )
            .order_by(ChatMessage.id.desc())
            .limit(1)
        )
    return (query, offered) if query and offered else None


def _limited_choice(
    session: Session, conversation: Conversation, payload: str, channels: Channels
) -> list[ChatMessage]:
    """Rasa is down and a guide was chosen: the answer from that guide, from the KB."""
    _, article_id = clarify.parse_payload(payload)
    pending = _open_clarification(session, conversation, payload)
    if pending is None:
        return [add_message(session, conversation, "system", clarify.STALE, limited=True)]
    query, offered = pending
    if article_id is not None and article_id not in offered:
        return [add_message(session, conversation, "system", clarify.NOT_OFFERED, limited=True)]
    if article_id is None:
        record_choice(
            session,
            conversation_id=conversation.id,
            query=query,
            offered=offered,
            chosen_article_id=None,
        )
        return [_not_covered(session, conversation, query, channels)]
    try:
        answer = channels.kb.answer(query, article_id)
    except KbUnavailable:
        return [_unavailable(session, conversation)]
    except KbQueryError:
        return [add_message(session, conversation, "system", clarify.GUIDE_GONE, limited=True)]
    record_choice(
        session,
        conversation_id=conversation.id,
        query=query,
        offered=offered,
        chosen_article_id=article_id,
    )
    data = {
        "limited": True,
        "confidence": answer.get("confidence"),
        "verdict": clarify.ANSWER,
        "article": {"id": article_id, "title": answer.get("title", "")},
    }
    body = f"{LIMITED_PREFIX}\n\n{answer.get('markdown', '')}"
    return [add_message(session, conversation, "bot", body, **data)]


def limited_payload(session: Session, conversation: Conversation, payload: str, channels: Channels):
    """Rasa is down and a button was pressed: what can be done without the bot."""
    if payload == HANDOFF_PAYLOAD:
        hand_off(session, conversation)
        return [add_message(session, conversation, "system", HANDOFF_WITHOUT_BOT, limited=True)]
    if payload.startswith("/feedback_"):
        return [add_message(session, conversation, "system", THANKS_WITHOUT_BOT, limited=True)]
    if clarify.parse_payload(payload)[0]:
        return _limited_choice(session, conversation, payload, channels)
    return [_unavailable(session, conversation)]
