"""What every part of a conversation's handling shares: the record of its messages, the
channels to the bot and the KB, and the customer's message checked before anything uses it.

Plain functions over a SQLAlchemy session. Who has the conversation is decided by
:mod:`core.ownership`; :func:`hand_off` is the one move the customer's side makes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import ownership
from core.conversations import ChatMessage, Conversation, active_handoffs, move_owner
from core.models import utc_now

MAX_MESSAGE_CHARS = 2000
HANDOFF_PAYLOAD = "/human_handoff"
HANDOFF_BUTTON = {"title": "Mit einem Mitarbeiter sprechen", "payload": HANDOFF_PAYLOAD}
# How many of the bot's latest messages count for "the bot offered this button".
PAYLOAD_LOOKBACK = 20


class MessageError(ValueError):
    """The message cannot be sent; the text is meant for the customer."""


class Bot(Protocol):
    def send(
        self, sender: str, text: str, metadata: dict[str, Any] | None = None
    ) -> list[dict]: ...
    def resume(self, sender: str, slots: dict[str, Any] | None = None) -> None: ...
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
    if "\x00" in text:  # from a form: a NUL cannot be stored in PostgreSQL
        raise MessageError("Ihre Nachricht enthält ein ungültiges Zeichen (\\0).")
    if len(text) > MAX_MESSAGE_CHARS:
        raise MessageError(
            f"Ihre Nachricht ist zu lang (höchstens {MAX_MESSAGE_CHARS} Zeichen). "
            "Bitte kürzen Sie sie."
        )
    return text.strip()


def add_message(session: Session, conversation: Conversation, sender: str, text: str, **data: Any):
    message = ChatMessage(conversation=conversation, sender=sender, text=text, data=data)
    session.add(message)
    conversation.updated_at = utc_now()
    return message


def choices_of(raw: object) -> list[dict[str, Any]]:
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


def recent_bot_messages(session: Session, conversation: Conversation) -> list[ChatMessage]:
    """The bot's latest messages, newest first: what "the bot offered" is judged by."""
    return list(
        session.scalars(
            select(ChatMessage)
            .where(ChatMessage.conversation_id == conversation.id, ChatMessage.sender == "bot")
            .order_by(ChatMessage.id.desc())
            .limit(PAYLOAD_LOOKBACK)
        )
    )


def hand_off(session: Session, conversation: Conversation) -> None:
    """The bot handed off (Rasa paused itself), or Rasa is down and the customer asked."""
    handoffs = active_handoffs(session, conversation.id)
    handoff = max(handoffs, key=lambda h: h.id) if handoffs else None
    move_owner(session, conversation, ownership.HAND_OFF)
    if handoff is not None:
        conversation.priority = conversation.priority or handoff.priority
        conversation.customer_id = conversation.customer_id or handoff.customer_id


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
