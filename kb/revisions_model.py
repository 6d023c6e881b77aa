"""Every save of an article in the editor: a revision with author and time.

The files under ``kb/`` stay the source of truth for what is published; revisions add the
history, drafts of published articles, and what conflict detection compares against.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.models import Base, utc_now

REVISION_KINDS = ("draft", "published", "unpublished", "imported")


class ArticleRevision(Base):
    __tablename__ = "article_revisions"
    __table_args__ = (
        UniqueConstraint("article_id", "number", name="one_number_per_article"),
        CheckConstraint(f"kind IN {REVISION_KINDS!r}", name="kind_allowed"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(index=True)
    number: Mapped[int]  # 1, 2, … per article
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    # The whole article file (front matter and Markdown), exactly as it would be written.
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
