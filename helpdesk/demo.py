"""Demo customers for trying the bot: one invoice per payment-reminder cause.

Loading is idempotent: the demo customers keep their ids (so handoffs and verification
attempts that point to them stay valid) and everything they own is replaced. Codes are
stored only as their HMAC under the key of ``core.keys.code_key``.

| customer      | support code | VIP code | Premium |
|---------------|--------------|----------|---------|
| Muster AG     | 482913       | –        | no      |
| Beispiel GmbH | 715204       | 903311   | yes     |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.models import (
    AccessCode,
    Customer,
    Invoice,
    Payment,
    PremiumSubscription,
    PrepaidAccount,
    Reminder,
)
from support.codes import code_digest


@dataclass(frozen=True)
class DemoPayment:
    amount: str
    currency: str
    received_on: date
    method: str = "transfer"
    # None: the invoice's own reference, as a correct transfer carries it.
    reference: str | None = None


@dataclass(frozen=True)
class DemoInvoice:
    number: str
    amount: str
    currency: str
    issued_on: date
    due_on: date
    reminders: tuple[date, ...] = ()
    payments: tuple[DemoPayment, ...] = ()


@dataclass(frozen=True)
class DemoCustomer:
    name: str
    email: str
    support_code: str
    vip_code: str | None
    premium_since: date | None
    invoices: tuple[DemoInvoice, ...]
    # Not matched to any invoice, hence credited to the prepaid account.
    unmatched_payments: tuple[DemoPayment, ...] = ()
    prepaid: tuple[str, str] | None = None  # (balance, currency)


@dataclass(frozen=True)
class DemoSummary:
    customers: int
    invoices: int
    reminders: int
    payments: int


def creditor_reference(payload: str) -> str:
    """An ISO 11649 creditor reference ("RF" + check digits + payload), as on invoices."""
    digits = "".join(str(int(char, 36)) for char in payload + "RF00")
    return f"RF{98 - int(digits) % 97:02d}{payload}"


def _number_payload(number: str) -> str:
    return number.removeprefix("INV-").replace("-", "")


DEMO_CUSTOMERS = (
    DemoCustomer(
        name="Muster AG",
        email="buchhaltung@muster-ag.example",
        support_code="482913",
        vip_code=None,
        premium_since=None,
        invoices=(
            # Paid by a standing order that still carries September's reference.
            DemoInvoice("INV-2026-1001", "120.00", "CHF", date(2026, 10, 1), date(2026, 10, 31),
                        reminders=(date(2026, 11, 5),)),
            DemoInvoice("INV-2026-1002", "59.90", "EUR", date(2026, 10, 5), date(2026, 11, 4),
                        reminders=(date(2026, 11, 9),),
                        payments=(DemoPayment("50.00", "EUR", date(2026, 11, 2)),)),
            DemoInvoice("INV-2026-1003", "35.00", "CHF", date(2026, 10, 6), date(2026, 11, 5),
                        reminders=(date(2026, 11, 10),),
                        payments=(DemoPayment("35.00", "EUR", date(2026, 11, 3)),)),
            DemoInvoice("INV-2026-1004", "80.00", "CHF", date(2026, 10, 1), date(2026, 10, 31),
                        reminders=(date(2026, 11, 2),),
                        payments=(DemoPayment("80.00", "CHF", date(2026, 11, 3)),)),
            # No reminder was ever sent: one the customer received is not from us.
            DemoInvoice("INV-2026-1005", "15.00", "CHF", date(2026, 10, 12), date(2026, 11, 11),
                        payments=(DemoPayment("15.00", "CHF", date(2026, 10, 12), "card"),)),
            DemoInvoice("INV-2026-1006", "240.00", "CHF", date(2026, 10, 1), date(2026, 10, 31),
                        reminders=(date(2026, 11, 5),)),
        ),
        unmatched_payments=(
            DemoPayment("120.00", "CHF", date(2026, 10, 28), "standing_order",
                        reference=creditor_reference("20260901")),
        ),
        prepaid=("120.00", "CHF"),
    ),
    DemoCustomer(
        name="Beispiel GmbH",
        email="it@beispiel-gmbh.example",
        support_code="715204",
        vip_code="903311",
        premium_since=date(2026, 1, 1),
        invoices=(
            DemoInvoice("INV-2026-2001", "99.00", "CHF", date(2026, 10, 15), date(2026, 11, 14),
                        payments=(DemoPayment("99.00", "CHF", date(2026, 10, 20)),)),
        ),
    ),
)  # fmt: skip


def load_demo(session: Session, key: bytes) -> DemoSummary:
    """Replace the demo customers' data with :data:`DEMO_CUSTOMERS` (idempotent)."""
    counts = {"invoices": 0, "reminders": 0, "payments": 0}
    for demo in DEMO_CUSTOMERS:
        customer = session.scalar(select(Customer).where(Customer.name == demo.name))
        if customer is None:
            customer = Customer(name=demo.name)
            session.add(customer)
        customer.email = demo.email
        session.flush()
        _clear(session, customer.id)
        _add_customer_rows(session, customer.id, demo, key)
        counts["invoices"] += len(demo.invoices)
        counts["reminders"] += sum(len(invoice.reminders) for invoice in demo.invoices)
        counts["payments"] += len(demo.unmatched_payments) + sum(
            len(invoice.payments) for invoice in demo.invoices
        )
    session.flush()
    return DemoSummary(customers=len(DEMO_CUSTOMERS), **counts)


