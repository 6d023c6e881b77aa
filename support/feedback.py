"""What the KB is asked and how customers rate its answers, for the editors improving it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from core.models import ClarifyChoice, Feedback, KbQuestion
from support.code_format import mask_codes


def record_feedback(
    session: Session,
    *,
    conversation_id: str,
    article_id: int | None,
    query: str,
    helpful: bool,
) -> Feedback:
    feedback = Feedback(
        conversation_id=conversation_id,
        article_id=article_id,
        # Editors read these queries: a code typed into a question must not reach them.
        query=mask_codes(query),
        helpful=helpful,
        created_at=datetime.now(UTC),
    )
    session.add(feedback)
    session.flush()
    return feedback


def record_question(
    session: Session,
    *,
    conversation_id: str,
    query: str,
    article_id: int | None,
    confidence: float,
    verdict: str | None = None,
) -> KbQuestion:
    question = KbQuestion(
        conversation_id=conversation_id,
        query=mask_codes(query),
        article_id=article_id,
        confidence=confidence,
        verdict=verdict,
        created_at=datetime.now(UTC),
    )
    session.add(question)
    session.flush()
    return question


def record_choice(
    session: Session,
    *,
    conversation_id: str,
    query: str,
    offered: list[int],
    chosen_article_id: int | None,
) -> ClarifyChoice:
    """What the customer picked from the guides offered (None: "Etwas anderes")."""
    choice = ClarifyChoice(
        conversation_id=conversation_id,
        query=mask_codes(query),
        offered=list(offered),
        chosen_article_id=chosen_article_id,
        created_at=datetime.now(UTC),
    )
    session.add(choice)
    session.flush()
    return choice
