"""Payment-reminder diagnosis on the demo data and on data built here, and its German text."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from core.models import Customer, Invoice, Payment, Reminder
from support.reminder_texts import explain, format_amount, format_date
from support.reminders import (
    Cause,
    diagnose,
    find_invoice,
    invoices_with_reminders,
    normalize_invoice_number,
)

# Each demo invoice, its cause and facts its explanation must state.
DEMO_CASES = [
    ("INV-2026-1001", Cause.STANDING_ORDER_REFERENCE, ["CHF 120.00", "Dauerauftrag", "Prepaid"]),
    ("INV-2026-1002", Cause.AMOUNT_DIFFERS, ["EUR 59.90", "EUR 50.00", "EUR 9.90"]),
    ("INV-2026-1003", Cause.CURRENCY_DIFFERS, ["CHF 35.00", "EUR 35.00", "in CHF"]),
    ("INV-2026-1004", Cause.CROSSED, ["CHF 80.00", "02.11.2026", "03.11.2026", "nichts"]),
    ("INV-2026-1005", Cause.NOT_OUR_REMINDER, ["Phishing", "Links", "bezahlt"]),
    ("INV-2026-1006", Cause.UNPAID, ["CHF 240.00", "31.10.2026", "Zahlungsprofil"]),
]


def _sentences(text: str) -> int:
    return len(re.findall(r"[.!?](?=\s|$)", text.replace("z. B.", "zB")))


@pytest.mark.parametrize(("number", "cause", "facts"), DEMO_CASES)
def test_each_demo_invoice_has_its_cause(
    session: Session, demo: dict[str, int], number: str, cause: Cause, facts: list[str]
) -> None:
    diagnosis = diagnose(session, demo["Muster AG"], number)
    assert diagnosis.cause is cause
    text = explain(diagnosis)
    for fact in [number, *facts]:
        assert fact in text, (fact, text)
    assert "Sie" in text and not re.search(r"\b(du|dein|dich|dir)\b", text, re.IGNORECASE)
    assert 2 <= _sentences(text) <= 4, text


def test_standing_order_facts(session: Session, demo: dict[str, int]) -> None:
    diagnosis = diagnose(session, demo["Muster AG"], "INV-2026-1001")
    assert diagnosis.prepaid_balance == Decimal("120.00") and diagnosis.prepaid_currency == "CHF"
    assert diagnosis.prepaid_payment is not None
    assert diagnosis.prepaid_payment.method == "standing_order"
    assert diagnosis.prepaid_payment.reference != diagnosis.reference
    assert "Ihr Prepaid-Guthaben beträgt CHF 120.00" in explain(diagnosis)


def test_amount_and_currency_facts(session: Session, demo: dict[str, int]) -> None:
    muster = demo["Muster AG"]
    partial = diagnose(session, muster, "INV-2026-1002")
    assert (partial.paid, partial.outstanding) == (Decimal("50.00"), Decimal("9.90"))
    foreign = diagnose(session, muster, "INV-2026-1003")
    assert foreign.outstanding == Decimal("35.00")  # the EUR payment does not count
    crossed = diagnose(session, muster, "INV-2026-1004")
    assert crossed.reminder_on == date(2026, 11, 2) and crossed.outstanding == 0


def test_another_customers_invoice_is_not_found(session: Session, demo: dict[str, int]) -> None:
    muster = demo["Muster AG"]
    for asked in ("INV-2026-2001", "2001"):
        diagnosis = diagnose(session, muster, asked)
        assert diagnosis.cause is Cause.NOT_FOUND
    text = explain(diagnose(session, muster, "INV-2026-2001"))
    assert "INV-2026-2001" in text and "nicht gefunden" in text and "prüfen" in text
    # Its owner finds it: paid, and no reminder was ever sent.
    assert diagnose(session, demo["Beispiel GmbH"], "2001").cause is Cause.NOT_OUR_REMINDER


def test_not_found_never_repeats_a_code(session: Session, demo: dict[str, int]) -> None:
    diagnosis = diagnose(session, demo["Muster AG"], "482913")
    assert diagnosis.cause is Cause.NOT_FOUND
    assert "482913" not in diagnosis.invoice_number and "482913" not in explain(diagnosis)


@pytest.mark.parametrize(
    "text",
    ["INV-2026-1001", "inv 2026 1001", "INV20261001", "inv-2026-1001", "Mahnung zu INV-2026-1001"],
)
def test_normalize_invoice_number(text: str) -> None:
    assert normalize_invoice_number(text) == "INV-2026-1001"


@pytest.mark.parametrize("text", ["", "1001", "INV-26-1001", "Rechnung vom Oktober"])
def test_normalize_invoice_number_rejects(text: str) -> None:
    assert normalize_invoice_number(text) is None


def test_find_invoice_by_bare_suffix(session: Session, demo: dict[str, int]) -> None:
    muster = demo["Muster AG"]
    assert find_invoice(session, muster, "1002").number == "INV-2026-1002"
    assert find_invoice(session, muster, " 2026-1003 ").number == "INV-2026-1003"
    assert find_invoice(session, muster, "002") is None  # too short to be meant
    assert find_invoice(session, muster, "9999") is None
    # Ambiguous suffixes find nothing; the full number still does.
    _invoice(session, muster, "INV-2025-1002", "10.00")
    assert find_invoice(session, muster, "1002") is None
    assert find_invoice(session, muster, "inv 2026 1002").number == "INV-2026-1002"


def test_invoices_with_reminders(session: Session, demo: dict[str, int]) -> None:
    summaries = invoices_with_reminders(session, demo["Muster AG"])
    assert [s.number for s in summaries] == [f"INV-2026-100{i}" for i in (1, 2, 3, 4, 6)]
    first = summaries[0]
    assert (first.amount, first.currency, first.last_reminder) == (
        Decimal("120.00"),
        "CHF",
        date(2026, 11, 5),
    )
    assert invoices_with_reminders(session, demo["Beispiel GmbH"]) == []


def _invoice(session: Session, customer_id: int, number: str, amount: str) -> Invoice:
    invoice = Invoice(
        number=number,
        customer_id=customer_id,
        amount=Decimal(amount),
        currency="CHF",
        reference=f"REF-{number}",
        issued_on=date(2026, 9, 1),
        due_on=date(2026, 9, 30),
        reminders=[Reminder(sent_on=date(2026, 10, 5), level=1)],
    )
    session.add(invoice)
    session.flush()
    return invoice


def _pay(session: Session, customer_id: int, invoice: Invoice | None, amount: str, **fields):
    values = {
        "currency": "CHF",
        "reference": invoice.reference if invoice else "ohne Referenz",
        "method": "transfer",
        "received_on": date(2026, 9, 20),
        "credited_to": "invoice" if invoice else "prepaid",
    }
    values.update(fields)
    session.add(Payment(customer_id=customer_id, invoice=invoice, amount=Decimal(amount), **values))
    session.flush()


def test_diagnosis_is_computed_from_the_data(session: Session) -> None:
    """Causes the demo does not show, on a customer and numbers the code never saw."""
    customer = Customer(name="Test SA")
    session.add(customer)
    session.flush()
    # A transfer with a wrong reference, credited to prepaid.
    prepaid = _invoice(session, customer.id, "INV-2031-0007", "42.00")
    _pay(session, customer.id, None, "42.00", reference="Danke")
    # Paid in full, long after the reminder.
    late = _invoice(session, customer.id, "INV-2031-0008", "18.50")
    _pay(session, customer.id, late, "18.50", received_on=date(2026, 11, 30))

    credit = diagnose(session, customer.id, "INV-2031-0007")
    assert credit.cause is Cause.PREPAID_CREDIT and credit.prepaid_balance is None
    assert "CHF 42.00" in explain(credit) and prepaid.reference in explain(credit)
    settled = diagnose(session, customer.id, "INV-2031-0008")
    assert settled.cause is Cause.PAID_NO_ISSUE
    assert "30.11.2026" in explain(settled) and "nichts weiter" in explain(settled)


def test_swiss_formats() -> None:
    assert format_amount(Decimal("1250.5"), "CHF") == "CHF 1'250.50"
    assert format_amount(Decimal("9.9"), "EUR") == "EUR 9.90"
    assert format_date(date(2026, 11, 3)) == "03.11.2026"
