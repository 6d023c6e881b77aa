"""Handoff transcripts (codes masked) and one open handoff per conversation."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import Handoff
from support.code_format import CODE_MASK
from support.handoff import (
    REASON_LOCKOUT,
    REASON_REQUESTED,
    create_handoff,
    transcript_from_events,
)

EVENTS = [
    {"event": "action", "name": "action_listen", "timestamp": 1_790_000_000.0},
    {"event": "user", "text": "Ich habe eine Mahnung erhalten", "timestamp": 1_790_000_001.0},
    {"event": "bot", "text": "Bitte nennen Sie Ihren Supportcode.", "timestamp": 1_790_000_002.5},
    {"event": "user", "text": "482 913", "timestamp": 1_790_000_010.0},
    {"event": "user", "text": "/affirm", "timestamp": 1_790_000_011.0},
    {"event": "bot", "text": None, "timestamp": 1_790_000_012.0},
    {"event": "slot", "name": "support_code", "value": "482913", "timestamp": 1_790_000_013.0},
    {"event": "user", "text": "  ", "timestamp": 1_790_000_014.0},
    {"event": "user", "text": "Der alte Code war 48-29-13, Rechnung INV-2026-1001"},
]


def test_transcript_from_events() -> None:
    transcript = transcript_from_events(EVENTS)
    assert transcript == [
        {
            "role": "customer",
            "text": "Ich habe eine Mahnung erhalten",
            "time": "2026-09-21T14:13:21+00:00",
        },
        {
            "role": "bot",
            "text": "Bitte nennen Sie Ihren Supportcode.",
            "time": "2026-09-21T14:13:22.500000+00:00",
        },
        {"role": "customer", "text": CODE_MASK, "time": "2026-09-21T14:13:30+00:00"},
        {
            "role": "customer",
            "text": f"Der alte Code war {CODE_MASK}, Rechnung INV-2026-1001",
            "time": None,
        },
    ]
    assert "482" not in str(transcript)


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Handoff))


def test_no_second_open_handoff_for_a_conversation(session: Session, demo: dict[str, int]) -> None:
    early = transcript_from_events(EVENTS[:3])
    first = create_handoff(
        session,
        conversation_id="conv-1",
        reason=REASON_REQUESTED,
        transcript=early,
        customer_id=None,
        priority=True,
    )
    first.transcript = [*first.transcript, {"role": "agent", "text": "Hallo!", "time": None}]
    session.flush()
    again = create_handoff(
        session,
        conversation_id="conv-1",
        reason=REASON_LOCKOUT,
        transcript=transcript_from_events(EVENTS),
        customer_id=demo["Muster AG"],
        priority=False,
    )
    assert again.id == first.id and _count(session) == 1
    assert again.status == "open" and again.reason == REASON_LOCKOUT
    assert again.priority is True and again.customer_id == demo["Muster AG"]
    texts = [entry["text"] for entry in again.transcript]
    assert texts.count("Ich habe eine Mahnung erhalten") == 1
    assert "Hallo!" in texts and len(texts) == 5

    # Once closed, asking again opens a new case.
    again.status = "closed"
    session.flush()
    new = create_handoff(
        session,
        conversation_id="conv-1",
        reason=REASON_REQUESTED,
        transcript=[],
        customer_id=None,
        priority=False,
    )
    assert new.id != first.id and _count(session) == 2
    assert new.created_at.tzinfo is not None


def test_unknown_reason_is_refused(session: Session) -> None:
    with pytest.raises(ValueError):
        create_handoff(
            session,
            conversation_id="c",
            reason="bored",
            transcript=[],
            customer_id=None,
            priority=False,
        )
