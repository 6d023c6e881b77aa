from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Feedback
from support.code_format import CODE_MASK
from support.feedback import record_feedback


def test_record_feedback_masks_codes(session: Session) -> None:
    record_feedback(
        session,
        conversation_id="conv-1",
        article_id=2,
        query="Mahnung trotz Zahlung, Supportcode 482913",
        helpful=False,
    )
    session.commit()
    stored = session.scalar(select(Feedback))
    assert (stored.conversation_id, stored.article_id, stored.helpful) == ("conv-1", 2, False)
    assert stored.query == f"Mahnung trotz Zahlung, Supportcode {CODE_MASK}"
    assert stored.created_at.tzinfo is not None
