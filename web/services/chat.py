"""Conversations as the web app runs them: a customer turn goes to the bot while the bot has
the conversation and to the agents once it is handed off; agents reply and hand it back.

Plain functions over a SQLAlchemy session; the Flask views are thin wrappers. Codes are
forwarded to the bot as typed but stored masked.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.conversations import ChatMessage, Conversation
from core.models import Handoff, utc_now
from support import clarify
from support.code_format import mask_codes
from support.feedback import record_choice, record_question
from web.clients.kb import KbQueryError, KbUnavailable
from web.clients.rasa import RasaUnavailable

log = logging.getLogger(__name__)
MAX_MESSAGE_CHARS = 2000

LIMITED_PREFIX = "Unser Assistent ist gerade nur eingeschränkt verfügbar. Aus unseren Anleitungen:"
UNAVAILABLE = (
    "Unser Assistent ist gerade nicht erreichbar. Bitte versuchen Sie es in einigen Minuten erneut."
)
HANDOFF_WITHOUT_BOT = (
    "Ich leite Ihr Anliegen an einen Mitarbeiter des Supports weiter. Bitte haben Sie etwas "
    "Geduld; Sie können hier schon schreiben, worum es geht."
)
THANKS_WITHOUT_BOT = "Vielen Dank für Ihre Rückmeldung."
HANDOFF_PAYLOAD = "/human_handoff"
HANDOFF_BUTTON = {"title": "Mit einem Mitarbeiter sprechen", "payload": HANDOFF_PAYLOAD}
# How many of the bot's latest messages count for "the bot offered this button".
PAYLOAD_LOOKBACK = 20
_LEADING_SLASHES = re.compile(r"^[\s/]+")
AGENT_WILL_ANSWER = "Ihre Nachricht ist beim Support angekommen."
RESUMED = (
    "Der Mitarbeiter hat das Gespräch beendet. Sie schreiben wieder mit dem Assistenten; "
    "fragen Sie gern weiter."
)


class MessageError(ValueError):
    """The message cannot be sent; the text is meant for the customer."""


class Bot(Protocol):
    def send(
        self, sender: str, text: str, metadata: dict[str, Any] | None = None
    ) -> list[dict]: ...
    def resume(self, sender: str) -> None: ...
    def pause(self, sender: str) -> None: ...


class Kb(Protocol):
    def answer(self, query: str, article_id: int | None = None) -> dict: ...


@dataclass
class Channels:
    bot: Bot
    kb: Kb
    # Where the guide pages are, for the limited service's link to the guide search.
    public_url: str = ""


def new_conversation(session: Session) -> Conversation:
    conversation = Conversation(id=secrets.token_urlsafe(24), state="bot")
    session.add(conversation)
    session.flush()
    return conversation


def get_conversation(session: Session, conversation_id: str) -> Conversation | None:
    if not conversation_id or len(conversation_id) > 64:
        return None
    return session.get(Conversation, conversation_id)


def check_text(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise MessageError("Bitte geben Sie eine Nachricht ein.")
    if len(text) > MAX_MESSAGE_CHARS:
        raise MessageError(
            f"Ihre Nachricht ist zu lang (höchstens {MAX_MESSAGE_CHARS} Zeichen). "
            "Bitte kürzen Sie sie."
        )
    return text.strip()


def _add(session: Session, conversation: Conversation, sender: str, text: str, **data: Any):
    message = ChatMessage(conversation=conversation, sender=sender, text=text, data=data)
    session.add(message)
    conversation.updated_at = utc_now()
    return message


def _reply_data(reply: dict) -> dict[str, Any]:
    custom = reply.get("custom") if isinstance(reply.get("custom"), dict) else {}
    data: dict[str, Any] = {}
    if reply.get("buttons"):
        data["buttons"] = [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in reply["buttons"]
            if isinstance(b, dict)
        ]
    for key in ("article", "confidence", "handoff"):
        if key in custom:
            data[key] = custom[key]
    if custom.get("verdict") in (clarify.ANSWER, clarify.CLARIFY, clarify.NOT_COVERED):
        data["verdict"] = custom["verdict"]
    choices = _choices(custom.get("choices"))
    if choices:
        data["choices"] = choices
    return data


def _choices(raw: object) -> list[dict[str, Any]]:
    """The guides a clarifying question offered: ``[{"id", "title"}]``, whoever sent them."""
    if not isinstance(raw, list):
        return []
    out = []
    for choice in raw:
        if isinstance(choice, dict):
            article_id = choice.get("id", choice.get("article_id"))
            if isinstance(article_id, int) and not isinstance(article_id, bool):
                out.append({"id": article_id, "title": str(choice.get("title") or "")})
    return out


def _bot_message(session: Session, conversation: Conversation, reply: dict) -> ChatMessage:
    return _add(session, conversation, "bot", str(reply.get("text") or ""), **_reply_data(reply))


def _bot_messages(
    session: Session, conversation: Conversation, replies: list[Any]
) -> list[ChatMessage]:
    """Store the bot's replies. Rasa's REST channel sends ``custom`` (the guide, a handoff)
    as a message of its own after the text; it joins the text it belongs to, so that the
    widget and the console show one bubble with the guide's link."""
    out: list[ChatMessage] = []
    for reply in replies:
        if not isinstance(reply, dict):
            continue
        custom_only = not reply.get("text") and not reply.get("buttons") and reply.get("custom")
        if custom_only and out:
            out[-1].data = {**out[-1].data, **_reply_data(reply)}  # new dict: JSON sees it
            continue
        out.append(_bot_message(session, conversation, reply))
    return out


