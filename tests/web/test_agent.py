"""The agent console: roles, the queue, a conversation (transcript, suggestions, search),
taking over, replying, handing back to the bot, and checking a caller's code."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core.conversations import ChatMessage, Conversation
from core.db import get_sessionmaker, session_scope
from core.keys import code_key
from core.models import Customer, Handoff, VerificationAttempt
from core.users import User
from helpdesk.demo import load_demo
from support.verification import MAX_FAILURES
from tests.web.conftest import csrf_token
from web.services.conversation import messages_after

MUSTER_SUPPORT, BEISPIEL_SUPPORT, BEISPIEL_VIP = "482913", "715204", "903311"


@pytest.fixture
def db(app, web_settings):
    maker = get_sessionmaker(web_settings)

    def scope():
        return session_scope(maker)

    return scope


@pytest.fixture
def demo(db, web_settings) -> dict[str, int]:
    with db() as session:
        load_demo(session, code_key(web_settings))
    with db() as session:
        return {c.name: c.id for c in session.scalars(select(Customer))}


def make_conversation(
    db,
    cid: str,
    *,
    state: str = "waiting",
    priority: bool = False,
    waited: timedelta = timedelta(minutes=5),
    messages: tuple[tuple[str, str], ...] = (("customer", "Ich brauche Hilfe"),),
    reason: str | None = "requested",
    customer_id: int | None = None,
) -> str:
    now = datetime.now(UTC)
    with db() as session:
        conversation = Conversation(
            id=cid,
            state=state,
            priority=priority,
            handed_off_at=now - waited if state != "bot" else None,
            customer_id=customer_id,
        )
        session.add(conversation)
        for sender, text in messages:
            session.add(ChatMessage(conversation=conversation, sender=sender, text=text, data={}))
        if reason:
            session.add(Handoff(conversation_id=cid, reason=reason, status="open"))
    return cid


def get(db, cid: str) -> Conversation:
    with db() as session:
        return session.get_one(Conversation, cid)


def token(client, cid: str) -> str:
    return csrf_token(client, f"/agent/conversations/{cid}")


def routes(cid: str) -> tuple[list[str], list[str]]:
    gets = [
        "/agent/",
        "/agent/api/queue",
        f"/agent/conversations/{cid}",
        f"/agent/api/conversations/{cid}/messages?after=0",
        f"/agent/api/conversations/{cid}/suggestions",
        "/agent/api/search?q=Rechnung",
    ]
    posts = [
        f"/agent/conversations/{cid}/{action}"
        for action in ("take-over", "reply", "close", "verify")
    ]
    return gets, posts


# -- roles -------------------------------------------------------------------------------


def test_anonymous_is_sent_to_login_everywhere(client, db):
    cid = make_conversation(db, "c-anon")
    gets, posts = routes(cid)
    for path in gets:
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    token = csrf_token(client, "/login")
    for path in posts:
        response = client.post(path, data={"csrf_token": token, "text": "x"})
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    assert get(db, cid).state == "waiting"


def test_editor_is_forbidden_everywhere(login, db):
    cid = make_conversation(db, "c-editor")
    client = login("editor")
    token = csrf_token(client, "/login")
    gets, posts = routes(cid)
    for path in gets:
        assert client.get(path).status_code == 403, path
    for path in posts:
        assert client.post(path, data={"csrf_token": token, "text": "x"}).status_code == 403, path
    assert get(db, cid).state == "waiting"


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_agent_and_admin_may_read_everything(login, db, role):
    cid = make_conversation(db, "c-read")
    client = login(role)
    for path in routes(cid)[0]:
        assert client.get(path).status_code == 200, path


def test_unknown_conversation_is_404(login):
    client = login("agent")
    assert client.get("/agent/conversations/gibt-es-nicht").status_code == 404
    assert client.get("/agent/api/conversations/gibt-es-nicht/messages").status_code == 404


def test_post_without_csrf_token_is_refused(login, db):
    cid = make_conversation(db, "c-csrf")
    client = login("agent")
    for path in routes(cid)[1]:
        response = client.post(path, data={"text": "Hallo", "kind": "support", "code": "1"})
        assert response.status_code == 400, path
    response = client.post(
        f"/agent/conversations/{cid}/reply",
        data={"text": "Hallo"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400 and "error" in response.get_json()
    assert get(db, cid).state == "waiting"
    with db() as session:
        assert session.scalar(select(func.count()).select_from(VerificationAttempt)) == 0


# -- the queue ---------------------------------------------------------------------------


def test_queue_puts_priority_first_then_longest_waiting(login, db, demo):
    make_conversation(db, "c-short", waited=timedelta(minutes=2))
    make_conversation(db, "c-long", waited=timedelta(minutes=40), reason="payment")
    make_conversation(
        db, "c-vip", priority=True, waited=timedelta(minutes=1), customer_id=demo["Beispiel GmbH"]
    )
    make_conversation(db, "c-bot", state="bot", reason=None)
    client = login("agent")
    html = client.get("/agent/").get_data(as_text=True)
    order = re.findall(r'class="queue-item[^"]*" href="/agent/conversations/([^"]+)"', html)
    assert order == ["c-vip", "c-long", "c-short"]
    assert html.count('class="badge vip"') == 1
    assert "Beispiel GmbH" in html and "nicht verifiziert" in html
    assert "Zahlungsfrage" in html and "40 Min." in html
    assert "Ich brauche Hilfe" in html

    data = client.get("/agent/api/queue").get_json()
    assert [item["id"] for item in data["items"]] == ["c-vip", "c-long", "c-short"]
    assert data["count"] == 3
    first = data["items"][0]
    assert first["priority"] is True and first["customer"] == "Beispiel GmbH"
    assert data["items"][1]["reason"] == "payment" and data["items"][1]["waiting_seconds"] >= 2400
    assert 'class="queue-item' in data["html"]


def test_queue_page_loads_the_script_and_no_inline_code(login, db):
    make_conversation(db, "c-csp")
    html = login("agent").get("/agent/").get_data(as_text=True)
    assert "/static/agent.js" in html and "/static/agent.css" in html
    assert "<script>" not in html and "style=" not in html and "onclick" not in html


def test_empty_queue(login):
    html = login("agent").get("/agent/").get_data(as_text=True)
    assert "Keine Gespräche in der Warteschlange." in html


# -- one conversation --------------------------------------------------------------------


def test_transcript_identity_and_suggestions(login, db, demo):
    cid = make_conversation(
        db,
        "c-page",
        messages=(
            ("customer", "Wie ändere ich die Rechnungsadresse?"),
            ("bot", "**Rechnungsadresse ändern**\n\nSo geht es."),
            ("customer", "Das hat nicht geholfen"),
        ),
        customer_id=demo["Muster AG"],
    )
    html = login("agent").get(f"/agent/conversations/{cid}").get_data(as_text=True)
    assert 'id="transcript"' in html
    assert html.count('class="msg msg--customer"') == 2
    assert "<strong>Rechnungsadresse ändern</strong>" in html  # bot Markdown rendered
    assert 'id="identity"' in html and "Muster AG" in html
    assert "Kunde möchte einen Mitarbeiter" in html
    suggestions = html.split('id="suggestions"')[1].split("</section>")[0]
    assert suggestions.count('class="suggestion"') == 3
    assert suggestions.count('class="insert"') == 3 and "Einfügen" in suggestions
    assert "90 %" in suggestions and "80 %" in suggestions
    assert "http://127.0.0.1:8000/hilfe/7" in suggestions  # the guide link in the reply
    for element in ("reply-text", "reply-send", "take-over", "close-conversation"):
        assert f'id="{element}"' in html, element
    for element in ("verify-form", "verify-kind", "verify-code", "verify-result"):
        assert f'id="{element}"' in html, element
    assert 'id="kb-search"' in html and 'id="kb-results"' in html


def test_unverified_identity(login, db):
    cid = make_conversation(db, "c-unverified")
    html = login("agent").get(f"/agent/conversations/{cid}").get_data(as_text=True)
    identity = html.split('id="identity"')[1].split("</div>")[0]
    assert "nicht verifiziert" in identity


def test_suggestions_use_the_last_customer_message(login, db, fake_kb):
    seen: list[str] = []
    search = fake_kb.search
    fake_kb.search = lambda query, k=3: seen.append(query) or search(query, k)
    cid = make_conversation(
        db, "c-last", messages=(("customer", "erste Frage"), ("customer", "zweite Frage"))
    )
    client = login("agent")
    client.get(f"/agent/conversations/{cid}")
    assert seen == ["zweite Frage"]
    data = client.get(f"/agent/api/conversations/{cid}/suggestions").get_json()
    assert [r["percent"] for r in data["results"]] == [90, 80, 70]
    assert data["results"][0]["url"] == "http://127.0.0.1:8000/hilfe/7"
    assert "hilfe/7" in data["results"][0]["reply"]
    assert 'class="suggestion"' in data["html"]


def test_kb_down_leaves_a_note_and_the_page_works(login, db, fake_kb):
    fake_kb.down = True
    cid = make_conversation(db, "c-kbdown")
    client = login("agent")
    response = client.get(f"/agent/conversations/{cid}?q=Rechnung")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.count("Vorschläge sind gerade nicht verfügbar") == 2  # suggestions and search
    assert 'id="reply-text"' in html
    data = client.get("/agent/api/search?q=Rechnung").get_json()
    assert data["available"] is False and "nicht verfügbar" in data["error"]


def test_kb_search(login, db):
    cid = make_conversation(db, "c-search")
    client = login("agent")
    data = client.get("/agent/api/search?q=Rechnungsadresse").get_json()
    assert len(data["results"]) == 3 and data["results"][0]["title"]
    assert data["html"].count('class="insert"') == 3
    html = client.get(f"/agent/conversations/{cid}?q=Rechnungsadresse").get_data(as_text=True)
    results = html.split('id="kb-results"')[1]
    assert results.count('class="suggestion"') == 3
    empty = client.get("/agent/api/search?q=").get_json()
    assert empty["results"] == [] and "Suchbegriff" in empty["error"]
    long = client.get("/agent/api/search?q=" + "a" * 600).get_json()
    assert "zu lang" in long["error"]


def test_new_messages_api(login, db):
    cid = make_conversation(db, "c-poll", messages=(("customer", "eins"), ("customer", "zwei")))
    client = login("agent")
    data = client.get(f"/agent/api/conversations/{cid}/messages?after=0").get_json()
    assert [m["sender"] for m in data["messages"]] == ["customer", "customer"]
    first = data["messages"][0]["id"]
    later = client.get(f"/agent/api/conversations/{cid}/messages?after={first}").get_json()
    assert len(later["messages"]) == 1 and "zwei" in later["messages"][0]["html"]
    assert 'class="msg msg--customer"' in later["messages"][0]["html"]
    assert later["state"] == "waiting" and later["last_customer_message_id"] > first
    bad = client.get(f"/agent/api/conversations/{cid}/messages?after=x")
    assert bad.status_code == 400


def test_customer_html_is_inert(login, db):
    cid = make_conversation(
        db,
        "c-xss",
        messages=(
            ("customer", "<script>alert(1)</script>"),
            ("customer", "<img src=x onerror=alert(1)>"),
            ("bot", "Hallo <img src=x onerror=alert(1)> <script>alert(2)</script>"),
        ),
    )
    client = login("agent")
    html = client.get(f"/agent/conversations/{cid}").get_data(as_text=True)
    transcript = html.split('id="transcript"')[1].split('id="reply-form"')[0]
    assert "<script>" not in transcript and "<img src=x" not in transcript
    assert "onerror=alert" not in transcript.replace("onerror=alert(1)&gt;", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in transcript
    assert "&lt;img src=x onerror=alert(1)&gt;" in transcript
    data = client.get(f"/agent/api/conversations/{cid}/messages?after=0").get_json()
    for message in data["messages"]:
        assert "<script>" not in message["html"] and "<img src=x" not in message["html"]
    queue = client.get("/agent/api/queue").get_json()["html"]
    assert "<script>" not in queue and "<img src" not in queue


# -- take over, reply, close -------------------------------------------------------------


def agent_id(db, name: str = "agent") -> int:
    with db() as session:
        return session.scalar(select(User.id).where(User.username == name))


def test_take_over(login, db):
    cid = make_conversation(db, "c-take")
    client = login("agent")
    response = client.post(
        f"/agent/conversations/{cid}/take-over", data={"csrf_token": token(client, cid)}
    )
    assert response.status_code == 302
    conversation = get(db, cid)
    assert conversation.state == "agent" and conversation.agent_id == agent_id(db)
    with db() as session:
        assert (
            session.scalar(select(Handoff.status).where(Handoff.conversation_id == cid))
            == "assigned"
        )
    html = client.get(f"/agent/conversations/{cid}").get_data(as_text=True)
    assert "bei Ihnen" in html and 'id="take-over"' not in html


def test_take_over_from_the_bot_pauses_it(login, db, fake_bot):
    cid = make_conversation(db, "c-frombot", state="bot", reason=None)
    client = login("agent")
    client.post(f"/agent/conversations/{cid}/take-over", data={"csrf_token": token(client, cid)})
    assert (cid, "pause") in fake_bot.events and get(db, cid).state == "agent"


def test_take_over_from_the_bot_with_rasa_down_changes_nothing(login, db, fake_bot):
    cid = make_conversation(db, "c-frombot-down", state="bot", reason=None)
    fake_bot.down = True
    client = login("agent")
    response = client.post(
        f"/agent/conversations/{cid}/take-over",
        data={"csrf_token": token(client, cid)},
        follow_redirects=True,
    )
    assert "Der Assistent ist gerade nicht erreichbar" in response.get_data(as_text=True)
    assert get(db, cid).state == "bot"


def test_reply_form_stores_an_agent_message(login, db):
    cid = make_conversation(db, "c-reply")
    client = login("agent")
    response = client.post(
        f"/agent/conversations/{cid}/reply",
        data={"csrf_token": token(client, cid), "text": "Guten Tag, ich helfe Ihnen gern."},
    )
    assert response.status_code == 302
    with db() as session:
        conversation = session.get_one(Conversation, cid)
        messages = messages_after(session, conversation, 0)
        assert messages[-1].sender == "agent"
        assert messages[-1].text == "Guten Tag, ich helfe Ihnen gern."
        assert messages[-1].agent_id == agent_id(db)
        assert conversation.state == "agent"
    html = client.get(f"/agent/conversations/{cid}").get_data(as_text=True)
    assert 'class="msg msg--agent"' in html


def test_reply_with_fetch_answers_json(login, db):
    cid = make_conversation(db, "c-reply-json")
    client = login("agent")
    response = client.post(
        f"/agent/conversations/{cid}/reply",
        data={"text": "Einen Moment bitte."},
        headers={"X-CSRFToken": token(client, cid), "Accept": "application/json"},
    )
    assert response.status_code == 200
    message = response.get_json()["message"]
    assert message["sender"] == "agent" and 'class="msg msg--agent"' in message["html"]


def test_empty_or_too_long_reply_keeps_the_text(login, db):
    cid = make_conversation(db, "c-reply-bad")
    client = login("agent")
    t = token(client, cid)
    response = client.post(
        f"/agent/conversations/{cid}/reply", data={"csrf_token": t, "text": "  "}
    )
    assert response.status_code == 400
    assert "Bitte geben Sie eine Nachricht ein." in response.get_data(as_text=True)
    long_text = "Wort " * 500
    response = client.post(
        f"/agent/conversations/{cid}/reply", data={"csrf_token": t, "text": long_text}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "zu lang" in html and long_text.strip() in html
    json_response = client.post(
        f"/agent/conversations/{cid}/reply",
        data={"text": ""},
        headers={"X-CSRFToken": t, "Accept": "application/json"},
    )
    assert json_response.status_code == 400 and "Nachricht" in json_response.get_json()["error"]
    with db() as session:
        count = session.scalar(
            select(func.count()).select_from(ChatMessage).where(ChatMessage.sender == "agent")
        )
    assert count == 0


def test_close_hands_back_to_the_bot(login, db, fake_bot):
    cid = make_conversation(db, "c-close", state="agent")
    client = login("agent")
    response = client.post(
        f"/agent/conversations/{cid}/close", data={"csrf_token": token(client, cid)}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/agent/")
    assert (cid, "resume") in fake_bot.events
    conversation = get(db, cid)
    assert conversation.state == "bot" and conversation.agent_id is None
    with db() as session:
        assert (
            session.scalar(select(Handoff.status).where(Handoff.conversation_id == cid)) == "closed"
        )
    assert "c-close" not in client.get("/agent/").get_data(as_text=True)


def test_close_with_rasa_down_changes_nothing(login, db, fake_bot):
    cid = make_conversation(db, "c-close-down", state="agent")
    client = login("agent")
    t = token(client, cid)
    fake_bot.down = True
    response = client.post(
        f"/agent/conversations/{cid}/close", data={"csrf_token": t}, follow_redirects=True
    )
    assert "Der Assistent ist gerade nicht erreichbar" in response.get_data(as_text=True)
    assert get(db, cid).state == "agent" and fake_bot.events == []
    with db() as session:
        assert (
            session.scalar(select(Handoff.status).where(Handoff.conversation_id == cid)) == "open"
        )
        system = session.scalar(
            select(func.count()).select_from(ChatMessage).where(ChatMessage.sender == "system")
        )
    assert system == 0


# -- checking a caller's code ------------------------------------------------------------


def verify(client, cid: str, kind: str, code: str, *, json: bool = False, follow: bool = True):
    headers = {"Accept": "application/json"} if json else {}
    return client.post(
        f"/agent/conversations/{cid}/verify",
        data={"csrf_token": token(client, cid), "kind": kind, "code": code},
        headers=headers,
        follow_redirects=follow and not json,
    )


def test_support_code_identifies_the_customer(login, db, demo):
    cid = make_conversation(db, "c-verify")
    client = login("agent")
    html = verify(client, cid, "support", MUSTER_SUPPORT).get_data(as_text=True)
    assert "Supportcode bestätigt: Muster AG" in html
    identity = html.split('id="identity"')[1].split("</div>")[0]
    assert "Muster AG" in identity
    conversation = get(db, cid)
    assert conversation.customer_id == demo["Muster AG"] and conversation.priority is False


def test_vip_code_gives_priority(login, db, demo):
    cid = make_conversation(db, "c-vip-verify")
    client = login("agent")
    data = verify(client, cid, "vip", BEISPIEL_VIP, json=True).get_json()
    assert data["ok"] is True and "Beispiel GmbH" in data["identity_html"]
    conversation = get(db, cid)
    assert conversation.customer_id == demo["Beispiel GmbH"] and conversation.priority is True
    # A support code of the same customer afterwards keeps the priority.
    verify(client, cid, "support", BEISPIEL_SUPPORT)
    assert get(db, cid).priority is True
    items = client.get("/agent/api/queue").get_json()["items"]
    assert items[0]["id"] == cid and items[0]["priority"] is True


def test_closing_tells_the_bot_whom_the_agent_verified(login, db, demo, fake_bot):
    # The bot must not ask the customer for a code the agent already checked, and must
    # keep the VIP priority: the resume carries the customer as the bot's slots.
    cid = make_conversation(db, "c-verify-resume", state="agent")
    client = login("agent")
    verify(client, cid, "vip", BEISPIEL_VIP)
    client.post(f"/agent/conversations/{cid}/close", data={"csrf_token": token(client, cid)})
    assert (cid, "resume") in fake_bot.events
    assert fake_bot.slots_set[cid] == {
        "verified_customer_id": float(demo["Beispiel GmbH"]),
        "verified_customer_name": "Beispiel GmbH",
        "priority": True,
    }


def test_closing_an_unverified_conversation_tells_the_bot_nothing(login, db, fake_bot):
    cid = make_conversation(db, "c-resume-unknown", state="agent")
    client = login("agent")
    client.post(f"/agent/conversations/{cid}/close", data={"csrf_token": token(client, cid)})
    assert fake_bot.slots_set[cid] == {}


def test_a_reply_from_the_queue_assigns_the_handoff(login, db):
    cid = make_conversation(db, "c-reply-assigns")
    client = login("agent")
    client.post(
        f"/agent/conversations/{cid}/reply",
        data={"csrf_token": token(client, cid), "text": "Ich bin für Sie da."},
    )
    assert get(db, cid).state == "agent"
    with db() as session:
        status = session.scalar(select(Handoff.status).where(Handoff.conversation_id == cid))
    assert status == "assigned"


def test_vip_code_without_premium(login, db, demo):
    from core.models import PremiumSubscription

    with db() as session:
        for subscription in session.scalars(select(PremiumSubscription)):
            subscription.ends_on = datetime.now(UTC).date() - timedelta(days=1)
    cid = make_conversation(db, "c-vip-ended")
    data = verify(login("agent"), cid, "vip", BEISPIEL_VIP, json=True).get_json()
    assert data["ok"] is False and data["status"] == "not_premium"
    assert get(db, cid).customer_id is None and get(db, cid).priority is False


def test_wrong_and_unknown_codes_get_the_same_message(login, db, demo):
    client = login("agent")
    first = make_conversation(db, "c-wrong-1")
    second = make_conversation(db, "c-wrong-2")
    unknown = verify(client, first, "support", "000000", json=True).get_json()
    other_kind = verify(client, second, "support", BEISPIEL_VIP, json=True).get_json()
    assert unknown["ok"] is False and unknown["status"] == "wrong"
    assert "konnte nicht bestätigt werden" in unknown["message"]
    # Attempts left differ (the agent's account counts across conversations); the wording not.
    assert re.sub(r"\(.*\)", "", unknown["message"]) == re.sub(r"\(.*\)", "", other_kind["message"])
    assert get(db, first).customer_id is None


def test_invalid_format_is_not_an_attempt(login, db, demo):
    cid = make_conversation(db, "c-format")
    data = verify(login("agent"), cid, "support", "12ab", json=True).get_json()
    assert data["status"] == "invalid_format" and "6 Ziffern" in data["message"]
    with db() as session:
        assert session.scalar(select(func.count()).select_from(VerificationAttempt)) == 0


def test_unknown_kind_is_refused(login, db, demo):
    cid = make_conversation(db, "c-kind")
    data = verify(login("agent"), cid, "admin", MUSTER_SUPPORT, json=True).get_json()
    assert data["status"] == "bad_kind" and get(db, cid).customer_id is None


def test_conversation_with_the_bot_cannot_be_verified(login, db, demo):
    cid = make_conversation(db, "c-verify-bot", state="bot", reason=None)
    data = verify(login("agent"), cid, "support", MUSTER_SUPPORT, json=True).get_json()
    assert data["status"] == "not_handed_off" and get(db, cid).customer_id is None


def test_lockout_after_five_failures(login, db, demo):
    cid = make_conversation(db, "c-lock")
    client = login("agent")
    for _ in range(MAX_FAILURES - 1):
        assert verify(client, cid, "support", "000000", json=True).get_json()["status"] == "wrong"
    fifth = verify(client, cid, "support", "000000", json=True).get_json()
    assert "gesperrt" in fifth["message"]
    locked = verify(client, cid, "support", MUSTER_SUPPORT, json=True).get_json()
    assert locked["status"] == "locked" and "gesperrt" in locked["message"]
    assert get(db, cid).customer_id is None
    html = verify(client, cid, "support", MUSTER_SUPPORT).get_data(as_text=True)
    assert "gesperrt" in html.split('id="verify-result"')[1]


def test_the_bots_failures_count_for_the_console_too(login, db, demo):
    cid = make_conversation(db, "c-lock-bot")
    now = datetime.now(UTC)
    with db() as session:
        for i in range(MAX_FAILURES):
            session.add(
                VerificationAttempt(
                    conversation_id=cid,
                    client_key="203.0.113.9",
                    kind="support",
                    success=False,
                    created_at=now - timedelta(seconds=i),
                )
            )
    data = verify(login("agent"), cid, "support", MUSTER_SUPPORT, json=True).get_json()
    assert data["status"] == "locked"


def test_code_never_appears_in_pages_or_logs(login, db, demo, caplog):
    caplog.set_level(logging.DEBUG)
    cid = make_conversation(db, "c-secret")
    client = login("agent")
    bodies = [
        verify(client, cid, "support", "123456").get_data(as_text=True),
        verify(client, cid, "support", MUSTER_SUPPORT, json=True).get_data(as_text=True),
        verify(client, cid, "vip", "654321", json=True).get_data(as_text=True),
        client.get(f"/agent/conversations/{cid}").get_data(as_text=True),
        client.get("/agent/api/queue").get_data(as_text=True),
    ]
    for code in ("123456", MUSTER_SUPPORT, "654321"):
        for body in bodies:
            assert code not in body
        assert code not in caplog.text
    assert "checked a support code" in caplog.text  # the outcome is logged, the code not


def test_verify_is_rate_limited_per_conversation(app, login, db, demo, web_settings):
    import dataclasses

    app.extensions["helpdesk.settings"] = dataclasses.replace(
        web_settings, verify_rate_limit="3/minute"
    )
    limited = make_conversation(db, "c-rate")
    other = make_conversation(db, "c-rate-other")
    client = login("agent")
    statuses = [
        verify(client, limited, "support", "12", follow=False).status_code for _ in range(4)
    ]
    assert statuses == [302, 302, 302, 429]
    response = verify(client, limited, "support", "12", json=True)
    assert response.status_code == 429 and "Zu viele" in response.get_json()["error"]
    # The per-address limit of this client is used up too (same address, same minute).
    assert verify(client, other, "support", "12", follow=False).status_code == 429


def test_each_suggestion_shows_its_own_confidence(app):
    from web.agent_display import kb_results

    class Kb:
        def search(self, query, k):
            return {
                "answerable": True,
                "confidence": 0.9,
                "results": [
                    {
                        "article_id": 1,
                        "title": "A",
                        "snippet": "a",
                        "score": 3.0,
                        "confidence": 0.9,
                    },
                    {
                        "article_id": 2,
                        "title": "B",
                        "snippet": "b",
                        "score": 2.9,
                        "confidence": 0.2,
                    },
                ],
            }

    with app.app_context():
        from web.channels import settings

        results = kb_results(Kb(), settings(), "Frage")["results"]
    assert [r["percent"] for r in results] == [90, 20]


def test_suggestions_carry_the_kbs_verdict_as_a_badge(login, db):
    client = login("agent")
    cases = {
        "Wie ändere ich die Rechnungsadresse?": ("answer", "Antwort"),
        "Wie lade ich meine Rechnung als PDF herunter?": ("clarify", "Rückfrage"),
        "Wie installiere ich WordPress?": ("not_covered", "Nicht abgedeckt"),
    }
    for n, (question, (verdict, label)) in enumerate(cases.items()):
        cid = make_conversation(db, f"c-verdict-{n}", messages=(("customer", question),))
        html = client.get(f"/agent/conversations/{cid}").get_data(as_text=True)
        suggestions = html.split('id="suggestions"')[1].split("</section>")[0]
        assert f'class="verdict verdict--{verdict}"' in suggestions, verdict
        assert f">{label}</span>" in suggestions
        data = client.get(f"/agent/api/conversations/{cid}/suggestions").get_json()
        assert (data["verdict"], data["verdict_label"]) == (verdict, label)
        offered = [r["article_id"] for r in data["results"] if r["offered"]]
        if verdict == "clarify":
            # The fake KB offers its second result: marked, and only that one.
            assert offered == [8]
            assert data["html"].count('class="badge offered"') == 1
            assert 'class="suggestion suggestion--offered" data-article-id="8"' in data["html"]
        else:
            assert offered == [] and "zur Auswahl" not in data["html"]


def test_an_offered_guide_below_the_first_three_is_shown(app):
    from web.agent_display import kb_results

    class Kb:
        def search(self, query, k):
            results = [
                {"article_id": i, "title": f"T{i}", "snippet": "s", "score": 1 - i / 10}
                for i in range(k)
            ]
            return {
                "answerable": False,
                "verdict": "clarify",
                "choices": [0, 4],
                "results": results,
            }

    with app.app_context():
        from web.channels import settings

        found = kb_results(Kb(), settings(), "Frage")
    assert [(r["article_id"], r["offered"]) for r in found["results"]] == [
        (0, True),
        (1, False),
        (2, False),
        (4, True),
    ]
