"""Why did a customer get a payment reminder although they think they paid?

The diagnosis is computed from the customer's invoices, reminders, payments and prepaid
account only, never from knowledge about particular invoices; ``support.reminder_texts``
turns it into German for the customer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import Enum

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Invoice, Payment, PrepaidAccount, Reminder
from support.code_format import mask_codes

# Amounts closer than this count as equal: enough for 5-Rappen rounding, not for a fee.
AMOUNT_TOLERANCE = Decimal("0.05")
# A payment arriving up to this long after the reminder was on its way when it was sent.
CROSSING_DAYS = timedelta(days=10)
# A standing order can run ahead of the invoice it pays by up to one billing period.
PREPAID_LEAD = timedelta(days=31)
# A bare invoice number suffix shorter than this is too ambiguous to look up.
MIN_SUFFIX_DIGITS = 4

_INVOICE_NUMBER = re.compile(r"\bINV[\s_\-]*(\d{4})[\s_\-]*(\d{3,6})(?!\d)", re.IGNORECASE)


class Cause(Enum):
    NOT_FOUND = "not_found"
    NOT_OUR_REMINDER = "not_our_reminder"
    CURRENCY_DIFFERS = "currency_differs"
    STANDING_ORDER_REFERENCE = "standing_order_reference"
    PREPAID_CREDIT = "prepaid_credit"
    AMOUNT_DIFFERS = "amount_differs"
    CROSSED = "crossed"
    PAID_NO_ISSUE = "paid_no_issue"
    UNPAID = "unpaid"


@dataclass(frozen=True)
class PaymentFact:
    amount: Decimal
    currency: str
    received_on: date
    method: str
    reference: str


@dataclass(frozen=True)
class InvoiceSummary:
    number: str
    amount: Decimal
    currency: str
    last_reminder: date


@dataclass(frozen=True)
class Diagnosis:
    cause: Cause
    # As asked for when NOT_FOUND (normalized if it looked like an invoice number).
    invoice_number: str
    amount: Decimal | None = None
    currency: str | None = None
    reference: str | None = None
    due_on: date | None = None
    reminder_on: date | None = None
    # Payments matched to the invoice, oldest first.
    payments: tuple[PaymentFact, ...] = ()
    # The unmatched payment on the prepaid account that was meant for this invoice.
    prepaid_payment: PaymentFact | None = None
    # Still to pay in the invoice's currency (payments in another currency do not count).
    outstanding: Decimal | None = None
    prepaid_balance: Decimal | None = None
    prepaid_currency: str | None = None

    @property
    def paid(self) -> Decimal:
        """Received on the invoice in its own currency."""
        return sum((p.amount for p in self.payments if p.currency == self.currency), Decimal("0"))

    @property
    def last_payment(self) -> PaymentFact | None:
        return self.payments[-1] if self.payments else None


def normalize_invoice_number(text: str) -> str | None:
    """ "inv 2026 1001", "INV20261001", "Rechnung INV-2026-1001" → "INV-2026-1001"."""
    match = _INVOICE_NUMBER.search(text)
    return f"INV-{match.group(1)}-{match.group(2)}" if match else None


def invoices_with_reminders(session: Session, customer_id: int) -> list[InvoiceSummary]:
    """The customer's invoices we sent a reminder for, by number."""
    invoices = session.scalars(
        select(Invoice)
        .where(Invoice.customer_id == customer_id, Invoice.reminders.any())
        .order_by(Invoice.number)
    )
    return [
        InvoiceSummary(i.number, i.amount, i.currency, i.reminders[-1].sent_on) for i in invoices
    ]


def find_invoice(session: Session, customer_id: int, text: str) -> Invoice | None:
    """The customer's invoice by number, or by a bare suffix ("1002") matching exactly one
    of their invoices. Another customer's invoice is never found: it does not exist for
    this customer, and saying otherwise would confirm that the number is in use."""
    own = select(Invoice).where(Invoice.customer_id == customer_id)
    number = normalize_invoice_number(text)
    if number is not None:
        return session.scalar(own.where(Invoice.number == number))
    # "1002", "die 1002", "2026-1003": one run of digits, long enough to be a suffix.
    runs = [re.sub(r"[\s\-]", "", run) for run in re.findall(r"[0-9](?:[\s\-]?[0-9])*", text)]
    runs = [run for run in runs if len(run) >= MIN_SUFFIX_DIGITS]
    if len(runs) != 1:
        return None
    digits = runs[0]
    candidates = [
        invoice
        for invoice in session.scalars(own)
        if re.sub(r"\D", "", invoice.number).endswith(digits)
    ]
    return candidates[0] if len(candidates) == 1 else None