def _offered_payloads(session: Session, conversation: Conversation) -> set[str]:
    """The payloads of the buttons the bot showed in this conversation (its recent turns)."""
    recent = session.scalars(
        select(ChatMessage)
        .where(ChatMessage.conversation_id == conversation.id, ChatMessage.sender == "bot")
        .order_by(ChatMessage.id.desc())
        .limit(PAYLOAD_LOOKBACK)
    )
    return {b["payload"] for m in recent for b in (m.data or {}).get("buttons", [])}


def _payload_or_text(session: Session, conversation: Conversation, text: str) -> str | None:
    """Rasa reads ``/intent{...}`` as an intent with entities, skipping its NLU. Only the
    payloads of buttons the bot offered may do that; anything else typed with a slash goes
    to the bot as words. Returns the payload, or None if ``text`` is not an offered one."""
    if text.startswith("/") and text in _offered_payloads(session, conversation):
        return text
    return None


def _hand_off(session: Session, conversation: Conversation) -> None:
    handoff = session.scalar(
        select(Handoff)
        .where(Handoff.conversation_id == conversation.id, Handoff.status != "closed")
        .order_by(Handoff.id.desc())
    )
    conversation.state = "waiting"
    conversation.handed_off_at = utc_now()
    conversation.handoffs += 1
    if handoff is not None:
        conversation.priority = conversation.priority or handoff.priority
        conversation.customer_id = conversation.customer_id or handoff.customer_id


def _limited_answer(session: Session, conversation: Conversation, text: str, channels: Channels):
    """Rasa is down: answer from the KB directly, and say that service is limited. The KB's
    verdict is the bot's: an answer, the guides to choose from, or that none covers it."""
    try:
        answer = channels.kb.answer(text)
    except (KbUnavailable, KbQueryError):
        return [_add(session, conversation, "system", UNAVAILABLE, limited=True)]
    data: dict[str, Any] = {"limited": True, "confidence": answer.get("confidence")}
    choices = _choices(answer.get("choices"))
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
    return [_add(session, conversation, "bot", body, **data)]


