"""Payment reminders: the general guide for anyone, the diagnosis for a verified customer."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.adapters.common import OFFER_VERIFY, YES_NO_BUTTONS, customer_of, latest_text
from actions.runtime import get_runtime
from retrieval.retriever import QueryError
from support.reminder_texts import explain, format_amount, format_date
from support.reminders import diagnose, find_invoice, invoices_with_reminders

TASK = "payment_reminder"
VERIFY_OFFER = (
    "Wenn Sie sich mit Ihrem Supportcode verifizieren, prüfe ich Ihre Rechnung und Ihre "
    "Zahlungen und sage Ihnen, woran es liegt. Möchten Sie das jetzt tun?"
)


def _diagnosis_text(customer_id: int, invoice_text: str) -> str:
    with get_runtime().session() as session:
        invoice = find_invoice(session, customer_id, invoice_text)
        number = invoice.number if invoice is not None else invoice_text
        return explain(diagnose(session, customer_id, number))


def continue_payment_reminder(
    dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[EventType]:
    """For a verified customer: explain the named invoice's reminder, or ask which one."""
    customer = customer_of(tracker)
    invoice_text = tracker.get_slot("invoice_number")
    if customer is None:
        return []
    if not invoice_text:
        return [SlotSet("pending_task", None), FollowupAction("invoice_form")]
    dispatcher.utter_message(text=_diagnosis_text(customer, str(invoice_text)))
    return [SlotSet("invoice_number", None), SlotSet("pending_task", None)]


class ActionPaymentReminder(Action):
    def name(self) -> str:
        return "action_payment_reminder"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if customer_of(tracker) is not None:
            return continue_payment_reminder(dispatcher, tracker)
        # Not verified: the KB's general guide, then the offer to look at the real data.
        text = latest_text(tracker) or "Zahlungserinnerung erhalten, obwohl bezahlt"
        events: list[EventType] = []
        try:
            answer = await asyncio.to_thread(get_runtime().kb.answer, text)
        except QueryError:
            answer = None
        if answer is not None and answer.answerable:
            url = get_runtime().settings.article_url(answer.article_id)
            dispatcher.utter_message(text=answer.render(url))
            events.append(SlotSet("last_article_id", float(answer.article_id)))
        dispatcher.utter_message(text=VERIFY_OFFER, buttons=YES_NO_BUTTONS)
        return [*events, SlotSet("pending_offer", OFFER_VERIFY), SlotSet("pending_task", TASK)]


class ActionAskInvoiceNumber(Action):
    """Asks which invoice, with a button for each invoice that had a reminder."""

    def name(self) -> str:
        return "action_ask_invoice_number"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        customer = customer_of(tracker)
        with get_runtime().session() as session:
            invoices = invoices_with_reminders(session, customer) if customer else []
        if not invoices:
            dispatcher.utter_message(
                text="Wir haben Ihnen zu keiner Rechnung eine Zahlungserinnerung geschickt. "
                "Nennen Sie mir bitte die Rechnungsnummer, die in der Erinnerung steht."
            )
            return []
        buttons = [
            {
                "title": f"{inv.number}: {format_amount(inv.amount, inv.currency)}, "
                f"erinnert am {format_date(inv.last_reminder)}",
                "payload": f'/inform{{"invoice_number":"{inv.number}"}}',
            }
            for inv in invoices
        ]
        dispatcher.utter_message(
            text="Zu welcher Rechnung haben Sie die Zahlungserinnerung erhalten? Sie können "
            "auch die Rechnungsnummer eingeben.",
            buttons=buttons,
        )
        return []


class ValidateInvoiceForm(FormValidationAction):
    def name(self) -> str:
        return "validate_invoice_form"

    async def validate_invoice_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        customer = customer_of(tracker)
        with get_runtime().session() as session:
            invoice = find_invoice(session, customer, str(value)) if customer else None
            number = invoice.number if invoice is not None else None
        if number is None:
            dispatcher.utter_message(
                text="Diese Rechnung finde ich in Ihrem Konto nicht. Bitte prüfen Sie die "
                "Rechnungsnummer; sie steht oben auf der Rechnung und in der Erinnerung."
            )
        return {"invoice_number": number}
