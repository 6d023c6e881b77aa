"""Conversations as the web app owns them: who has the conversation now, and every message.

Rasa keeps its own tracker for the dialogue; this is the record the widget, the agent
console and analytics read. Codes are masked before a message is stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from core import ownership
from core.models import Base, Handoff, utc_now

# Who has the conversation (core.ownership): bot, waiting or agent.
CONVERSATION_STATES = ownership.OWNERS
SENDERS = ("customer", "bot", "agent", "system")


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (CheckConstraint(f"state IN {CONVERSATION_STATES!r}", name="state_allowed"),)

    # Random, unguessable: it is the customer's only credential for reading the chat.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    state: Mapped[str] = mapped_column(String(16), default=ownership.BOT, index=True)
    priority: Mapped[bool] = mapped_column(default=False)
    # When the conversation was handed to a human (the queue's waiting time).
    handed_off_at: Mapped[datetime | None]
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    handoffs: Mapped[int] = mapped_column(default=0)

    messages: Mapped[list[ChatMessage]] = relationship(
        back_populates="conversation", order_by="ChatMessage.id", cascade="all, delete-orphan"
    )


class ChatMessage(Base):
    __tablename__ = "chat_messages"
    __table_args__ = (CheckConstraint(f"sender IN {SENDERS!r}", name="sender_allowed"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    sender: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    # Buttons, the guide (`article`), confidence, `limited` service: what the widget shows.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


def active_handoffs(session: Session, conversation_id: str) -> list[Handoff]:
    return list(
        session.scalars(
            select(Handoff).where(
                Handoff.conversation_id == conversation_id,
                Handoff.status.in_(ownership.ACTIVE_HANDOFF_STATUSES),
            )
        )
    )


def move_owner(
    session: Session,
    conversation: Conversation,
    event: str,
    *,
    agent_id: int | None = None,
) -> ownership.Move:
    """Apply ``event`` to the conversation record and its active handoffs, in one place.

    Rasa is not called here: the caller pauses or resumes it as the returned move says,
    before committing (so that a Rasa that is down leaves everything as it was).
    Raises :class:`~core.ownership.OwnershipError` for an event the owner does not allow.
    """
    step = ownership.move(conversation.state, event)
    now = utc_now()
    conversation.state = step.after
    if step.left_bot:
        conversation.handed_off_at = now
    if event == ownership.HAND_OFF:
        conversation.handoffs += 1
    if step.after == ownership.AGENT and agent_id is not None:
        conversation.agent_id = agent_id
    if step.after == ownership.BOT:
        conversation.agent_id = None
    status = ownership.handoff_status(step.after)
    for handoff in active_handoffs(session, conversation.id):
        handoff.status = status
        if status == ownership.CLOSED:
            handoff.closed_at = now
    return step