def _not_covered(
    session: Session, conversation: Conversation, query: str, channels: Channels
) -> ChatMessage:
    url = clarify.search_url(channels.public_url, query)
    return _add(
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
    recent = session.scalars(
        select(ChatMessage)
        .where(ChatMessage.conversation_id == conversation.id, ChatMessage.sender == "bot")
        .order_by(ChatMessage.id.desc())
        .limit(PAYLOAD_LOOKBACK)
    )
    asked = next((m for m in recent if (m.data or {}).get("verdict")), None)
    data = asked.data if asked is not None else {}
    if data.get("verdict") != clarify.CLARIFY:
        return None
    if payload not in {b.get("payload") for b in data.get("buttons") or []}:
        return None
    offered = [c["id"] for c in _choices(data.get("choices"))]
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
        return [_add(session, conversation, "system", clarify.STALE, limited=True)]
    query, offered = pending
    if article_id is not None and article_id not in offered:
        return [_add(session, conversation, "system", clarify.NOT_OFFERED, limited=True)]
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
        return [_add(session, conversation, "system", UNAVAILABLE, limited=True)]
    except KbQueryError:
        return [_add(session, conversation, "system", clarify.GUIDE_GONE, limited=True)]
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
    return [_add(session, conversation, "bot", body, **data)]


def _limited_payload(
    session: Session, conversation: Conversation, payload: str, channels: Channels
):
    """Rasa is down and a button was pressed: what can be done without the bot."""
    if payload == HANDOFF_PAYLOAD:
        _hand_off(session, conversation)
        return [_add(session, conversation, "system", HANDOFF_WITHOUT_BOT, limited=True)]
    if payload.startswith("/feedback_"):
        return [_add(session, conversation, "system", THANKS_WITHOUT_BOT, limited=True)]
    if clarify.parse_payload(payload)[0]:
        return _limited_choice(session, conversation, payload, channels)
    return [_add(session, conversation, "system", UNAVAILABLE, limited=True)]


def customer_turn(
    session: Session,
    conversation: Conversation,
    text: str,
    channels: Channels,
    *,
    client_ip: str | None = None,
    display_text: str | None = None,
) -> list[ChatMessage]:
    """Store the customer's message and whatever answers it now (bot or system).

    Returns the customer's stored message first, then the replies (none while a human has
    the conversation). ``display_text`` is a pressed button's title, stored and shown
    instead of its payload; it counts only for a payload the bot offered.
    """
    typed = text = check_text(text)
    payload = _payload_or_text(session, conversation, text)
    if payload is None:
        # Typed, not pressed: a leading slash must not make it an intent for Rasa.
        text = check_text(_LEADING_SLASHES.sub("", text))
        display_text = None
    elif display_text:
        typed = check_text(display_text)
    customer = _add(session, conversation, "customer", mask_codes(typed))
    if conversation.state != "bot":
        session.flush()
        return [customer]
    metadata = {"client_ip": client_ip} if client_ip else {}
    try:
        replies = channels.bot.send(conversation.id, text, metadata)
    except RasaUnavailable as exc:
        log.warning("Rasa unavailable, answering from the KB: %s", exc)
        if payload is not None:
            out = _limited_payload(session, conversation, payload, channels)
        else:
            out = _limited_answer(session, conversation, text, channels)
        session.flush()
        return [customer, *out]
    out = _bot_messages(session, conversation, replies if isinstance(replies, list) else [])
    if any("handoff" in m.data for m in out):
        _hand_off(session, conversation)
    session.flush()
    return [customer, *out]


def messages_after(
    session: Session, conversation: Conversation, after_id: int
) -> list[ChatMessage]:
    return list(
        session.scalars(
            select(ChatMessage)
            .where(ChatMessage.conversation_id == conversation.id, ChatMessage.id > after_id)
            .order_by(ChatMessage.id)
        )
    )


def take_over(session: Session, conversation: Conversation, agent_id: int, bot: Bot) -> None:
    """An agent takes the conversation (from the queue, or from the bot directly)."""
    if conversation.state == "bot":
        bot.pause(conversation.id)
        conversation.handed_off_at = utc_now()
    conversation.state = "agent"
    conversation.agent_id = agent_id
    for handoff in _open_handoffs(session, conversation):
        handoff.status = "assigned"


def agent_reply(session: Session, conversation: Conversation, agent_id: int, text: str):
    text = check_text(text)
    if conversation.state == "bot":
        raise MessageError("Das Gespräch liegt beim Assistenten; übernehmen Sie es zuerst.")
    if conversation.state == "waiting":
        conversation.state = "agent"
        conversation.agent_id = agent_id
    message = _add(session, conversation, "agent", mask_codes(text))
    message.agent_id = agent_id
    session.flush()
    return message


def close(session: Session, conversation: Conversation, bot: Bot) -> None:
    """Hand the conversation back to the bot (Rasa's ``ConversationResumed``)."""
    bot.resume(conversation.id)  # first: if Rasa is down, nothing changes here either
    conversation.state = "bot"
    conversation.agent_id = None
    for handoff in _open_handoffs(session, conversation):
        handoff.status = "closed"
        handoff.closed_at = utc_now()
    _add(session, conversation, "system", RESUMED)
    session.flush()


def _open_handoffs(session: Session, conversation: Conversation) -> list[Handoff]:
    return list(
        session.scalars(
            select(Handoff).where(
                Handoff.conversation_id == conversation.id, Handoff.status != "closed"
            )
        )
    )


def queue(session: Session) -> list[Conversation]:
    """Handed-off conversations: priority (VIP) first, then the longest waiting."""
    return list(
        session.scalars(
            select(Conversation)
            .where(Conversation.state.in_(("waiting", "agent")))
            .order_by(Conversation.priority.desc(), Conversation.handed_off_at.asc())
        )
    )
