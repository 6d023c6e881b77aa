"""Support agents: the queue of handed-off conversations, one conversation with its
transcript, KB suggestions and code check, replying, and handing back to the bot.

Pages work without JavaScript (forms post and redirect); ``static/agent.js`` polls the
JSON endpoints under ``/agent/api/`` and sends replies and code checks with fetch, which
then get JSON instead of a redirect.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    get_template_attribute,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as cookie
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from core.conversations import Conversation
from support.verification import LABELS
from web import agent_display as display
from web import channels
from web.auth import login_required
from web.clients.rasa import RasaUnavailable
from web.db import get_db
from web.extensions import limiter
from web.services import chat as chat_service
from web.services import conversation as conversations
from web.services.agent_verification import verify_for_conversation

log = logging.getLogger(__name__)
bp = Blueprint("agent", __name__, url_prefix="/agent")

RASA_DOWN = (
    "Der Assistent ist gerade nicht erreichbar. Es wurde nichts geändert; bitte versuchen "
    "Sie es in einigen Minuten erneut."
)
VERIFY_RESULT_KEY = "agent_verify_result"  # the last check's outcome, shown once (no code)


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _conversation_or_404(conversation_id: str) -> Conversation:
    conversation = conversations.get_conversation(get_db(), conversation_id)
    if conversation is None:
        abort(404)
    return conversation


def _me() -> int:
    return int(current_user.id)


def _back(conversation: Conversation):
    return redirect(url_for("agent.conversation", conversation_id=conversation.id))


def _macro(name: str) -> Any:
    return get_template_attribute("agent/_macros.html", name)


@bp.errorhandler(CSRFError)
def _csrf_error(_error: CSRFError):
    message = (
        "Das Formular ist abgelaufen. Bitte laden Sie die Seite neu und versuchen Sie es erneut."
    )
    if _wants_json():
        return {"error": message}, 400
    return render_template("error.html", title="Formular abgelaufen", message=message), 400


@bp.errorhandler(429)
def _too_many(_error):
    message = "Zu viele Versuche. Bitte warten Sie einen Moment und versuchen Sie es erneut."
    if _wants_json():
        return {"error": message}, 429
    return render_template("error.html", title="Zu viele Anfragen", message=message), 429


# -- the queue -------------------------------------------------------------------------


def _queue_items() -> list[dict[str, Any]]:
    db = get_db()
    return display.queue_items(db, chat_service.queue(db), _me())


@bp.get("/")
@login_required("agent")
def queue():
    return render_template("agent/queue.html", items=_queue_items())


@bp.get("/api/queue")
@login_required("agent")
def api_queue():
    items = _queue_items()
    return {"count": len(items), "items": items, "html": str(_macro("queue_list")(items))}


# -- one conversation ------------------------------------------------------------------


def _suggestions(conversation: Conversation) -> dict[str, Any] | None:
    last = display.last_customer_message(conversation)
    if last is None:
        return None
    result = display.kb_results(channels.kb(), channels.settings(), last.text)
    result["message_id"] = last.id
    return result


def _page(conversation: Conversation, status: int = 200, **extra: Any):
    db = get_db()
    query = request.args.get("q", "")
    agent = display.agent_name(db, conversation)
    last = display.last_customer_message(conversation)
    verify_result = _pop_verify_result(conversation.id)
    context = {
        "conversation": conversation,
        "messages": [display.message_view(m) for m in conversation.messages],
        "state_label": display.state_label(conversation, agent, _me()),
        "reason_label": display.reason_label(display.handoff_reason(db, conversation)),
        "identity": display.identity(db, conversation),
        "suggestions": _suggestions(conversation),
        "search": display.kb_results(channels.kb(), channels.settings(), query) if query else None,
        "query": query,
        "last_id": conversation.messages[-1].id if conversation.messages else 0,
        "last_customer_id": last.id if last else 0,
        "verify_result": verify_result,
        "kinds": LABELS,
        "reply_text": "",
        "reply_error": None,
        **extra,
    }
    return render_template("agent/conversation.html", **context), status


def _pop_verify_result(conversation_id: str) -> dict[str, Any] | None:
    result = cookie.pop(VERIFY_RESULT_KEY, None)
    if isinstance(result, dict) and result.get("conversation_id") == conversation_id:
        return result
    return None


@bp.get("/conversations/<conversation_id>")
@login_required("agent")
def conversation(conversation_id: str):
    return _page(_conversation_or_404(conversation_id))


@bp.get("/api/conversations/<conversation_id>/messages")
@login_required("agent")
def api_messages(conversation_id: str):
    conversation = _conversation_or_404(conversation_id)
    try:
        after = int(request.args.get("after", "0"))
    except ValueError:
        return {"error": "Der Parameter after muss eine Zahl sein."}, 400
    db = get_db()
    message = _macro("message")
    messages = []
    for row in conversations.messages_after(db, conversation, after):
        view = display.message_view(row)
        messages.append({**view, "html": str(message(view))})
    agent = display.agent_name(db, conversation)
    last = display.last_customer_message(conversation)
    return {
        "messages": messages,
        "state": conversation.state,
        "state_label": display.state_label(conversation, agent, _me()),
        "last_customer_message_id": last.id if last else 0,
    }


@bp.get("/api/conversations/<conversation_id>/suggestions")
@login_required("agent")
def api_suggestions(conversation_id: str):
    result = _suggestions(_conversation_or_404(conversation_id))
    html = _macro("suggestion_list")(result, "Noch keine Nachricht des Kunden.")
    return {**(result or {"results": []}), "html": str(html)}


@bp.get("/api/search")
@login_required("agent")
def api_search():
    result = display.kb_results(channels.kb(), channels.settings(), request.args.get("q", ""))
    return {**result, "html": str(_macro("suggestion_list")(result, ""))}


# -- changing a conversation -----------------------------------------------------------


@bp.post("/conversations/<conversation_id>/take-over")
@login_required("agent")
def take_over(conversation_id: str):
    conversation = _conversation_or_404(conversation_id)
    db = get_db()
    try:
        chat_service.take_over(db, conversation, _me(), channels.bot())
    except RasaUnavailable as exc:
        db.rollback()
        log.warning("take-over of %s failed, Rasa unavailable: %s", conversation.id, exc)
        flash(RASA_DOWN, "error")
        return _back(conversation)
    db.commit()
    flash("Sie haben das Gespräch übernommen.", "success")
    return _back(conversation)


@bp.post("/conversations/<conversation_id>/reply")
@login_required("agent")
def reply(conversation_id: str):
    conversation = _conversation_or_404(conversation_id)
    db = get_db()
    text = request.form.get("text", "")
    try:
        message = chat_service.agent_reply(db, conversation, _me(), text)
    except conversations.MessageError as exc:
        db.rollback()
        if _wants_json():
            return {"error": str(exc)}, 400
        # Rendered, not redirected: the agent's text stays in the form.
        return _page(conversation, 400, reply_text=text, reply_error=str(exc))
    db.commit()
    if _wants_json():
        view = display.message_view(message)
        return {"message": {**view, "html": str(_macro("message")(view))}}
    return _back(conversation)


@bp.post("/conversations/<conversation_id>/close")
@login_required("agent")
def close(conversation_id: str):
    conversation = _conversation_or_404(conversation_id)
    if conversation.state == "bot":
        flash("Das Gespräch liegt bereits beim Assistenten.", "info")
        return _back(conversation)
    db = get_db()
    try:
        chat_service.close(db, conversation, channels.bot())
    except RasaUnavailable as exc:
        db.rollback()
        log.warning("closing %s failed, Rasa unavailable: %s", conversation.id, exc)
        flash(RASA_DOWN, "error")
        return _back(conversation)
    db.commit()
    flash("Das Gespräch ist beendet und wieder beim Assistenten.", "success")
    return redirect(url_for("agent.queue"))


def _verify_limit() -> str:
    return channels.settings().verify_rate_limit


def _per_conversation() -> str:
    return "agent-verify:" + str((request.view_args or {}).get("conversation_id", ""))


@bp.post("/conversations/<conversation_id>/verify")
@login_required("agent")
@limiter.limit(_verify_limit)  # per client address (the limiter's default key)
@limiter.limit(_verify_limit, key_func=_per_conversation)
def verify(conversation_id: str):
    conversation = _conversation_or_404(conversation_id)
    db = get_db()
    outcome = verify_for_conversation(
        db,
        conversation,
        request.form.get("kind", ""),
        request.form.get("code", ""),
        key=channels.code_key(),
        agent_id=_me(),
    )
    # Failed attempts are committed too: they are what the lockout counts.
    db.commit()
    result = {"conversation_id": conversation.id, "ok": outcome.ok, "status": outcome.status}
    result["message"] = outcome.message
    if _wants_json():
        identity = display.identity(db, conversation)
        return {**result, "identity_html": str(_macro("identity_panel")(identity))}
    cookie[VERIFY_RESULT_KEY] = result
    return _back(conversation)
