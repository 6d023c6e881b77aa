"""The chat API the widget talks to: start a conversation, send a message, poll for replies.

No cookies and no login: the conversation id (random, unguessable) is the credential. That is
also why the API is exempt from CSRF tokens: a forged cross-site request carries nothing the
attacker does not already have, and because every POST must be ``application/json`` (which a
plain HTML form cannot send and a cross-origin script cannot send without a CORS preflight,
granted only to HELPDESK_ALLOWED_ORIGINS, web/extensions.py), other sites cannot post into a
customer's conversation either.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, request

from core.conversations import ChatMessage, Conversation
from web import json_input
from web.channels import channels, settings
from web.db import get_db
from web.extensions import client_ip, csrf, limiter
from web.markdown_render import render_markdown
from web.services.chat import customer_turn
from web.services.conversation import (
    MessageError,
    get_conversation,
    messages_after,
    new_conversation,
)

bp = Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(bp)

# 2,000 characters of text and display, JSON-escaped at worst (\uXXXX), with room to spare.
CHAT_MAX_BYTES = 32 * 1024
NOT_FOUND = "Dieses Gespräch gibt es nicht (mehr). Bitte beginnen Sie ein neues Gespräch."
MALFORMED = 'Die Anfrage ist ungültig. Erwartet wird {"text": "Ihre Nachricht"}.'
BAD_AFTER = "Der Parameter „after“ muss eine Nachrichtennummer sein."
_SAFE_URL = re.compile(r"^https?://", re.IGNORECASE)
VERDICTS = ("answer", "clarify", "not_covered")


def _chat_limit() -> str:
    return settings().chat_rate_limit


def _conversation_key() -> str:
    # A prefix, so that a conversation's counter can never be an IP address's.
    return "conversation:" + str((request.view_args or {}).get("conversation_id", ""))


@bp.before_request
def _small_bodies() -> Response | None:
    # Chat messages are short; the app-wide limit is sized for articles.
    request.max_content_length = CHAT_MAX_BYTES
    if (request.content_length or 0) > CHAT_MAX_BYTES:
        return _error("Die Nachricht ist zu groß.", 413)
    return None


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _error(message: str, status: int) -> Response:
    return json_input.error(message, status)


@bp.post("/chat/conversations")
@limiter.limit(_chat_limit)
def create_conversation():
    # Nothing to read from the body: a conversation starts empty, the widget greets locally.
    session = get_db()
    conversation = new_conversation(session)
    session.commit()
    return {"conversation_id": conversation.id, "state": conversation.state, "messages": []}, 201


@bp.post("/chat/conversations/<conversation_id>/messages")
@limiter.limit(_chat_limit)
@limiter.limit(_chat_limit, key_func=_conversation_key)
def post_message(conversation_id: str):
    session = get_db()
    conversation = get_conversation(session, conversation_id)
    if conversation is None:
        return _error(NOT_FOUND, 404)
    # Read and checked in full before anything is stored or sent on.
    try:
        body = json_input.read_object(not_object=MALFORMED)
        text = json_input.string_field(body, "text", MALFORMED)
        display = json_input.string_field(body, "display", MALFORMED, required=False)
    except json_input.JsonInputError as exc:
        return _error(exc.message, exc.status)
    try:
        messages = customer_turn(
            session,
            conversation,
            text,
            channels(),
            client_ip=client_ip(),
            display_text=display or None,
        )
    except MessageError as exc:
        session.rollback()
        return _error(str(exc), 400)
    session.commit()
    return _conversation_json(conversation, messages)


@bp.get("/chat/conversations/<conversation_id>/messages")
def poll_messages(conversation_id: str):
    session = get_db()
    conversation = get_conversation(session, conversation_id)
    if conversation is None:
        return _error(NOT_FOUND, 404)
    raw = request.args.get("after", "0")
    if not raw.isdigit() or len(raw) > 18:
        return _error(BAD_AFTER, 400)
    return _conversation_json(conversation, messages_after(session, conversation, int(raw)))


def _conversation_json(conversation: Conversation, messages: list[ChatMessage]) -> dict:
    return {"state": conversation.state, "messages": [message_json(m) for m in messages]}


def message_json(message: ChatMessage) -> dict[str, Any]:
    """A stored message as the widget shows it; ``html`` is the sanitized Markdown."""
    data = message.data or {}
    buttons = [
        {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
        for b in data.get("buttons") or []
        if isinstance(b, dict)
    ]
    return {
        "id": message.id,
        "sender": message.sender,
        "text": message.text,
        "html": render_markdown(message.text or ""),
        "time": _iso(message.created_at),
        "buttons": buttons,
        "article": _article(data.get("article")),
        "limited": bool(data.get("limited")),
        # The KB's verdict for a bot reply ("answer", "clarify", "not_covered"), else None.
        "verdict": data.get("verdict") if data.get("verdict") in VERDICTS else None,
    }


def _article(article: object) -> dict[str, Any] | None:
    """The guide a message is based on; its link is always http(s), whoever stored it."""
    if not isinstance(article, dict) or not isinstance(article.get("id"), int):
        return None
    url = article.get("url")
    if not isinstance(url, str) or not _SAFE_URL.match(url):
        url = settings().article_url(article["id"])  # the limited-service answer has none
    return {"id": article["id"], "title": str(article.get("title") or ""), "url": url}


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite hands back naive datetimes; they are stored in UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()
