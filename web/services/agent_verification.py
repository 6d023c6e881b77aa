"""An agent checks a caller's support or VIP code for a conversation.

The same rules as the bot (``support.verification.verify_code``): the lockout counts
failures per conversation, per known customer and per client, so the bot's and the
console's attempts add up for one conversation. The client here is the agent's account:
an account that guesses across conversations is locked like a customer's address would be.
The code itself is compared and forgotten; it is never stored, logged or shown again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from core.conversations import Conversation
from core.models import utc_now
from support.codes import CODE_KINDS
from support.verification import VerificationResult, verify_code

log = logging.getLogger(__name__)

LABELS = {"support": "Supportcode", "vip": "VIP-Code"}
# Where the bot does the checking itself.
VERIFIABLE_STATES = ("waiting", "agent")


@dataclass(frozen=True)
class AgentVerification:
    # "ok", "invalid_format", "wrong", "locked", "not_premium", "bad_kind" or "not_handed_off"
    status: str
    message: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def client_key_of(agent_id: int) -> str:
    return f"agent:{agent_id}"


def verify_for_conversation(
    session: Session,
    conversation: Conversation,
    kind: str,
    raw_code: str,
    *,
    key: bytes,
    agent_id: int,
    now: datetime | None = None,
) -> AgentVerification:
    """Check the code; on success the conversation knows its customer (and a VIP code
    gives it priority). The caller commits."""
    if kind not in CODE_KINDS:
        return AgentVerification("bad_kind", "Bitte wählen Sie Supportcode oder VIP-Code.")
    if conversation.state not in VERIFIABLE_STATES:
        return AgentVerification(
            "not_handed_off",
            "Das Gespräch liegt beim Assistenten. Übernehmen Sie es, bevor Sie einen Code prüfen.",
        )
    # Like the bot: a VIP code is checked against the customer the conversation already knows.
    known = conversation.customer_id if kind == "vip" else None
    result = verify_code(
        session,
        kind,
        raw_code or "",
        key=key,
        conversation_id=conversation.id,
        client_key=client_key_of(agent_id),
        customer_id=known,
        now=now,
    )
    # The outcome only: the code never goes into a log line.
    log.info(
        "agent %s checked a %s code for conversation %s: %s",
        agent_id,
        kind,
        conversation.id,
        result.status,
    )
    if result.ok and result.customer_id is not None:
        _identify(conversation, result, kind)
    return AgentVerification(result.status, _message(result, kind, now))


def _identify(conversation: Conversation, result: VerificationResult, kind: str) -> None:
    # A support code after the VIP code of the same customer keeps the priority.
    same_customer = conversation.customer_id == result.customer_id
    conversation.priority = kind == "vip" or (conversation.priority and same_customer)
    conversation.customer_id = result.customer_id
    conversation.updated_at = utc_now()


def _message(result: VerificationResult, kind: str, now: datetime | None) -> str:
    label = LABELS[kind]
    if result.status == "ok":
        name = result.customer_name or ""
        if kind == "vip":
            return f"VIP-Code bestätigt: {name}. Das Gespräch wird bevorzugt behandelt."
        return f"Supportcode bestätigt: {name}."
    if result.status == "invalid_format":
        return f"Ein {label} besteht aus genau 6 Ziffern. Bitte prüfen Sie die Eingabe."
    if result.status == "not_premium":
        return (
            "Ein VIP-Code gilt nur mit aktivem Premium-Support; er kann nicht bestätigt "
            "werden. Prüfen Sie stattdessen den Supportcode."
        )
    if result.status == "wrong" and result.attempts_left > 0:
        attempts = (
            "ein Versuch" if result.attempts_left == 1 else f"{result.attempts_left} Versuche"
        )
        # Unknown, of the other kind or another customer's: deliberately one message.
        return f"Dieser {label} konnte nicht bestätigt werden (noch {attempts})."
    return lock_message(result.locked_until, now)


def lock_message(locked_until: datetime | None, now: datetime | None = None) -> str:
    minutes = 15
    if locked_until is not None:
        left = (locked_until - (now or datetime.now(UTC))).total_seconds() / 60
        minutes = max(1, round(left))
    return (
        "Zu viele falsche Codes: Die Code-Prüfung ist aus Sicherheitsgründen für "
        f"{minutes} Minuten gesperrt. Bitte identifizieren Sie den Kunden auf anderem Weg."
    )