def _clear(session: Session, customer_id: int) -> None:
    # Bulk deletes, flushed before the new rows: invoice numbers and code digests are
    # unique, and the ORM would insert the new rows before deleting the old ones.
    invoice_ids = select(Invoice.id).where(Invoice.customer_id == customer_id)
    session.execute(delete(Reminder).where(Reminder.invoice_id.in_(invoice_ids)))
    session.execute(delete(Payment).where(Payment.customer_id == customer_id))
    for model in (Invoice, AccessCode, PremiumSubscription, PrepaidAccount):
        session.execute(delete(model).where(model.customer_id == customer_id))
    session.expire_all()


def _add_customer_rows(session: Session, customer_id: int, demo: DemoCustomer, key: bytes) -> None:
    codes = [("support", demo.support_code)] + ([("vip", demo.vip_code)] if demo.vip_code else [])
    for kind, code in codes:
        session.add(
            AccessCode(customer_id=customer_id, kind=kind, digest=code_digest(kind, code, key))
        )
    if demo.premium_since is not None:
        session.add(
            PremiumSubscription(
                customer_id=customer_id, plan="Support Premium", starts_on=demo.premium_since
            )
        )
    if demo.prepaid is not None:
        balance, currency = demo.prepaid
        session.add(
            PrepaidAccount(customer_id=customer_id, balance=Decimal(balance), currency=currency)
        )
    for item in demo.invoices:
        invoice = Invoice(
            number=item.number,
            customer_id=customer_id,
            amount=Decimal(item.amount),
            currency=item.currency,
            reference=creditor_reference(_number_payload(item.number)),
            issued_on=item.issued_on,
            due_on=item.due_on,
        )
        invoice.reminders = [
            Reminder(sent_on=sent_on, level=level)
            for level, sent_on in enumerate(item.reminders, 1)
        ]
        session.add(invoice)
        for payment in item.payments:
            session.add(_payment(customer_id, payment, invoice))
    for payment in demo.unmatched_payments:
        session.add(_payment(customer_id, payment, None))


def _payment(customer_id: int, demo: DemoPayment, invoice: Invoice | None) -> Payment:
    return Payment(
        customer_id=customer_id,
        invoice=invoice,
        amount=Decimal(demo.amount),
        currency=demo.currency,
        reference=demo.reference or (invoice.reference if invoice else ""),
        method=demo.method,
        received_on=demo.received_on,
        credited_to="invoice" if invoice is not None else "prepaid",
    )