def diagnose(session: Session, customer_id: int, invoice_number: str) -> Diagnosis:
    """The cause of the reminder for the customer's invoice ``invoice_number`` (a number or
    a bare suffix, as :func:`find_invoice` takes it), with the facts to explain it."""
    invoice = find_invoice(session, customer_id, invoice_number)
    if invoice is None:
        # Masked: a customer may well type their support code where the number belongs.
        asked = normalize_invoice_number(invoice_number) or mask_codes(invoice_number.strip())
        return Diagnosis(Cause.NOT_FOUND, invoice_number=asked)

    payments = tuple(_fact(p) for p in invoice.payments)
    # Payments in another currency do not count: they cannot settle the invoice.
    paid = sum((p.amount for p in payments if p.currency == invoice.currency), Decimal("0"))
    outstanding = max(invoice.amount - paid, Decimal("0"))
    last_reminder = invoice.reminders[-1] if invoice.reminders else None
    credit = _prepaid_credit_for(session, invoice, outstanding) if outstanding > 0 else None
    prepaid = session.scalar(
        select(PrepaidAccount).where(PrepaidAccount.customer_id == customer_id)
    )
    return Diagnosis(
        _cause(invoice, payments, paid, outstanding, last_reminder, credit),
        invoice_number=invoice.number,
        amount=invoice.amount,
        currency=invoice.currency,
        reference=invoice.reference,
        due_on=invoice.due_on,
        reminder_on=last_reminder.sent_on if last_reminder else None,
        payments=payments,
        prepaid_payment=credit,
        outstanding=outstanding,
        prepaid_balance=prepaid.balance if prepaid else None,
        prepaid_currency=prepaid.currency if prepaid else None,
    )


def _cause(
    invoice: Invoice,
    payments: tuple[PaymentFact, ...],
    paid: Decimal,
    outstanding: Decimal,
    last_reminder: Reminder | None,
    credit: PaymentFact | None,
) -> Cause:
    # 1. We never sent a reminder: whatever the customer received is not from us (phishing).
    #    That warning matters more than anything about the payments.
    if last_reminder is None:
        return Cause.NOT_OUR_REMINDER
    # 2. Money in another currency is on the invoice, yet it does not count: the customer
    #    sees both a payment and a reminder, and only paying in the right currency helps.
    if any(p.currency != invoice.currency for p in payments):
        return Cause.CURRENCY_DIFFERS
    # 3. Money that arrived unmatched went to the prepaid account and can pay the invoice
    #    from there; a standing order (which carries a fixed, not the invoice's, reference)
    #    is the usual reason and the customer should change it for the next invoices.
    if credit is not None:
        if credit.method == "standing_order":
            return Cause.STANDING_ORDER_REFERENCE
        return Cause.PREPAID_CREDIT
    # 4. Paid in the right currency, but not enough: only the difference is missing.
    if paid > 0 and outstanding > 0:
        return Cause.AMOUNT_DIFFERS
    if outstanding == 0 and payments:
        # 5. Paid in full shortly after the reminder went out: the two crossed. Paid in full
        #    otherwise (long after, or before a late-booked reminder): nothing to do either.
        last_paid = payments[-1].received_on
        since_reminder = last_paid - last_reminder.sent_on
        if timedelta(0) <= since_reminder <= CROSSING_DAYS:
            return Cause.CROSSED
        return Cause.PAID_NO_ISSUE
    # 6. Nothing arrived at all.
    return Cause.UNPAID


def _prepaid_credit_for(
    session: Session, invoice: Invoice, outstanding: Decimal
) -> PaymentFact | None:
    """An unmatched payment credited to prepaid that fits the invoice: same currency, the
    outstanding amount, a reference other than the invoice's, not long before it."""
    candidates = session.scalars(
        select(Payment)
        .where(
            Payment.customer_id == invoice.customer_id,
            Payment.invoice_id.is_(None),
            Payment.credited_to == "prepaid",
            Payment.currency == invoice.currency,
            Payment.received_on >= invoice.issued_on - PREPAID_LEAD,
        )
        .order_by(Payment.received_on.desc())
    )
    for payment in candidates:
        if (
            abs(payment.amount - outstanding) <= AMOUNT_TOLERANCE
            and payment.reference.strip() != invoice.reference
        ):
            return _fact(payment)
    return None


def _fact(payment: Payment) -> PaymentFact:
    return PaymentFact(
        payment.amount, payment.currency, payment.received_on, payment.method, payment.reference
    )
