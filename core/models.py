"""Every table of the helpdesk database: customers and their codes, billing, handoffs to
agents, answer feedback and code verification attempts (SQLAlchemy 2.x ORM).

Money is ``Numeric(10, 2)`` / :class:`~decimal.Decimal`; points in time are timezone-aware
UTC datetimes (:class:`UTCDateTime`), calendar days are plain dates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    MetaData,
    Numeric,
    String,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from core.ownership import HANDOFF_STATUSES, OPEN

CODE_KINDS = ("support", "vip")
CURRENCIES = ("CHF", "EUR")
PAYMENT_METHODS = ("transfer", "standing_order", "card", "prepaid")
CREDIT_TARGETS = ("invoice", "prepaid")


def utc_now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime stored in UTC and always read back timezone-aware.

    SQLite keeps no offset, so without this a value would come back naive and compare
    wrongly with ``datetime.now(UTC)``. Naive input is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware (UTC) value")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    allowed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_allowed")


Money = Numeric(10, 2)


class Base(DeclarativeBase):
    # Check constraints share short names ("currency_allowed"): prefix the table.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",  # SQLAlchemy's default, which a custom one replaces
            "ck": "ck_%(table_name)s_%(constraint_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), Decimal: Money}


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))

    # Owned rows go with the customer; handoffs and attempts only lose the link (SET NULL).
    access_codes: Mapped[list[AccessCode]] = relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )
    subscriptions: Mapped[list[PremiumSubscription]] = relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )
    invoices: Mapped[list[Invoice]] = relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )
    payments: Mapped[list[Payment]] = relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )
    prepaid_account: Mapped[PrepaidAccount | None] = relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )


class AccessCode(Base):
    """A support or VIP code, kept only as its HMAC (see ``support.codes.code_digest``)."""

    __tablename__ = "access_codes"
    __table_args__ = (_one_of("kind", CODE_KINDS),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64), unique=True, index=True)

    customer: Mapped[Customer] = relationship(back_populates="access_codes")


class PremiumSubscription(Base):
    __tablename__ = "premium_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    plan: Mapped[str] = mapped_column(String(100))
    starts_on: Mapped[date] = mapped_column(Date)
    # The last day covered; None: runs until cancelled.
    ends_on: Mapped[date | None] = mapped_column(Date)

    customer: Mapped[Customer] = relationship(back_populates="subscriptions")

    def active_on(self, day: date) -> bool:
        return self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (_one_of("currency", CURRENCIES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    # The payment reference printed on the invoice; a payment carrying it is matched to it.
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    issued_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)

    customer: Mapped[Customer] = relationship(back_populates="invoices")
    reminders: Mapped[list[Reminder]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan", order_by="Reminder.sent_on"
    )
    payments: Mapped[list[Payment]] = relationship(
        back_populates="invoice", order_by="Payment.received_on"
    )


class Reminder(Base):
    __tablename__ = "reminders"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), index=True
    )
    sent_on: Mapped[date] = mapped_column(Date)
    level: Mapped[int]

    invoice: Mapped[Invoice] = relationship(back_populates="reminders")


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        _one_of("currency", CURRENCIES),
        _one_of("method", PAYMENT_METHODS),
        _one_of("credited_to", CREDIT_TARGETS),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    # None: the payment could not be matched to an invoice.
    invoice_id: Mapped[int | None] = mapped_column(
        ForeignKey("invoices.id", ondelete="SET NULL"), index=True
    )
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    # What the payer wrote, which is not necessarily the invoice's reference.
    reference: Mapped[str] = mapped_column(String(140))
    method: Mapped[str] = mapped_column(String(16))
    received_on: Mapped[date] = mapped_column(Date)
    credited_to: Mapped[str] = mapped_column(String(16))

    customer: Mapped[Customer] = relationship(back_populates="payments")
    invoice: Mapped[Invoice | None] = relationship(back_populates="payments")


class PrepaidAccount(Base):
    __tablename__ = "prepaid_accounts"
    __table_args__ = (_one_of("currency", CURRENCIES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), unique=True
    )
    balance: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))

    customer: Mapped[Customer] = relationship(back_populates="prepaid_account")


class Handoff(Base):
    """A conversation handed to a human agent, with the transcript (codes already masked)."""

    __tablename__ = "handoffs"
    __table_args__ = (_one_of("status", HANDOFF_STATUSES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    reason: Mapped[str] = mapped_column(String(32))
    priority: Mapped[bool] = mapped_column(default=False)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    # [{"role": "customer" | "bot" | "agent", "text": str, "time": ISO 8601 | None}, ...]
    transcript: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=OPEN, index=True)
    closed_at: Mapped[datetime | None]


class Feedback(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    article_id: Mapped[int | None]
    query: Mapped[str] = mapped_column(Text)
    helpful: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class KbQuestion(Base):
    """A question the bot put to the KB, answered or not: what analytics groups and counts."""

    __tablename__ = "kb_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    query: Mapped[str] = mapped_column(Text)
    article_id: Mapped[int | None] = mapped_column(index=True)  # None: not answered
    confidence: Mapped[float]
    created_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
    # "answer", "clarify" or "not_covered" (retrieval.verdict); None on rows stored before
    # the three-way decision, when article_id None meant not covered.
    verdict: Mapped[str | None] = mapped_column(String(16), index=True, default=None)


class ClarifyChoice(Base):
    """The guides the bot offered for an unclear question and what the customer chose: a
    labelled example for tuning, and ("Etwas anderes") a question the KB does not cover."""

    __tablename__ = "clarify_choices"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    query: Mapped[str] = mapped_column(Text)
    offered: Mapped[list[int]] = mapped_column(JSON)  # article ids, in the order shown
    chosen_article_id: Mapped[int | None]  # None: "Etwas anderes"
    created_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)


class VerificationAttempt(Base):
    """One compared support/VIP code; the failures drive the lockout. Never holds the code."""

    __tablename__ = "verification_attempts"
    __table_args__ = (_one_of("kind", CODE_KINDS),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    # Who is trying across conversations, e.g. the client's IP address.
    client_key: Mapped[str | None] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    success: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
