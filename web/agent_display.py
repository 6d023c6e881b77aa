"""What the agent console shows, as plain dicts for the templates and the JSON endpoints:
queue rows, transcript messages, the customer's identity and KB suggestions.

Everything a template marks safe is built here: bot messages through the Markdown
sanitizer, everything customers and agents typed escaped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.conversations import ChatMessage, Conversation
from core.models import Customer, Handoff
from core.settings import Settings
from core.users import User
from web.clients.kb import KbQueryError, KbUnavailable
from web.markdown_render import render_markdown

PREVIEW_CHARS = 140
MAX_SEARCH_CHARS = 500
SUGGESTIONS = 3
# The KB offers a clarifying question's guides from its best five: fetched so that an
# offered guide below the first three is shown (and marked) too.
CHOICE_CANDIDATES = 5
VERDICTS = {
    "answer": ("Antwort", "Eine Anleitung beantwortet die Frage."),
    "clarify": (
        "Rückfrage",
        "Die Frage passt zu mehreren Anleitungen; der Assistent fragt nach, welche gemeint "
        "ist. Die angebotenen Anleitungen sind markiert.",
    ),
    "not_covered": (
        "Nicht abgedeckt",
        "Keine Anleitung deckt diese Frage ab. Bitte prüfen Sie die Vorschläge, bevor Sie sie "
        "verwenden.",
    ),
}

REASONS = {
    "requested": "Kunde möchte einen Mitarbeiter",
    "repeated_failure": "Antworten haben nicht geholfen",
    "lockout": "Code-Sperre nach falschen Codes",
    "not_premium": "VIP-Support ohne Premium",
    "payment": "Zahlungsfrage",
}
SENDERS = {"customer": "Kunde", "bot": "Assistent", "agent": "Mitarbeiter", "system": "System"}
KB_DOWN = "Vorschläge sind gerade nicht verfügbar. Bitte versuchen Sie es später erneut."


def waiting_label(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} Sek."
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} Min."
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} Std. {minutes} Min."
    return f"{hours // 24} Tg. {hours % 24} Std."


def time_label(moment: datetime | None) -> str:
    # The page's script shows the agent's local time; this is what works without it.
    return moment.astimezone(UTC).strftime("%H:%M UTC") if moment else ""


def state_label(conversation: Conversation, agent_name: str | None, me: int) -> str:
    if conversation.state == "bot":
        return "beim Assistenten"
    if conversation.state == "waiting":
        return "wartet auf einen Mitarbeiter"
    if conversation.agent_id == me:
        return "bei Ihnen"
    return f"bei {agent_name}" if agent_name else "bei einem Mitarbeiter"


def handoff_reason(session: Session, conversation: Conversation) -> str | None:
    """The latest handoff's reason; the bot's handoff message says it too, if no row."""
    reason = session.scalar(
        select(Handoff.reason)
        .where(Handoff.conversation_id == conversation.id)
        .order_by(Handoff.id.desc())
        .limit(1)
    )
    if reason is None:
        for message in reversed(conversation.messages):
            handoff = (message.data or {}).get("handoff")
            if isinstance(handoff, dict) and handoff.get("reason"):
                reason = str(handoff["reason"])
                break
    return reason


def reason_label(reason: str | None) -> str:
    if not reason:
        return "–"
    return REASONS.get(reason, reason)


def _preview(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1].rstrip() + "…"


def _last_customer_texts(session: Session, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    latest = (
        select(func.max(ChatMessage.id))
        .where(ChatMessage.conversation_id.in_(ids), ChatMessage.sender == "customer")
        .group_by(ChatMessage.conversation_id)
    )
    rows = session.execute(
        select(ChatMessage.conversation_id, ChatMessage.text).where(ChatMessage.id.in_(latest))
    )
    return {conversation_id: text for conversation_id, text in rows}


def _latest_reasons(session: Session, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    latest = (
        select(func.max(Handoff.id))
        .where(Handoff.conversation_id.in_(ids))
        .group_by(Handoff.conversation_id)
    )
    rows = session.execute(
        select(Handoff.conversation_id, Handoff.reason).where(Handoff.id.in_(latest))
    )
    return {conversation_id: reason for conversation_id, reason in rows}


def _name_of(session: Session, model: type, row_id: int | None, attribute: str) -> str | None:
    if row_id is None:
        return None
    row = session.get(model, row_id)
    return getattr(row, attribute) if row is not None else None


def agent_name(session: Session, conversation: Conversation) -> str | None:
    return _name_of(session, User, conversation.agent_id, "username")


def queue_items(
    session: Session, conversations: list[Conversation], me: int, now: datetime | None = None
) -> list[dict[str, Any]]:
    now = now or datetime.now(UTC)
    ids = [c.id for c in conversations]
    previews = _last_customer_texts(session, ids)
    reasons = _latest_reasons(session, ids)
    items = []
    for conversation in conversations:
        waited = (
            (now - conversation.handed_off_at).total_seconds()
            if conversation.handed_off_at
            else None
        )
        agent = agent_name(session, conversation)
        reason = reasons.get(conversation.id)
        items.append(
            {
                "id": conversation.id,
                "priority": bool(conversation.priority),
                "state": conversation.state,
                "state_label": state_label(conversation, agent, me),
                "waiting_seconds": int(waited) if waited is not None else None,
                "waiting_label": waiting_label(waited),
                "customer": _name_of(session, Customer, conversation.customer_id, "name"),
                "customer_id": conversation.customer_id,
                "reason": reason,
                "reason_label": reason_label(reason),
                "preview": _preview(previews.get(conversation.id, "")),
                "agent": agent,
                "mine": conversation.agent_id == me,
            }
        )
    return items


def message_html(message: ChatMessage) -> Markup:
    if message.sender == "bot":
        return Markup(render_markdown(message.text or ""))
    # What people typed is shown exactly as typed: escaped, never interpreted.
    return Markup('<p class="msg__plain">') + escape(message.text or "") + Markup("</p>")


def message_view(message: ChatMessage) -> dict[str, Any]:
    data = message.data or {}
    article = data.get("article") if isinstance(data.get("article"), dict) else None
    confidence = data.get("confidence")
    buttons = [str(b.get("title", "")) for b in data.get("buttons", []) if isinstance(b, dict)]
    return {
        "id": message.id,
        "sender": message.sender,
        "sender_label": SENDERS.get(message.sender, message.sender),
        "time": message.created_at.isoformat() if message.created_at else None,
        "time_label": time_label(message.created_at),
        "html": message_html(message),
        "article": _article(article) if article else None,
        "confidence": _percent(confidence) if isinstance(confidence, int | float) else None,
        "buttons": buttons,
        "limited": bool(data.get("limited")),
    }


def _article(article: dict[str, Any]) -> dict[str, Any]:
    url = article.get("url")
    # Only web links: the URL comes from the bot's message data.
    safe = isinstance(url, str) and (
        url.startswith(("https://", "http://")) or (url.startswith("/") and url[1:2] != "/")
    )
    return {
        "id": article.get("id"),
        "title": str(article.get("title", "")),
        "url": url if safe else None,
    }


def last_customer_message(conversation: Conversation) -> ChatMessage | None:
    for message in reversed(conversation.messages):
        if message.sender == "customer":
            return message
    return None


def identity(session: Session, conversation: Conversation) -> dict[str, Any]:
    customer = session.get(Customer, conversation.customer_id) if conversation.customer_id else None
    if customer is None:
        return {"verified": False, "priority": bool(conversation.priority)}
    today = datetime.now(UTC).date()
    return {
        "verified": True,
        "id": customer.id,
        "name": customer.name,
        "email": customer.email,
        "premium": any(s.active_on(today) for s in customer.subscriptions),
        "priority": bool(conversation.priority),
    }


def _percent(value: float) -> int:
    return max(0, min(100, round(value * 100)))


def suggested_reply(snippet: str, title: str, url: str) -> str:
    # Markdown: the widget renders agent replies, so the guide becomes a link to click.
    label = title.replace("[", "\\[").replace("]", "\\]")
    return f"{snippet.strip()}\n\nDie ganze Anleitung finden Sie hier: [{label}]({url})"


def kb_results(kb: Any, settings: Settings, query: str, k: int = SUGGESTIONS) -> dict[str, Any]:
    """KB search results as the console shows them; never raises for a KB problem.

    Each result carries the KB's own confidence (0..1) that it answers the query; an older
    KB service gives it for the best result only, and the others then get it scaled by their
    score relative to the best.
    """
    query = (query or "").strip()
    out: dict[str, Any] = {"query": query, "available": True, "error": None, "results": []}
    if not query:
        out["error"] = "Bitte geben Sie einen Suchbegriff ein."
        return out
    if len(query) > MAX_SEARCH_CHARS:
        out["error"] = f"Der Suchbegriff ist zu lang (höchstens {MAX_SEARCH_CHARS} Zeichen)."
        return out
    try:
        response = kb.search(query, max(k, CHOICE_CANDIDATES))
    except KbUnavailable:
        return {**out, "available": False, "error": KB_DOWN}
    except KbQueryError as exc:
        return {**out, "error": str(exc)}
    results = [r for r in response.get("results", []) if isinstance(r, dict)]
    top = float(results[0].get("score") or 0) if results else 0.0
    answerable = bool(response.get("answerable"))
    verdict = response.get("verdict")
    if verdict not in VERDICTS:  # an older KB service: answer or not
        verdict = "answer" if answerable else "not_covered"
    offered = set()
    if verdict == "clarify":
        offered = {i for i in response.get("choices") or [] if isinstance(i, int)}
    results = [r for i, r in enumerate(results) if i < k or r.get("article_id") in offered]
    confidence = float(response.get("confidence") or 0)
    for result in results:
        score = float(result.get("score") or 0)
        own = result.get("confidence")
        if isinstance(own, int | float):
            relative = float(own)
        else:
            relative = confidence * (score / top) if top > 0 else 0.0
        article_id = result.get("article_id")
        url = settings.article_url(article_id) if isinstance(article_id, int) else ""
        title = str(result.get("title", ""))
        snippet = str(result.get("snippet", ""))
        out["results"].append(
            {
                "article_id": article_id,
                "title": title,
                "section": str(result.get("section") or ""),
                "snippet": snippet,
                "score": score,
                "confidence": round(relative, 3),
                "percent": _percent(relative),
                "url": url,
                "reply": suggested_reply(snippet, title, url),
                "offered": article_id in offered,
            }
        )
    label, explanation = VERDICTS[verdict]
    out.update(
        answerable=answerable,
        verdict=verdict,
        verdict_label=label,
        verdict_text=explanation,
    )
    return out
