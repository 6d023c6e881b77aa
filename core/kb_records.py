"""The tables of the KB's editorial history, shared by every process through the database.

- Article revisions: every save in the editor, with author and time. The files under ``kb/``
  stay the source of truth for what is published; revisions add the history, drafts of
  published articles, and what conflict detection compares against (``kb.revisions``).
- Scope revisions: every version of ``out_of_scope.yml`` (``kb.scope``).
- Uncovered drafts: a topic of uncovered questions an editor took up, and the article
  written for it (``web.services.uncovered_drafts``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base, utc_now

REVISION_KINDS = ("draft", "published", "unpublished", "imported")
SCOPE_KINDS = ("imported", "added", "removed")
MAX_TOPIC_CHARS = 300
MAX_LABEL_CHARS = 300


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


class ScopeRevision(Base):
    """One version of ``out_of_scope.yml``: the whole file, who changed it and when."""

    __tablename__ = "scope_revisions"
    __table_args__ = (CheckConstraint(f"kind IN {SCOPE_KINDS!r}", name="kind_allowed"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(unique=True)  # 1, 2, …
    kind: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str | None] = mapped_column(String(MAX_TOPIC_CHARS))  # added or removed
    text: Mapped[str] = mapped_column(Text)  # the whole file, exactly as written
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class UncoveredDraft(Base):
    """A topic an editor took up with "Artikel entwerfen", and the article written for it."""

    __tablename__ = "uncovered_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(MAX_LABEL_CHARS))
    terms: Mapped[list[str]] = mapped_column(JSON, default=list)
    questions: Mapped[list[str]] = mapped_column(JSON, default=list)  # distinct, central first
    days: Mapped[int] = mapped_column(default=30)  # the period the questions came from
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Set when the draft is first saved; None while the form was only opened.
    article_id: Mapped[int | None] = mapped_column(index=True)
    # The last re-score after publishing: how many of the questions the article answers.
    checked_at: Mapped[datetime | None]
    answered: Mapped[int | None]
    total: Mapped[int | None]
    # The questions the article did not answer at that re-score.
    missed: Mapped[list[str] | None] = mapped_column(JSON)
