"""An agent checks a caller's support or VIP code for a conversation.

The same rules and wording as the bot (``support.verification``): the lockout counts
failures per conversation, per known customer and per client, so the bot's and the
console's attempts add up for one conversation. The client here is the agent's account:
an account that guesses across conversations is locked like a customer's address would be.
The code itself is compared and forgotten; it is never stored, logged or shown again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from core import ownership
from core.conversations import Conversation
from core.models import utc_now
from support.codes import CODE_KINDS
from support.verification import (
    AGENT,
    VerificationResult,
    confirmed_text,
    invalid_format_text,
    lock_text,
    not_premium_text,
    priority_after,
    verify_code,
    wrong_code_text,
)

log = logging.getLogger(__name__)

# Where the bot does the checking itself.
VERIFIABLE_STATES = (ownership.WAITING, ownership.AGENT)


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
    conversation.priority = priority_after(
        kind,
        had_priority=conversation.priority,
        same_customer=conversation.customer_id == result.customer_id,
    )
    conversation.customer_id = result.customer_id
    conversation.updated_at = utc_now()


def _message(result: VerificationResult, kind: str, now: datetime | None) -> str:
    if result.status == "ok":
        return confirmed_text(result.customer_name or "", priority=kind == "vip", audience=AGENT)
    if result.status == "invalid_format":
        return invalid_format_text(kind, AGENT)
    if result.status == "not_premium":
        return not_premium_text(AGENT)
    if result.status == "wrong" and result.attempts_left > 0:
        return wrong_code_text(kind, result.attempts_left, AGENT)
    return lock_text(result.locked_until, AGENT, now)
