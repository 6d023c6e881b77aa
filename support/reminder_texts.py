"""The customer-facing German explanation of a payment-reminder diagnosis.

Formal "Sie", two to four sentences: what happened, with the concrete amounts and dates,
and what to do next. Amounts and dates are written the Swiss way ("CHF 1'250.00",
"03.11.2026").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from support.reminders import Cause, Diagnosis, PaymentFact

_CANONICAL_NUMBER = re.compile(r"INV-\d{4}-\d{3,6}")
_CHANGE_METHOD = (
    "Falls Ihnen eine andere Zahlungsart lieber ist, können Sie Ihr Zahlungsprofil im "
    "Manager ändern, z. B. auf Kreditkarte oder Prepaid-Guthaben."
)


def format_amount(amount: Decimal, currency: str) -> str:
    return f"{currency} {amount:,.2f}".replace(",", "'")


def format_date(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def explain(diagnosis: Diagnosis) -> str:
    return _TEXTS[diagnosis.cause](diagnosis)


def _invoice_money(d: Diagnosis, amount: Decimal | None) -> str:
    return format_amount(amount or Decimal("0"), d.currency or "")


def _payment(p: PaymentFact) -> str:
    return f"{format_amount(p.amount, p.currency)} vom {format_date(p.received_on)}"


def _not_found(d: Diagnosis) -> str:
    # Echo only what looks like an invoice number: never repeat arbitrary input.
    shown = _CANONICAL_NUMBER.fullmatch(d.invoice_number)
    which = f"Die Rechnung {d.invoice_number}" if shown else "Diese Rechnung"
    return (
        f"{which} habe ich in Ihrem Kundenkonto nicht gefunden. Bitte prüfen Sie die "
        "Rechnungsnummer: Sie steht auf der Rechnung und auf der Mahnung und hat die Form "
        "INV-2026-1234."
    )


def _not_our_reminder(d: Diagnosis) -> str:
    if d.outstanding == 0:
        status = "Die Rechnung selbst ist bereits vollständig bezahlt."
    else:
        # Keep them from paying through the fake mail's bank details.
        status = (
            "Falls die Rechnung noch offen ist, zahlen Sie bitte nur mit den Angaben der "
            "Originalrechnung in Ihrem Kundenkonto."
        )
    return (
        f"Für die Rechnung {d.invoice_number} haben wir keine Mahnung verschickt – die "
        "Nachricht, die Sie erhalten haben, stammt nicht von uns und ist vermutlich ein "
        "Phishing-Versuch. Bitte klicken Sie auf keine Links darin, öffnen Sie keine Anhänge "
        f"und löschen Sie die Nachricht. {status}"
    ).strip()


def _currency_differs(d: Diagnosis) -> str:
    foreign = next(p for p in d.payments if p.currency != d.currency)
    return (
        f"Die Rechnung {d.invoice_number} lautet auf {_invoice_money(d, d.amount)}, Ihre "
        f"Zahlung von {_payment(foreign)} ist aber in {foreign.currency} eingegangen. "
        "Eine Zahlung in einer anderen Währung können wir der Rechnung nicht anrechnen, "
        "deshalb haben Sie eine Mahnung erhalten. Bitte überweisen Sie "
        f"{_invoice_money(d, d.outstanding)} in {d.currency}; wegen der Zahlung in "
        f"{foreign.currency} hilft Ihnen unser Support-Team gern weiter."
    )


def _pay_from_prepaid(d: Diagnosis) -> str:
    if d.prepaid_balance is None or d.prepaid_currency is None:
        return "Bitte bezahlen Sie die Rechnung mit dem Guthaben Ihres Prepaid-Kontos."
    balance = format_amount(d.prepaid_balance, d.prepaid_currency)
    outstanding = d.outstanding or Decimal("0")
    if d.prepaid_currency == d.currency and d.prepaid_balance >= outstanding:
        return (
            f"Ihr Prepaid-Guthaben beträgt {balance}; damit können Sie die Rechnung direkt "
            "bezahlen, dann ist die Mahnung erledigt."
        )
    if d.prepaid_currency == d.currency:
        rest = _invoice_money(d, outstanding - d.prepaid_balance)
        return (
            f"Ihr Prepaid-Guthaben beträgt {balance}; bitte bezahlen Sie die Rechnung damit "
            f"und überweisen Sie die restlichen {rest}."
        )
    return f"Ihr Prepaid-Guthaben beträgt {balance}; damit können Sie die Rechnung bezahlen."


def _standing_order_reference(d: Diagnosis) -> str:
    credit = d.prepaid_payment
    assert credit is not None
    return (
        f"Ihre Zahlung von {_payment(credit)} per Dauerauftrag ist bei uns eingegangen, trug "
        f"aber nicht die Referenznummer der Rechnung {d.invoice_number} und wurde deshalb "
        f"Ihrem Prepaid-Konto gutgeschrieben. {_pay_from_prepaid(d)} Da jede Rechnung eine "
        "eigene Referenznummer hat, passen Sie bitte Ihren Dauerauftrag an oder wählen Sie "
        "im Manager eine andere Zahlungsart."
    )


def _prepaid_credit(d: Diagnosis) -> str:
    credit = d.prepaid_payment
    assert credit is not None
    return (
        f"Ihre Zahlung von {_payment(credit)} ist bei uns eingegangen, konnte der Rechnung "
        f"{d.invoice_number} aber nicht zugeordnet werden und wurde deshalb Ihrem "
        f"Prepaid-Konto gutgeschrieben. {_pay_from_prepaid(d)} Bitte geben Sie bei "
        f"Überweisungen immer die Referenznummer der Rechnung an ({d.reference})."
    )


def _amount_differs(d: Diagnosis) -> str:
    last = d.last_payment
    received = f" (zuletzt am {format_date(last.received_on)})" if last else ""
    outstanding = _invoice_money(d, d.outstanding)
    return (
        f"Für die Rechnung {d.invoice_number} über {_invoice_money(d, d.amount)} haben wir "
        f"{_invoice_money(d, d.paid)} erhalten{received}; es fehlen noch {outstanding}, "
        "deshalb haben Sie eine Mahnung erhalten. Bitte überweisen Sie die fehlenden "
        f"{outstanding} mit der Referenznummer {d.reference}. Zahlen Sie künftig bitte immer "
        "den genauen Rechnungsbetrag in der Währung der Rechnung."
    )


def _crossed(d: Diagnosis) -> str:
    last = d.last_payment
    assert last is not None and d.reminder_on is not None
    return (
        f"Ihre Zahlung von {format_amount(last.amount, last.currency)} für die Rechnung "
        f"{d.invoice_number} ist am {format_date(last.received_on)} eingegangen, die Mahnung "
        f"haben wir am {format_date(d.reminder_on)} verschickt – beides hat sich überschnitten. "
        "Die Rechnung ist vollständig bezahlt; Sie müssen nichts weiter tun. "
        "Wenn Sie solche Überschneidungen vermeiden möchten, können Sie im Manager ein "
        "anderes Zahlungsprofil wählen, z. B. eine Kreditkarte oder Ihr Prepaid-Guthaben."
    )


def _paid_no_issue(d: Diagnosis) -> str:
    last = d.last_payment
    paid_on = f" (zuletzt am {format_date(last.received_on)})" if last else ""
    reminder = f"Die Mahnung vom {format_date(d.reminder_on)}" if d.reminder_on else "Die Mahnung"
    return (
        f"Die Rechnung {d.invoice_number} ist vollständig bezahlt{paid_on}. {reminder} ist "
        "damit erledigt; Sie müssen nichts weiter tun."
    )


def _unpaid(d: Diagnosis) -> str:
    due = f"; sie war am {format_date(d.due_on)} fällig" if d.due_on else ""
    return (
        f"Für die Rechnung {d.invoice_number} über {_invoice_money(d, d.amount)} ist bei uns "
        f"noch keine Zahlung eingegangen{due}. Bitte überweisen Sie "
        f"{_invoice_money(d, d.outstanding)} so bald wie möglich mit der Referenznummer "
        f"{d.reference}. {_CHANGE_METHOD}"
    )


_TEXTS: dict[Cause, Callable[[Diagnosis], str]] = {
    Cause.NOT_FOUND: _not_found,
    Cause.NOT_OUR_REMINDER: _not_our_reminder,
    Cause.CURRENCY_DIFFERS: _currency_differs,
    Cause.STANDING_ORDER_REFERENCE: _standing_order_reference,
    Cause.PREPAID_CREDIT: _prepaid_credit,
    Cause.AMOUNT_DIFFERS: _amount_differs,
    Cause.CROSSED: _crossed,
    Cause.PAID_NO_ISSUE: _paid_no_issue,
    Cause.UNPAID: _unpaid,
}
