"""Conversations as the web app runs them: a customer turn goes to the bot while the bot has
the conversation and to the agents once it is handed off; agents reply and hand it back.

Plain functions over a SQLAlchemy session; the Flask views are thin wrappers. Codes are
forwarded to the bot as typed but stored masked. Who has the conversation follows
:mod:`core.ownership`; while Rasa or the action server is down, :mod:`web.services.limited`
answers.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import ownership
from core.conversations import ChatMessage, Conversation, move_owner
from core.models import Customer
from support import clarify
from support.code_format import mask_codes
from support.verification import verified_slots
from web.clients.rasa import RasaUnavailable
from web.services.conversation import (
    Bot,
    Channels,
    MessageError,
    add_message,
    check_text,
    choices_of,
    hand_off,
    recent_bot_messages,
)
from web.services.limited import limited_answer, limited_payload

log = logging.getLogger(__name__)
_LEADING_SLASHES = re.compile(r"^[\s/]+")
RESUMED = (
    "Der Mitarbeiter hat das Gespräch beendet. Sie schreiben wieder mit dem Assistenten; "
    "fragen Sie gern weiter."
)


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
    choices = choices_of(custom.get("choices"))
    if choices:
        data["choices"] = choices
    return data


def _bot_message(session: Session, conversation: Conversation, reply: dict) -> ChatMessage:
    return add_message(
        session, conversation, "bot", str(reply.get("text") or ""), **_reply_data(reply)
    )


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
    recent = recent_bot_messages(session, conversation)
    return {b["payload"] for m in recent for b in (m.data or {}).get("buttons", [])}


def _payload_or_text(session: Session, conversation: Conversation, text: str) -> str | None:
    """Rasa reads ``/intent{...}`` as an intent with entities, skipping its NLU. Only the
    payloads of buttons the bot offered may do that; anything else typed with a slash goes
    to the bot as words. Returns the payload, or None if ``text`` is not an offered one."""
    if text.startswith("/") and text in _offered_payloads(session, conversation):
        return text
    return None


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
    customer = add_message(session, conversation, "customer", mask_codes(typed))
    if conversation.state != ownership.BOT:
        session.flush()
        return [customer]
    metadata = {"client_ip": client_ip} if client_ip else {}
    try:
        replies = channels.bot.send(conversation.id, text, metadata)
    except RasaUnavailable as exc:
        log.warning("Rasa unavailable, answering in limited mode: %s", exc)
        out = _limited(session, conversation, text, payload, channels)
        session.flush()
        return [customer, *out]
    replies = [r for r in replies if isinstance(r, dict)] if isinstance(replies, list) else []
    if not replies or any(_limited_by_the_bot(reply) for reply in replies):
        # A custom action failed: the action server is down or restarting. Rasa then says so
        # (bot/action_unavailable.py), or nothing for a form's check. The limited mode here
        # answers instead: it can still reach the KB or hand over without the bot, which the
        # bot cannot while its actions fail. Nothing of the bot's reply is stored.
        log.warning("Rasa could not run its actions (action server down?): limited mode")
        out = _limited(session, conversation, text, payload, channels)
        session.flush()
        return [customer, *out]
    out = _bot_messages(session, conversation, replies)
    if any("handoff" in m.data for m in out):
        hand_off(session, conversation)
    session.flush()
    return [customer, *out]


def _limited_by_the_bot(reply: dict) -> bool:
    custom = reply.get("custom")
    return isinstance(custom, dict) and custom.get("limited") is True


def _limited(
    session: Session,
    conversation: Conversation,
    text: str,
    payload: str | None,
    channels: Channels,
) -> list[ChatMessage]:
    if payload is not None:
        return limited_payload(session, conversation, payload, channels)
    return limited_answer(session, conversation, text, channels)


def take_over(session: Session, conversation: Conversation, agent_id: int, bot: Bot) -> None:
    """An agent takes the conversation (from the queue, or from the bot directly)."""
    step = move_owner(session, conversation, ownership.TAKE_OVER, agent_id=agent_id)
    if step.pause_rasa:
        bot.pause(conversation.id)  # raises if Rasa is down: the caller rolls back


def agent_reply(session: Session, conversation: Conversation, agent_id: int, text: str):
    text = check_text(text)
    if not ownership.can(conversation.state, ownership.AGENT_REPLY):
        raise MessageError("Das Gespräch liegt beim Assistenten; übernehmen Sie es zuerst.")
    if conversation.state == ownership.WAITING:
        move_owner(session, conversation, ownership.AGENT_REPLY, agent_id=agent_id)
    message = add_message(session, conversation, "agent", mask_codes(text))
    message.agent_id = agent_id
    session.flush()
    return message


def close(session: Session, conversation: Conversation, bot: Bot) -> None:
    """Hand the conversation back to the bot (Rasa's ``ConversationResumed``). The bot
    learns the customer an agent verified meanwhile, and their priority."""
    known = _verified_slots(session, conversation)
    step = move_owner(session, conversation, ownership.CLOSE)
    if step.resume_rasa:
        bot.resume(conversation.id, known)  # raises if Rasa is down: the caller rolls back
    add_message(session, conversation, "system", RESUMED)
    session.flush()


def _verified_slots(session: Session, conversation: Conversation) -> dict[str, Any]:
    if conversation.customer_id is None:
        return {}
    customer = session.get(Customer, conversation.customer_id)
    if customer is None:
        return {}
    return verified_slots(customer.id, customer.name, priority=conversation.priority)


def queue(session: Session) -> list[Conversation]:
    """Handed-off conversations: priority (VIP) first, then the longest waiting."""
    return list(
        session.scalars(
            select(Conversation)
            .where(Conversation.state.in_((ownership.WAITING, ownership.AGENT)))
            .order_by(Conversation.priority.desc(), Conversation.handed_off_at.asc())
        )
    )
