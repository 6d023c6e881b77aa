"""Handing a conversation to a human agent: the transcript the agent reads, and one open
handoff per conversation however often the customer asks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import ownership
from core.models import Handoff
from support.code_format import mask_codes

REASON_REQUESTED = "requested"  # the customer asked for a person
REASON_REPEATED_FAILURE = "repeated_failure"  # the KB did not help, several times
REASON_LOCKOUT = "lockout"  # too many wrong codes: only an agent can identify them now
REASON_NOT_PREMIUM = "not_premium"  # asked for VIP support without an active Premium plan
REASON_PAYMENT = "payment"  # a payment problem the diagnosis cannot settle alone
HANDOFF_REASONS = frozenset(
    {REASON_REQUESTED, REASON_REPEATED_FAILURE, REASON_LOCKOUT, REASON_NOT_PREMIUM, REASON_PAYMENT}
)

_ROLES = {"user": "customer", "bot": "bot"}


def transcript_from_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The customer's and the bot's messages from Rasa tracker events, codes masked.

    Button payloads ("/affirm") are skipped: they are intents, not words. Every code is
    masked, in the bot's messages too, so an agent never sees one.
    """
    transcript: list[dict[str, Any]] = []
    for event in events:
        role = _ROLES.get(event.get("event", ""))
        text = (event.get("text") or "").strip()
        if role is None or not text or (role == "customer" and text.startswith("/")):
            continue
        transcript.append({"role": role, "text": mask_codes(text), "time": _iso(event)})
    return transcript


def create_handoff(
    session: Session,
    *,
    conversation_id: str,
    reason: str,
    transcript: list[dict[str, Any]],
    customer_id: int | None,
    priority: bool,
) -> Handoff:
    """Open a handoff, or bring the conversation's active one up to date.

    Updating keeps what is already there (an agent's messages, a known customer, a
    priority) and adds the transcript entries it does not have yet.
    """
    if reason not in HANDOFF_REASONS:
        raise ValueError(f"unknown handoff reason: {reason!r}")
    handoff = session.scalar(
        select(Handoff)
        .where(
            Handoff.conversation_id == conversation_id,
            Handoff.status.in_(ownership.ACTIVE_HANDOFF_STATUSES),
        )
        .order_by(Handoff.created_at.desc())
        .limit(1)
    )
    if handoff is None:
        handoff = Handoff(
            conversation_id=conversation_id,
            created_at=datetime.now(UTC),
            reason=reason,
            priority=priority,
            customer_id=customer_id,
            transcript=list(transcript),
            status=ownership.OPEN,
        )
        session.add(handoff)
    else:
        handoff.reason = reason
        handoff.priority = handoff.priority or priority
        if customer_id is not None:
            handoff.customer_id = customer_id
        # A new list, not an in-place append: the JSON column only notices assignment.
        handoff.transcript = _merge(handoff.transcript or [], transcript)
    session.flush()
    return handoff


def _merge(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen = {_entry_key(entry) for entry in old}
    return [*old, *(entry for entry in new if _entry_key(entry) not in seen)]


def _entry_key(entry: dict[str, Any]) -> tuple[Any, ...]:
    return (entry.get("role"), entry.get("text"), entry.get("time"))


def _iso(event: dict[str, Any]) -> str | None:
    timestamp = event.get("timestamp")
    if not isinstance(timestamp, int | float):
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat()
